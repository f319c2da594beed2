/**
 * InfluxDB's backup and restore scripts run for real in a container, through the Engine API as
 * the runner runs them, against a stand-in `influx` CLI: no InfluxDB 2 server exists in Debian
 * or npm, so the server itself is not tested here. The stand-in keeps the CLI's contract the
 * scripts rely on (`influx backup DIR` writes a folder, `bucket list --json`, `bucket delete
 * --id`, `restore` refusing a bucket that exists, the token from INFLUX_TOKEN); its "server" is
 * a folder of buckets. What is tested is Slipway's side: the folder sent as tar and unpacked
 * whole, the org's buckets replaced, the temporary folder gone whatever happened, the token from
 * the mounted secret file and on no process's argv, the buckets compared.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { EngineClient } from "../../src/agent/index.ts";
import {
  backupAccessory,
  directoryStore,
  type InfluxTarget,
  readFacts,
  restoreAccessory,
  runBackup,
} from "../../src/backup/index.ts";
import { engineContainers } from "../../src/backup/runner/engine-containers.ts";
import { NODE_IMAGE } from "../rig/images.ts";
import { onProcessExit, rigAvailable, run, skipUnless } from "../rig/index.ts";
import { ageKeys } from "../support/age-keys.ts";
import { withoutSecretInArgv } from "../support/argv-watch.ts";

const SOCKET = "/run/podman/podman.sock";
const NAME = `slipway-test-influx-${randomBytes(3).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "slipway-influx-"));
chmodSync(dir, 0o755);
function cleanup(): void {
  run("podman", ["rm", "-f", "--volumes", "-t", "0", NAME]).catch(() => {});
}
const unregister = onProcessExit(() => {
  cleanup();
  rmSync(dir, { recursive: true, force: true });
});
after(async () => {
  await run("podman", ["rm", "-f", "--volumes", "-t", "0", NAME]);
  rmSync(dir, { recursive: true, force: true });
  unregister();
});

/** The stand-in influx CLI: its server is /var/lib/fake-influx/buckets/NAME/{id,data}. */
const FAKE_INFLUX = `#!/bin/sh
set -e
s=/var/lib/fake-influx
echo "$*" >> "$s/calls"
[ "$INFLUX_TOKEN" = "$(cat /run/slipway-secrets/token)" ] || { echo "Error: unauthorized access" >&2; exit 1; }
case "$1" in
backup)
  [ ! -e "$2" ] && mkdir -p "$2" && cp -a "$s/buckets" "$2/"
  [ ! -e "$s/fail-backup" ] || { echo "Error: failed to backup shard 7: broken pipe" >&2; exit 1; }
  echo '{"kv":{"fileName":"20260101T000000Z.bolt"}}' > "$2/20260101T000000Z.manifest"
  echo "Backing up KV store to $2" >&2 ;;
bucket)
  if [ "$2" = list ]; then
    printf '[{"id":"0a1b2c3d4e5f6071","type":"system","name":"_monitoring"}'
    for b in "$s"/buckets/*; do
      [ -e "$b" ] && printf ',{"id":"%s","type":"user","name":"%s"}' "$(cat "$b/id")" "$(basename "$b")"
    done
    printf ']\\n'
  else
    for b in "$s"/buckets/*; do [ "$(cat "$b/id")" = "$4" ] && rm -rf "$b"; done
    echo "ID	Name	deleted"
  fi ;;
restore)
  for b in "$6"/buckets/*; do
    [ ! -e "$s/buckets/$(basename "$b")" ] || { echo "Error: bucket already exists" >&2; exit 1; }
  done
  cp -a "$6/buckets/." "$s/buckets/" ;;
*) exit 2 ;;
esac
`;
const FAKE_INFLUXD = `#!/bin/sh
echo "InfluxDB v2.7.10 (git: f302d9730c) build_date: 2024-08-16T20:19:28Z"
`;

describe("InfluxDB backup scripts, for real against a stand-in influx CLI (no InfluxDB 2 server exists here)", {
  skip: skipUnless(rigAvailable(NODE_IMAGE)) || false,
  timeout: 180_000,
}, () => {
  const containers = engineContainers(new EngineClient(SOCKET));
  const target: InfluxTarget = {
    engine: "influxdb",
    container: NAME,
    user: "hello",
    database: "hello",
  };
  const token = `influx-token-${randomBytes(12).toString("hex")}`;
  const store = directoryStore(join(dir, "store"));
  const exec = async (script: string) => {
    const r = await run("podman", ["exec", NAME, "sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  /** The "server": each bucket with its id and data. */
  const server = () =>
    exec(
      'cd /var/lib/fake-influx/buckets && for b in *; do [ -e "$b" ] && echo "$b $(cat "$b/id") $(cat "$b/data")"; done; true',
    );
  /** The scripts' temporary folders (mktemp -d's) still there: none, once a script ended. */
  const temporary = () => exec("find /tmp -mindepth 1 -maxdepth 1 -name 'tmp.*'");
  let keys: Awaited<ReturnType<typeof ageKeys>>;

  before(async () => {
    keys = await ageKeys();
    mkdirSync(join(dir, "secrets"));
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "secrets", "token"), token, { mode: 0o644 });
    writeFileSync(join(dir, "bin", "influx"), FAKE_INFLUX, { mode: 0o755 });
    writeFileSync(join(dir, "bin", "influxd"), FAKE_INFLUXD, { mode: 0o755 });
    const r = await run("podman", [
      "run",
      "-d",
      "--name",
      NAME,
      "-e",
      "INFLUX_ORG=hello",
      "-v",
      `${join(dir, "secrets")}:/run/slipway-secrets:ro`,
      "-v",
      `${join(dir, "bin", "influx")}:/usr/local/bin/influx:ro`,
      "-v",
      `${join(dir, "bin", "influxd")}:/usr/local/bin/influxd:ro`,
      NODE_IMAGE,
      "sh",
      "-c",
      "trap 'exit 0' TERM; sleep 600 & wait",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await exec(
      [
        "mkdir -p '/var/lib/fake-influx/buckets/hello' '/var/lib/fake-influx/buckets/app metrics'",
        "echo 2a1b2c3d4e5f6071 > /var/lib/fake-influx/buckets/hello/id",
        "echo cpu,host=a usage=1 > /var/lib/fake-influx/buckets/hello/data",
        "echo 3a1b2c3d4e5f6071 > '/var/lib/fake-influx/buckets/app metrics/id'",
        "echo requests count=7 > '/var/lib/fake-influx/buckets/app metrics/data'",
      ].join(" && "),
    );
  });

  it("backs up the folder influx backup writes as tar, buckets counted; the token never on an argv", async () => {
    const before = await server();
    const m = await withoutSecretInArgv({ secret: token, tool: "influx backup" }, () =>
      backupAccessory({
        target,
        store,
        seal: keys.seal,
        accessory: "metrics",
        sourceHost: "web-1",
        image: "influxdb:2",
        containers,
      }),
    );
    assert.equal(m.engine, "influxdb");
    assert.equal(m.engineVersion, "2.7.10");
    assert.deepEqual(m.verify, { buckets: ["app metrics", "hello"] });
    assert.deepEqual(m.login, { user: "hello", database: "hello" });
    assert.equal(await temporary(), "", "the backup folder is removed");
    assert.equal(await server(), before);
  });

  it("restores by replacing the org's buckets with the backup's; a cut archive changes nothing", async () => {
    const [id] = (await store.list("metrics/")).map((o) => o.key.split("/")[1]);
    assert.ok(id);
    const { readManifest } = await import("../../src/backup/run.ts");
    const m = await readManifest(store, "metrics", id);
    const before = await server();
    // The app moves on: a bucket gone, another made, data changed.
    await exec(
      [
        "cd /var/lib/fake-influx/buckets",
        "rm -rf 'app metrics'",
        "echo cpu,host=a usage=99 > hello/data",
        "mkdir junk && echo 4a1b2c3d4e5f6071 > junk/id && echo x > junk/data",
      ].join(" && "),
    );
    await exec(": > /var/lib/fake-influx/calls");
    await restoreAccessory({ target, store, manifest: m, opening: keys.opening, containers });
    assert.equal(await server(), before);
    assert.deepEqual(await readFacts(target, containers), m.verify);
    const calls = (await exec("cat /var/lib/fake-influx/calls")).split("\n");
    assert.deepEqual(calls.slice(0, 4), [
      "bucket list --json",
      "bucket delete --id 2a1b2c3d4e5f6071",
      "bucket delete --id 4a1b2c3d4e5f6071",
      `restore --org hello --new-org hello ${calls[3]?.split(" ").at(-1)}`,
    ]);
    assert.match(calls[3] ?? "", / \/tmp\/tmp\.\w+\/backup$/);
    assert.equal(await temporary(), "", "the unpacked folder is removed");

    // A cut archive (a dump cut short, sealed as it was): unpacking fails, no bucket is deleted.
    const whole = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const r = containers.exec([
        "docker",
        "exec",
        NAME,
        "sh",
        "-c",
        "cd /var/lib/fake-influx && tar -cf - buckets",
      ]);
      r.stdout.on("data", (c: Buffer) => chunks.push(c));
      r.done.then(() => resolve(Buffer.concat(chunks)), reject);
    });
    const cut = await runBackup({
      store,
      accessory: "metrics",
      engine: "influxdb",
      engineVersion: "2.7.10",
      sourceHost: "web-1",
      login: { user: "hello", database: "hello" },
      parts: [{ name: "database", open: () => Readable.from([whole.subarray(0, 700)]) }],
      seal: keys.seal,
      facts: async () => ({ buckets: [] }),
      now: () => new Date(Date.now() + 2_000),
    });
    await assert.rejects(
      restoreAccessory({ target, store, manifest: cut, opening: keys.opening, containers }),
      /failed \(exit [12]\)/,
    );
    assert.equal(await server(), before, "nothing was deleted");
    assert.equal(await temporary(), "", "and nothing is left in /tmp");
  });

  it("a failing influx backup fails the backup and leaves no folder behind", async () => {
    await exec("touch /var/lib/fake-influx/fail-backup");
    try {
      await assert.rejects(
        backupAccessory({
          target,
          store,
          seal: keys.seal,
          accessory: "metrics-failing",
          sourceHost: "web-1",
          image: "influxdb:2",
          containers,
        }),
        /failed to backup shard 7/,
      );
    } finally {
      await exec("rm /var/lib/fake-influx/fail-backup");
    }
    assert.equal(await temporary(), "", "its half-written folder is removed");
    assert.deepEqual(
      (await store.list("metrics-failing/")).filter((o) => o.key.endsWith("manifest.json")),
      [],
      "and nothing claims to be a backup",
    );
  });
});
