/**
 * Error-budget burn alerts, as the SRE workbook's multiwindow, multi-burn-rate alerts: with an
 * objective of 99.9%, the budget is 0.1% of runs failing. Burning it 14.4 times too fast over both
 * the last hour and the last 5 minutes spends 2% of a 30-day budget in an hour: page. 6 times over
 * both 6 hours and 30 minutes: a ticket. The short window makes the alert stop soon after the
 * burning stops; the long one keeps a blip from alerting. Pure.
 */

export interface BurnWindow {
  long: number;
  short: number;
  rate: number;
  level: "page" | "ticket";
}

export const BURN_WINDOWS: readonly BurnWindow[] = [
  { long: 3_600_000, short: 300_000, rate: 14.4, level: "page" },
  { long: 21_600_000, short: 1_800_000, rate: 6, level: "ticket" },
];

export interface BurnVerdict {
  level: "page" | "ticket" | undefined;
  /** For people: "burning the 99.9% error budget 20.0x over 1h (and 25.0x over 5m)". */
  detail: string;
}

/**
 * The verdict from the error ratio (failed / runs, 0..1; undefined without runs) of each window
 * length, for an objective in percent.
 */
export function burnVerdict(
  objective: number,
  errorRatio: (windowMs: number) => number | undefined,
): BurnVerdict {
  const budget = 1 - objective / 100;
  let worst = 0;
  for (const window of BURN_WINDOWS) {
    const long = errorRatio(window.long);
    const short = errorRatio(window.short);
    if (long === undefined || short === undefined) continue;
    const longRate = long / budget;
    const shortRate = short / budget;
    worst = Math.max(worst, Math.min(longRate, shortRate));
    if (longRate >= window.rate && shortRate >= window.rate) {
      return {
        level: window.level,
        detail: `burning the ${objective}% error budget ${longRate.toFixed(1)}x over ${hours(window.long)} (and ${shortRate.toFixed(1)}x over ${hours(window.short)})`,
      };
    }
  }
  return {
    level: undefined,
    detail: `error budget burn ${worst.toFixed(1)}x, under the alert rates`,
  };
}

function hours(ms: number): string {
  return ms >= 3_600_000 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`;
}
