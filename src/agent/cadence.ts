/**
 * When a check runs: at a fixed rate, from a random phase within its interval so a thousand
 * checks do not all start at once. The phase is a whole number of steps of a grid (250 ms, or
 * the interval when shorter), so checks share instants and the agent wakes once per instant, not
 * once per check: in bench/agent.ts (1000 checks every 30 s), waking up for every check alone
 * cost more CPU than the checks' own work. A coarser grid saves a little more CPU but puts more
 * checks in one instant, and each one's latency then includes the agent's handling of the others
 * (1 s: about 33 at once, 10 ms more at the median). Times are of one monotonic clock
 * (performance.now()). Pure.
 */

/** The grid checks start on; a check of a shorter interval starts on its interval's grid. */
export const CADENCE_STEP_MS = 250;

/**
 * A check's first run after `now`: the next instant of its grid, plus a random whole number of
 * steps within its interval. `random` is Math.random's contract (0 <= r < 1).
 */
export function firstRunAt(now: number, intervalMs: number, random: () => number): number {
  const step = Math.min(CADENCE_STEP_MS, intervalMs);
  const steps = Math.floor((random() * intervalMs) / step);
  return Math.ceil(now / step) * step + steps * step;
}

/**
 * The run after the one due at `dueAt`, seen at `now`: one interval later, so a late or slow run
 * does not drift the schedule; when the agent fell more than an interval behind (a blocked
 * event loop, a suspended host), the first of its times still ahead, not a burst of runs.
 */
export function nextRunAt(dueAt: number, intervalMs: number, now: number): number {
  const next = dueAt + intervalMs;
  const behind = Math.max(0, Math.ceil((now - next) / intervalMs));
  return next + behind * intervalMs;
}
