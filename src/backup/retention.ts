/**
 * Which backups to keep: the last N, plus grandfather-father-son buckets (the newest backup of
 * each of the last D days, W ISO weeks, M months and Y years that have one), as restic and borg
 * count them. Pure. Applied only after a run succeeded: a failing job must never eat into the
 * backups that still work, and the newest good backup is kept whatever the policy says.
 */

export interface RetentionPolicy {
  /** The newest N good backups. At least 1. */
  keepLast: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Time zone the days, weeks, months and years are counted in (IANA name); default UTC. */
  timeZone?: string;
}

/** One backup as the store lists it. */
export interface BackupRecord {
  id: string;
  /** When the backup started. */
  at: Date;
  /** A manifest says it completed; false: an archive without one (failed or still running). */
  ok: boolean;
}

export type KeepReason = "last" | "daily" | "weekly" | "monthly" | "yearly" | "newest good";

export interface RetentionPlan {
  /** Newest first, each with the rules that keep it. */
  keep: { id: string; reasons: KeepReason[] }[];
  /** Newest first. */
  remove: { id: string; why: string }[];
}

type Bucket = Exclude<KeepReason, "last" | "newest good">;
const BUCKETS: readonly Bucket[] = ["daily", "weekly", "monthly", "yearly"];

const formats = new Map<string, Intl.DateTimeFormat>();

/** Calendar parts of an instant in a time zone. */
function calendar(at: Date, timeZone: string): { y: number; m: number; d: number } {
  let format = formats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    });
    formats.set(timeZone, format);
  }
  const parts = format.formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { y: part("year"), m: part("month"), d: part("day") };
}

/** ISO 8601 week-numbering year and week of a calendar date. */
function isoWeek(y: number, m: number, d: number): string {
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = date.getUTCDay() || 7; // Monday 1 .. Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of its week
  const year = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

function periodOf(bucket: Bucket, at: Date, timeZone: string): string {
  const { y, m, d } = calendar(at, timeZone);
  if (bucket === "daily") return `${y}-${m}-${d}`;
  if (bucket === "weekly") return isoWeek(y, m, d);
  if (bucket === "monthly") return `${y}-${m}`;
  return String(y);
}

/** Checks a policy; throws a RangeError naming the bad field. */
function checkPolicy(policy: RetentionPolicy): void {
  if (!Number.isInteger(policy.keepLast) || policy.keepLast < 1)
    throw new RangeError(`keepLast must be an integer of at least 1, not ${policy.keepLast}`);
  for (const bucket of BUCKETS) {
    const n = policy[bucket];
    if (n !== undefined && (!Number.isInteger(n) || n < 0))
      throw new RangeError(`${bucket} must be a whole number, not ${n}`);
  }
}

/**
 * Plans which backups stay and which go. When the newest record is not a good backup (the last
 * run failed, or one is running), nothing is removed: retention runs only after a success.
 */
export function planRetention(
  records: readonly BackupRecord[],
  policy: RetentionPolicy,
): RetentionPlan {
  checkPolicy(policy);
  const timeZone = policy.timeZone ?? "UTC";
  const sorted = [...records].sort((a, b) => b.at.getTime() - a.at.getTime());
  const reasons = new Map<string, KeepReason[]>(sorted.map((r) => [r.id, []]));
  const good = sorted.filter((r) => r.ok);
  const newest = sorted[0];
  if (newest === undefined) return { keep: [], remove: [] };
  if (!newest.ok || good[0] === undefined) {
    return {
      keep: sorted.map((r) => ({ id: r.id, reasons: r.ok ? ["newest good" as const] : [] })),
      remove: [],
    };
  }
  for (const r of good.slice(0, policy.keepLast)) reasons.get(r.id)?.push("last");
  for (const bucket of BUCKETS) {
    const limit = policy[bucket] ?? 0;
    const seen = new Set<string>();
    for (const r of good) {
      if (seen.size >= limit) break;
      const period = periodOf(bucket, r.at, timeZone);
      if (seen.has(period)) continue;
      seen.add(period); // newest first: the first seen is the newest of its period
      reasons.get(r.id)?.push(bucket);
    }
  }
  reasons.get(good[0].id)?.push("newest good");
  const keep: RetentionPlan["keep"] = [];
  const remove: RetentionPlan["remove"] = [];
  for (const r of sorted) {
    const why = reasons.get(r.id) ?? [];
    if (why.length > 0) keep.push({ id: r.id, reasons: why });
    else remove.push({ id: r.id, why: r.ok ? "outside the retention policy" : "incomplete" });
  }
  return { keep, remove };
}
