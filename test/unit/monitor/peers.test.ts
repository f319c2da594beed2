/** Peer checks: each host's agent checks every other host's SSH port, where the CLI reached it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSshConnection, planPeerChecks } from "../../../src/monitor/peers.ts";

describe("peer checks", () => {
  it("take the server's side of $SSH_CONNECTION", () => {
    assert.deepEqual(parseSshConnection("10.88.0.1 51234 10.88.0.7 22\n"), {
      address: "10.88.0.7",
      port: 22,
    });
    assert.deepEqual(parseSshConnection("2001:db8::1 4000 2001:db8::9 2222"), {
      address: "2001:db8::9",
      port: 2222,
    });
    assert.equal(parseSshConnection("\n"), undefined, "not over SSH");
  });

  it("give each host a check of every other host, none of itself", () => {
    const peers = [
      { host: "box-a", address: "10.0.0.1", port: 22 },
      { host: "box-b", address: "10.0.0.2", port: 2222 },
      { host: "box-c", address: "10.0.0.3", port: 22 },
    ];
    const checks = planPeerChecks("box-b", peers);
    assert.deepEqual(
      checks.map((c) => [c.name, c.kind, "host" in c ? c.host : "", "port" in c ? c.port : 0]),
      [
        ["peer-box-a", "tcp", "10.0.0.1", 22],
        ["peer-box-c", "tcp", "10.0.0.3", 22],
      ],
    );
    assert.equal(checks[0]?.alerting.open_after, 3);
    assert.equal(checks[0]?.interval_ms, 30_000);
    assert.deepEqual(planPeerChecks("box-a", peers.slice(0, 1)), [], "a single host");
  });
});
