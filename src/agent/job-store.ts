/**
 * Jobs' state in the agent's SQLite file: each job's next planned run (so a restarted agent keeps
 * its schedule and knows what it missed), and every run with its outcome, exit code, duration and
 * output (the last 64 KiB), kept for the last runs of each job.
 */
import type { DatabaseSync } from "node:sqlite";
import type { PlannedRun } from "./schedule.ts";

export type RunOutcome = "running" | "ok" | "failed" | "timeout" | "interrupted" | "missed";

export interface JobRun {
  id: number;
  job: string;
  /** What started it: its schedule, a person (`slipway cron run`), or a missed run caught up. */
  trigger: "schedule" | "manual" | "missed";
  startedAt: number;
  endedAt: number | null;
  outcome: RunOutcome;
  exitCode: number | null;
  detail: string;
  output: string;
}

const RUNS_KEPT = 50;
export const OUTPUT_BYTES = 64 * 1024;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS job_schedules (job TEXT PRIMARY KEY, base_at INTEGER NOT NULL, due_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS job_runs (id INTEGER PRIMARY KEY, job TEXT NOT NULL, trigger TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, outcome TEXT NOT NULL, exit_code INTEGER, detail TEXT NOT NULL, output TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS job_runs_by_job ON job_runs (job, id);
`;

export class JobStore {
  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    this.db.exec(SCHEMA);
  }

  planned(job: string): PlannedRun | undefined {
    const row = this.db
      .prepare("SELECT base_at, due_at FROM job_schedules WHERE job = ?")
      .get(job) as { base_at: number; due_at: number } | undefined;
    return row ? { baseAt: row.base_at, dueAt: row.due_at } : undefined;
  }

  /** Written at once: a kill right after must not lose the schedule. */
  plan(job: string, next: PlannedRun | undefined): void {
    if (!next) {
      this.db.prepare("DELETE FROM job_schedules WHERE job = ?").run(job);
      return;
    }
    this.db
      .prepare(
        "INSERT INTO job_schedules (job, base_at, due_at) VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE SET base_at = excluded.base_at, due_at = excluded.due_at",
      )
      .run(job, next.baseAt, next.dueAt);
  }

  /** A run begins (or, for a missed one, is recorded as such); its id. */
  begin(job: string, trigger: JobRun["trigger"], at: number, outcome: RunOutcome = "running") {
    const result = this.db
      .prepare(
        "INSERT INTO job_runs (job, trigger, started_at, ended_at, outcome, detail, output) VALUES (?, ?, ?, ?, ?, '', '')",
      )
      .run(job, trigger, at, outcome === "running" ? null : at, outcome);
    return Number(result.lastInsertRowid);
  }

  finish(
    id: number,
    end: {
      at: number;
      outcome: RunOutcome;
      exitCode: number | null;
      detail: string;
      output: string;
    },
  ): void {
    const output = Buffer.from(end.output, "utf8");
    const kept =
      output.length > OUTPUT_BYTES
        ? output.subarray(output.length - OUTPUT_BYTES).toString("utf8")
        : end.output;
    const row = this.db
      .prepare(
        "UPDATE job_runs SET ended_at = ?, outcome = ?, exit_code = ?, detail = ?, output = ? WHERE id = ? RETURNING job",
      )
      .get(end.at, end.outcome, end.exitCode, end.detail, kept, id) as { job: string } | undefined;
    if (row) {
      this.db
        .prepare(
          "DELETE FROM job_runs WHERE job = ? AND id <= (SELECT id FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        )
        .run(row.job, row.job, RUNS_KEPT);
    }
  }

  /** Runs a killed agent left "running": interrupted now. Their ids. */
  interruptUnfinished(at: number): number[] {
    const rows = this.db
      .prepare(
        "UPDATE job_runs SET ended_at = ?, outcome = 'interrupted', detail = 'the agent stopped during the run' WHERE outcome = 'running' RETURNING id",
      )
      .all(at) as { id: number }[];
    return rows.map((r) => r.id);
  }

  /**
   * When the job last ended well, or else when its oldest kept run started (a job that only ever
   * failed is measured from its first run); undefined for a job that never ran.
   */
  lastGood(job: string): number | undefined {
    const row = this.db
      .prepare(
        "SELECT max(CASE WHEN outcome = 'ok' THEN ended_at END) AS ok, min(started_at) AS first FROM job_runs WHERE job = ? AND outcome != 'missed'",
      )
      .get(job) as { ok: number | null; first: number | null } | undefined;
    return row?.ok ?? row?.first ?? undefined;
  }

  /** The newest runs of a job, newest first. */
  runs(job: string, limit = 10): JobRun[] {
    const rows = this.db
      .prepare(
        "SELECT id, job, trigger, started_at, ended_at, outcome, exit_code, detail, output FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?",
      )
      .all(job, limit) as {
      id: number;
      job: string;
      trigger: JobRun["trigger"];
      started_at: number;
      ended_at: number | null;
      outcome: RunOutcome;
      exit_code: number | null;
      detail: string;
      output: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      job: r.job,
      trigger: r.trigger,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      outcome: r.outcome,
      exitCode: r.exit_code,
      detail: r.detail,
      output: r.output,
    }));
  }
}
