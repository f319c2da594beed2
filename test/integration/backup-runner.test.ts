/**
 * The backup runner as Slipway ships it (dist/agent-bundle/runner.mjs, run here as a process with
 * its request on stdin), reaching the accessories through Podman's Docker-API socket with no
 * docker CLI, as it does in its container on a host:
 * - Postgres into S3 (s3rver on loopback, its own process): backup with progress, list with
 *   sizes, verify by restoring into a throwaway container (marked beside the backup), restore
 *   into another container with the same rows and checksum; one flipped byte in the stored
 *   archive fails the keyless check and the restore (which then changes nothing).
 * - Redis verified by restoring its RDB through a one-off container attached over the API; a
 *   flipped byte in its small archive fails at the first chunk, as a finding.
 * - MariaDB dumped with mariadb-dump (rows counted in the stream) and verified in a throwaway.
 * - A folder as tar into a directory store: verified by its entries, restored whole (modes,
 *   links, nested files), the folder's old content gone; retention after a second backup.
 * - SQLite: a consistent copy, restored into a new file with the same rows.
 * The e2e test runs the same bundle in the agent's image on a VPS box (directory store only:
 * the box's containers cannot reach this machine's loopback, so S3 is tested here).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { RUNNER_NODE, type RunnerRequest, type RunnerResult } from "../../src/backup/index.ts";
import { MARIADB_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE } from "../rig/images.ts";
import { freePort, onProcessExit, rigAvailable, run, skipUnless } from "../rig/index.ts";
import { ageKeys } from "../support/age-keys.ts";
import { ROOT } from "../support/hello-project.ts";
import { killAllS3rvers, S3RVER_KEY, S3rver } from "../support/s3rver.ts";

const SOCKET = "/run/podman/podman.sock";
const RUNNER = join(ROOT, "dist/agent-bundle/runner.mjs");
const ID = randomBytes(3).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "slipway-runner-"));
chmodSync(dir, 0o755);
const containers = new Set<string>();
function cleanup(): void {
  killAllS3rvers();
  if (containers.size > 0)
    spawnSync("podman", ["rm", "-f", "--volumes", "-t", "0", ...containers], { stdio: "ignore" });
  containers.clear();
  rmSync(dir, { recursive: true, force: true });
}
const unregister = onProcessExit(cleanup);
after(() => {
  cleanup();
  unregister();
});

let recipient = "";
let identity = "";
before(async () => {
  ({ recipient, identity } = await ageKeys());
});

/** Runs the bundled runner with {request, secrets} on stdin: its result, progress and exit code. */
async function runner(
  request: Omit<RunnerRequest, "format" | "host" | "compression" | "recipients">,
  secrets: Record<string, unknown> = {},
): Promise<{ result: RunnerResult; stderr: string; code: number | null }> {
  const input = JSON.stringify({
    request: { format: 1, host: "web-1", compression: "zstd", recipients: [recipient], ...request },
    secrets,
  });
  // With the node flags it runs with on a host.
  const flags = RUNNER_NODE.slice(1);
  const r = await run(process.execPath, [...flags, RUNNER, "--stdin", "--engine-socket", SOCKET], {
    input,
    timeoutMs: 240_000,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith("slipway-backup-result "));
  assert.ok(line, `no result line:\n${r.stdout}\n${r.stderr}`);
  return {
    result: JSON.parse(line.slice("slipway-backup-result ".length)) as RunnerResult,
    stderr: r.stderr,
    code: r.code,
  };
}

async function podman(args: string[], input?: string): Promise<string> {
  const r = await run("podman", args, { timeoutMs: 120_000, ...(input ? { input } : {}) });
  if (r.code !== 0) throw new Error(`podman ${args.slice(0, 3).join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function waitFor(ready: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`no ${what} in 120 s`);
    await sleep(500);
  }
}

/** Throwaway verification containers of one backup ("db/ID") still there: none once it ended. */
async function throwaways(backup: string): Promise<string> {
  const filter = `label=slipway.verify=${backup}`;
  return (await podman(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])).trim();
}

/** The stored files under a folder, by path relative to it. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true }).map(String).sort();
}

/** Flips one byte in the middle of the largest archive under `root`. */
function corruptLargest(root: string): string {
  const files = filesUnder(root)
    .map((f) => join(root, f))
    .filter((f) => lstatSync(f).isFile() && /\.age/.test(f))
    .sort((a, b) => lstatSync(b).size - lstatSync(a).size);
  const file = files[0];
  assert.ok(file, `no file under ${root}`);
  const b = readFileSync(file);
  const i = Math.floor(b.length / 2);
  b[i] = (b[i] ?? 0) ^ 0xff;
  writeFileSync(file, b);
  return file;
}

const noKeep = { keepLast: 1, daily: 0, weekly: 0, monthly: 0, yearly: 0 };

/** Why a test of the runner with containers of `image` cannot run here, or false. */
const cannot = (image: string) =>
  skipUnless(rigAvailable(image)) ||
  (existsSync(SOCKET) ? false : `${SOCKET} is missing`) ||
  (existsSync(RUNNER) ? false : `${RUNNER} is missing: npm run build`);

describe("the backup runner: Postgres into S3, through the Engine API", {
  skip: cannot(POSTGRES_IMAGE),
  timeout: 600_000,
}, () => {
  let s3: S3rver;
  const source = `slipway-test-runner-${ID}-db`;
  const copy = `slipway-test-runner-${ID}-db2`;
  const pg = (container: string) => ({
    kind: "postgres" as const,
    container,
    user: "appuser",
    database: "appdb",
    image: POSTGRES_IMAGE,
  });
  const store = () => ({
    kind: "s3" as const,
    bucket: "backups",
    prefix: "slipway/hello",
    endpoint: s3.endpoint,
    region: "us-east-1",
    path_style: true,
  });
  const keys = { s3: { access_key_id: S3RVER_KEY, secret_access_key: S3RVER_KEY } };
  const psql = (name: string, sql: string) =>
    podman(["exec", "-i", name, "psql", "-XAt", "-U", "appuser", "-d", "appdb"], sql).then((s) =>
      s.trim(),
    );
  const checksum = (name: string) =>
    psql(name, "SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) FROM items t;");

  async function startPostgres(name: string): Promise<void> {
    containers.add(name);
    await podman([
      "run",
      "-d",
      "--name",
      name,
      ...[
        "-e",
        "POSTGRES_USER=appuser",
        "-e",
        "POSTGRES_DB=appdb",
        "-e",
        "POSTGRES_PASSWORD=pw-x1",
      ],
      POSTGRES_IMAGE,
    ]);
    await waitFor(
      async () =>
        (await run("podman", ["exec", name, "pg_isready", "-q", "-h", "127.0.0.1"])).code === 0,
      `${name} ready`,
    );
  }

  before(async () => {
    s3 = new S3rver(await freePort(), join(dir, "s3rver"));
    await s3.start();
    await Promise.all([startPostgres(source), startPostgres(copy)]);
    await psql(
      source,
      "CREATE TABLE items (id int PRIMARY KEY, body text); INSERT INTO items SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g;",
    );
  });

  let id = "";

  it("backs up with progress, lists it with its size, verifies it by restoring", async () => {
    const target = { name: "db", source: pg(source), keep: noKeep };
    const made = await runner({ action: "backup", store: store(), targets: [target] }, keys);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.result.ok, true);
    const backup = made.result.backup as { id: string; bytes: number; plainBytes: number };
    id = backup.id;
    assert.match(made.stderr, /^db: database \d+\.\d+ (KiB|MiB) read, \d+\.\d+ (KiB|MiB) stored$/m);
    assert.ok(backup.bytes > 0 && backup.bytes < backup.plainBytes, "compressed");
    assert.match(
      made.result.summary,
      new RegExp(`^db ${id}: [\\d.]+ MiB dumped, [\\d.]+ KiB stored in \\d+s$`),
    );

    const listed = await runner({ action: "list", store: store(), targets: [target] }, keys);
    const backups = (
      listed.result.targets as {
        backups: { id: string; at: string; bytes: number; complete: boolean; verified: unknown }[];
      }[]
    )[0]?.backups;
    assert.deepEqual(backups, [
      {
        id,
        at: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}.000Z`,
        complete: true,
        bytes: backup.bytes,
        verified: null,
      },
    ]);

    const noKey = await runner({ action: "verify", store: store(), targets: [target] }, keys);
    assert.equal(noKey.code, 1);
    assert.equal((noKey.result.error as { code: string }).code, "backup.no_identity");

    const verified = await runner(
      { action: "verify", store: store(), targets: [target] },
      { ...keys, identity: `# a comment\n${identity}\n` },
    );
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.result.summary, `db ${id}: restored and compared: 1 check passed`);
    const after = await runner({ action: "list", store: store(), targets: [target] }, keys);
    const mark = (
      after.result.targets as { backups: { verified: { ok: boolean; how: string } }[] }[]
    )[0]?.backups[0]?.verified;
    assert.deepEqual([mark?.ok, mark?.how], [true, "restore"]);
    assert.equal(await throwaways(`db/${id}`), "", "the throwaway container is gone");
  });

  it("restores into another container: the same rows, checked", async () => {
    const restored = await runner(
      {
        action: "restore",
        store: store(),
        targets: [{ name: "db", source: pg(source) }],
        into: pg(copy),
      },
      { ...keys, identity },
    );
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(restored.result.summary, `db ${id} restored into ${copy} (1 check passed)`);
    assert.equal(await checksum(copy), await checksum(source));
    assert.match(await checksum(copy), /^20000 [0-9a-f]{32}$/);
  });

  it("one flipped byte in the store fails the keyless check, the verification and the restore, which changes nothing", async () => {
    const target = { name: "db", source: pg(source) };
    await psql(copy, "DELETE FROM items WHERE id > 10;");
    const before = await checksum(copy);
    corruptLargest(join(dir, "s3rver", "backups"));
    const check = await runner({ action: "check", store: store(), targets: [target] }, keys);
    assert.equal(check.code, 1);
    assert.match(
      check.result.summary,
      new RegExp(
        `^db ${id}: FAILED check: database archive: expected \\d+ bytes, SHA-256 [0-9a-f]{16}, got \\d+ bytes, SHA-256 [0-9a-f]{16}$`,
      ),
    );
    const verify = await runner(
      { action: "verify", store: store(), targets: [target] },
      { ...keys, identity },
    );
    assert.equal(verify.code, 1, verify.stderr);
    assert.match(verify.result.summary, new RegExp(`^db ${id}: FAILED restore: `));
    const restore = await runner(
      { action: "restore", store: store(), targets: [target], into: pg(copy) },
      { ...keys, identity },
    );
    assert.equal(restore.code, 1);
    assert.match(restore.result.summary, /; nothing was restored$/);
    assert.equal(await checksum(copy), before);
    const listed = await runner({ action: "list", store: store(), targets: [target] }, keys);
    const mark = (
      listed.result.targets as { backups: { verified: { ok: boolean; how: string } }[] }[]
    )[0]?.backups[0]?.verified;
    assert.deepEqual([mark?.ok, mark?.how], [false, "restore"], "the last verification's mark");
  });
});

describe("the backup runner: Redis verified through a one-off container over the API", {
  skip: cannot(REDIS_IMAGE),
  timeout: 300_000,
}, () => {
  it("backs up with BGSAVE and verifies the key count in a throwaway Redis", async () => {
    const name = `slipway-test-runner-${ID}-cache`;
    const secrets = join(dir, "redis-secrets");
    mkdirSync(secrets, { mode: 0o755 });
    writeFileSync(join(secrets, "password"), "redis-pw-1", { mode: 0o644 });
    containers.add(name);
    await podman([
      "run",
      "-d",
      "--name",
      name,
      "-v",
      `${secrets}:/run/slipway-secrets:ro`,
      REDIS_IMAGE,
      "sh",
      "-c",
      'printf "requirepass %s\\n" "$(cat /run/slipway-secrets/password)" > /tmp/a.conf; chmod 644 /tmp/a.conf; exec docker-entrypoint.sh redis-server /tmp/a.conf',
    ]);
    const cli = (cmd: string) =>
      podman(["exec", name, "sh", "-c", `REDISCLI_AUTH=redis-pw-1 redis-cli ${cmd}`]);
    await waitFor(async () => (await cli("ping")).trim() === "PONG", "redis");
    for (let i = 0; i < 50; i++) await cli(`SET key:${i} value-${i}`);
    const target = {
      name: "cache",
      source: {
        kind: "redis" as const,
        container: name,
        user: "",
        database: "",
        image: REDIS_IMAGE,
      },
    };
    const store = { kind: "directory" as const, path: join(dir, "redis-store") };
    const made = await runner({ action: "backup", store, targets: [target] });
    assert.equal(made.code, 0, made.stderr);
    const verified = await runner({ action: "verify", store, targets: [target] }, { identity });
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.result.summary, /^cache \S+: restored and compared: 1 check passed$/);
    const report = verified.result.report as { checks: { what: string; actual: string }[] };
    assert.deepEqual(
      report.checks.map((c) => [c.what, c.actual]),
      [["keys", "50"]],
    );
    // A small archive fails at its first chunk, before the one-off container takes its stdin.
    corruptLargest(store.path);
    const failed = await runner({ action: "verify", store, targets: [target] }, { identity });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.result.summary, /^cache \S+: FAILED restore: /);
    const id = (made.result.backup as { id: string }).id;
    assert.equal(await throwaways(`cache/${id}`), "", "the throwaway container is gone");
  });
});

describe("the backup runner: MariaDB through the Engine API", {
  skip: cannot(MARIADB_IMAGE),
  timeout: 400_000,
}, () => {
  it("dumps with mariadb-dump, counts rows in the stream, verifies in a throwaway MariaDB", async () => {
    const name = `slipway-test-runner-${ID}-maria`;
    containers.add(name);
    await podman([
      "run",
      "-d",
      "--name",
      name,
      ...["-e", "MARIADB_ROOT_PASSWORD=root-pw-2", "-e", "MARIADB_DATABASE=appdb"],
      ...["-e", "MARIADB_USER=appuser", "-e", "MARIADB_PASSWORD=app-pw-2"],
      MARIADB_IMAGE,
    ]);
    const sql = (q: string) =>
      podman(
        [
          "exec",
          "-i",
          name,
          "sh",
          "-c",
          'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb -uroot -N -B appdb',
        ],
        q,
      );
    await waitFor(async () => (await sql("SELECT 1")).trim() === "1", "mariadb");
    await sql(
      "CREATE TABLE items (id INT PRIMARY KEY, name TEXT) ENGINE=InnoDB; INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_3000;",
    );
    const target = {
      name: "reports",
      source: {
        kind: "mariadb" as const,
        container: name,
        user: "appuser",
        database: "appdb",
        image: MARIADB_IMAGE,
      },
    };
    const store = { kind: "directory" as const, path: join(dir, "maria-store") };
    const made = await runner({ action: "backup", store, targets: [target] });
    assert.equal(made.code, 0, made.stderr);
    const verified = await runner({ action: "verify", store, targets: [target] }, { identity });
    assert.equal(verified.code, 0, verified.stderr);
    const report = verified.result.report as { checks: { what: string; actual: string }[] };
    assert.deepEqual(
      report.checks.map((c) => [c.what, c.actual]),
      [["rows in appdb.items", "3000"]],
    );
  });
});

describe("the backup runner: a folder as tar, and SQLite", {
  skip: existsSync(RUNNER) ? false : `${RUNNER} is missing: npm run build`,
  timeout: 120_000,
}, () => {
  const store = () => ({ kind: "directory" as const, path: join(dir, "files-store") });

  it("archives a folder, verifies its entries, restores it whole over other content; retention", async () => {
    const source = join(dir, "uploads");
    mkdirSync(join(source, "a/b"), { recursive: true });
    writeFileSync(join(source, "a/b/deep.txt"), "deep\n");
    writeFileSync(join(source, "secret.key"), "k", { mode: 0o600 });
    writeFileSync(join(source, "big.bin"), randomBytes(3 * 1024 * 1024));
    symlinkSync("a/b/deep.txt", join(source, "link"));
    const target = {
      name: "uploads",
      source: { kind: "files" as const, path: source, exclude: [] },
      keep: noKeep,
    };
    const made = await runner({ action: "backup", store: store(), targets: [target] });
    assert.equal(made.code, 0, made.stderr);
    const verified = await runner(
      { action: "verify", store: store(), targets: [target] },
      { identity },
    );
    assert.equal(verified.code, 0, verified.stderr);
    const checks = (verified.result.report as { checks: { what: string; actual: string }[] })
      .checks;
    // ., a, a/b, a/b/deep.txt, secret.key, big.bin, link
    assert.deepEqual(
      checks.map((c) => [c.what, c.actual]),
      [["entries", "7"]],
    );

    const into = join(dir, "uploads-restored");
    mkdirSync(into);
    writeFileSync(join(into, "stale.txt"), "not in the backup");
    const request = {
      action: "restore" as const,
      store: store(),
      targets: [target],
      into: { kind: "files" as const, path: into, exclude: [] },
    };
    // A folder that holds something is replaced only when the request says so (--yes).
    const refused = await runner(request, { identity });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + JSON.stringify(refused.result), /holds data already/);
    assert.deepEqual(filesUnder(into), ["stale.txt"]);
    const restored = await runner({ ...request, replace: true }, { identity });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(filesUnder(into), filesUnder(source));
    assert.equal(readFileSync(join(into, "a/b/deep.txt"), "utf8"), "deep\n");
    assert.deepEqual(readFileSync(join(into, "big.bin")), readFileSync(join(source, "big.bin")));
    assert.equal(lstatSync(join(into, "secret.key")).mode & 0o777, 0o600);
    assert.equal(readlinkSync(join(into, "link")), "a/b/deep.txt");

    // A second backup a second later: keep last 1 removes the first.
    await sleep(1100);
    const second = await runner({ action: "backup", store: store(), targets: [target] });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.result.removed, [(made.result.backup as { id: string }).id]);
  });

  it("copies a SQLite database consistently and restores it into a new file", async () => {
    const file = join(dir, "app.db");
    const db = new DatabaseSync(file);
    db.exec("PRAGMA journal_mode = WAL; CREATE TABLE visits (id INTEGER PRIMARY KEY, at TEXT);");
    for (let i = 0; i < 300; i++) db.prepare("INSERT INTO visits (at) VALUES (?)").run(`t${i}`);
    const target = { name: "visits", source: { kind: "sqlite" as const, path: file } };
    const made = await runner({ action: "backup", store: store(), targets: [target] });
    db.close();
    assert.equal(made.code, 0, made.stderr);
    const into = join(dir, "restored.db");
    const restored = await runner(
      {
        action: "restore",
        store: store(),
        targets: [target],
        into: { kind: "sqlite", path: into },
      },
      { identity },
    );
    assert.equal(restored.code, 0, restored.stderr);
    const copy = new DatabaseSync(into, { readOnly: true });
    assert.deepEqual(
      { ...copy.prepare("SELECT count(*) AS n, max(at) AS last FROM visits").get() },
      {
        n: 300,
        last: "t99",
      },
    );
    copy.close();
  });
});
