/** The p95 limit: nearest-rank percentile, judged only on a full window of answers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { latencyVerdict, p95 } from "../../../src/agent/latency.ts";

describe("the p95 latency limit", () => {
  it("takes the nearest rank", () => {
    assert.equal(p95([]), undefined);
    assert.equal(p95([7]), 7);
    // 20 values 1..20: rank ceil(19) = 19.
    assert.equal(p95(Array.from({ length: 20 }, (_, i) => 20 - i)), 19);
    // 10 values: rank ceil(9.5) = 10, the largest.
    assert.equal(p95([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]), 100);
  });

  it("says nothing before the window is full, then judges its last answers only", () => {
    const fast = Array.from({ length: 19 }, () => 100);
    assert.equal(latencyVerdict(fast, 500, 20), undefined);
    assert.deepEqual(latencyVerdict([...fast, 900], 500, 20), {
      ok: true,
      detail: "p95 100ms over the last 20 answers, within 500ms",
    });
    const slow = [...fast, 900, 800];
    assert.deepEqual(latencyVerdict(slow, 500, 20), {
      ok: false,
      detail: "p95 800ms over the last 20 answers, over 500ms",
    });
    assert.deepEqual(latencyVerdict([2_000, ...fast, 100], 500, 20), {
      ok: true,
      detail: "p95 100ms over the last 20 answers, within 500ms",
    });
  });
});
