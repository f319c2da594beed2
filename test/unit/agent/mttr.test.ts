/** Mean time to recovery: per check and per service, open incidents left out, exact means. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { meanTimeToRecovery } from "../../../src/agent/index.ts";
import { recoveryLine } from "../../../src/monitor/index.ts";

describe("mean time to recovery", () => {
  it("averages each check's resolved incidents, and each service's over all of its own", () => {
    const report = meanTimeToRecovery(
      [
        { check: "hello/web", openedAt: 0, resolvedAt: 60_000 },
        { check: "hello/web", openedAt: 100_000, resolvedAt: 280_000 },
        { check: "hello/db", openedAt: 0, resolvedAt: 30_001 },
        { check: "hello/web error budget", openedAt: 0, resolvedAt: 600_000 },
        { check: "notes/web", openedAt: 5, resolvedAt: 10 },
        { check: "notes/web", openedAt: 50, resolvedAt: null },
      ],
      (check) => check.split("/")[0] ?? "",
    );
    assert.deepEqual(report, {
      checks: [
        { check: "hello/db", service: "hello", incidents: 1, mttr_ms: 30_001 },
        { check: "hello/web", service: "hello", incidents: 2, mttr_ms: 120_000 },
        { check: "hello/web error budget", service: "hello", incidents: 1, mttr_ms: 600_000 },
        { check: "notes/web", service: "notes", incidents: 1, mttr_ms: 5 },
      ],
      services: [
        // (60 + 180 + 30.001 + 600) s / 4
        { service: "hello", incidents: 4, mttr_ms: 217_500 },
        { service: "notes", incidents: 1, mttr_ms: 5 },
      ],
    });
  });

  it("is empty without resolved incidents", () => {
    assert.deepEqual(
      meanTimeToRecovery([{ check: "web", openedAt: 1, resolvedAt: null }], () => "hello"),
      { checks: [], services: [] },
    );
  });
});

describe("the mean time to recovery for people", () => {
  it("gives this app's, then each of its checks' (most incidents first), and nothing of another app", () => {
    const report = meanTimeToRecovery(
      [
        { check: "hello/db", openedAt: 0, resolvedAt: 30_000 },
        { check: "hello/web", openedAt: 0, resolvedAt: 60_000 },
        { check: "hello/web", openedAt: 0, resolvedAt: 180_000 },
        { check: "notes/web", openedAt: 0, resolvedAt: 9_000_000 },
      ],
      (check) => check.split("/")[0] ?? "",
    );
    assert.equal(
      recoveryLine("hello/", report),
      "mean time to recovery: hello 90s over 3 incidents; web 2m (2), db 30s (1)",
    );
    assert.equal(
      recoveryLine("notes/", report),
      "mean time to recovery: notes 2h30m over 1 incident; web 2h30m (1)",
    );
    assert.equal(recoveryLine("other/", report), undefined);
  });
});
