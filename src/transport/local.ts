/**
 * Runs commands on this machine. A plain argv is spawned directly (no shell at all); only a
 * compound command (a pipe, `&&`) goes through `sh -c` with its rendered, quoted form.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable } from "node:stream";
import { abortAfter, BaseTransport, type SpawnIo, type SpawnResult } from "./base.ts";
import { type Argv, type Command, isArgv, renderCommand } from "./command.ts";
import type { TransportEvents } from "./types.ts";

export interface LocalOptions {
  /** Name shown in output; default "local". */
  name?: string;
  events?: TransportEvents;
}

/** A transport for this machine (`sudo -n` when not running as root). */
export class LocalTransport extends BaseTransport {
  constructor(options: LocalOptions = {}) {
    super(options.name ?? "local", {
      sudo: process.getuid?.() !== 0,
      events: options.events,
    });
  }

  protected async spawn(command: Command, io: SpawnIo): Promise<SpawnResult> {
    const argv = isArgv(command) ? command : ["sh", "-c", renderCommand(command)];
    const { code, signal } = await spawnLocal(argv, io);
    return { code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0) };
  }

  async close(): Promise<void> {}
}

/** What {@link spawnLocal} connects: the transport's SpawnIo, plus where and with what env. */
interface LocalIo {
  stdin?: Readable | undefined;
  terminal?: SpawnIo["terminal"];
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  signal?: AbortSignal | undefined;
  cwd?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * Starts argv on this machine without a shell and resolves with how it ended. A program that is
 * not installed says so on stderr and ends with 127, as a shell reports it; an abort kills it.
 */
function spawnLocal(
  argv: Argv,
  io: LocalIo,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError("cannot run an empty command");
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: io.cwd,
      env: io.env,
      // On a terminal: this process's own, so the program sees a real one (no pty needed).
      stdio: io.terminal ? "inherit" : [io.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      signal: io.signal,
      killSignal: "SIGKILL",
    });
    child.stdout?.on("data", io.onStdout);
    child.stderr?.on("data", io.onStderr);
    if (io.stdin && child.stdin && !io.terminal) {
      // A command that exits without reading all its input is not an error of ours.
      child.stdin.on("error", () => {});
      io.stdin.pipe(child.stdin);
    }
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.name === "AbortError") return; // reported by the caller (a timeout)
      if (error.code === "ENOENT") {
        io.onStderr(Buffer.from(`${program}: command not found\n`));
        resolve({ code: 127, signal: null });
        return;
      }
      reject(error);
    });
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
}

/** What a finished local program left behind. */
export interface LocalResult {
  /** Exit code; 127 when the program is not installed, as a shell reports it. */
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Options of {@link runLocal}. */
export interface LocalRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long; reported as code 124, as coreutils `timeout` does. */
  timeoutMs?: number;
}

/**
 * Runs argv as this user (never sudo), collecting its output (small outputs only), and resolves
 * with its exit code and output whatever the code: the build's git and engine probes.
 */
export async function runLocal(argv: Argv, options: LocalRunOptions = {}): Promise<LocalResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const deadline = abortAfter(options.timeoutMs);
  try {
    const { code } = await spawnLocal(argv, {
      cwd: options.cwd,
      env: options.env,
      signal: deadline.signal,
      onStdout: (chunk) => out.push(chunk),
      onStderr: (chunk) => err.push(chunk),
    });
    return {
      code: deadline.fired() ? 124 : (code ?? 128),
      stdout: Buffer.concat(out),
      stderr: Buffer.concat(err).toString("utf8"),
    };
  } finally {
    deadline.clear();
  }
}
