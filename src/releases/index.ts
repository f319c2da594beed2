/**
 * What was deployed, kept on each host: an append-only audit log of releases (JSON lines), the
 * env file of every kept version (so a rollback restores that release's env too), and which
 * version each role runs now. The truth lives on the hosts, so any teammate or CI can deploy.
 */
import { createHash } from "node:crypto";
import type { Transport } from "../transport/index.ts";

export type ReleaseOutcome =
  | "deployed"
  | "rolled-back"
  | "restarted"
  | "health-failed"
  | "release-command-failed"
  | "failed";

/** What started a release: a new version, a kept one, or the current one started again. */
export type ReleaseKind = "deploy" | "rollback" | "restart";

/** Outcomes of a release that ended healthy: its version may be kept and gone back to. */
const HEALTHY: ReadonlySet<ReleaseOutcome> = new Set(["deployed", "rolled-back", "restarted"]);

export interface ReleaseRecord {
  version: string;
  image: string;
  /** Image id (digest) on the host. */
  imageId: string;
  /** sha256 of the env file, so two releases can be compared without reading secrets. */
  envDigest: string;
  role: string;
  kind: ReleaseKind;
  outcome: ReleaseOutcome;
  /** Who and from where. */
  by: string;
  machine: string;
  /** ISO time the release finished. */
  at: string;
  durationMs: number;
  /** The version that ran before. */
  previous?: string;
  /** Why it failed, when it did. */
  error?: string;
}

/** Root of an app's state on a host. */
export function appDir(site: string): string {
  return `/var/lib/slipway/${site}`;
}

export function releaseLogPath(site: string): string {
  return `${appDir(site)}/releases.jsonl`;
}

/** The env file of one version of a role: 0600, root-owned, never in argv. */
export function envFilePath(site: string, role: string, version: string): string {
  return `${appDir(site)}/env/${role}-${version}.env`;
}

export function currentVersionPath(site: string, role: string): string {
  return `${appDir(site)}/current/${role}`;
}

/** A short digest of env content, safe to print and log. */
export function envDigest(content: string): string {
  return `sha256:${createHash("sha256").update(content).digest("hex").slice(0, 16)}`;
}

const APPEND = 'umask 077; mkdir -p -- "$(dirname -- "$1")" && cat >> "$1"';

/** Appends one record to the host's release log. */
export async function appendRelease(
  transport: Transport,
  site: string,
  record: ReleaseRecord,
): Promise<void> {
  await transport.run(["sh", "-c", APPEND, "sh", releaseLogPath(site)], {
    stdin: `${JSON.stringify(record)}\n`,
  });
}

/** Every record of the host's release log, oldest first; unreadable lines are skipped. */
export async function readReleases(transport: Transport, site: string): Promise<ReleaseRecord[]> {
  const result = await transport.run(["cat", "--", releaseLogPath(site)], { check: false });
  if (result.code !== 0) return [];
  return parseReleaseLog(result.stdout);
}

/** Parses a release log; a torn last line (a write cut short) is ignored. */
export function parseReleaseLog(text: string): ReleaseRecord[] {
  const records: ReleaseRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as ReleaseRecord);
    } catch {
      // a line cut short by an interrupted write
    }
  }
  return records;
}

/** The version a role runs now, or undefined before the first deploy. */
export async function readCurrentVersion(
  transport: Transport,
  site: string,
  role: string,
): Promise<string | undefined> {
  const result = await transport.run(["cat", "--", currentVersionPath(site, role)], {
    check: false,
  });
  const version = result.stdout.trim();
  return result.code === 0 && version ? version : undefined;
}

/**
 * Versions of a role worth keeping: the newest `keep` distinct versions that were deployed
 * successfully (a rollback target must have been healthy once), always including `current`.
 */
export function versionsToKeep(
  records: readonly ReleaseRecord[],
  role: string,
  keep: number,
  current: string | undefined,
): string[] {
  const kept: string[] = [];
  for (const record of [...records].reverse()) {
    if (record.role !== role) continue;
    if (!HEALTHY.has(record.outcome)) continue;
    if (!kept.includes(record.version)) kept.push(record.version);
    if (kept.length >= keep) break;
  }
  if (current && !kept.includes(current)) kept.unshift(current);
  return kept;
}

/**
 * The version a rollback goes to without an explicit one: the newest healthy release of the role
 * before the current version.
 */
export function previousVersion(
  records: readonly ReleaseRecord[],
  role: string,
  current: string | undefined,
): string | undefined {
  const healthy = versionsToKeep(records, role, Number.MAX_SAFE_INTEGER, undefined);
  return healthy.find((version) => version !== current);
}
