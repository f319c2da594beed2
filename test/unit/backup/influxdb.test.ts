/**
 * InfluxDB 2's backup and restore as argv (no InfluxDB 2 server can run here): `influx backup`
 * into a temporary folder sent as tar, restored by unpacking it and `influx restore` per bucket
 * after the org's own buckets are deleted; the token from the mounted secret file, never argv;
 * the org's buckets as what verification compares.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compareFacts,
  type InfluxTarget,
  parseInfluxBuckets,
  parseInfluxVersion,
  planInfluxBuckets,
  planInfluxDump,
  planInfluxReady,
  planInfluxRestore,
  planInfluxVersion,
} from "../../../src/backup/index.ts";

const t: InfluxTarget = {
  engine: "influxdb",
  container: "hello-metrics",
  user: "hello",
  database: "hello",
};
const FOLDER = [
  "set -e",
  "umask 077",
  "d=$(mktemp -d)",
  "trap 'rm -rf \"$d\"' EXIT",
  "trap 'exit 1' HUP INT TERM",
];
const TOKEN = 'INFLUX_TOKEN="$(cat /run/slipway-secrets/token)"; export INFLUX_TOKEN';

/** `influx bucket list --json` as influx CLI 2.7 prints it (ids shortened to 16 hex digits). */
const BUCKETS = JSON.stringify([
  {
    id: "0a1b2c3d4e5f6071",
    orgID: "9f8e7d6c5b4a3921",
    type: "system",
    name: "_monitoring",
    description: "System bucket for monitoring logs",
    retentionRules: [{ type: "expire", everySeconds: 604800, shardGroupDurationSeconds: 86400 }],
  },
  {
    id: "1a1b2c3d4e5f6071",
    orgID: "9f8e7d6c5b4a3921",
    type: "system",
    name: "_tasks",
    retentionRules: [{ type: "expire", everySeconds: 259200 }],
  },
  {
    id: "2a1b2c3d4e5f6071",
    orgID: "9f8e7d6c5b4a3921",
    type: "user",
    name: "hello",
    retentionRules: [{ type: "expire", everySeconds: 0, shardGroupDurationSeconds: 604800 }],
  },
  { id: "3a1b2c3d4e5f6071", orgID: "9f8e7d6c5b4a3921", type: "user", name: "app metrics" },
]);

describe("InfluxDB 2 backups, by argv (no InfluxDB 2 server can run here)", () => {
  it("backs the org up into a temporary folder and sends it as tar on stdout, the token from its file", () => {
    assert.deepEqual(planInfluxDump(t), [
      "docker",
      "exec",
      "hello-metrics",
      "sh",
      "-c",
      [...FOLDER, TOKEN, 'influx backup "$d/backup" >&2', 'tar -C "$d" -cf - backup'].join("\n"),
    ]);
  });

  it("restores per bucket: unpacked whole, the org's buckets deleted by id, the backup's restored into the org", () => {
    assert.deepEqual(
      planInfluxRestore(t, { from: "it's", replace: ["2a1b2c3d4e5f6071", "3a1b2c3d4e5f6071"] }),
      [
        "docker",
        "exec",
        "--interactive",
        "hello-metrics",
        "sh",
        "-c",
        [
          ...FOLDER,
          'from="$1"; shift',
          'tar -C "$d" -xf -',
          '[ -d "$d/backup" ] || { echo "the archive holds no influx backup folder" >&2; exit 1; }',
          '[ -n "$INFLUX_ORG" ] || { echo "INFLUX_ORG is not set in the container" >&2; exit 1; }',
          TOKEN,
          'for id in "$@"; do influx bucket delete --id "$id" >&2; done',
          'influx restore --org "$from" --new-org "$INFLUX_ORG" "$d/backup" >&2',
        ].join("\n"),
        "sh",
        "it's",
        "2a1b2c3d4e5f6071",
        "3a1b2c3d4e5f6071",
      ],
    );
    // Only bucket ids reach the shell's arguments.
    assert.throws(
      () => planInfluxRestore(t, { from: "hello", replace: ["--all"] }),
      /bad InfluxDB bucket id/,
    );
  });

  it("lists the org's own buckets (system ones aside) by the CLI logged in from the file", () => {
    assert.deepEqual(planInfluxBuckets(t), [
      "docker",
      "exec",
      "hello-metrics",
      "sh",
      "-c",
      'INFLUX_TOKEN="$(cat /run/slipway-secrets/token)" exec influx "$@"',
      "influx",
      "bucket",
      "list",
      "--json",
    ]);
    assert.deepEqual(parseInfluxBuckets(BUCKETS), [
      { id: "3a1b2c3d4e5f6071", name: "app metrics" },
      { id: "2a1b2c3d4e5f6071", name: "hello" },
    ]);
    assert.deepEqual(parseInfluxBuckets("[]"), []);
    assert.throws(() => parseInfluxBuckets("Error: unauthorized access"), /printed no JSON/);
  });

  it("reads the server's version from influxd, and waits on influx ping", () => {
    assert.deepEqual(planInfluxVersion(t), [
      "docker",
      "exec",
      "hello-metrics",
      "influxd",
      "version",
    ]);
    assert.equal(
      parseInfluxVersion("InfluxDB v2.7.10 (git: f302d9730c) build_date: 2024-08-16T20:19:28Z\n"),
      "2.7.10",
    );
    assert.equal(parseInfluxVersion(""), "unknown");
    assert.deepEqual(planInfluxReady(t), ["docker", "exec", "hello-metrics", "influx", "ping"]);
  });

  it("verification compares the org's buckets by name", () => {
    assert.deepEqual(compareFacts({ buckets: ["app metrics", "hello"] }, { buckets: ["hello"] }), [
      { what: "buckets", expected: "app metrics, hello", actual: "hello", ok: false },
    ]);
    assert.deepEqual(compareFacts({ buckets: ["hello"] }, { buckets: ["hello"] })[0]?.ok, true);
    assert.deepEqual(compareFacts({ buckets: [] }, {})[0], {
      what: "buckets",
      expected: "none",
      actual: "missing",
      ok: false,
    });
  });
});
