/**
 * Dumps and restores for real, against the rig's accessory images run through Podman (the
 * planners' `docker` argv go to Podman's Docker API): Postgres (globals and a custom-format
 * dump), MariaDB (mariadb-dump --single-transaction) and Redis (BGSAVE, RDB copied, written into
 * a fresh container's volume, and into Slipway's own append-only Redis as its AOF). Each backup goes through the archive and a directory store, is
 * restored into a new container of the same image, and the data's checksum must match. Passwords
 * reach containers as `-e NAME` from podman's environment and the clients through the
 * container's own environment or secret file: every process's argv on this machine is sampled
 * during each backup and none holds the password. A flipped byte fails the restore.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ENGINES, tuneAccessory } from "../../src/accessories/index.ts";
import { EngineClient } from "../../src/agent/index.ts";
import {
  type BackupStore,
  backupAccessory,
  type Containers,
  directoryStore,
  type EngineTarget,
  type Manifest,
  type Opening,
  readFacts,
  restoreAccessory,
  runBackup,
  type SealOptions,
  verifyBackup,
} from "../../src/backup/index.ts";
import { engineContainers } from "../../src/backup/runner/engine-containers.ts";
import { MARIADB_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE } from "../rig/images.ts";
import { onProcessExit, rigAvailable, run, skipUnless } from "../rig/index.ts";
import { ageKeys } from "../support/age-keys.ts";
import { withoutSecretInArgv } from "../support/argv-watch.ts";

const ID = randomBytes(4).toString("hex");
const containers = new Set<string>();
const dir = mkdtempSync(join(tmpdir(), "slipway-backup-engines-"));
chmodSync(dir, 0o755);
function cleanup(): void {
  if (containers.size > 0)
    spawnSync("podman", ["rm", "-f", "--volumes", "-t", "0", ...containers], {
      stdio: "ignore",
      timeout: 120_000,
    });
  containers.clear();
  rmSync(dir, { recursive: true, force: true });
}
const unregister = onProcessExit(cleanup);
after(() => {
  cleanup();
  unregister();
});
// The planners speak `docker`; here Podman answers through its Docker API.
const SOCKET = "/run/podman/podman.sock";
process.env.DOCKER_HOST ??= `unix://${SOCKET}`;

async function podman(
  args: string[],
  env?: Record<string, string>,
  input?: string,
): Promise<string> {
  const r = await run("podman", args, {
    timeoutMs: 120_000,
    ...(env ? { env } : {}),
    ...(input === undefined ? {} : { input }),
  });
  if (r.code !== 0) throw new Error(`podman ${args.slice(0, 4).join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

async function start(
  role: string,
  image: string,
  opts: {
    env?: Record<string, string>;
    secrets?: Record<string, string>;
    args?: string[];
    cmd?: string[];
  } = {},
): Promise<string> {
  const name = `slipway-test-bk-${ID}-${role}`;
  containers.add(name);
  const args = ["run", "-d", "--name", name, ...(opts.args ?? [])];
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push("-e", `${k}=${v}`);
  for (const k of Object.keys(opts.secrets ?? {})) args.push("-e", k);
  await podman([...args, image, ...(opts.cmd ?? [])], opts.secrets);
  return name;
}

async function waitFor(
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await sleep(500);
  }
  throw new Error(`no ${what} within ${timeoutMs / 1000}s`);
}

const exec = (name: string, argv: string[], input?: string) =>
  podman(["exec", ...(input === undefined ? [] : ["-i"]), name, ...argv], undefined, input);

let seal: SealOptions;
let opening: Opening;
before(async () => {
  ({ seal, opening } = await ageKeys("zstd"));
});

/** A backup as the agent will take it, from host web-1, the image recorded for verification. */
async function backupOf(
  store: BackupStore,
  target: EngineTarget,
  image: string,
  accessory: string,
  /** Must be on no process's argv on this machine while the backup runs; `tool` must be seen. */
  watch: { secret: string; tool: string },
): Promise<Manifest> {
  return withoutSecretInArgv(watch, () =>
    backupAccessory({ target, store, seal, accessory, sourceHost: "web-1", image }),
  );
}

/** Names of throwaway verification containers still there (none, once a verification ended). */
const throwaways = async () =>
  (await podman(["ps", "-a", "--filter", "label=slipway.verify", "--format", "{{.Names}}"])).trim();

/** Verification restores into a throwaway container of the recorded image and finds it all. */
async function verifies(store: BackupStore, m: Manifest): Promise<void> {
  const report = await verifyBackup({ store, manifest: m, opening });
  assert.equal(report.error, undefined);
  assert.ok(report.checks.length > 0);
  for (const c of report.checks)
    assert.ok(c.ok, `${c.what}: ${c.expected} expected, ${c.actual} found`);
  assert.equal(report.ok, true);
  assert.equal(await throwaways(), "", "the throwaway container is removed");
}

/** The command of the throwaway verification container, caught while `verifying` runs. */
async function throwawayCommand(verifying: Promise<unknown>): Promise<string> {
  let over = false;
  void verifying.finally(() => {
    over = true;
  });
  while (!over) {
    const command = (
      await podman([
        "ps",
        "--filter",
        "label=slipway.verify",
        "--no-trunc",
        "--format",
        "{{.Command}}",
      ])
    ).trim();
    if (command !== "") return command;
    await sleep(100);
  }
  return "";
}

/** Flips one byte in the middle of a stored file. */
function corrupt(file: string): void {
  const b = readFileSync(file);
  const i = Math.floor(b.length / 2);
  b[i] = (b[i] ?? 0) ^ 0xff;
  writeFileSync(file, b);
}

describe("Postgres: pg_dumpall --globals-only and pg_dump -Fc, restored with pg_restore", {
  skip: skipUnless(rigAvailable(POSTGRES_IMAGE)),
  timeout: 300_000,
}, () => {
  const password = `pg ${randomBytes(8).toString("hex")}`;
  const env = { POSTGRES_USER: "appuser", POSTGRES_DB: "appdb" };
  const target = (container: string): EngineTarget => ({
    engine: "postgres",
    container,
    user: "appuser",
    database: "appdb",
  });
  const psql = (name: string, sql: string) =>
    exec(name, ["psql", "-XAt", "-U", "appuser", "-d", "appdb", "-v", "ON_ERROR_STOP=1"], sql).then(
      (s) => s.trim(),
    );
  const checksum = (name: string) =>
    psql(
      name,
      "SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) FROM items t; SELECT md5(string_agg(n::text, ',' ORDER BY n)) FROM other.numbers n; SELECT double_it(21);",
    );
  const ready = (name: string) => async () =>
    (await run("podman", ["exec", name, "pg_isready", "-q", "-h", "127.0.0.1"])).code === 0;

  let source = "";
  before(async () => {
    source = await start("pg-src", POSTGRES_IMAGE, {
      env,
      secrets: { POSTGRES_PASSWORD: password },
    });
    await waitFor("postgres", ready(source));
    await psql(
      source,
      [
        "CREATE TABLE items (id int PRIMARY KEY, name text, data bytea, at timestamptz);",
        "INSERT INTO items SELECT i, 'item ' || i || E' \\'quoted\\' \\n', decode(md5(i::text), 'hex'), '2026-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, 5000) i;",
        "CREATE SCHEMA other; CREATE TABLE other.numbers (n bigint); INSERT INTO other.numbers SELECT generate_series(1, 1234);",
        "CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2';",
        "CREATE ROLE reporting NOLOGIN; GRANT SELECT ON items TO reporting;",
        "CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp());",
      ].join("\n"),
    );
  });

  it("round-trips into a fresh container with the same checksum, roles and counts", async () => {
    const store = directoryStore(join(dir, "pg"));
    // The app keeps writing while the backup runs: a row committed every 5 ms for 25 s.
    const writer = psql(
      source,
      "DO $$ DECLARE stop timestamptz := clock_timestamp() + interval '25 seconds'; BEGIN WHILE clock_timestamp() < stop LOOP INSERT INTO events DEFAULT VALUES; COMMIT; PERFORM pg_sleep(0.005); END LOOP; END $$;",
    );
    await waitFor(
      "the first writes",
      async () => Number(await psql(source, "SELECT count(*) FROM events")) > 10,
    );
    const m = await backupOf(store, target(source), POSTGRES_IMAGE, "db", {
      secret: password,
      // The dump taken beside the container, over its loopback, into a FIFO (src/backup/pipe.ts):
      // seen on `docker run`'s argv (which lives longer than a small dump) or pg_dump's own.
      tool: "--host=127.0.0.1 --username appuser --no-password",
    });
    assert.equal(m.engine, "postgres");
    assert.match(m.engineVersion, /^15\./);
    assert.deepEqual(
      m.parts.map((p) => p.name),
      ["globals", "database"],
    );
    const { "public.events": events, ...rest } = m.verify.tables ?? {};
    assert.deepEqual(rest, { "other.numbers": 1234, "public.items": 5000 });
    await writer;
    const written = Number(await psql(source, "SELECT count(*) FROM events"));
    assert.ok(
      events !== undefined && events > 10 && written > events,
      `${events} events in the backup, ${written} written`,
    );
    const before = await checksum(source);

    const fresh = await start("pg-dst", POSTGRES_IMAGE, {
      env,
      secrets: { POSTGRES_PASSWORD: "another" },
    });
    await waitFor("postgres", ready(fresh));
    await restoreAccessory({ target: target(fresh), store, manifest: m, opening });
    assert.equal(await checksum(fresh), before);
    assert.match(before, /^5000 [0-9a-f]{32}\n[0-9a-f]{32}\n42$/);
    assert.equal(
      await psql(fresh, "SELECT has_table_privilege('reporting', 'items', 'SELECT')"),
      "t",
    );
    assert.deepEqual(await readFacts(target(fresh)), m.verify);
    const verifying = verifies(store, m);
    const command = await throwawayCommand(verifying);
    await verifying;
    // Its data is counted and thrown away: no fsync, no full-page writes.
    assert.match(command, /-c fsync=off -c synchronous_commit=off -c full_page_writes=off/);

    // A flipped byte in the stored dump: the restore fails, and so does verification.
    corrupt(join(dir, "pg", m.parts[1]?.key ?? ""));
    await assert.rejects(
      restoreAccessory({ target: target(fresh), store, manifest: m, opening }),
      /invalid tag|does not match its manifest|pg_restore/,
    );
    const damaged = await verifyBackup({ store, manifest: m, opening });
    assert.equal(damaged.ok, false);
    assert.match(damaged.error ?? "", /invalid tag|does not match its manifest|pg_restore/);
    assert.equal(await throwaways(), "", "the throwaway container is removed after a failure too");
  });

  it("through the runner's Engine API: beside the container, or by exec where its loopback asks a password", async () => {
    const api = engineContainers(new EngineClient(SOCKET));
    const ways: string[] = [];
    /** Whether the last piped run's `done` (its container's removal, made slow here) settled. */
    let removed = false;
    const recorded: Containers = {
      ...api,
      pipeRun: (step, line) => {
        ways.push("pipe");
        removed = false;
        const run = api.pipeRun(step, line);
        const done = run.done.finally(async () => {
          await new Promise((r) => setTimeout(r, 1_000));
          removed = true;
        });
        done.catch(() => {});
        return { ...run, done };
      },
      exec: (argv, options) => {
        if (argv.includes("pg_dump")) ways.push("exec");
        return api.exec(argv, options);
      },
    };
    const store = directoryStore(join(dir, "pg-api"));
    const fallbacks: string[] = [];
    const backup = (containers = recorded) =>
      backupAccessory({
        target: target(source),
        store,
        seal,
        accessory: "db",
        sourceHost: "web-1",
        image: POSTGRES_IMAGE,
        containers,
        onFallback: (part, reason) => fallbacks.push(`${part}: ${reason}`),
      });
    const dumpContainers = async () =>
      (
        await podman(["ps", "-a", "--filter", "label=slipway.owner", "--format", "{{.Names}}"])
      ).match(/slipway-dump-\S+/g) ?? [];
    const piped = await backup();
    assert.deepEqual(ways, ["pipe"]);
    assert.deepEqual(fallbacks, []);
    // Its stream ended on the exit; the backup still waited for the removal.
    assert.equal(removed, true, "the backup ended before its dump's container was removed");
    assert.deepEqual(await dumpContainers(), []);
    assert.equal((await verifyBackup({ store, manifest: piped, opening })).ok, true);

    const hba = "/var/lib/postgresql/data/pg_hba.conf";
    const trust = (from: string, to: string) =>
      exec(source, [
        "sh",
        "-c",
        `sed -i 's|^\\(host *all *all *127.0.0.1/32 *\\)${from}$|\\1${to}|' ${hba} && grep -c '127.0.0.1/32 *${to}$' ${hba} && psql -XAtq -U appuser -d appdb -c 'SELECT pg_reload_conf()'`,
      ]);
    await trust("trust", "scram-sha-256");
    try {
      ways.length = 0;
      const byExec = await backup();
      assert.deepEqual(ways, ["pipe", "exec"]);
      assert.equal(fallbacks.length, 1);
      assert.match(
        fallbacks[0] ?? "",
        /^database: .*pg_dump beside it failed \(exit 1\).*password/s,
      );
      assert.deepEqual(byExec.verify.tables?.["public.items"], 5000);
      assert.equal((await verifyBackup({ store, manifest: byExec, opening })).ok, true);
    } finally {
      await trust("scram-sha-256", "trust");
    }
    assert.deepEqual(
      await dumpContainers(),
      [],
      "the containers beside are removed, failed or not",
    );

    // The dump beside is readied while the snapshot is taken: a part that fails stops it too.
    const failing: Containers = {
      ...api,
      exec: (argv, options) =>
        api.exec(
          argv.map((a) => (a === "--globals-only" ? "--no-such-option" : a)),
          options,
        ),
    };
    await assert.rejects(backup(failing), /pg_dumpall.*exit 1|no-such-option/s);
    assert.deepEqual(await dumpContainers(), [], "the dump beside the failed backup is removed");
    // It is started before the snapshot is known: a session that exports none stops it too.
    const noSession: Containers = {
      ...api,
      exec: (argv, options) =>
        api.exec(
          argv.includes("psql") ? argv.map((a) => (a === "appdb" ? "nodb" : a)) : argv,
          options,
        ),
    };
    await assert.rejects(backup(noSession), /no snapshot from .*nodb/s);
    assert.deepEqual(
      await dumpContainers(),
      [],
      "the dump beside a session that failed is removed",
    );
    const kept = (await store.list("db/")).map((o) => o.key);
    const ids = new Set(kept.map((k) => k.split("/")[1]));
    assert.equal(ids.size, 2, `only the two good backups are kept: ${kept.join(" ")}`);
    for (const id of ids) assert.ok(kept.includes(`db/${id}/manifest.json`), `${id} is whole`);
  });
});

describe("MariaDB: mariadb-dump --single-transaction --routines --events", {
  skip: skipUnless(rigAvailable(MARIADB_IMAGE)),
  timeout: 300_000,
}, () => {
  const secrets = {
    MARIADB_ROOT_PASSWORD: `root '${randomBytes(6).toString("hex")}"`,
    MARIADB_PASSWORD: "app pw",
  };
  const env = { MARIADB_DATABASE: "appdb", MARIADB_USER: "appuser" };
  const target = (container: string): EngineTarget => ({
    engine: "mariadb",
    container,
    user: "appuser",
    database: "appdb",
  });
  const sql = (name: string, q: string) =>
    exec(
      name,
      ["sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot -N -B appdb'],
      q,
    ).then((s) => s.trim());
  const checksum = (name: string) =>
    sql(
      name,
      "SET SESSION group_concat_max_len = 100000000; SELECT COUNT(*), MD5(GROUP_CONCAT(id, ':', name, ':', HEX(data) ORDER BY id)) FROM items; SELECT double_it(21);",
    );
  const ready = (name: string) => async () => (await sql(name, "SELECT 1")) === "1";

  let source = "";
  before(async () => {
    source = await start("maria-src", MARIADB_IMAGE, { env, secrets });
    await waitFor("mariadb", ready(source));
    await sql(
      source,
      [
        "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, data BLOB) ENGINE=InnoDB;",
        "INSERT INTO items SELECT seq, CONCAT('item ', seq, ' \\'q\\' \\n'), UNHEX(MD5(seq)) FROM seq_1_to_5000;",
        "CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;",
        "CREATE TABLE empty_one (x INT);",
        "CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB;",
      ].join("\n"),
    );
  });

  it("round-trips into a fresh container with the same checksum, routines and counts", async () => {
    const store = directoryStore(join(dir, "maria"));
    // The app keeps writing while the backup runs: a row committed every few ms, one session.
    const writer = exec(source, [
      "sh",
      "-c",
      'for i in $(seq 1 3000); do echo "INSERT INTO events VALUES (NULL);"; sleep 0.005; done | MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -uroot appdb',
    ]);
    await waitFor(
      "the first writes",
      async () => Number(await sql(source, "SELECT COUNT(*) FROM events")) > 10,
    );
    const m = await backupOf(store, target(source), MARIADB_IMAGE, "db", {
      secret: secrets.MARIADB_ROOT_PASSWORD,
      tool: "mariadb-dump --user=root",
    });
    assert.match(m.engineVersion, /^10\.11\./);
    const { "appdb.events": events, ...rest } = m.verify.tables ?? {};
    assert.deepEqual(rest, { "appdb.empty_one": 0, "appdb.items": 5000 });
    await writer;
    const written = Number(await sql(source, "SELECT COUNT(*) FROM events"));
    assert.ok(
      events !== undefined && events > 10 && written > events,
      `${events} events in the backup, ${written} written`,
    );
    const before = await checksum(source);
    const fresh = await start("maria-dst", MARIADB_IMAGE, {
      env,
      secrets: { ...secrets, MARIADB_ROOT_PASSWORD: "other root" },
    });
    await waitFor("mariadb", ready(fresh));
    await restoreAccessory({ target: target(fresh), store, manifest: m, opening });
    assert.match(before, /^5000\t[0-9a-f]{32}\n42$/);
    assert.equal(await checksum(fresh), before);
    assert.deepEqual(await readFacts(target(fresh)), m.verify);
    await verifies(store, m);
  });
});

describe("Redis: BGSAVE, LASTSAVE, the RDB copied and written into a new volume", {
  skip: skipUnless(rigAvailable(REDIS_IMAGE)),
  timeout: 300_000,
}, () => {
  const password = `redis-${randomBytes(8).toString("hex")}`;
  const secretsDir = join(dir, "redis-secrets");
  const target = (container: string): EngineTarget => ({
    engine: "redis",
    container,
    user: "",
    database: "",
  });
  // As the accessories code runs Redis: the password read from the mounted secret file.
  const startRedis = (role: string, settings: Record<string, string> = {}) =>
    start(role, REDIS_IMAGE, {
      args: ["-v", `${secretsDir}:/run/slipway-secrets:ro`],
      cmd: [...(ENGINES.redis.command(settings) ?? [])],
    });
  const cli = (name: string, input: string) =>
    exec(
      name,
      ["sh", "-c", 'REDISCLI_AUTH="$(cat /run/slipway-secrets/password)" exec redis-cli'],
      input,
    ).then((s) => s.trim());
  const ready = (name: string) => async () => (await cli(name, "PING\n")) === "PONG";
  const snapshot = (name: string) =>
    cli(name, "DBSIZE\nGET greeting\nHGETALL user:1\nLRANGE queue 0 -1\nGET big\n");

  before(() => {
    mkdirSync(secretsDir, { mode: 0o755 });
    writeFileSync(join(secretsDir, "password"), password, { mode: 0o644 });
  });

  it("round-trips into a fresh container with the same keys and values", async () => {
    const source = await startRedis("redis-src");
    await waitFor("redis", ready(source), 30_000);
    const big = randomBytes(200_000).toString("hex");
    await cli(
      source,
      `SET greeting "hello there"\nHSET user:1 name Ada lang en\nRPUSH queue a b c\nSET big ${big}\n`,
    );
    await cli(
      source,
      `SELECT 1\n${Array.from({ length: 50 }, (_, i) => `SET k${i} v${i}\n`).join("")}`,
    );
    const store = directoryStore(join(dir, "redis"));
    const m = await backupOf(store, target(source), REDIS_IMAGE, "cache", {
      secret: password,
      tool: "redis-cli BGSAVE",
    });
    assert.equal(m.verify.keys, 54);
    assert.match(m.engineVersion, /^7\./);
    const before = await snapshot(source);

    const fresh = await startRedis("redis-dst");
    await waitFor("redis", ready(fresh), 30_000);
    assert.equal(await cli(fresh, "DBSIZE\n"), "0");
    await restoreAccessory({
      target: target(fresh),
      store,
      manifest: m,
      opening,
      image: REDIS_IMAGE,
    });
    await waitFor("redis after restore", ready(fresh), 30_000);
    assert.equal(await snapshot(fresh), before);
    assert.equal(await cli(fresh, "SELECT 1\nGET k49\n"), "OK\nv49");
    assert.deepEqual(await readFacts(target(fresh)), m.verify);
    await verifies(store, m);
  });

  it("restores into Slipway's own append-only Redis: loaded from its AOF after restarts, writes kept", async () => {
    // Through the Engine API, as the runner on a host restores (Podman's docker-API `docker run
    // --rm` reports exit 0 whatever the container's exit: the CLI port cannot see a refusal here).
    const api = engineContainers(new EngineClient(SOCKET));
    const source = await startRedis("redis-src2");
    await waitFor("redis", ready(source), 30_000);
    await cli(source, "SET greeting restored\nHSET user:1 name Ada\nRPUSH queue a b c\n");
    // Enough keys in another database that loading them takes a moment after the start.
    await cli(
      source,
      `SELECT 2\nEVAL "for i = 1, 300000 do redis.call('SET', 'bulk:' .. i, i) end" 0\n`,
    );
    const store = directoryStore(join(dir, "redis-aof"));
    const m = await backupAccessory({
      target: target(source),
      store,
      seal,
      accessory: "cache",
      sourceHost: "web-1",
      image: REDIS_IMAGE,
      containers: api,
    });
    const before = await snapshot(source);

    // As Slipway boots its Redis accessories: tuned, so appendonly yes, appendfsync everysec.
    const tuned = tuneAccessory({
      engine: "redis",
      memoryBytes: 256 * 1024 * 1024,
      dedicated: true,
      overrides: {},
    });
    assert.equal(tuned.appendonly, "yes");
    const aof = await startRedis("redis-aof", tuned);
    await waitFor("redis", ready(aof), 30_000);
    await cli(aof, "SET mine overwritten\nSET greeting old\n");
    const restore = () =>
      restoreAccessory({
        target: target(aof),
        store,
        manifest: m,
        opening,
        image: REDIS_IMAGE,
        containers: api,
      });
    await restore();
    // It serves again, its data loaded, once the restore resolves: read at once, as the runner does.
    assert.deepEqual(await readFacts(target(aof), api), m.verify);
    assert.equal(m.verify.keys, 300_003);
    assert.equal(await snapshot(aof), before);
    assert.equal(await cli(aof, "EXISTS mine\n"), "0", "the old data is gone");
    // A new multi-part AOF whose base is the restored RDB, beside it no leftover of the swap.
    assert.equal(
      (
        await exec(aof, ["sh", "-c", "cat /data/appendonlydir/appendonly.aof.manifest; ls /data"])
      ).trim(),
      [
        "file appendonly.aof.1.base.rdb seq 1 type b",
        "file appendonly.aof.1.incr.aof seq 1 type i",
        "appendonlydir",
        "dump.rdb",
      ].join("\n"),
    );

    // Restarted, it loads the AOF (not the RDB): the same data.
    await podman(["restart", "-t", "10", aof]);
    await waitFor("redis after restart", ready(aof), 30_000);
    assert.equal(await snapshot(aof), before);
    // A write after the restore goes to the new incr file and survives the next restart.
    await cli(aof, "SET after restore\nRPUSH queue d\n");
    await podman(["restart", "-t", "10", aof]);
    await waitFor("redis after the second restart", ready(aof), 30_000);
    assert.equal(
      await cli(aof, "GET after\nLRANGE queue 0 -1\nGET greeting\n"),
      "restore\na\nb\nc\nd\nrestored",
    );
    assert.match(await cli(aof, "INFO persistence\n"), /^aof_enabled:1\r?$/m);

    // A cut RDB (a backup whose dump was cut short) is refused by redis-check-rdb before
    // anything moves: the Redis comes back with its data of before.
    const rdb = Buffer.from(
      await exec(source, ["sh", "-c", "base64 -w0 /data/dump.rdb"]),
      "base64",
    );
    assert.ok(rdb.length > 40, "the source's RDB was read");
    const cut = await runBackup({
      store,
      accessory: "cache",
      engine: "redis",
      engineVersion: m.engineVersion,
      sourceHost: "web-1",
      image: REDIS_IMAGE,
      parts: [{ name: "redis", open: () => Readable.from([rdb.subarray(0, rdb.length - 20)]) }],
      seal,
      facts: async () => ({ keys: 3 }),
      now: () => new Date(Date.now() + 2_000),
    });
    await assert.rejects(
      restoreAccessory({
        target: target(aof),
        store,
        manifest: cut,
        opening,
        image: REDIS_IMAGE,
        containers: api,
      }),
      /one-off container of .* failed \(exit 1\)/,
    );
    await waitFor("redis after the refused restore", ready(aof), 30_000);
    assert.equal(await cli(aof, "GET after\n"), "restore");
    assert.equal(
      (await exec(aof, ["sh", "-c", "ls -a /data"])).trim().split("\n").join(" "),
      ". .. appendonlydir dump.rdb",
      "no half-written file is left",
    );
  });
});
