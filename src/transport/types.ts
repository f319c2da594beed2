import type { Readable } from "node:stream";
import type { Command } from "./command.ts";

export interface RunOptions {
  /** Data for the command's standard input: how secrets travel (never in argv). */
  stdin?: string | Uint8Array | Readable;
  /** Called with each chunk of standard output as it arrives. */
  onStdout?: (chunk: Buffer) => void;
  /** Called with each chunk of standard error as it arrives. */
  onStderr?: (chunk: Buffer) => void;
  /** Kill the command after this long and fail with a clear message. */
  timeoutMs?: number;
  /** Throw an ExternalError when the exit code is not 0 (default true). */
  check?: boolean;
  /**
   * Keep standard output in memory for the result (default true). When false, the result's
   * stderr is only its last 16 KiB (whole lines): what streams for as long as it runs (a
   * followed log) reaches its callbacks without growing in memory.
   */
  capture?: boolean;
  /**
   * Run on a terminal, for interactive programs (a database console): over SSH a pseudo-terminal
   * of this size, locally this process's own terminal. Output then arrives raw, stdout and
   * stderr mixed, as a terminal shows it.
   */
  terminal?: Terminal;
}

export interface Terminal {
  /** The TERM the program gets, e.g. "xterm-256color". */
  term: string;
  rows: number;
  cols: number;
  /** Subscribes to size changes; returns the unsubscribe. */
  onResize?: (listener: (rows: number, cols: number) => void) => () => void;
}

export interface RunResult {
  /** Exit code; a command killed by a signal reports 128 + signal number, as shells do. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface UploadOptions {
  /** File mode, e.g. 0o600. Applied before any content is written. */
  mode: number;
  /** `user` or `user:group`; default: the connecting (or sudo) user. */
  owner?: string;
}

/** How commands reach one host: over SSH, or on this machine. */
export interface Transport {
  /** The host as the user named it (used to prefix output). */
  readonly host: string;
  /** Runs a command; argv is quoted by renderCommand, never concatenated. */
  run(command: Command, options?: RunOptions): Promise<RunResult>;
  /** Writes a file atomically (temp file + rename) with its mode set before the content. */
  upload(path: string, content: string | Uint8Array, options: UploadOptions): Promise<void>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Buffer>;
  /** Releases the connection. Safe to call twice. */
  close(): Promise<void>;
}

/** Hooks for --verbose and logging. */
export interface TransportEvents {
  /** A command is about to run on a host (already rendered and quoted). */
  onCommand?: (host: string, rendered: string) => void;
}
