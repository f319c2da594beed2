/**
 * Push checks, as Healthchecks.io has them: the app (a cron job, a queue worker) calls
 * /ping/<key> after each good run and /ping/<key>/fail after a bad one; no ping within the period
 * and its grace is a failure too. The key is the URL's secret: it is read from a file at start,
 * and the agent finds the check by the key's digest, so no key sits in a log or the API.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CheckConfig } from "./config.ts";

export type HeartbeatCheck = Extract<CheckConfig, { kind: "heartbeat" }>;

/** Letters, digits, - and _ (base64url), long enough not to be guessed. */
export const PING_KEY_PATTERN = /^[A-Za-z0-9_-]{16,200}$/;

export function keyDigest(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/**
 * Each heartbeat check by its key's digest, the keys read from their files; a missing, short or
 * shared key stops the agent at start with the check's name (never the key).
 */
export function loadPingKeys(
  checks: readonly CheckConfig[],
  read: (file: string) => string = (file) => readFileSync(file, "utf8"),
): Map<string, HeartbeatCheck> {
  const keys = new Map<string, HeartbeatCheck>();
  for (const check of checks) {
    if (check.kind !== "heartbeat") continue;
    let key: string;
    try {
      key = read(check.key_file).trim();
    } catch (error) {
      throw new Error(`${check.name}: its ping key ${check.key_file}: ${(error as Error).message}`);
    }
    if (!PING_KEY_PATTERN.test(key)) {
      throw new Error(
        `${check.name}: the ping key in ${check.key_file} is not 16 to 200 letters, digits, - or _`,
      );
    }
    const digest = keyDigest(key);
    const other = keys.get(digest);
    if (other) throw new Error(`${check.name} and ${other.name} have the same ping key`);
    keys.set(digest, check);
  }
  return keys;
}

/** When the next ping is due at the latest, after the last one (or the agent's start). */
export function pingDeadline(check: HeartbeatCheck, lastPingAt: number): number {
  return lastPingAt + check.period_ms + check.grace_ms;
}

/** A missed ping, for people: "no ping since 2026-12-01T10:00:00.000Z (every 5m, grace 1m)". */
export function missedDetail(check: HeartbeatCheck, lastPingAt: number, pinged: boolean): string {
  const since = pinged ? `no ping since ${new Date(lastPingAt).toISOString()}` : "no ping yet";
  return `${since} (every ${span(check.period_ms)}, grace ${span(check.grace_ms)})`;
}

/** Whether a stored result's detail is that of a missed ping (missedDetail's). */
export function isMiss(detail: string): boolean {
  return detail.startsWith("no ping ");
}

/** A fail ping's detail: the first line the app sent with it, if any. */
export function failDetail(body: string): string {
  const first = body.trim().split("\n")[0]?.trim().slice(0, 200) ?? "";
  return first ? `fail ping: ${first}` : "fail ping";
}

function span(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}
