/** The scheduler's clock: cron times, jitter, and runs missed while the agent was down. Pure. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MISSED_AFTER_MS,
  nextCronTime,
  planAfter,
  planNext,
  resume,
} from "../../../src/agent/index.ts";

process.env.TZ = "UTC";
const at = (iso: string) => Date.parse(iso);
const job = { schedule: "30 3 * * *", jitter_ms: 0, missed: "skip" as const };

describe("schedules", () => {
  it("the next cron time is strictly after the moment, in the agent's time zone", () => {
    assert.equal(
      nextCronTime("30 3 * * *", at("2026-12-01T03:00:00Z")),
      at("2026-12-01T03:30:00Z"),
    );
    assert.equal(
      nextCronTime("30 3 * * *", at("2026-12-01T03:30:00Z")),
      at("2026-12-02T03:30:00Z"),
    );
    assert.equal(
      nextCronTime("*/15 * * * *", at("2026-12-01T10:07:59Z")),
      at("2026-12-01T10:15:00Z"),
    );
    assert.equal(nextCronTime("@weekly", at("2026-12-01T10:00:00Z")), at("2026-12-06T00:00:00Z"));
  });

  it("jitter delays a run by 0 to jitter_ms, never earlier than its time", () => {
    const after = at("2026-12-01T03:00:00Z");
    const base = at("2026-12-01T03:30:00Z");
    assert.deepEqual(
      planNext("30 3 * * *", after, 60_000, () => 0),
      { baseAt: base, dueAt: base },
    );
    assert.deepEqual(
      planNext("30 3 * * *", after, 60_000, () => 0.5),
      {
        baseAt: base,
        dueAt: base + 30_000,
      },
    );
    assert.equal(planNext("30 3 * * *", after, 60_000, () => 0.999_999)?.dueAt, base + 60_000);
  });

  it("the run after a due one comes from its cron time, or from now when a long run passed that", () => {
    const due = { baseAt: at("2026-12-01T10:00:00Z"), dueAt: at("2026-12-01T10:00:20Z") };
    const hourly = { schedule: "0 * * * *", jitter_ms: 0 };
    assert.equal(
      planAfter(due, at("2026-12-01T10:00:20Z"), hourly, () => 0)?.baseAt,
      at("2026-12-01T11:00:00Z"),
    );
    // Still running at 12:10: 11:00 and 12:00 are not run to catch up.
    assert.equal(
      planAfter(due, at("2026-12-01T12:10:00Z"), hourly, () => 0)?.baseAt,
      at("2026-12-01T13:00:00Z"),
    );
  });

  it("a restarted agent keeps a run that is still ahead, or only just due", () => {
    const saved = { baseAt: at("2026-12-02T03:30:00Z"), dueAt: at("2026-12-02T03:30:00Z") };
    assert.deepEqual(
      resume(saved, at("2026-12-01T20:00:00Z"), job, () => 0),
      {
        runNow: false,
        missedAt: undefined,
        next: saved,
      },
    );
    const justDue = saved.dueAt + MISSED_AFTER_MS;
    assert.deepEqual(resume(saved, justDue, job, () => 0).next, saved);
  });

  it("a run missed while the agent was down is skipped, or run once, by its policy", () => {
    const saved = { baseAt: at("2026-11-28T03:30:00Z"), dueAt: at("2026-11-28T03:30:00Z") };
    const now = at("2026-12-01T10:00:00Z"); // three nightly runs missed
    const next = { baseAt: at("2026-12-02T03:30:00Z"), dueAt: at("2026-12-02T03:30:00Z") };
    assert.deepEqual(
      resume(saved, now, job, () => 0),
      {
        runNow: false,
        missedAt: saved.baseAt,
        next,
      },
    );
    assert.deepEqual(
      resume(saved, now, { ...job, missed: "run_once" }, () => 0),
      {
        runNow: true,
        missedAt: saved.baseAt,
        next,
      },
    );
  });

  it("a new job (nothing saved) plans from now and runs nothing now", () => {
    assert.deepEqual(
      resume(undefined, at("2026-12-01T03:31:00Z"), { ...job, missed: "run_once" }, () => 0),
      {
        runNow: false,
        missedAt: undefined,
        next: { baseAt: at("2026-12-02T03:30:00Z"), dueAt: at("2026-12-02T03:30:00Z") },
      },
    );
  });
});
