/** Maintenance windows: when `--from` starts, in RFC 3339 or HH:MM today, and what is refused. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { windowStart } from "../../../src/monitor/index.ts";

const HOUR = 3_600_000;

describe("a maintenance window's start", () => {
  const now = new Date("2026-12-01T12:00:00Z");

  it("takes RFC 3339 with its offset", () => {
    assert.deepEqual(windowStart("2026-12-01T22:00:00Z", HOUR, now), {
      at: Date.UTC(2026, 11, 1, 22),
    });
    assert.deepEqual(windowStart("2026-12-01T23:30+01:00", HOUR, now), {
      at: Date.UTC(2026, 11, 1, 22, 30),
    });
    assert.deepEqual(windowStart("2026-12-02 06:00:00.5Z", HOUR, now), {
      at: Date.UTC(2026, 11, 2, 6, 0, 0, 500),
    });
  });

  it("takes HH:MM as today in this machine's time zone, even one already begun", () => {
    const local = (h: number, m: number) => {
      const d = new Date(now);
      d.setHours(h, m, 0, 0);
      return d.getTime();
    };
    assert.deepEqual(windowStart("22:30", HOUR, now), { at: local(22, 30) });
    assert.deepEqual(windowStart("7:05", 24 * HOUR, now), { at: local(7, 5) });
  });

  it("refuses other text, a window already over, or one a month ahead", () => {
    const problem = (text: string, forMs = HOUR) => {
      const start = windowStart(text, forMs, now);
      return "problem" in start ? start.problem : undefined;
    };
    assert.equal(problem("tomorrow"), "--from tomorrow is neither an RFC 3339 time nor HH:MM");
    assert.equal(
      problem("2026-12-01T22:00"),
      "--from 2026-12-01T22:00 is neither an RFC 3339 time nor HH:MM",
      "no offset",
    );
    assert.equal(problem("24:00"), "--from 24:00 is neither an RFC 3339 time nor HH:MM");
    assert.equal(
      problem("2026-12-01T10:00:00Z"),
      "the window from 2026-12-01T10:00:00.000Z for 60 minutes is already over",
    );
    assert.equal(problem("2026-12-01T10:00:00Z", 3 * HOUR), undefined, "still running");
    assert.equal(
      problem("2027-01-15T10:00:00Z"),
      "--from 2027-01-15T10:00:00Z is more than 30 days ahead",
    );
  });
});
