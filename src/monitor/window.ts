/**
 * A maintenance window's start as `slipway monitor silence --from TIME` takes it: an RFC 3339
 * time with its offset ("2026-12-01T22:00:00Z", "2026-12-01T23:00+01:00"), or "HH:MM" today in
 * this machine's time zone. Pure: `now` is given.
 */

export type WindowStart = { at: number } | { problem: string; hint: string };

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const CLOCK = /^([01]?\d|2[0-3]):([0-5]\d)$/;
/** The agent takes windows that start within this (30 days). */
export const LATEST_START_MS = 30 * 86_400_000;

/** When a window of `forMs` from `text` starts; a problem when it cannot be, or is already over. */
export function windowStart(text: string, forMs: number, now: Date): WindowStart {
  let at: number;
  const clock = CLOCK.exec(text);
  if (clock) {
    const today = new Date(now);
    today.setHours(Number(clock[1]), Number(clock[2]), 0, 0);
    at = today.getTime();
  } else if (RFC3339.test(text) && !Number.isNaN(Date.parse(text))) {
    at = Date.parse(text);
  } else {
    return {
      problem: `--from ${text} is neither an RFC 3339 time nor HH:MM`,
      hint: 'e.g. --from 22:30 (today, this machine\'s time) or --from "2026-12-24T22:00:00Z"',
    };
  }
  if (at + forMs <= now.getTime()) {
    return {
      problem: `the window from ${new Date(at).toISOString()} for ${Math.round(forMs / 60_000)} minutes is already over`,
      hint: "for a later day, give the date: --from 2026-12-24T22:00:00Z",
    };
  }
  if (at - now.getTime() > LATEST_START_MS) {
    return {
      problem: `--from ${text} is more than 30 days ahead`,
      hint: "schedule it closer to the day",
    };
  }
  return { at };
}
