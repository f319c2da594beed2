/**
 * When checks run: a random phase on a shared grid, then a fixed rate that neither drifts nor
 * bursts; and the agent arms one timer per instant, not one per check.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstRunAt, nextRunAt } from "../../../src/agent/cadence.ts";
import { Agent, AgentMetrics, parseAgentConfig, Store } from "../../../src/agent/index.ts";

/** The first run with `random` answering `r`. */
const first = (now: number, intervalMs: number, r: number) => firstRunAt(now, intervalMs, () => r);

describe("the checks' cadence", () => {
  it("starts a check on the next quarter second plus a random number of quarters within its interval", () => {
    assert.equal(first(10_100, 30_000, 0), 10_250);
    assert.equal(first(10_100, 30_000, 0.5), 25_250);
    assert.equal(first(10_100, 30_000, 0.99999), 40_000);
    assert.equal(first(10_250, 30_000, 0), 10_250, "on the grid already: now");
  });

  it("puts a thousand checks of one interval on as many instants as it has quarter seconds", () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const instants = new Set(
      Array.from({ length: 1_000 }, () => firstRunAt(123_456.7, 30_000, random)),
    );
    assert.equal(instants.size, 120);
    for (const at of instants) {
      assert.ok(at >= 123_500 && at < 153_500, `${at} is within the first interval`);
      assert.equal(at % 250, 0, `${at} is on the grid`);
    }
  });

  it("starts a check of an interval under the grid's step on its interval's grid", () => {
    assert.equal(first(1_010, 200, 0.9), 1_200);
    assert.equal(first(1_010, 50, 0.5), 1_050);
  });

  it("runs one interval after the due time, however late this run was", () => {
    assert.equal(nextRunAt(60_000, 30_000, 60_004), 90_000);
    assert.equal(nextRunAt(60_000, 30_000, 89_999), 90_000);
  });

  it("skips the times an agent far behind missed instead of running them all at once", () => {
    assert.equal(nextRunAt(60_000, 30_000, 90_000), 90_000, "due now");
    assert.equal(nextRunAt(60_000, 30_000, 90_001), 120_000);
    assert.equal(nextRunAt(60_000, 30_000, 200_000), 210_000);
  });
});

describe("the agent's timers", () => {
  it("arms one timer for all the checks due at one instant, not one per check", async () => {
    const checks = Array.from({ length: 100 }, (_, i) => ({
      name: `c${i}`,
      kind: "tcp",
      host: "127.0.0.1",
      port: 9,
      interval_ms: 30_000,
    }));
    const config = parseAgentConfig(JSON.stringify({ service: "t", host: "t", checks }), "t.json");
    const store = new Store(":memory:");
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const agent = new Agent(config, store, new AgentMetrics(), { random: () => 0.5 });
    agent.start();
    const armed = timers() - before;
    await agent.stop(0);
    store.close();
    // The instant's, the store's flush and its prune.
    assert.equal(armed, 3);
  });
});
