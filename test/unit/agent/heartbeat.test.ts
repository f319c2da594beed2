/** Heartbeats' pure parts: keys read and checked, the deadline, what a miss and a fail ping say. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  failDetail,
  isMiss,
  keyDigest,
  loadPingKeys,
  missedDetail,
  pingDeadline,
} from "../../../src/agent/heartbeat.ts";
import { checkSchema } from "../../../src/agent/index.ts";

const beat = (name: string, keyFile: string) => {
  const check = checkSchema.parse({
    name,
    kind: "heartbeat",
    period_ms: 300_000,
    grace_ms: 60_000,
    key_file: keyFile,
  });
  assert.equal(check.kind, "heartbeat");
  return check as Extract<typeof check, { kind: "heartbeat" }>;
};

describe("heartbeats", () => {
  it("finds each check by its key's digest, never by the key itself", () => {
    const files: Record<string, string> = {
      "/k/backup": "Zx8_k2-abcdefghijklmnop\n",
      "/k/queue": "queue-key-0123456789",
    };
    const keys = loadPingKeys(
      [beat("backup", "/k/backup"), beat("queue", "/k/queue")],
      (f) => files[f] ?? "",
    );
    assert.deepEqual(
      [...keys].map(([digest, check]) => [digest, check.name]),
      [
        [keyDigest("Zx8_k2-abcdefghijklmnop"), "backup"],
        [keyDigest("queue-key-0123456789"), "queue"],
      ],
    );
    assert.equal(keyDigest("abc").length, 64);
  });

  it("refuses a short, odd or shared key, naming the check and not the key", () => {
    const load = (text: string) => () => loadPingKeys([beat("backup", "/k/backup")], () => text);
    assert.throws(load("short"), {
      message: "backup: the ping key in /k/backup is not 16 to 200 letters, digits, - or _",
    });
    assert.throws(load("has spaces in it, quite long"), /not 16 to 200/);
    assert.throws(
      () => loadPingKeys([beat("a", "/k/a"), beat("b", "/k/b")], () => "the-same-key-0123456789"),
      { message: "b and a have the same ping key" },
    );
    assert.throws(
      () =>
        loadPingKeys([beat("a", "/k/a")], () => {
          throw new Error("ENOENT");
        }),
      { message: "a: its ping key /k/a: ENOENT" },
    );
  });

  it("is due period plus grace after the last ping, and says what was missed", () => {
    const check = beat("backup", "/k");
    assert.equal(pingDeadline(check, 1_000_000), 1_000_000 + 300_000 + 60_000);
    assert.equal(
      missedDetail(check, Date.UTC(2026, 11, 1, 10), true),
      "no ping since 2026-12-01T10:00:00.000Z (every 5m, grace 1m)",
    );
    assert.equal(missedDetail(check, 0, false), "no ping yet (every 5m, grace 1m)");
    assert.equal(isMiss(missedDetail(check, 0, false)), true);
    assert.equal(isMiss("ping"), false);
    assert.equal(isMiss("fail ping"), false);
  });

  it("keeps the first line of a fail ping's body", () => {
    assert.equal(failDetail(""), "fail ping");
    assert.equal(failDetail("  pg_dump: disk full\nmore\n"), "fail ping: pg_dump: disk full");
    assert.equal(failDetail("x".repeat(300)), `fail ping: ${"x".repeat(200)}`);
  });
});
