/** Durations and sizes as written in slipway.yml, turned into milliseconds and bytes. */

/** The forms a duration may take, quoted in error messages. */
export const DURATION_FORMS = "500ms, 30s, 5m, 1h or 2d";
/** The forms a size may take, quoted in error messages. */
export const SIZE_FORMS = "512mb, 1gb or 10k";

/** Regex source of a duration; the JSON Schema carries it so editors check it too. */
export const DURATION_PATTERN = "^[0-9]+(ms|s|m|h|d)$";
/** Regex source of a size (case-insensitive: the JSON Schema spells both cases out). */
export const SIZE_PATTERN = "^[0-9]+([bB]|[kK][bB]?|[mM][bB]?|[gG][bB]?|[tT][bB]?)$";

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// Binary multiples: Docker's --memory and nginx's client_max_body_size both read 1m as 1 MiB.
const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
};

/** Parses "30s", "500ms", "5m", "1h", "2d" into milliseconds; throws RangeError otherwise. */
export function parseDuration(s: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(s);
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new RangeError(
      `invalid duration ${JSON.stringify(s)}: write a whole number and a unit, like ${DURATION_FORMS}`,
    );
  }
  return checkedProduct(Number(match[1]), unit, s, "duration");
}

/** Parses "512mb", "1gb", "10k" (any case; 1k = 1024 bytes) into bytes; throws RangeError otherwise. */
export function parseSize(s: string): number {
  const match = /^([0-9]+)(b|kb?|mb?|gb?|tb?)$/i.exec(s);
  const unit = match?.[2] === undefined ? undefined : SIZE_UNITS[match[2].toLowerCase()];
  if (match?.[1] === undefined || unit === undefined) {
    throw new RangeError(
      `invalid size ${JSON.stringify(s)}: write a whole number and a unit, like ${SIZE_FORMS}`,
    );
  }
  return checkedProduct(Number(match[1]), unit, s, "size");
}

function checkedProduct(amount: number, unit: number, s: string, what: string): number {
  const value = amount * unit;
  if (!Number.isSafeInteger(value))
    throw new RangeError(`${what} ${JSON.stringify(s)} is too large`);
  return value;
}
