import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { onHosts } from "../../../src/transport/index.ts";

describe("onHosts", () => {
  it("never runs more than the limit at once and keeps the hosts' order", async () => {
    let running = 0;
    let peak = 0;
    const hosts = ["a", "b", "c", "d", "e"];
    const outcomes = await onHosts(
      hosts,
      async (host) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(host === "a" ? 30 : 5);
        running--;
        return host.toUpperCase();
      },
      { limit: 2 },
    );
    assert.equal(peak, 2);
    assert.deepEqual(
      outcomes.map((o) => (o.status === "ok" ? o.value : o.status)),
      ["A", "B", "C", "D", "E"],
    );
  });

  it("with failFast starts no new host after a failure", async () => {
    const started: string[] = [];
    const outcomes = await onHosts(
      ["a", "b", "c"],
      async (host) => {
        started.push(host);
        if (host === "a") throw new Error("boom");
      },
      { limit: 1, failFast: true },
    );
    assert.deepEqual(started, ["a"]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["failed", "skipped", "skipped"],
    );
  });

  it("without failFast works on every host and reports each failure", async () => {
    const outcomes = await onHosts(
      ["a", "b"],
      async (host) => {
        if (host === "a") throw new Error("boom");
        return 1;
      },
      { limit: 4 },
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ["failed", "ok"],
    );
  });
});
