/** Sizes for people: "512 B", "12.3 KiB", "1.5 GiB" (powers of 1024, as the config's sizes). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** An age for people in one unit, two of it at least: "45s", "12m", "30h", "9d". */
export function formatAge(ms: number): string {
  if (ms >= 2 * DAY) return `${Math.round(ms / DAY)}d`;
  if (ms >= 2 * HOUR) return `${Math.round(ms / HOUR)}h`;
  if (ms >= 2 * MINUTE) return `${Math.round(ms / MINUTE)}m`;
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}
