/**
 * Backups end to end on one fresh VPS box, with the built `slipway` as a user runs it: the hello
 * app with a Postgres accessory and its SQLite file on a volume; `agent install` gives the box's
 * agent the backup jobs; `backup run db` backs the database up through the agent (progress and
 * sizes), `backup list --json` shows it, `backup verify` restores it into a throwaway container
 * and passes, `backup restore --to` brings the rows back in a new accessory with the same
 * checksum (and from a backup folder copied to this machine); the app's state on the host is
 * backed up and restored beside it; one flipped byte in the stored archive fails verification,
 * marks the backup and opens the agent's incident; `backup restore --yes` is refused (exit 4)
 * while `lock acquire` holds the deploy lock, and otherwise restores in place after a safety
 * backup, holding the lock meanwhile; the SQLite target is backed up by the agent on its own
 * schedule.
 * The store is a folder on the box: its containers cannot reach this machine's loopback, so S3
 * (s3rver) is tested at integration level (test/integration/backup-runner.test.ts).
 */
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  NGINX_IMAGE,
  NODE_IMAGE,
  rigAvailable,
  run,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { ageKeys } from "../support/age-keys.ts";
import { type HelloProject, helloProject, SESSION_SECRET } from "../support/hello-project.ts";

const POSTGRES_IMAGE = "localhost/slipway-postgres:15";
const STORE = "/var/backups/slipway";

interface Listed {
  target: string;
  store: string;
  backups: {
    id: string;
    status: string;
    complete: boolean;
    bytes: number;
    verified: { ok: boolean; how: string } | null;
  }[];
}

describe("backups on a VPS box", {
  skip:
    skipUnless(rigAvailable()) ||
    skipUnless(imagesAvailable(NODE_IMAGE, NGINX_IMAGE, POSTGRES_IMAGE)),
  timeout: 1_500_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;
  let keyFile: string;
  let first = "";

  const ok = (args: string[]) => hello.ok(args);
  const SUM =
    "SELECT count(*) || ' ' || md5(string_agg(id || ':' || body, ',' ORDER BY id)) FROM notes";
  const checksum = async (container: string) =>
    (
      await box.exec([
        "docker",
        "exec",
        container,
        "psql",
        "-XAt",
        "-U",
        "hello",
        "-d",
        "hello",
        "-c",
        SUM,
      ])
    ).trim();
  const list = async (target: string) =>
    (JSON.parse((await ok(["backup", "list", target, "--json"])).stdout) as Listed[])[0];

  before(async () => {
    box = await startVpsBox();
    const keys = await ageKeys();
    hello = await helloProject(box, {
      webVolumes: ["data:/app/data"],
      extraYaml: [
        "accessories:",
        "  db:",
        "    engine: postgres",
        `    image: ${POSTGRES_IMAGE}`,
        "monitoring:",
        `  image: ${NODE_IMAGE}`,
        "  host: false",
        "backups:",
        `  store: ${STORE}`,
        `  recipients: [${keys.recipient}]`,
        "  identity: BACKUP_IDENTITY",
        "  targets:",
        '    db: { schedule: "0 0 1 1 *", keep: { last: 5 } }',
        '    visits: { sqlite: /app/data/hello.db, schedule: "* * * * *", verify: false }',
        '    state: { config: true, schedule: "0 0 1 1 *", verify: false }',
      ],
    });
    keyFile = join(hello.dir, "backup.key");
    await writeFile(keyFile, `# created: now\n${keys.identity}\n`, { mode: 0o600 });
    await writeFile(
      join(hello.dir, ".slipway/secrets"),
      `SESSION_SECRET=${SESSION_SECRET}\nBACKUP_IDENTITY=${keys.identity}\n`,
    );
    await hello.configure("backed up", { DATA_DIR: "/app/data" });
    await ok(["server", "bootstrap"]);
    await ok(["deploy", "--version", "v1"]);
    await ok([
      "accessory",
      "exec",
      "db",
      "--",
      "psql",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, md5(g::text) FROM generate_series(1, 5000) g;",
    ]);
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("agent install gives the box's agent the backup jobs; backup run backs up through it", async () => {
    assert.match(
      (await ok(["agent", "install"])).stdout,
      /^127\.0\.0\.1: agent started, 0 checks of hello, 4 backup jobs$/m,
    );
    const run = await ok(["backup", "run", "db"]);
    assert.match(
      run.stdout,
      /^127\.0\.0\.1 db (\d{8}T\d{6}Z): [\d.]+ KiB dumped, [\d.]+ KiB stored in \d+s$/m,
    );
    first = /db (\d{8}T\d{6}Z):/.exec(run.stdout)?.[1] ?? "";
    assert.match(run.stderr, /^127\.0\.0\.1: backing up db through the agent$/m);
    assert.match(run.stderr, /^127\.0\.0\.1 \| db: database [\d.]+ KiB read, [\d.]+ KiB stored$/m);
    // Taken beside the container and read through a FIFO in the runner's work folder, on Docker.
    assert.doesNotMatch(run.stderr, /read by docker exec/);
    const db = await list("db");
    assert.equal(db?.store, `${STORE}/hello`);
    assert.deepEqual(
      db?.backups.map((b) => [b.id, b.status, b.complete, b.bytes > 1000, b.verified]),
      [[first, "ok", true, true, null]],
    );
    // Encrypted on the host: not a row of the table in the stored archive.
    assert.equal(
      (
        await box.exec([
          "sh",
          "-c",
          `grep -c c4ca4238a0b923820dcc509a6f75849b ${STORE}/hello/db/${first}/database.zst.age || true`,
        ])
      ).trim(),
      "0",
    );
  });

  it("backup verify restores it into a throwaway container and passes; list shows it verified", async () => {
    const verified = await ok(["backup", "verify", "db", "--identity", keyFile]);
    assert.match(
      verified.stdout,
      new RegExp(`^127\\.0\\.0\\.1 db ${first}: restored and compared: 1 check passed$`, "m"),
    );
    assert.match(verified.stdout, /^ {2}ok {3}rows in public\.notes: 5000$/m);
    const [backup] = (await list("db"))?.backups ?? [];
    assert.deepEqual(
      [backup?.status, backup?.verified?.ok, backup?.verified?.how],
      ["ok", true, "restore"],
    );
    assert.equal(
      (
        await box.exec([
          "docker",
          "ps",
          "-a",
          "--filter",
          "label=slipway.verify",
          "--format",
          "{{.Names}}",
        ])
      ).trim(),
      "",
      "the throwaway container is gone",
    );
  });

  it("backup restore --to brings the rows back in a new accessory, with the same checksum", async () => {
    const restored = await ok(["backup", "restore", "db", "--to", "db2"]);
    assert.match(
      restored.stdout,
      new RegExp(`^127\\.0\\.0\\.1 db ${first} restored into hello-db2 \\(1 check passed\\)$`, "m"),
    );
    assert.match(await checksum("hello-db2"), /^5000 [0-9a-f]{32}$/);
    assert.equal(await checksum("hello-db2"), await checksum("hello-db"));
    // Beside it: the accessory itself runs on, untouched, and a second restore there is refused.
    const again = await hello.slipway(["backup", "restore", "db", "--to", "db2"]);
    assert.equal(again.code, 2, `${again.stdout}\n${again.stderr}`);
    assert.match(again.stderr, /hello-db2 exists already/);
  });

  it("backup restore --from-file streams a backup folder from this machine", async () => {
    const local = join(hello.dir, "copied");
    const copy = await run("podman", ["cp", `${box.name}:${STORE}/hello/db/${first}`, local]);
    assert.equal(copy.code, 0, copy.stderr);
    const restored = await ok(["backup", "restore", "db", "--from-file", local, "--to", "db3"]);
    assert.match(
      restored.stdout,
      new RegExp(`^127\\.0\\.0\\.1 db ${first} restored into hello-db3 `, "m"),
    );
    assert.equal(await checksum("hello-db3"), await checksum("hello-db"));
    assert.equal(
      (
        await box.exec([
          "sh",
          "-c",
          `ls ${"/var/lib/slipway/hello/backups/work"} | grep -c upload || true`,
        ])
      ).trim(),
      "0",
      "the uploaded copy is removed",
    );
  });

  it("the app's state on its host is backed up and restored beside it, without the runner's work files", async () => {
    assert.match(
      (await ok(["backup", "run", "state"])).stdout,
      /^127\.0\.0\.1 state \d{8}T\d{6}Z: /m,
    );
    await ok(["backup", "restore", "state"]);
    const restored = await box.exec(["find", "/var/lib/slipway/restored/hello", "-maxdepth", "3"]);
    assert.match(
      restored,
      /^\/var\/lib\/slipway\/restored\/hello\/accessories\/db\/credentials\.json$/m,
    );
    assert.match(restored, /\/restored\/hello\/backups\/jobs$/m);
    assert.doesNotMatch(restored, /\/backups\/work$/m);
    assert.equal(
      await box.exec(["cat", "/var/lib/slipway/restored/hello/accessories/db/credentials.json"]),
      await box.exec(["cat", "/var/lib/slipway/hello/accessories/db/credentials.json"]),
    );
  });

  it("a flipped byte fails verification, marks the backup and opens the agent's incident", async () => {
    const file = `${STORE}/hello/db/${first}/database.zst.age`;
    await box.exec([
      "perl",
      "-e",
      'open(my $f, "+<", $ARGV[0]) or die; my $at = int((-s $f) / 2); seek($f, $at, 0); read($f, my $b, 1); seek($f, $at, 0); print $f chr(ord($b) ^ 255); close($f);',
      file,
    ]);
    const failed = await hello.slipway(["backup", "verify", "db", "--identity", keyFile]);
    assert.equal(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
    assert.match(
      failed.stdout,
      new RegExp(`^127\\.0\\.0\\.1 db ${first}: FAILED restore: `, "m"),
      failed.stderr,
    );
    const [backup] = (await list("db"))?.backups ?? [];
    assert.deepEqual([backup?.status, backup?.verified?.ok], ["verify failed", false]);
    assert.match(
      (await ok(["monitor", "incidents"])).stdout,
      new RegExp(
        `^127\\.0\\.0\\.1 #\\d+ verify\\.db job \\(critical\\): db ${first}: FAILED restore: .*, open$`,
        "m",
      ),
    );
  });

  it("backup restore --yes restores in place after a safety backup, from the backup chosen before it, under the deploy lock", async () => {
    const before = await checksum("hello-db");
    const second = /db (\d{8}T\d{6}Z):/.exec((await ok(["backup", "run", "db"])).stdout)?.[1];
    await ok(["accessory", "exec", "db", "--", "psql", "-c", "DELETE FROM notes WHERE id > 100"]);
    assert.match(await checksum("hello-db"), /^100 /);
    // Never during a deploy (or under `lock acquire`): refused at once, the holder named.
    const count = (await list("db"))?.backups.length;
    await ok(["lock", "acquire", "-m", "maintenance window"]);
    const refused = await hello.slipway(["backup", "restore", "db", "--yes"]);
    await ok(["lock", "release"]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /hello is locked by .*: maintenance window/);
    assert.equal((await list("db"))?.backups.length, count, "no safety backup was made");
    assert.match(await checksum("hello-db"), /^100 /);
    // While it restores it holds the lock itself: the lock's record, read on the box meanwhile.
    let restoring = true;
    const holders = new Set<string>();
    const watching = (async () => {
      while (restoring) {
        const held = await box
          .exec(["sh", "-c", "cat /var/lib/slipway/hello/lock/holder.json 2>/dev/null || true"])
          .catch(() => "");
        if (held.trim() !== "") holders.add((JSON.parse(held) as { message: string }).message);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const restored = await ok(["backup", "restore", "db", "--yes"]).finally(() => {
      restoring = false;
    });
    await watching;
    assert.deepEqual([...holders], ["restoring db in place"]);
    assert.match((await ok(["lock", "status"])).stdout, /^hello is not locked\.$/m);
    assert.match(restored.stdout, /^127\.0\.0\.1 safety backup: db (\d{8}T\d{6}Z): /m);
    assert.match(
      restored.stdout,
      new RegExp(`^127\\.0\\.0\\.1 db ${second} restored into hello-db \\(1 check passed\\)$`, "m"),
    );
    assert.equal(await checksum("hello-db"), before);
    // The safety backup holds the state it replaced: 100 rows.
    const [safety] = (await list("db"))?.backups ?? [];
    assert.notEqual(safety?.id, second);
    assert.equal(safety?.status, "ok");
  });

  it("the agent backs the SQLite file up on its own schedule", async () => {
    const deadline = Date.now() + 180_000;
    let visits = await list("visits");
    while (!visits?.backups.some((b) => b.complete)) {
      assert.ok(Date.now() < deadline, `no scheduled backup of visits: ${JSON.stringify(visits)}`);
      await new Promise((r) => setTimeout(r, 5_000));
      visits = await list("visits");
    }
  });
});
