/**
 * The agent's state in one SQLite file (node:sqlite): raw results for a short while, hourly
 * summaries for 90 days, incidents with their acknowledgement and duration, every notification
 * attempt, and each check's alert state, so an agent that is killed and restarted carries on with
 * its open incidents and failure counts. Results are written in batches (one transaction a
 * second), not one by one: a thousand checks must not cost a thousand fsyncs.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CheckState } from "./alerts.ts";
import type { CheckConfig } from "./config.ts";

const HOUR_MS = 3_600_000;
const SUMMARY_RETENTION_MS = 90 * 86_400_000;

export interface StoredResult {
  check: string;
  at: number;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface Incident {
  id: number;
  check: string;
  severity: string;
  cause: string;
  openedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
}

export interface HourSummary {
  check: string;
  hour: number;
  total: number;
  ok: number;
  msSum: number;
  msMax: number;
}

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS results (check_name TEXT NOT NULL, at INTEGER NOT NULL, ok INTEGER NOT NULL, ms INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_check ON results (check_name, at);
CREATE TABLE IF NOT EXISTS summaries (check_name TEXT NOT NULL, hour INTEGER NOT NULL, total INTEGER NOT NULL, ok INTEGER NOT NULL, ms_sum INTEGER NOT NULL, ms_max INTEGER NOT NULL, PRIMARY KEY (check_name, hour));
CREATE TABLE IF NOT EXISTS incidents (id INTEGER PRIMARY KEY, check_name TEXT NOT NULL, severity TEXT NOT NULL, cause TEXT NOT NULL, opened_at INTEGER NOT NULL, acknowledged_at INTEGER, acknowledged_by TEXT, resolved_at INTEGER);
CREATE TABLE IF NOT EXISTS notifications (id INTEGER PRIMARY KEY, incident_id INTEGER, notifier TEXT NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL, attempts INTEGER NOT NULL, ok INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS check_states (check_name TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS silences (id INTEGER PRIMARY KEY, check_name TEXT, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS check_overrides (check_name TEXT PRIMARY KEY, config TEXT NOT NULL, at INTEGER NOT NULL);
`;

export class Store {
  private readonly db: DatabaseSync;
  private pending: StoredResult[] = [];
  private pendingStates = new Map<string, string>();
  private readonly savedStates = new Map<string, string>();
  private readonly statements = new Map<string, StatementSync>();
  /**
   * No silence ends after this (ending one early only lowers its end, so the bound still
   * holds): while no silence runs or is to come, a check's result needs no lookup at all.
   */
  private silencesEndBy: number;

  constructor(path: string) {
    this.db = new DatabaseSync(path);
    this.db.exec(SCHEMA);
    const last = this.statement("SELECT max(ends_at) AS until FROM silences").get() as {
      until: number | null;
    };
    this.silencesEndBy = last.until ?? 0;
  }

  /** Queues a result; flush() writes the queue in one transaction. */
  addResult(result: StoredResult): void {
    this.pending.push(result);
  }

  flush(): void {
    if (this.pending.length === 0 && this.pendingStates.size === 0) return;
    const batch = this.pending;
    const states = this.pendingStates;
    this.pending = [];
    this.pendingStates = new Map();
    this.transaction(() => {
      const saveState = this.statement(
        "INSERT INTO check_states (check_name, state) VALUES (?, ?) ON CONFLICT (check_name) DO UPDATE SET state = excluded.state",
      );
      const insertResult = this.statement(
        "INSERT INTO results (check_name, at, ok, ms, detail) VALUES (?, ?, ?, ?, ?)",
      );
      const upsertSummary = this.statement(
        `INSERT INTO summaries (check_name, hour, total, ok, ms_sum, ms_max) VALUES (?, ?, 1, ?, ?, ?)
         ON CONFLICT (check_name, hour) DO UPDATE SET total = total + 1, ok = ok + excluded.ok,
         ms_sum = ms_sum + excluded.ms_sum, ms_max = max(ms_max, excluded.ms_max)`,
      );
      for (const [check, json] of states) saveState.run(check, json);
      for (const r of batch) {
        insertResult.run(r.check, r.at, r.ok ? 1 : 0, r.ms, r.detail);
        const hour = Math.floor(r.at / HOUR_MS) * HOUR_MS;
        upsertSummary.run(r.check, hour, r.ok ? 1 : 0, r.ms, r.ms);
      }
    });
  }

  /** Drops raw results older than the retention, and summaries older than 90 days. */
  prune(now: number, rawRetentionMs: number): void {
    this.statement("DELETE FROM results WHERE at < ?").run(now - rawRetentionMs);
    this.statement("DELETE FROM summaries WHERE hour < ?").run(now - SUMMARY_RETENTION_MS);
  }

  recentResults(check: string, limit: number): StoredResult[] {
    const rows = this.statement(
      "SELECT check_name, at, ok, ms, detail FROM results WHERE check_name = ? ORDER BY at DESC LIMIT ?",
    ).all(check, limit) as {
      check_name: string;
      at: number;
      ok: number;
      ms: number;
      detail: string;
    }[];
    return rows.map((r) => ({
      check: r.check_name,
      at: r.at,
      ok: r.ok === 1,
      ms: r.ms,
      detail: r.detail,
    }));
  }

  /** Failed runs / runs of a check since `since` (pending results included); undefined: none. */
  errorRatio(check: string, since: number): number | undefined {
    const row = this.statement(
      "SELECT count(*) AS n, sum(CASE WHEN ok = 0 THEN 1 ELSE 0 END) AS failed FROM results WHERE check_name = ? AND at >= ?",
    ).get(check, since) as { n: number; failed: number | null };
    let n = row.n;
    let failed = row.failed ?? 0;
    for (const r of this.pending) {
      if (r.check !== check || r.at < since) continue;
      n++;
      if (!r.ok) failed++;
    }
    return n === 0 ? undefined : failed / n;
  }

  summaries(check: string, since: number): HourSummary[] {
    const rows = this.statement(
      "SELECT check_name, hour, total, ok, ms_sum, ms_max FROM summaries WHERE check_name = ? AND hour >= ? ORDER BY hour",
    ).all(check, since) as {
      check_name: string;
      hour: number;
      total: number;
      ok: number;
      ms_sum: number;
      ms_max: number;
    }[];
    return rows.map((r) => ({
      check: r.check_name,
      hour: r.hour,
      total: r.total,
      ok: r.ok,
      msSum: r.ms_sum,
      msMax: r.ms_max,
    }));
  }

  /** A new incident's id (the row is written at once, so a restart keeps it). */
  openIncident(check: string, severity: string, cause: string, at: number): number {
    const result = this.statement(
      "INSERT INTO incidents (check_name, severity, cause, opened_at) VALUES (?, ?, ?, ?)",
    ).run(check, severity, cause, at);
    return Number(result.lastInsertRowid);
  }

  resolveIncident(id: number, at: number): void {
    this.statement("UPDATE incidents SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL").run(
      at,
      id,
    );
  }

  /** An open incident's new severity (an escalation). */
  setIncidentSeverity(id: number, severity: string): void {
    this.statement("UPDATE incidents SET severity = ? WHERE id = ? AND resolved_at IS NULL").run(
      severity,
      id,
    );
  }

  /** Acknowledges an open incident; false when there is no such open incident. */
  acknowledge(id: number, by: string, at: number): boolean {
    const result = this.statement(
      "UPDATE incidents SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND resolved_at IS NULL AND acknowledged_at IS NULL",
    ).run(at, by, id);
    return Number(result.changes) === 1;
  }

  incidents(options: { openOnly?: boolean; limit?: number } = {}): Incident[] {
    const rows = this.statement(
      `SELECT id, check_name, severity, cause, opened_at, acknowledged_at, acknowledged_by, resolved_at FROM incidents
         ${options.openOnly ? "WHERE resolved_at IS NULL" : ""} ORDER BY id DESC LIMIT ?`,
    ).all(options.limit ?? 100) as {
      id: number;
      check_name: string;
      severity: string;
      cause: string;
      opened_at: number;
      acknowledged_at: number | null;
      acknowledged_by: string | null;
      resolved_at: number | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      check: r.check_name,
      severity: r.severity,
      cause: r.cause,
      openedAt: r.opened_at,
      acknowledgedAt: r.acknowledged_at,
      acknowledgedBy: r.acknowledged_by,
      resolvedAt: r.resolved_at,
    }));
  }

  /** Incidents resolved since `since`, for the mean time to recovery (mttr.ts). */
  resolvedIncidents(since = 0): { check: string; openedAt: number; resolvedAt: number }[] {
    const rows = this.statement(
      "SELECT check_name, opened_at, resolved_at FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at >= ? ORDER BY id",
    ).all(since) as { check_name: string; opened_at: number; resolved_at: number }[];
    return rows.map((r) => ({
      check: r.check_name,
      openedAt: r.opened_at,
      resolvedAt: r.resolved_at,
    }));
  }

  recordNotification(entry: {
    incidentId: number | undefined;
    notifier: string;
    event: string;
    at: number;
    attempts: number;
    ok: boolean;
    error: string | undefined;
  }): void {
    this.statement(
      "INSERT INTO notifications (incident_id, notifier, event, at, attempts, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(
      entry.incidentId ?? null,
      entry.notifier,
      entry.event,
      entry.at,
      entry.attempts,
      entry.ok ? 1 : 0,
      entry.error ?? null,
    );
  }

  notifications(
    limit = 100,
  ): { notifier: string; event: string; ok: boolean; attempts: number; error: string | null }[] {
    const rows = this.statement(
      "SELECT notifier, event, ok, attempts, error FROM notifications ORDER BY id DESC LIMIT ?",
    ).all(limit) as {
      notifier: string;
      event: string;
      ok: number;
      attempts: number;
      error: string | null;
    }[];
    return rows.map((r) => ({ ...r, ok: r.ok === 1 }));
  }

  /** Queues a check's alert state; written by the next flush only when it changed. */
  saveState(check: string, state: CheckState): void {
    const json = JSON.stringify(state);
    if (this.savedStates.get(check) === json) return;
    this.savedStates.set(check, json);
    this.pendingStates.set(check, json);
  }

  loadStates(): Map<string, CheckState> {
    const rows = this.statement("SELECT check_name, state FROM check_states").all() as {
      check_name: string;
      state: string;
    }[];
    for (const r of rows) this.savedStates.set(r.check_name, r.state);
    return new Map(rows.map((r) => [r.check_name, JSON.parse(r.state) as CheckState]));
  }

  /**
   * A silence from startsAt to endsAt of one check, of every check of an app ("hello/": a name
   * ending in "/" covers the checks it starts), or of every check (check undefined).
   */
  addSilence(check: string | undefined, startsAt: number, endsAt: number, reason: string): number {
    const result = this.statement(
      "INSERT INTO silences (check_name, starts_at, ends_at, reason) VALUES (?, ?, ?, ?)",
    ).run(check ?? null, startsAt, endsAt, reason);
    this.silencesEndBy = Math.max(this.silencesEndBy, endsAt);
    return Number(result.lastInsertRowid);
  }

  /** The end of the latest silence covering `check` at `at`, if any. */
  silencedUntil(check: string, at: number): number | undefined {
    if (at >= this.silencesEndBy) return undefined;
    const row = this.statement(
      `SELECT max(ends_at) AS until FROM silences WHERE (check_name IS NULL OR check_name = ?1
         OR (substr(check_name, -1) = '/' AND substr(?1, 1, length(check_name)) = check_name))
         AND starts_at <= ?2 AND ends_at > ?2`,
    ).get(check, at) as { until: number | null } | undefined;
    return row?.until ?? undefined;
  }

  /** Ends a silence now; false when there is no such silence still running. */
  endSilence(id: number, at: number): boolean {
    const result = this.statement(
      "UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?",
    ).run(at, id, at);
    return Number(result.changes) === 1;
  }

  /** The silences running at `at`, and those still to come (maintenance windows). */
  activeSilences(at: number): {
    id: number;
    check: string | null;
    startsAt: number;
    endsAt: number;
    reason: string;
  }[] {
    const rows = this.statement(
      "SELECT id, check_name, starts_at, ends_at, reason FROM silences WHERE ends_at > ? ORDER BY id",
    ).all(at) as {
      id: number;
      check_name: string | null;
      starts_at: number;
      ends_at: number;
      reason: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      check: r.check_name,
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      reason: r.reason,
    }));
  }

  /** Checks set through the API (settings.ts), by name: each one's whole configuration. */
  overrides(): Map<string, CheckConfig> {
    const rows = this.statement(
      "SELECT check_name, config FROM check_overrides ORDER BY at, check_name",
    ).all() as { check_name: string; config: string }[];
    return new Map(rows.map((r) => [r.check_name, JSON.parse(r.config) as CheckConfig]));
  }

  saveOverride(check: CheckConfig, at: number): void {
    this.statement(
      "INSERT INTO check_overrides (check_name, config, at) VALUES (?, ?, ?) ON CONFLICT (check_name) DO UPDATE SET config = excluded.config",
    ).run(check.name, JSON.stringify(check), at);
  }

  /** False when the check had no override. */
  deleteOverride(name: string): boolean {
    const result = this.statement("DELETE FROM check_overrides WHERE check_name = ?").run(name);
    return Number(result.changes) === 1;
  }

  /** The database, for the parts of the agent that keep tables of their own (jobs). */
  get database(): DatabaseSync {
    return this.db;
  }

  close(): void {
    this.flush();
    this.db.close();
  }

  /**
   * The statement of `sql`, prepared on first use only: node:sqlite keeps no cache, and parsing
   * the silence lookup again for every check result cost more CPU than the check's request.
   */
  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private transaction(work: () => void): void {
    this.db.exec("BEGIN");
    try {
      work();
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }
}
