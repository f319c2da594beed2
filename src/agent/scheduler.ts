/**
 * The agent's scheduler: each job runs at its cron times (plus jitter), never twice at once, and
 * not while its deploy lock is held; each job's next run is in SQLite, so a restarted agent
 * keeps its schedule and skips or runs once what it missed. What a run does belongs to its kind
 * (a JobRunner): the app's containers, Slipway's own runner containers (backups).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { JobConfig } from "./config.ts";
import type { JobRun, JobStore, RunOutcome } from "./job-store.ts";
import { type PlannedRun, planAfter, resume } from "./schedule.ts";

/** How a run ended, as its kind's runner tells it. */
export interface JobResult {
  outcome: Exclude<RunOutcome, "running" | "missed">;
  exitCode: number | null;
  /** For people: "exit 0", "exit 3", "timeout after 60000ms". */
  detail: string;
  output: string;
}

/** One kind of job. `signal` aborts a run (timeout, or the agent stopping): end it, clean up. */
export interface JobRunner<J extends JobConfig = JobConfig> {
  run(job: J, run: { id: number; signal: AbortSignal }): Promise<JobResult>;
  /** At start: undo what a killed agent left behind (its run containers). */
  recover?(): Promise<void>;
}

/** What the API shows of a job. */
export interface JobView {
  name: string;
  kind: string;
  schedule: string;
  running: boolean;
  waitingForLock: boolean;
  nextAt: number | null;
  last: JobRun | null;
}

/** A run was asked for while one is going. */
export class JobBusyError extends Error {}

// A lock whose holder has not touched it for this long is stale (src/lock: LOCK_STALE_MS).
const LOCK_STALE_MS = 60_000;
const LOCK_POLL_MS = 2_000;
// Timers are re-armed at least this often, so a clock that jumps is caught up with.
const MAX_TIMER_MS = 60_000;

export class Scheduler {
  private readonly jobs: readonly JobConfig[];
  private readonly store: JobStore;
  private readonly runners: Readonly<Record<string, JobRunner>>;
  private readonly onResult: (job: JobConfig, run: JobRun) => void;
  private readonly random: () => number;
  private readonly next = new Map<string, PlannedRun>();
  private readonly running = new Map<string, AbortController>();
  private readonly waiting = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(options: {
    jobs: readonly JobConfig[];
    store: JobStore;
    runners: Readonly<Record<string, JobRunner>>;
    /** Each finished run (not interrupted ones): alerting and metrics. */
    onResult: (job: JobConfig, run: JobRun) => void;
    random?: () => number;
  }) {
    this.jobs = options.jobs;
    this.store = options.store;
    this.runners = options.runners;
    this.onResult = options.onResult;
    this.random = options.random ?? Math.random;
  }

  /** Cleans up after a killed agent, then plans every job (and runs what it missed, by policy). */
  async start(now = Date.now()): Promise<void> {
    this.store.interruptUnfinished(now);
    for (const runner of new Set(Object.values(this.runners))) await runner.recover?.();
    for (const job of this.jobs) {
      const { runNow, missedAt, next } = resume(
        this.store.planned(job.name),
        now,
        job,
        this.random,
      );
      // Run once: the run itself says it was missed (its trigger); skipped: a row says so.
      if (missedAt !== undefined && !runNow) {
        const id = this.store.begin(job.name, "missed", now, "missed");
        this.store.finish(id, {
          at: now,
          outcome: "missed",
          exitCode: null,
          detail: `the run of ${new Date(missedAt).toISOString()} was missed while the agent was down; skipped`,
          output: "",
        });
      }
      this.setNext(job, next);
      if (runNow) void this.launch(job, "missed").catch(() => {});
    }
  }

  /** Stops planning and aborts running jobs (their runners end and clean up). */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.running.values()) controller.abort(new Error("agent stopping"));
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  views(): JobView[] {
    return this.jobs.map((job) => ({
      name: job.name,
      kind: job.kind,
      schedule: job.schedule,
      running: this.running.has(job.name),
      waitingForLock: this.waiting.has(job.name),
      nextAt: this.next.get(job.name)?.dueAt ?? null,
      last: this.store.runs(job.name, 1)[0] ?? null,
    }));
  }

  runs(name: string, limit?: number): JobRun[] {
    return this.store.runs(name, limit);
  }

  job(name: string): JobConfig | undefined {
    return this.jobs.find((j) => j.name === name);
  }

  /** Runs a job now (outside its schedule); resolves with the finished run. */
  async runNow(name: string): Promise<JobRun> {
    const job = this.job(name);
    if (!job) throw new Error(`no job ${name}`);
    if (this.running.has(name)) throw new JobBusyError(`${name} is running already`);
    return this.launch(job, "manual");
  }

  /**
   * Records a run that happened elsewhere (a verification the CLI ran on the host with a key the
   * agent does not hold), as a run of the job: kept, and alerting like the job's own runs.
   */
  record(name: string, result: JobResult, startedAt: number, now = Date.now()): JobRun {
    const job = this.job(name);
    if (!job) throw new Error(`no job ${name}`);
    const id = this.store.begin(job.name, "manual", startedAt);
    this.store.finish(id, { at: now, ...result });
    const run = this.store.runs(job.name, 1)[0];
    if (!run) throw new Error(`run ${id} of ${job.name} is not in the store`);
    this.onResult(job, run);
    return run;
  }

  /** When the job last ended well (see JobStore.lastGood). */
  lastGood(name: string): number | undefined {
    return this.store.lastGood(name);
  }

  private setNext(job: JobConfig, next: PlannedRun | undefined): void {
    this.store.plan(job.name, next);
    if (next) this.next.set(job.name, next);
    else this.next.delete(job.name);
    this.arm(job);
  }

  private arm(job: JobConfig): void {
    clearTimeout(this.timers.get(job.name));
    this.timers.delete(job.name);
    const next = this.next.get(job.name);
    if (this.stopped || !next) return;
    const wait = Math.min(Math.max(0, next.dueAt - Date.now()), MAX_TIMER_MS);
    // Unref'd: the agent's server keeps it alive; a scheduler alone must not.
    this.timers.set(job.name, setTimeout(() => this.due(job), wait).unref());
  }

  private due(job: JobConfig): void {
    const planned = this.next.get(job.name);
    if (this.stopped || !planned) return;
    const now = Date.now();
    if (planned.dueAt > now) {
      this.arm(job);
      return;
    }
    // The next run is planned (and saved) before this one starts: a kill mid-run loses nothing.
    this.setNext(job, planAfter(planned, now, job, this.random));
    if (this.running.has(job.name)) return; // still running from its last time: no overlap
    void this.launch(job, "schedule").catch(() => {});
  }

  private async launch(job: JobConfig, trigger: JobRun["trigger"]): Promise<JobRun> {
    const controller = new AbortController();
    this.running.set(job.name, controller);
    try {
      await this.untilUnlocked(job, controller.signal);
      const startedAt = Date.now();
      const id = this.store.begin(job.name, trigger, startedAt);
      const result = await this.execute(job, id, controller);
      this.store.finish(id, { at: Date.now(), ...result });
      const run = this.store.runs(job.name, 1)[0];
      if (!run) throw new Error(`run ${id} of ${job.name} is not in the store`);
      if (run.outcome !== "interrupted") this.onResult(job, run);
      return run;
    } finally {
      this.running.delete(job.name);
    }
  }

  private async execute(job: JobConfig, id: number, controller: AbortController) {
    const runner = this.runners[job.kind];
    if (!runner) {
      return {
        outcome: "failed",
        exitCode: null,
        detail: `no runner for ${job.kind} jobs`,
        output: "",
      } as const;
    }
    const timer = setTimeout(
      () => controller.abort(new TimeoutError(`timeout after ${job.timeout_ms}ms`)),
      job.timeout_ms,
    ).unref();
    try {
      return await runner.run(job, { id, signal: controller.signal });
    } catch (error) {
      return {
        outcome: "failed",
        exitCode: null,
        detail: (error as Error).message,
        output: "",
      } as const;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits while the job's deploy lock is held by a live holder. */
  private async untilUnlocked(job: JobConfig, signal: AbortSignal): Promise<void> {
    if (job.lock_path === undefined) return;
    try {
      while (lockHeld(job.lock_path, Date.now())) {
        this.waiting.add(job.name);
        if (signal.aborted) throw signal.reason;
        await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
      }
    } finally {
      this.waiting.delete(job.name);
    }
  }
}

export class TimeoutError extends Error {}

/**
 * Whether a deploy lock folder (src/lock) is held: it exists and its holder is alive, by its
 * heartbeat (holder.json touched every 10 s) or because it was taken by hand (manual).
 */
export function lockHeld(path: string, now: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch {
    return false;
  }
  if (!entries.includes("holder.json")) return true; // being taken right now
  const file = `${path}/holder.json`;
  try {
    const holder = JSON.parse(readFileSync(file, "utf8")) as { manual?: boolean };
    if (holder.manual) return true;
  } catch {
    // an unreadable record: go by its age
  }
  return now - statSync(file).mtimeMs < LOCK_STALE_MS;
}
