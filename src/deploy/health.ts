/**
 * The health gate: a new container gets traffic only after N consecutive successful checks
 * within the deadline. A container that exits meanwhile fails the gate at once.
 */

export interface HealthGateSettings {
  intervalMs: number;
  successes: number;
  deadlineMs: number;
}

export type ProbeResult = { ok: true } | { ok: false; detail: string; fatal?: boolean };

export type GateResult =
  | { healthy: true; attempts: number; elapsedMs: number }
  | { healthy: false; attempts: number; elapsedMs: number; detail: string };

/**
 * Calls `probe` every interval until `successes` in a row, or the deadline, or a fatal result
 * (the container is gone). Resolves with what happened; never throws for an unhealthy app.
 */
export async function waitHealthy(
  probe: () => Promise<ProbeResult>,
  settings: HealthGateSettings,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => number = () => performance.now(),
): Promise<GateResult> {
  const started = now();
  let streak = 0;
  let attempts = 0;
  let detail = "no check ran";
  for (;;) {
    attempts++;
    const result = await probe();
    const elapsedMs = Math.round(now() - started);
    if (result.ok) {
      streak++;
      if (streak >= settings.successes) return { healthy: true, attempts, elapsedMs };
    } else {
      streak = 0;
      detail = result.detail;
      if (result.fatal) return { healthy: false, attempts, elapsedMs, detail };
    }
    if (now() - started + settings.intervalMs > settings.deadlineMs) {
      return {
        healthy: false,
        attempts,
        elapsedMs,
        detail: `not healthy after ${Math.round(settings.deadlineMs / 1000)}s: ${detail}`,
      };
    }
    await sleep(settings.intervalMs);
  }
}
