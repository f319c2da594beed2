import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  envDigest,
  parseReleaseLog,
  previousVersion,
  type ReleaseRecord,
  versionsToKeep,
} from "../../../src/releases/index.ts";

function record(version: string, outcome: ReleaseRecord["outcome"], role = "web"): ReleaseRecord {
  return {
    version,
    image: `hello:${version}`,
    imageId: `sha256:${version}`,
    envDigest: "sha256:0",
    role,
    kind: "deploy",
    outcome,
    by: "alice",
    machine: "laptop",
    at: "2026-11-22T00:00:00.000Z",
    durationMs: 1000,
  };
}

describe("release records", () => {
  const log = [
    record("v1", "deployed"),
    record("v2", "deployed"),
    record("w1", "deployed", "worker"),
    record("v3", "health-failed"),
    record("v4", "deployed"),
    record("v2", "rolled-back"),
  ];

  it("keeps the newest healthy versions of a role, the current one always", () => {
    assert.deepEqual(versionsToKeep(log, "web", 2, "v2"), ["v2", "v4"]);
    assert.deepEqual(versionsToKeep(log, "web", 5, "v2"), ["v2", "v4", "v1"]);
    assert.deepEqual(versionsToKeep(log, "web", 1, "v9"), ["v9", "v2"]);
    assert.deepEqual(versionsToKeep(log, "worker", 5, "w1"), ["w1"]);
  });

  it("rolls back to the newest healthy version before the current one, never a failed one", () => {
    assert.equal(previousVersion(log, "web", "v2"), "v4");
    assert.equal(previousVersion(log.slice(0, 4), "web", "v2"), "v1");
    assert.equal(previousVersion([record("v1", "deployed")], "web", "v1"), undefined);
  });

  it("reads a log whose last line was cut short", () => {
    const text = `${JSON.stringify(record("v1", "deployed"))}\n{"version":"v2","ima`;
    assert.deepEqual(
      parseReleaseLog(text).map((r) => r.version),
      ["v1"],
    );
  });

  it("digests env content without revealing it", () => {
    assert.match(envDigest("A=secret\n"), /^sha256:[0-9a-f]{16}$/);
    assert.notEqual(envDigest("A=1\n"), envDigest("A=2\n"));
  });
});
