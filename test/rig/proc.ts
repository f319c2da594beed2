/**
 * Small process helpers for the test rig: run a program and collect its output, and a cleanup
 * registry that still runs when a test process exits early or is killed by a signal.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** What a finished program left behind. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link run}. */
export interface RunOptions {
  /** Written to the program's standard input, which is then closed. */
  input?: string;
  /** Killed (SIGKILL) after this many milliseconds; default 60 s. */
  timeoutMs?: number;
  /** Added to the program's environment (secrets that must not go on an argv). */
  env?: Record<string, string>;
}

/** Runs a program (no shell) and resolves with its exit status and output, whatever the status. */
export function run(
  program: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** Runs a program and resolves with its stdout; rejects with its stderr when it does not exit 0. */
export async function runOk(
  program: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<string> {
  const r = await run(program, args, opts);
  if (r.code !== 0) {
    const why = r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
    throw new Error(
      `${program} ${args.join(" ")} failed (${why}): ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return r.stdout;
}

/** Whether a part of the rig can be used on this machine, and if not, why. */
export interface RigCheck {
  ok: boolean;
  reason?: string;
}

/**
 * A node:test `skip` option for a test that needs a rig part: the reason when it is missing, but
 * false under CI (env CI=true) so that there the test runs and fails instead of skipping.
 */
export function skipUnless(check: RigCheck): string | false {
  if (check.ok || process.env.CI === "true") return false;
  return `test rig not available: ${check.reason ?? "unknown reason"} (run rig/install.sh as root)`;
}

const cleanups = new Set<() => void>();
let hooked = false;

function runCleanups(): void {
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      // Best effort: one failed cleanup must not keep the others from running.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runCleanups();
  // Keep the default outcome (death by that signal) unless someone else handles it too.
  if (process.listenerCount(signal) === 1) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
}

/**
 * Registers a synchronous cleanup that runs at process exit or on SIGINT/SIGTERM/SIGHUP, so
 * servers and containers do not outlive a crashed test. Returns a function that unregisters it.
 */
export function onProcessExit(fn: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", runCleanups);
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
  }
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** Whether a process with this pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
