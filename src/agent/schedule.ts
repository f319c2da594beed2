/**
 * When jobs run, as pure functions of the clock: the next cron time after a moment (croner, in
 * the agent's time zone, which is the host's), pushed later by a random jitter so jobs of many
 * apps do not all start on the minute, and what a restarted agent does with a run it missed while
 * it was down: skip it, or run it once (never once per missed time).
 */
import { Cron } from "croner";

/** A run planned: the cron time it belongs to, and when it is due (that time plus jitter). */
export interface PlannedRun {
  baseAt: number;
  dueAt: number;
}

export type MissedPolicy = "skip" | "run_once";

/** A due run found this late after its time counts as missed (the agent was down, not busy). */
export const MISSED_AFTER_MS = 60_000;

/** The first cron time strictly after `after`; undefined when the pattern never fires again. */
export function nextCronTime(schedule: string, after: number): number | undefined {
  const next = new Cron(schedule, { paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : undefined;
}

/**
 * The next run after `after`: the next cron time, and the jitter (0 to jitterMs) added to it.
 * `random` is Math.random's contract (0 <= r < 1).
 */
export function planNext(
  schedule: string,
  after: number,
  jitterMs: number,
  random: () => number,
): PlannedRun | undefined {
  const baseAt = nextCronTime(schedule, after);
  if (baseAt === undefined) return undefined;
  return { baseAt, dueAt: baseAt + Math.floor(random() * (jitterMs + 1)) };
}

/**
 * What a starting agent does with a job's saved run: keep it when it is still ahead (or only
 * just due), else it was missed: `skip` plans the next one from now, `run_once` runs now once
 * and then plans from now. Without a saved run (a new job), the next one from now.
 */
export function resume(
  saved: PlannedRun | undefined,
  now: number,
  job: { schedule: string; jitter_ms: number; missed: MissedPolicy },
  random: () => number,
): { runNow: boolean; missedAt: number | undefined; next: PlannedRun | undefined } {
  if (saved && saved.dueAt >= now - MISSED_AFTER_MS) {
    return { runNow: false, missedAt: undefined, next: saved };
  }
  const next = planNext(job.schedule, now, job.jitter_ms, random);
  if (!saved) return { runNow: false, missedAt: undefined, next };
  return { runNow: job.missed === "run_once", missedAt: saved.baseAt, next };
}

/**
 * The run after the one now due: from its cron time, or from now when that has passed too (a run
 * that lasted past the next time does not make the scheduler run twice to catch up).
 */
export function planAfter(
  current: PlannedRun,
  now: number,
  job: { schedule: string; jitter_ms: number },
  random: () => number,
): PlannedRun | undefined {
  return planNext(job.schedule, Math.max(current.baseAt, now), job.jitter_ms, random);
}
