/** Runs a program on this machine without a shell and collects its output (small outputs only). */
import { spawn } from "node:child_process";
import type { Argv } from "../transport/index.ts";

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

/** Runs argv and resolves with its exit code and output, whatever the code. */
export function runLocal(argv: Argv, options: LocalRunOptions = {}): Promise<LocalResult> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError("cannot run an empty command");
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (error.code === "ENOENT") {
        resolve({ code: 127, stdout: Buffer.alloc(0), stderr: `${program}: command not found\n` });
      } else {
        reject(error);
      }
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: timedOut ? 124 : (code ?? 128),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}
