/**
 * A streaming exec for dumps and restores: a program's stdout as a stream that fails (with the
 * tail of its stderr) when the program exits non-zero, so a dump that dies half-way can never
 * pass for a whole one. Argv only, no shell; secrets reach programs through files or their
 * container's environment, never argv.
 */
import { spawn } from "node:child_process";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SlipwayError } from "../errors/index.ts";
import type { Argv } from "../transport/index.ts";

export interface ExecStreamOptions {
  /** Fed to the program's stdin, which is closed at its end. */
  stdin?: Readable | string;
}

const STDERR_TAIL = 4000;
/**
 * How far stdout is read ahead of its reader. A dump reaches this process in ~8 KiB writes of
 * `docker exec`, with a socket buffer of ~200 KiB behind it: a reader busy for a moment (the
 * compressor's queue, an upload slot) would stall pg_dump itself. With this much room the
 * program keeps writing (bench:backup: a whole backup's median 7.9 s -> 6.7 s and 13.2 s ->
 * 10.9 s in two series on a loaded machine).
 */
export const STDOUT_READ_AHEAD = 4 << 20;

/** Keeps the last few KiB of a stream (an error's explanation), reading it to its end. */
export function keepTail(stream: Readable): () => string {
  let text = "";
  stream.setEncoding("utf8").on("data", (d: string) => {
    text = (text + d).slice(-STDERR_TAIL);
  });
  return () => text;
}

/** A program that failed, with the last lines of what it said: a dump or restore stops here. */
export function execFailure(what: string, status: string, stderr: string): SlipwayError {
  return new SlipwayError({
    code: "backup.exec",
    message: `${what} failed (${status}): ${stderr.trim().split("\n").slice(-5).join("\n")}`,
    hint: "the backup or restore stopped here; the output above is the program's own",
  });
}

/**
 * Runs argv; `stdout` is the program's output, ending once the program exited 0, and failing
 * otherwise. `done` settles the same way (for a program whose output nobody reads, a restore).
 */
export function execStream(
  argv: Argv,
  options: ExecStreamOptions = {},
): { stdout: Readable; done: Promise<void> } {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError("cannot run an empty command");
  const child = spawn(program, args, {
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  const stdout = new PassThrough({ highWaterMark: STDOUT_READ_AHEAD });
  // Whoever reads stdout sees its error; a caller that awaits `done` alone must not crash on it.
  stdout.on("error", () => {});
  // Output nobody will read (its reader failed: a store gone mid-upload) must not leave the
  // program blocked on a full pipe forever, and this process waiting on it.
  stdout.on("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  const stderr = child.stderr ? keepTail(child.stderr) : () => "";
  child.stdout?.pipe(stdout, { end: false });
  let feeding: Promise<void> = Promise.resolve();
  if (options.stdin !== undefined && child.stdin) {
    const input = options.stdin;
    child.stdin.on("error", () => {}); // a program that exits early closes its stdin: its exit says why
    feeding =
      typeof input === "string"
        ? new Promise((resolve) => child.stdin?.end(input, resolve))
        : pipeline(input, child.stdin).catch((err: Error) => {
            child.kill("SIGTERM");
            throw err;
          });
  }
  feeding.catch(() => {}); // settled below, once the program has exited
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (err) => reject(err));
    child.on("close", (code, signal) => {
      feeding.then(
        () => {
          if (code === 0) return resolve();
          const status = signal ? `signal ${signal}` : `exit ${code}`;
          reject(execFailure(argv.slice(0, 6).join(" "), status, stderr()));
        },
        (err: unknown) => reject(err),
      );
    });
  });
  done.then(
    () => stdout.end(),
    (err: Error) => stdout.destroy(err),
  );
  return { stdout, done };
}

/** A running program's stdout as text, once it ended; fails like its `done`. */
export async function textOf(run: { stdout: Readable; done: Promise<void> }): Promise<string> {
  let out = "";
  run.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  await run.done;
  return out;
}

/** Waits for a running program, its output read and discarded so it never blocks on it. */
export async function drained(run: { stdout: Readable; done: Promise<void> }): Promise<void> {
  run.stdout.resume();
  await run.done;
}

/** Runs argv to its end and returns its stdout as text; fails like {@link execStream}. */
export function execText(argv: Argv, options: ExecStreamOptions = {}): Promise<string> {
  return textOf(execStream(argv, options));
}
