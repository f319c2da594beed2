/**
 * The runbooks' latency limit: the 95th percentile of a check's last answers (20 by default)
 * must stay under a limit. One slow answer does not alert (max_latency is for that); a slow
 * trend does, as its own incident "<check> latency". Pure.
 */

/** The nearest-rank 95th percentile: the value 95% of them are at or under. */
export function p95(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1];
}

/**
 * The verdict on the last `answers` times (ms, newest last): undefined until there are that many;
 * else whether their p95 is within `limitMs`, in words.
 */
export function latencyVerdict(
  times: readonly number[],
  limitMs: number,
  answers: number,
): { ok: boolean; detail: string } | undefined {
  if (times.length < answers) return undefined;
  const value = p95(times.slice(-answers)) ?? 0;
  const ok = value <= limitMs;
  return {
    ok,
    detail: `p95 ${value}ms over the last ${answers} answers, ${ok ? "within" : "over"} ${limitMs}ms`,
  };
}
