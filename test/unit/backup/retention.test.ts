/**
 * Retention over a simulated year of nightly backups: the plan is applied after every run, as the
 * scheduler will, and what is left at the end is checked date by date. A failed run removes
 * nothing, and the newest good backup survives any policy.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type BackupRecord,
  planRetention,
  type RetentionPolicy,
} from "../../../src/backup/index.ts";

const day = (iso: string, hour = 3): BackupRecord => ({
  id: iso,
  at: new Date(`${iso}T${String(hour).padStart(2, "0")}:00:00Z`),
  ok: true,
});

/** Every date of 2026, ISO formatted. */
function datesOf2026(): string[] {
  const out: string[] = [];
  for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

const policy: RetentionPolicy = { keepLast: 3, daily: 7, weekly: 4, monthly: 6, yearly: 2 };

/** Runs a nightly job through the year: each night adds a backup, then retention runs on the store. */
function simulate(dates: string[], failing: ReadonlySet<string> = new Set()): BackupRecord[] {
  let store: BackupRecord[] = [];
  for (const date of dates) {
    const record = { ...day(date), ok: !failing.has(date) };
    store.push(record);
    if (!record.ok) continue; // retention only after a success
    const plan = planRetention(store, policy);
    const gone = new Set(plan.remove.map((r) => r.id));
    assert.ok(!gone.has(date), `the backup just made (${date}) must stay`);
    store = store.filter((r) => !gone.has(r.id));
  }
  return store;
}

describe("planRetention", () => {
  it("keeps exactly last 3, 7 days, 4 ISO weeks, 6 months and the year after a year of nightly backups", () => {
    const left = simulate(datesOf2026()).map((r) => r.id);
    assert.deepEqual(left.sort(), [
      "2026-07-31", // monthly (6th month back)
      "2026-08-31",
      "2026-09-30",
      "2026-10-31",
      "2026-11-30", // monthly
      "2026-12-13", // weekly: newest of ISO week 50 (a Sunday)
      "2026-12-20", // weekly: week 51
      "2026-12-25", // daily (7th day back)
      "2026-12-26",
      "2026-12-27", // daily and weekly (week 52)
      "2026-12-28",
      "2026-12-29", // last 3 from here
      "2026-12-30",
      "2026-12-31", // also weekly (week 53 of 2026), monthly and yearly
    ]);
  });

  it("names every rule that keeps a backup, newest first", () => {
    const all = datesOf2026().map((d) => day(d));
    const plan = planRetention(all, policy);
    assert.equal(plan.keep.length, 14);
    assert.equal(plan.remove.length, 365 - 14);
    assert.deepEqual(plan.keep[0], {
      id: "2026-12-31",
      reasons: ["last", "daily", "weekly", "monthly", "yearly", "newest good"],
    });
    assert.deepEqual(plan.keep.find((k) => k.id === "2026-12-27")?.reasons, ["daily", "weekly"]);
    assert.deepEqual(plan.keep.at(-1), { id: "2026-07-31", reasons: ["monthly"] });
    assert.deepEqual(plan.remove[0], { id: "2026-12-24", why: "outside the retention policy" });
  });

  it("counts periods that have backups: gaps in the year do not shorten what is kept", () => {
    // Only the first of each month: monthly 6 reaches back six months that have one.
    const firsts = datesOf2026().filter((d) => d.endsWith("-01"));
    const plan = planRetention(
      firsts.map((d) => day(d)),
      { keepLast: 1, monthly: 6 },
    );
    assert.deepEqual(
      plan.keep.map((k) => k.id),
      ["2026-12-01", "2026-11-01", "2026-10-01", "2026-09-01", "2026-08-01", "2026-07-01"],
    );
  });

  it("keeps the newest of several backups on one day for the daily rule", () => {
    const records = [
      { ...day("2026-03-01", 1), id: "early" },
      { ...day("2026-03-01", 13), id: "late" },
      { ...day("2026-03-02", 2), id: "next" },
    ];
    const plan = planRetention(records, { keepLast: 1, daily: 2 });
    assert.deepEqual(plan.keep, [
      { id: "next", reasons: ["last", "daily", "newest good"] },
      { id: "late", reasons: ["daily"] },
    ]);
    assert.deepEqual(plan.remove, [{ id: "early", why: "outside the retention policy" }]);
  });

  it("counts days in the policy's time zone", () => {
    // 23:30 UTC on 1 March is already 2 March in Berlin: two backups on one Berlin day.
    const records = [
      { id: "a", at: new Date("2026-03-01T23:30:00Z"), ok: true },
      { id: "b", at: new Date("2026-03-02T20:00:00Z"), ok: true },
    ];
    const utc = planRetention(records, { keepLast: 1, daily: 2 });
    assert.deepEqual(utc.remove, []);
    const berlin = planRetention(records, { keepLast: 1, daily: 2, timeZone: "Europe/Berlin" });
    assert.deepEqual(berlin.remove, [{ id: "a", why: "outside the retention policy" }]);
  });

  it("removes nothing after a failed run, and the year survives a failing week", () => {
    const records = [day("2026-05-01"), day("2026-05-02"), { ...day("2026-05-03"), ok: false }];
    assert.deepEqual(planRetention(records, { keepLast: 1 }).remove, []);
    // The last week of the year fails: what was kept before it is all still there.
    const failing = new Set(datesOf2026().slice(-7));
    const left = simulate(datesOf2026(), failing);
    const good = left.filter((r) => r.ok).map((r) => r.id);
    assert.ok(good.includes("2026-12-24"), "the newest good backup stays");
    assert.deepEqual(good.slice(-3), ["2026-12-22", "2026-12-23", "2026-12-24"]);
    assert.equal(left.filter((r) => !r.ok).length, 7);
  });

  it("removes incomplete backups older than the newest good one, and counts only good ones", () => {
    const plan = planRetention(
      [day("2026-01-01"), { ...day("2026-01-02"), ok: false }, day("2026-01-03")],
      { keepLast: 2 },
    );
    assert.deepEqual(
      plan.keep.map((k) => k.id),
      ["2026-01-03", "2026-01-01"],
    );
    assert.deepEqual(plan.remove, [{ id: "2026-01-02", why: "incomplete" }]);
  });

  it("refuses a policy that would keep nothing", () => {
    assert.throws(
      () => planRetention([], { keepLast: 0 }),
      /keepLast must be an integer of at least 1/,
    );
    assert.throws(
      () => planRetention([], { keepLast: 1, weekly: -1 }),
      /weekly must be a whole number/,
    );
  });
});
