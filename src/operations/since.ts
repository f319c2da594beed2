/** The values `slipway logs` takes: --since and --tail, checked and put in the engine's terms. */
import { ExitCode, UserError } from "../errors/index.ts";

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };
const DURATION = /^(?:\d+[dhms])+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * `--since`: a duration back from now ("10m", "1h30m", "2d") or an RFC 3339 time
 * ("2026-05-01T10:00:00Z", "2026-05-01T12:00:00+02:00"). Returns what `docker logs --since`
 * takes: the duration in seconds ("600s"), measured by the host's clock, or the time in UTC.
 */
export function parseSince(value: string): string {
  const text = value.trim();
  if (DURATION.test(text)) {
    let seconds = 0;
    for (const [, amount, unit] of text.matchAll(/(\d+)([dhms])/g)) {
      seconds += Number(amount) * (UNIT_SECONDS[unit as string] ?? 0);
    }
    if (seconds > 0 && Number.isSafeInteger(seconds)) return `${seconds}s`;
  } else if (RFC3339.test(text)) {
    const time = new Date(text.replace(" ", "T"));
    if (!Number.isNaN(time.getTime())) return time.toISOString().replace(/\.000Z$/, "Z");
  }
  throw new UserError({
    code: "usage.since",
    message: `--since ${JSON.stringify(value)} is neither a duration nor a time.`,
    hint: "Give a duration back from now, like 10m, 1h or 1h30m, or an RFC 3339 time, like 2026-05-01T10:00:00Z.",
    exitCode: ExitCode.usage,
  });
}

/** `--tail`: a number of lines from the end, or "all". */
export function parseTail(value: string): number | "all" {
  const text = value.trim();
  if (text === "all") return "all";
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  throw new UserError({
    code: "usage.tail",
    message: `--tail ${JSON.stringify(value)} is not a number of lines.`,
    hint: "Give a whole number, like --tail 100, or --tail all.",
    exitCode: ExitCode.usage,
  });
}

/** Lines shown when neither --tail nor --since says: logs rotate at 30 MB, too much to scroll. */
export const DEFAULT_TAIL = 100;

/**
 * The window of `slipway logs` from its raw flags: --since and --tail checked; without either,
 * the last DEFAULT_TAIL lines; with --since alone, every line since then.
 */
export function logWindow(flags: { since?: string | undefined; tail?: string | undefined }): {
  since?: string;
  tail?: number;
} {
  const since = flags.since === undefined ? undefined : parseSince(flags.since);
  const tail =
    flags.tail === undefined ? (since === undefined ? DEFAULT_TAIL : "all") : parseTail(flags.tail);
  return {
    ...(since === undefined ? {} : { since }),
    ...(tail === "all" ? {} : { tail }),
  };
}
