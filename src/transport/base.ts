/**
 * What the SSH and local transports share: running with checks and timeouts, sudo, uploads and
 * reads. Each subclass only knows how to start one command and stream its output.
 */
import { Readable } from "node:stream";
import { ExternalError } from "../errors/index.ts";
import { type Command, isArgv, renderCommand } from "./command.ts";
import type {
  RunOptions,
  RunResult,
  Terminal,
  Transport,
  TransportEvents,
  UploadOptions,
} from "./types.ts";

export interface SpawnIo {
  stdin: Readable | undefined;
  terminal?: Terminal | undefined;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  signal: AbortSignal;
}

export interface SpawnResult {
  code: number;
}

// `timeout` exits 124 when it stopped the command, 137 when it had to KILL it.
const TIMEOUT_EXIT_CODES = new Set([124, 137]);
const TIMEOUT_GRACE_MS = 8_000;

// How much of a failing command's stderr an error message carries.
const STDERR_TAIL_LINES = 20;
// Without capture (a followed log, a console) stderr is streamed to its callback and only this
// much of its end is kept, for the error message: memory stays flat however long it runs.
const STDERR_KEPT_BYTES = 16 * 1024;

// Written once, with values passed as positional parameters ($1..$3): the script text never
// contains a value, so a path or owner cannot be interpreted by the shell.
// umask 077 first, so a secret file is never readable by others, not even for an instant.
const UPLOAD_SCRIPT = [
  "set -eu",
  "umask 077",
  'dir=$(dirname -- "$1")',
  'mkdir -p -- "$dir"',
  'tmp=$(mktemp "$dir/.slipway-upload.XXXXXX")',
  "trap 'rm -f -- \"$tmp\"' EXIT",
  'cat > "$tmp"',
  'chmod "$2" "$tmp"',
  'if [ -n "$3" ]; then chown "$3" "$tmp"; fi',
  'mv -f -- "$tmp" "$1"',
  "trap - EXIT",
].join("\n");

export abstract class BaseTransport implements Transport {
  readonly host: string;
  protected readonly events: TransportEvents;
  /** Prefix every command with `sudo -n` (when connecting as a user other than root). */
  protected readonly sudo: boolean;

  constructor(host: string, options: { sudo: boolean; events?: TransportEvents | undefined }) {
    this.host = host;
    this.sudo = options.sudo;
    this.events = options.events ?? {};
  }

  /** Starts one command and resolves with its exit code when it ends. */
  protected abstract spawn(command: Command, io: SpawnIo): Promise<SpawnResult>;

  abstract close(): Promise<void>;

  async run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    const result = await this.exec(command, options);
    return {
      code: result.code,
      stdout: result.stdout.toString("utf8"),
      stderr: result.stderr,
    };
  }

  async upload(path: string, content: string | Uint8Array, options: UploadOptions): Promise<void> {
    if (!path.startsWith("/")) {
      throw new TypeError(`upload needs an absolute path, got "${path}"`);
    }
    const mode = options.mode.toString(8).padStart(4, "0");
    await this.exec(["sh", "-c", UPLOAD_SCRIPT, "sh", path, mode, options.owner ?? ""], {
      stdin: content,
    });
  }

  async readFile(path: string): Promise<Buffer> {
    return (await this.exec(["cat", "--", path], {})).stdout;
  }

  /** Runs a command and returns its raw output; the one path every command takes. */
  protected async exec(
    command: Command,
    options: RunOptions,
  ): Promise<{ code: number; stdout: Buffer; stderr: string }> {
    const wrapped = this.withSudo(withTimeout(command, options.timeoutMs));
    this.events.onCommand?.(this.host, renderCommand(wrapped));

    const stdoutChunks: Buffer[] = [];
    const capture = options.capture ?? true;
    const stderrKept = new ByteTail(capture ? undefined : STDERR_KEPT_BYTES);
    // The host's own `timeout` kills the command; this local timer is the backstop for a host
    // that stops answering altogether.
    const deadline = abortAfter(
      options.timeoutMs === undefined ? undefined : options.timeoutMs + TIMEOUT_GRACE_MS,
    );

    let result: SpawnResult;
    try {
      result = await this.spawn(wrapped, {
        stdin: toReadable(options.stdin),
        terminal: options.terminal,
        onStdout: (chunk) => {
          if (capture) stdoutChunks.push(chunk);
          options.onStdout?.(chunk);
        },
        onStderr: (chunk) => {
          stderrKept.push(chunk);
          options.onStderr?.(chunk);
        },
        signal: deadline.signal,
      });
    } finally {
      deadline.clear();
    }

    const stderr = stderrKept.text();
    const rendered = renderCommand(command);
    if (
      deadline.fired() ||
      (options.timeoutMs !== undefined && TIMEOUT_EXIT_CODES.has(result.code))
    ) {
      throw new ExternalError({
        code: "command.timeout",
        message: `Command timed out on ${this.host} after ${formatMs(options.timeoutMs ?? 0)}: ${rendered}`,
        hint: "The host may be overloaded, or the command may be waiting for input.",
        host: this.host,
        command: rendered,
        status: null,
        stderr,
      });
    }
    if (result.code !== 0 && (options.check ?? true)) {
      const tail = stderr.trimEnd().split("\n").slice(-STDERR_TAIL_LINES).join("\n");
      throw new ExternalError({
        code: "command.failed",
        message: `Command failed on ${this.host} with exit code ${result.code}: ${rendered}${tail ? `\n${tail}` : ""}`,
        hint: "Run again with --verbose to see every command and its output.",
        host: this.host,
        command: rendered,
        status: result.code,
        stderr,
      });
    }
    return { code: result.code, stdout: Buffer.concat(stdoutChunks), stderr };
  }

  private withSudo(command: Command): Command {
    if (!this.sudo) return command;
    if (isArgv(command)) return ["sudo", "-n", "--", ...command];
    return ["sudo", "-n", "--", "sh", "-c", renderCommand(command)];
  }
}

/** A signal that aborts after `ms` (never when undefined); `fired` says whether it did. */
export function abortAfter(ms: number | undefined): {
  signal: AbortSignal;
  fired: () => boolean;
  clear: () => void;
} {
  const controller = new AbortController();
  let fired = false;
  const timer =
    ms === undefined
      ? undefined
      : setTimeout(() => {
          fired = true;
          controller.abort();
        }, ms);
  return { signal: controller.signal, fired: () => fired, clear: () => clearTimeout(timer) };
}

/** The output pushed so far, or only its last `limit` bytes (whole lines) when given. */
class ByteTail {
  readonly #limit: number | undefined;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #cut = false;

  constructor(limit: number | undefined) {
    this.#limit = limit;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    // Trimmed once it holds twice the limit, so each byte is copied a bounded number of times.
    if (this.#limit !== undefined && this.#bytes > 2 * this.#limit) {
      const kept = Buffer.concat(this.#chunks).subarray(-this.#limit);
      this.#chunks = [kept];
      this.#bytes = kept.length;
      this.#cut = true;
    }
  }

  text(): string {
    let all = Buffer.concat(this.#chunks);
    if (this.#limit !== undefined && all.length > this.#limit) {
      all = all.subarray(-this.#limit);
      this.#cut = true;
    }
    // A cut starts mid-line (maybe mid-character): the kept text begins at the next line.
    if (this.#cut) {
      const newline = all.indexOf(0x0a);
      all = newline === -1 ? Buffer.alloc(0) : all.subarray(newline + 1);
    }
    return all.toString("utf8");
  }
}

/**
 * Runs the command under coreutils `timeout` on the host, so a command that outlives its time is
 * killed there (TERM, then KILL after a grace period), not merely abandoned.
 */
function withTimeout(command: Command, timeoutMs: number | undefined): Command {
  if (timeoutMs === undefined) return command;
  const seconds = `${Math.max(timeoutMs, 1) / 1000}s`;
  const limit = ["timeout", "--kill-after=5s", seconds];
  return isArgv(command) ? [...limit, ...command] : [...limit, "sh", "-c", renderCommand(command)];
}

function toReadable(stdin: RunOptions["stdin"]): Readable | undefined {
  if (stdin === undefined) return undefined;
  if (stdin instanceof Readable) return stdin;
  return Readable.from([typeof stdin === "string" ? Buffer.from(stdin) : Buffer.from(stdin)]);
}

/** "10s", "1.5s", "250ms". */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
