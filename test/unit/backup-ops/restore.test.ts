/**
 * Where a restore goes, planned: beside the target by default (a new accessory like it, a new
 * volume, a file beside the SQLite file, a folder for the app's state), in place only when asked;
 * never over another accessory of slipway.yml.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseTargets, planRestore } from "../../../src/backup-ops/index.ts";
import type { UserError } from "../../../src/errors/index.ts";
import { load, yaml } from "../config/helpers.ts";

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

async function targets() {
  const loaded = await load({
    "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    hosts: [10.0.0.1]
    volumes: ["data:/app/data"]
accessories:
  db: { engine: postgres, volume: pgdata, publish: 5432 }
  cache: { engine: redis }
backups:
  store: /var/backups/slipway
  recipients: [${RECIPIENT}]
  targets:
    db: {}
    files: { volume: data }
    visits: { sqlite: /app/data/hello.db }
    state: { config: true }
`,
  });
  return { loaded, byName: (n: string) => chooseTargets(loaded, [n])[0] };
}

describe("restores planned", () => {
  it("into a new accessory like the target's by default: its own container, volume, credentials", async () => {
    const { loaded, byName } = await targets();
    const db = byName("db");
    assert.ok(db);
    const plan = planRestore(loaded, db, { inPlace: false });
    assert.equal(plan.into, "accessory db-restored (container hello-db-restored)");
    assert.deepEqual(plan.source, {
      kind: "postgres",
      container: "hello-db-restored",
      user: "hello",
      database: "hello",
      image: "postgres:16",
    });
    assert.deepEqual(
      [plan.boot?.name, plan.boot?.urlEnv, plan.boot?.settings.volume, plan.boot?.settings.publish],
      ["db-restored", undefined, undefined, undefined],
      "not published, no URL for the app, a volume of its own",
    );
    assert.equal(
      planRestore(loaded, db, { inPlace: false, to: "db-copy" }).into,
      "accessory db-copy (container hello-db-copy)",
    );
    for (const to of ["cache", "Bad_Name"])
      assert.throws(
        () => planRestore(loaded, db, { inPlace: false, to }),
        (e: UserError) => e.exitCode === 2 && /--to/.test(e.message),
      );
    const inPlace = planRestore(loaded, db, { inPlace: true });
    assert.deepEqual([inPlace.inPlace, inPlace.source, inPlace.boot], [true, db.source, undefined]);
  });

  it("a volume into a new volume (or an absolute folder); in place into its own volume", async () => {
    const { loaded, byName } = await targets();
    const files = byName("files");
    assert.ok(files);
    assert.deepEqual(planRestore(loaded, files, { inPlace: false }), {
      target: files,
      inPlace: false,
      into: "volume hello-files-restored",
      source: { kind: "files", path: "/restore", exclude: [] },
      mounts: [{ source: "hello-files-restored", target: "/restore" }],
    });
    assert.deepEqual(planRestore(loaded, files, { inPlace: false, to: "/srv/restored" }).mounts, [
      { source: "/srv/restored", target: "/restore" },
    ]);
    assert.deepEqual(planRestore(loaded, files, { inPlace: true }).mounts, [
      { source: "hello-data", target: "/restore" },
    ]);
  });

  it("a SQLite file beside itself; the app's state into a folder, never over itself", async () => {
    const { loaded, byName } = await targets();
    const visits = byName("visits");
    const state = byName("state");
    assert.ok(visits && state);
    const beside = planRestore(loaded, visits, { inPlace: false });
    assert.deepEqual(
      [beside.into, beside.source],
      [
        "hello-restored.db beside hello.db in hello-data",
        { kind: "sqlite", path: "/source/hello-restored.db" },
      ],
    );
    assert.throws(
      () => planRestore(loaded, visits, { inPlace: false, to: "../x.db" }),
      /not a file name/,
    );
    assert.deepEqual(planRestore(loaded, state, { inPlace: false }).mounts, [
      { source: "/var/lib/slipway/restored/hello", target: "/restore" },
    ]);
    assert.throws(
      () => planRestore(loaded, state, { inPlace: true }),
      /is not restored over itself/,
    );
  });

  it("names an unknown target with the known ones", async () => {
    const { loaded } = await targets();
    assert.throws(
      () => chooseTargets(loaded, ["nope"]),
      (e: UserError) =>
        e.exitCode === 2 &&
        e.message.endsWith('has no backup target "nope"') &&
        e.hint === "its targets: db, files, visits, state",
    );
  });
});
