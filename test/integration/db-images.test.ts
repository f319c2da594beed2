/**
 * The rig's accessory images (rig/images/postgres, mariadb, redis), which stand in for the official
 * postgres:15, mariadb:10.11 and redis:7 images, run for real with rootful Podman and checked
 * against the official images' documented contract: initialisation from the environment,
 * passwords over TCP from another container on the same network, server arguments passed
 * through, health tools, uid 999, data kept on a named volume across a re-created container, and
 * no password on any process's argv. Secrets reach podman as `-e NAME` with the value in podman's
 * own environment, and the clients through PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH or stdin.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MARIADB_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE } from "../rig/images.ts";
import { onProcessExit, type RunResult, rigAvailable, run, skipUnless } from "../rig/index.ts";

const ID = randomBytes(4).toString("hex");
const NETWORK = `slipway-test-db-${ID}`;
const containers = new Set<string>();
const volumes = new Set<string>();
const dirs = new Set<string>();
let networkMade = false;

function removeAllSync(): void {
  const quiet = { stdio: "ignore", timeout: 120_000 } as const;
  if (containers.size > 0)
    spawnSync("podman", ["rm", "-f", "--volumes", "-t", "0", ...containers], quiet);
  if (volumes.size > 0) spawnSync("podman", ["volume", "rm", "-f", ...volumes], quiet);
  if (networkMade) spawnSync("podman", ["network", "rm", "-f", NETWORK], quiet);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  containers.clear();
  volumes.clear();
  dirs.clear();
  networkMade = false;
}
// Also when the test process is interrupted: no server may outlive it.
const unregister = onProcessExit(removeAllSync);
after(() => {
  removeAllSync();
  unregister();
});

/**
 * Runs podman; `env` is added to its environment, where `-e NAME` (no value) takes secrets
 * from, so that they never appear on an argv.
 */
function podman(
  args: readonly string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run("podman", args, { timeoutMs: 120_000, ...opts });
}

/** Podman's own warnings (cgroup v1 on this machine) are noise in an error message. */
const why = (r: RunResult) =>
  `exit ${r.code}: ${`${r.stderr}\n${r.stdout}`
    .split("\n")
    .filter((l) => l.trim() && !l.includes("level=warning"))
    .join("\n")}`;

async function podmanOk(
  args: readonly string[],
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<string> {
  const r = await podman(args, opts);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} failed, ${why(r)}`);
  return r.stdout;
}

async function ensureNetwork(): Promise<void> {
  if (networkMade) return;
  await podmanOk(["network", "create", NETWORK]);
  networkMade = true;
}

async function makeVolume(role: string): Promise<string> {
  const name = `slipway-test-db-${ID}-${role}`;
  await podmanOk(["volume", "create", name]);
  volumes.add(name);
  return name;
}

/** A folder on this machine to mount into a container, with files readable by uid 999. */
function makeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-db-images-"));
  dirs.add(dir);
  chmodSync(dir, 0o755);
  for (const [name, text] of Object.entries(files))
    writeFileSync(join(dir, name), text, { mode: 0o644 });
  return dir;
}

interface Start {
  /** Non-secret `-e NAME=value`. */
  env?: Record<string, string>;
  /** Secrets: passed as `-e NAME` with the value in podman's environment. */
  secrets?: Record<string, string>;
  /** Extra `podman run` options (volumes, entrypoint). */
  options?: string[];
  /** The container's command (after the image). */
  command?: string[];
}

/**
 * Starts a container on the test network. No --rm: a server that dies during init keeps its log
 * for the failure message; everything is removed in after().
 */
async function start(role: string, image: string, o: Start = {}): Promise<string> {
  await ensureNetwork();
  const name = `slipway-test-db-${ID}-${role}`;
  containers.add(name);
  const args = ["run", "-d", "--name", name, "--network", NETWORK, ...(o.options ?? [])];
  for (const [k, v] of Object.entries(o.env ?? {})) args.push("-e", `${k}=${v}`);
  for (const k of Object.keys(o.secrets ?? {})) args.push("-e", k);
  await podmanOk([...args, image, ...(o.command ?? [])], { env: o.secrets });
  return name;
}

/** A long-lived container on the network to run the image's own clients from. */
const startClient = (role: string, image: string) =>
  start(role, image, { options: ["--entrypoint", "sleep"], command: ["infinity"] });

/** Stops a container with its image's stop signal (a clean shutdown), then removes it. */
async function stopAndRemove(name: string): Promise<void> {
  await podmanOk(["stop", "-t", "60", name]);
  await podmanOk(["rm", "-f", "--volumes", name]);
  containers.delete(name);
}

async function ipOf(name: string): Promise<string> {
  const ip = (
    await podmanOk([
      "inspect",
      "-f",
      `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`,
      name,
    ])
  ).trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `IP address of ${name}`);
  return ip;
}

async function logsOf(name: string): Promise<string> {
  const r = await podman(["logs", "--tail", "60", name]);
  return `${r.stdout}${r.stderr}`;
}

/** `podman exec` with secrets in the command's environment (`-e NAME`, value from podman's). */
function exec(
  name: string,
  argv: readonly string[],
  secrets: Record<string, string> = {},
  input?: string,
): Promise<RunResult> {
  const env = Object.keys(secrets).flatMap((k) => ["-e", k]);
  const i = input === undefined ? [] : ["-i"];
  return podman(["exec", ...i, ...env, name, ...argv], { env: secrets, input });
}

async function execOk(
  name: string,
  argv: readonly string[],
  secrets: Record<string, string> = {},
  input?: string,
): Promise<string> {
  const r = await exec(name, argv, secrets, input);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} in ${name} failed, ${why(r)}`);
  return r.stdout;
}

/** Polls until `ready` resolves true; fails with the container's log after `timeoutMs`. */
async function waitFor(
  name: string,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready()) return;
    const state = (await podman(["inspect", "-f", "{{.State.Status}}", name])).stdout.trim();
    if (state === "exited" || state === "stopped")
      throw new Error(`${name} exited before ${what}:\n${await logsOf(name)}`);
    await sleep(500);
  }
  throw new Error(`${name}: no ${what} within ${timeoutMs / 1000}s:\n${await logsOf(name)}`);
}

/**
 * Wraps the image's entrypoint: a root loop records the argv (/proc/PID/cmdline) of every process
 * in the container until /tmp/argv.stop appears, so that a test can check that no password was
 * on any of them during initialisation. Bash builtins only (no fork per pass), so that it sees
 * even a short-lived client: a psql with a password on its argv is caught.
 */
const ARGV_SAMPLER = [
  "(while [ ! -e /tmp/argv.stop ]; do",
  "  for f in /proc/[0-9]*/cmdline; do",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a JS template
  "    mapfile -d '' -t a 2>/dev/null <\"$f\" && printf '%s\\n' \"${a[*]}\"",
  "  done",
  "done | awk '!seen[$0]++' >/tmp/argv.log; touch /tmp/argv.done) &",
  'exec docker-entrypoint.sh "$@"',
].join("\n");
const sampled = (command: string[]): Start => ({
  options: ["--entrypoint", "bash"],
  command: ["-c", ARGV_SAMPLER, "argv-sampler", ...command],
});

/** Stops the sampler and returns every argv it saw. */
async function sampledArgv(name: string): Promise<string> {
  await execOk(name, ["touch", "/tmp/argv.stop"]);
  await waitFor(name, "the argv sampler's end", async () => {
    return (await exec(name, ["test", "-e", "/tmp/argv.done"])).code === 0;
  });
  return execOk(name, ["cat", "/tmp/argv.log"]);
}

/** The real uid and the argv of the container's PID 1. */
async function pid1(name: string): Promise<{ uid: string; argv: string }> {
  const status = await execOk(name, ["cat", "/proc/1/status"]);
  const argv = (await execOk(name, ["cat", "/proc/1/cmdline"])).replaceAll("\0", " ").trim();
  return { uid: /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? "", argv };
}

describe("slipway-postgres:15 (stands in for postgres:15)", {
  skip: skipUnless(rigAvailable(POSTGRES_IMAGE)),
  timeout: 300_000,
}, () => {
  // A space and quotes: the password must survive the entrypoint's quoting untouched; the hex
  // part is what the argv check looks for.
  const secret = randomBytes(8).toString("hex");
  const password = `pg '${secret}" pw`;
  let volume = "";
  let server = "";
  let client = "";
  let ip = "";

  const psql = (sql: string, pw = password, user = "appuser") =>
    exec(client, ["psql", "-h", ip, "-U", user, "-d", "appdb", "-XAtc", sql], { PGPASSWORD: pw });
  const psqlOk = async (sql: string) => {
    const r = await psql(sql);
    if (r.code !== 0) throw new Error(`psql ${sql}: ${why(r)}`);
    return r.stdout.trim();
  };
  const ready = (name: string) => async () =>
    (await exec(name, ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"])).code === 0;

  before(async () => {
    volume = await makeVolume("pgdata");
    const initdb = makeDir({
      "01-seed.sql": "CREATE TABLE seed (note text); INSERT INTO seed VALUES ('from sql');\n",
      // Not executable: sourced, so it can use the entrypoint's docker_process_sql.
      "02-seed.sh": "docker_process_sql <<<\"INSERT INTO seed VALUES ('from sh');\"\n",
    });
    const run = sampled(["postgres", "-c", "shared_buffers=48MB", "-c", "max_connections=40"]);
    server = await start("pg1", POSTGRES_IMAGE, {
      ...run,
      options: [
        ...(run.options ?? []),
        "-v",
        `${volume}:/var/lib/postgresql/data`,
        "-v",
        `${initdb}:/docker-entrypoint-initdb.d:ro`,
      ],
      env: { POSTGRES_USER: "appuser", POSTGRES_DB: "appdb" },
      secrets: { POSTGRES_PASSWORD: password },
    });
    client = await startClient("pg-client", POSTGRES_IMAGE);
    // Over TCP: the init's temporary server listens on the Unix socket only.
    await waitFor(server, "pg_isready over TCP", ready(server));
    ip = await ipOf(server);
  });

  it("initialises user, database and password from the environment; TCP logins need the password", async () => {
    assert.equal(await psqlOk("SELECT current_user || ' ' || current_database()"), "appuser appdb");
    assert.equal(
      await psqlOk(
        "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'appuser'",
      ),
      "t",
    );
    const wrong = await psql("SELECT 1", `${password}x`);
    assert.notEqual(wrong.code, 0, "a wrong password must be refused");
    assert.match(wrong.stderr, /password authentication failed for user "appuser"/);
    const hba = await execOk(server, ["cat", "/var/lib/postgresql/data/pg_hba.conf"]);
    assert.match(hba, /^host all all all scram-sha-256$/m);
  });

  it("applies the server arguments given after `postgres`", async () => {
    assert.equal(await psqlOk("SHOW shared_buffers"), "48MB");
    assert.equal(await psqlOk("SHOW max_connections"), "40");
  });

  it("pg_isready exits 0 against the running server, non-zero where nothing listens", async () => {
    assert.equal((await exec(client, ["pg_isready", "-h", ip, "-p", "5432"])).code, 0);
    assert.notEqual((await exec(client, ["pg_isready", "-h", ip, "-p", "5433"])).code, 0);
    for (const tool of ["psql", "pg_dump", "pg_isready", "initdb", "postgres"])
      await execOk(server, ["sh", "-c", `command -v ${tool}`]);
  });

  it("runs the server as uid 999 and the init scripts once, in name order", async () => {
    const p = await pid1(server);
    assert.equal(p.uid, "999");
    assert.match(p.argv, /^postgres -c shared_buffers=48MB -c max_connections=40$/);
    assert.equal(await psqlOk("SELECT string_agg(note, ',') FROM seed"), "from sql,from sh");
  });

  it("puts no password on any process's argv during initialisation", async () => {
    const argv = await sampledArgv(server);
    // The sampler saw the init itself (initdb, the socket-only temporary server, psql).
    assert.match(argv, /initdb /);
    assert.match(argv, /listen_addresses=/);
    assert.ok(!argv.includes(secret), "the password was on an argv");
  });

  it("keeps the data on its volume when the container is re-created, without re-initialising", async () => {
    await psqlOk("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await stopAndRemove(server);
    // Another password in the environment: ignored, the data directory is initialised already.
    server = await start("pg2", POSTGRES_IMAGE, {
      options: ["-v", `${volume}:/var/lib/postgresql/data`],
      secrets: { POSTGRES_PASSWORD: "another one" },
      command: ["postgres", "-c", "shared_buffers=32MB"],
    });
    await waitFor(server, "pg_isready over TCP", ready(server));
    ip = await ipOf(server);
    assert.equal(await psqlOk("SELECT v FROM kept"), "still here");
    assert.equal(await psqlOk("SELECT count(*) FROM seed"), "2");
    assert.equal(await psqlOk("SHOW shared_buffers"), "32MB");
    assert.notEqual((await psql("SELECT 1", "another one")).code, 0);
    assert.match(await logsOf(server), /Skipping initialization/);
  });
});

describe("slipway-mariadb:10.11 (stands in for mariadb:10.11)", {
  skip: skipUnless(rigAvailable(MARIADB_IMAGE)),
  timeout: 300_000,
}, () => {
  const rootSecret = randomBytes(8).toString("hex");
  const appSecret = randomBytes(8).toString("hex");
  // Quotes and a backslash: the SQL the entrypoint writes must escape them.
  const rootPassword = `root '${rootSecret}\\"`;
  const appPassword = `app "${appSecret}' x`;
  let server = "";
  let client = "";
  let ip = "";

  const sql = (user: string, pw: string, query: string, db?: string) =>
    exec(client, ["mariadb", "-h", ip, "-u", user, "-N", "-B", ...(db ? [db] : []), "-e", query], {
      MYSQL_PWD: pw,
    });
  const sqlOk = async (user: string, pw: string, query: string, db?: string) => {
    const r = await sql(user, pw, query, db);
    if (r.code !== 0) throw new Error(`mariadb -u ${user} -e ${query}: ${why(r)}`);
    return r.stdout.trim();
  };

  before(async () => {
    // Both spellings: MARIADB_* for root and the user, MYSQL_* for the database and password.
    server = await start("maria", MARIADB_IMAGE, {
      ...sampled(["mariadbd", "--max-connections=77"]),
      env: { MYSQL_DATABASE: "appdb", MARIADB_USER: "appuser" },
      secrets: { MARIADB_ROOT_PASSWORD: rootPassword, MYSQL_PASSWORD: appPassword },
    });
    client = await startClient("maria-client", MARIADB_IMAGE);
    // The init's temporary server skips networking (its banner says port: 0).
    await waitFor(server, "the server on port 3306", async () =>
      /port: 3306/.test(await logsOf(server)),
    );
    ip = await ipOf(server);
  });

  it("logs root in over TCP with its password only", async () => {
    assert.equal(await sqlOk("root", rootPassword, "SELECT current_user()"), "root@%");
    const wrong = await sql("root", `${rootPassword}x`, "SELECT 1");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Access denied for user 'root'/);
  });

  it("gives the app user its database, and only that one", async () => {
    assert.equal(
      await sqlOk(
        "appuser",
        appPassword,
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('mine'); SELECT v FROM t",
        "appdb",
      ),
      "mine",
    );
    assert.equal(await sqlOk("appuser", appPassword, "SELECT current_user()"), "appuser@%");
    const other = await sql("appuser", appPassword, "CREATE DATABASE other");
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /Access denied/);
    assert.notEqual((await sql("appuser", "wrong", "SELECT 1")).code, 0);
  });

  it("passes server arguments to mariadbd and runs it as uid 999", async () => {
    assert.equal(await sqlOk("root", rootPassword, "SELECT @@max_connections"), "77");
    const p = await pid1(server);
    assert.equal(p.uid, "999");
    assert.equal(p.argv, "mariadbd --max-connections=77");
  });

  it("healthcheck.sh --connect --innodb_initialized passes with the credentials made at init", async () => {
    const ok = await exec(server, ["healthcheck.sh", "--connect", "--innodb_initialized"]);
    assert.equal(ok.code, 0, why(ok));
    // Without that file the InnoDB check cannot log in: the file is what makes it pass.
    const without = await exec(server, ["healthcheck.sh", "--no-defaults", "--innodb_initialized"]);
    assert.notEqual(without.code, 0);
    const cnf = await execOk(server, ["stat", "-c", "%a %U", "/var/lib/mysql/.my-healthcheck.cnf"]);
    assert.equal(cnf.trim(), "600 mysql");
    const alive = await execOk(server, ["mariadb-admin", "-uroot", "ping"], {
      MYSQL_PWD: rootPassword,
    });
    assert.match(alive, /mysqld is alive/);
  });

  it("puts no password on any process's argv during initialisation", async () => {
    const argv = await sampledArgv(server);
    // The sampler saw the init itself (install-db, the socket-only temporary server).
    assert.match(argv, /mariadb-install-db /);
    assert.match(argv, /--skip-networking/);
    assert.ok(!argv.includes(rootSecret), "the root password was on an argv");
    assert.ok(!argv.includes(appSecret), "the user's password was on an argv");
  });
});

describe("slipway-redis:7 (stands in for redis:7)", {
  skip: skipUnless(rigAvailable(REDIS_IMAGE)),
  timeout: 300_000,
}, () => {
  let client = "";

  const cli = (ip: string, args: string[], secrets: Record<string, string> = {}, input?: string) =>
    exec(client, ["redis-cli", "-h", ip, ...args], secrets, input);
  const pong =
    (ip: string, secrets: Record<string, string> = {}) =>
    async () =>
      (await cli(ip, ["ping"], secrets)).stdout.trim() === "PONG";

  before(async () => {
    client = await startClient("redis-client", REDIS_IMAGE);
  });

  it("answers PING from another container with the defaults, as uid 999", async () => {
    const server = await start("redis-plain", REDIS_IMAGE);
    const ip = await ipOf(server);
    // From another container: only with protected mode off and bound to every interface.
    await waitFor(server, "PONG", pong(ip), 30_000);
    assert.equal(
      (await cli(ip, ["config", "get", "protected-mode"])).stdout,
      "protected-mode\nno\n",
    );
    // Built-in defaults, not Debian's /etc/redis/redis.conf (which binds to 127.0.0.1).
    assert.equal((await cli(ip, ["config", "get", "dir"])).stdout, "dir\n/data\n");
    const p = await pid1(server);
    assert.equal(p.uid, "999");
    assert.match(p.argv, /^redis-server \*:6379/);
  });

  it("runs `redis-server FILE.conf ARGS`: requirepass from the file, the args on top", async () => {
    const password = `redis ${randomBytes(8).toString("hex")}`;
    const data = makeDir({ "x.conf": `requirepass "${password}"\nmaxmemory 32mb\n` });
    const server = await start("redis-conf", REDIS_IMAGE, {
      options: ["-v", `${data}:/data`],
      command: ["redis-server", "/data/x.conf", "--maxmemory", "64mb"],
    });
    const ip = await ipOf(server);
    const auth = { REDISCLI_AUTH: password };
    await waitFor(server, "PONG with the password", pong(ip, auth), 30_000);
    const anonymous = await cli(ip, ["ping"]);
    assert.match(anonymous.stdout + anonymous.stderr, /NOAUTH/);
    // AUTH as a command, on stdin.
    const viaAuth = await cli(ip, [], {}, `AUTH "${password}"\nPING\n`);
    assert.equal(viaAuth.stdout, "OK\nPONG\n", why(viaAuth));
    const wrongAuth = await cli(ip, [], {}, "AUTH nope\nPING\n");
    assert.match(wrongAuth.stdout + wrongAuth.stderr, /WRONGPASS/);
    assert.equal(
      (await cli(ip, ["config", "get", "maxmemory"], auth)).stdout,
      "maxmemory\n67108864\n",
    );
  });

  it("keeps data with --appendonly yes across a re-created container on the same volume", async () => {
    const volume = await makeVolume("redis-data");
    // Flags alone as the command: the entrypoint runs redis-server with them.
    let server = await start("redis-aof1", REDIS_IMAGE, {
      options: ["-v", `${volume}:/data`],
      command: ["--appendonly", "yes"],
    });
    let ip = await ipOf(server);
    await waitFor(server, "PONG", pong(ip), 30_000);
    assert.equal((await cli(ip, ["set", "greeting", "still here"])).stdout.trim(), "OK");
    // appendfsync everysec: on disk within a second. Then SIGKILL, so no shutdown save can be
    // what keeps it: only the append-only file.
    await sleep(1_500);
    await podmanOk(["rm", "-f", "--volumes", "-t", "0", server]);
    containers.delete(server);
    server = await start("redis-aof2", REDIS_IMAGE, {
      options: ["-v", `${volume}:/data`],
      command: ["redis-server", "--appendonly", "yes"],
    });
    ip = await ipOf(server);
    await waitFor(server, "PONG", pong(ip), 30_000);
    assert.equal((await cli(ip, ["get", "greeting"])).stdout.trim(), "still here");
    const files = await execOk(server, ["sh", "-c", "stat -c '%u %n' /data/appendonlydir/*"]);
    assert.match(files, /^999 \/data\/appendonlydir\/appendonly\.aof\.1\.incr\.aof$/m);
  });
});
