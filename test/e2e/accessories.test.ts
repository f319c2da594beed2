/**
 * Accessories end to end on one fresh VPS box: the notes example deployed with Postgres and Redis
 * beside it writes and reads through the injected URLs; nothing of them is reachable from outside
 * their private network; no password shows in the host's process list during a deploy nor in any
 * output; they come back after the engine restarts; remove without flags changes nothing and with
 * --yes keeps the data; staging on the same host keeps its own data.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { appendFile, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  NGINX_IMAGE,
  NODE_IMAGE,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import {
  BIN,
  type ExampleProject,
  exampleProject,
  type SlipwayRun,
} from "../support/hello-project.ts";
import { startLoad } from "../support/load.ts";

const POSTGRES_IMAGE = "localhost/slipway-postgres:15";
const REDIS_IMAGE = "localhost/slipway-redis:7";
const MARIADB_IMAGE = "localhost/slipway-mariadb:10.11";

describe("accessories end to end: Postgres and Redis beside the app", {
  skip:
    skipUnless(rigAvailable()) ||
    skipUnless(
      imagesAvailable(NODE_IMAGE, NGINX_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE, MARIADB_IMAGE),
    ),
  timeout: 1_200_000,
}, () => {
  let box: VpsBox;
  let notes: ExampleProject;
  const ok = async (args: string[], input?: string): Promise<SlipwayRun> => {
    const run = await notes.slipway(args, input === undefined ? {} : { input });
    assert.equal(run.code, 0, `slipway ${args.join(" ")}:\n${run.stdout}\n${run.stderr}`);
    return run;
  };

  /** An HTTP request to the box's proxy, with a Host header when given; resolves status and JSON. */
  function call(
    method: string,
    path: string,
    host?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: box.ports[80],
          method,
          path,
          headers: { connection: "close", ...(host ? { host } : {}) },
          timeout: 10_000,
        },
        (res) => {
          let text = "";
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
            } catch {
              reject(new Error(`HTTP ${res.statusCode}: ${text}`));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
    });
  }

  async function writeConfig(extra: string[] = [], moreAccessories: string[] = []): Promise<void> {
    await writeFile(
      join(notes.dir, "slipway.yml"),
      [
        "service: notes",
        "image: notes",
        "build:",
        `  args: { BASE: "${NODE_IMAGE}" }`,
        "servers:",
        `  web: [${box.host}]`,
        "ssh:",
        `  port: ${box.port}`,
        `  keys: [${box.clientKey}]`,
        "proxy:",
        `  image: ${NGINX_IMAGE}`,
        "  drain_timeout: 1s",
        "  healthcheck: { interval: 500ms, deadline: 30s }",
        "deploy:",
        "  release_command: node server.mjs migrate",
        "accessories:",
        "  db:",
        "    engine: postgres",
        `    image: ${POSTGRES_IMAGE}`,
        "    tuning: { max_connections: 50 }",
        "  cache:",
        "    engine: redis",
        `    image: ${REDIS_IMAGE}`,
        "    memory: 256mb",
        "  reports:",
        "    engine: mariadb",
        `    image: ${MARIADB_IMAGE}`,
        "    url_env: REPORTS_URL",
        ...moreAccessories,
        "env:",
        "  clear: { NODE_ENV: production }",
        "  secret: [SESSION_SECRET]",
        "environments:",
        "  staging:",
        "    proxy: { domains: [staging.notes.test] }",
        ...extra,
        "",
      ].join("\n"),
    );
  }

  /** The app's password for an accessory, read from where Slipway keeps it on the host. */
  async function password(site: string, accessory: string): Promise<string> {
    const json = await box.exec([
      "cat",
      `/var/lib/slipway/${site}/accessories/${accessory}/credentials.json`,
    ]);
    return (JSON.parse(json) as { password: string }).password;
  }

  async function containerState(name: string): Promise<string> {
    return (
      await box.exec([
        "sh",
        "-c",
        'docker inspect --format "{{.State.Status}}" "$1" 2>/dev/null || echo absent',
        "sh",
        name,
      ])
    ).trim();
  }

  /**
   * Whether a container on `network` can open a connection to target:port. curl (in the proxy's
   * image) fails to resolve (6), to connect (7) or in time (28) when nothing can be reached.
   */
  async function probe(network: string, target: string, port: number): Promise<"open" | "closed"> {
    const code = await box.exec([
      "docker",
      "run",
      "--rm",
      "--network",
      network,
      "--entrypoint",
      "sh",
      NGINX_IMAGE,
      "-c",
      'curl -s -o /dev/null --max-time 3 "http://$1:$2/"; echo $?',
      "sh",
      target,
      String(port),
    ]);
    return ["6", "7", "28"].includes(code.trim()) ? "closed" : "open";
  }

  /**
   * Logs in from a throwaway container of `image` on the app's private network, as the app does,
   * the password on stdin (never argv); `script` reads it and prints who it is, or the error.
   */
  function loginFrom(image: string, script: string, user: string, secret: string) {
    return box.exec(
      [
        "docker",
        "run",
        "--rm",
        "-i",
        "--network",
        "slipway-notes",
        "--entrypoint",
        "sh",
        image,
        "-c",
        script,
        "sh",
        user,
      ],
      { input: `${secret}\n` },
    );
  }

  before(async () => {
    box = await startVpsBox({ publish: [80] });
    notes = await exampleProject("notes", [
      "Dockerfile",
      "server.mjs",
      "package.json",
      "package-lock.json",
      ".dockerignore",
    ]);
    await writeFile(join(notes.dir, ".slipway/secrets"), "SESSION_SECRET=first-session-secret\n");
    await writeConfig();
  });

  after(async () => {
    await box?.stop();
  });

  it("deploys the app with both accessories booted first; it writes and reads through the injected URLs", async () => {
    await ok(["server", "bootstrap"]);
    const run = await ok(["deploy", "--version", "v1"]);
    assert.match(run.stderr, /db: generated its credentials/);
    assert.match(
      run.stderr,
      /db: healthy[\s\S]*notes table ready/,
      "the database before the release command",
    );
    assert.match(run.stderr, /cache: healthy/);
    const written = await call("POST", "/notes?text=first");
    assert.equal(written.status, 201, JSON.stringify(written.body));
    assert.equal(written.body.written, 1);
    const read = await call("GET", "/notes");
    assert.deepEqual(
      (read.body.notes as { text: string }[]).map((n) => n.text),
      ["first"],
    );
    assert.equal(read.body.written, 1);
    // Tuning reached the engines.
    const maxConnections = await box.exec([
      "docker",
      "exec",
      "notes-db",
      "psql",
      "--tuples-only",
      "--no-align",
      "--command",
      "SHOW max_connections",
    ]);
    assert.equal(maxConnections.trim(), "50");
    // Through the console, which logs in with the password from the mounted secret file.
    const memory = (await ok(["db", "console", "cache"], "config get maxmemory\n")).stdout;
    assert.match(memory, /maxmemory\s+160432128$/m, "60% of its 256 MB limit, whole megabytes");
  });

  it("no password in any output, even --verbose, nor in the host's process list during a deploy", async () => {
    const secrets = [
      await password("notes", "db"),
      await password("notes", "cache"),
      await password("notes", "reports"),
    ];
    const seen: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.push(await box.exec(["ps", "-eo", "args"]));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const run = await ok(["deploy", "--version", "v2", "--verbose"]);
    watching = false;
    await watcher;
    assert.ok(seen.length > 10, `only ${seen.length} process lists`);
    assert.ok(
      seen.some((list) => list.includes("postgres")),
      "the lists show the database",
    );
    for (const secret of secrets) {
      assert.ok(!(run.stdout + run.stderr).includes(secret), "a password in slipway's output");
      assert.ok(!seen.some((list) => list.includes(secret)), "a password in the host's ps");
    }
    const consoleRun = await notes.slipway([
      "accessory",
      "exec",
      "db",
      "--",
      "sh",
      "-c",
      'echo "$POSTGRES_PASSWORD"',
    ]);
    assert.equal(consoleRun.code, 0, consoleRun.stderr);
    assert.doesNotMatch(
      consoleRun.stdout,
      new RegExp(secrets[0] ?? "x"),
      "exec output is redacted too",
    );
    assert.match(consoleRun.stdout, /\[redacted\]/);
  });

  it("nothing of an accessory is reachable from outside its private network", async () => {
    const published = await box.exec([
      "sh",
      "-c",
      "docker port notes-db; docker port notes-cache; true",
    ]);
    assert.equal(published.trim(), "", "no published port");
    const listening = await box.exec(["sh", "-c", "ss -Hltn | awk '{print $4}'"]);
    assert.doesNotMatch(listening, /:(5432|6379)$/m, "nothing listens on the host for them");
    // A container on another network (the proxy's) cannot open a connection to them; one on the
    // app's network can, which shows the probe sees an open port.
    const dbIp = (
      await box.exec([
        "docker",
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        "notes-db",
      ])
    ).trim();
    assert.equal(await probe("slipway", dbIp, 5432), "closed", "by address from another network");
    assert.equal(
      await probe("slipway", "notes-db", 5432),
      "closed",
      "by name from another network",
    );
    assert.equal(await probe("slipway", "notes-cache", 6379), "closed");
    assert.equal(await probe("slipway-notes", "notes-db", 5432), "open", "from the app's network");
    assert.equal(await probe("slipway-notes", "notes-cache", 6379), "open");
  });

  /** `secrets rotate NAME --yes` while the app is read under load, which must not fail once. */
  async function rotateUnderLoad(name: string): Promise<SlipwayRun> {
    const load = startLoad(`http://127.0.0.1:${box.ports[80]}/notes`, {
      concurrency: 2,
      maxMs: 180_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    const run = await ok(["secrets", "rotate", name, "--yes"]);
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    assert.equal(
      report.failed,
      0,
      `${report.failed} of ${report.requests}: ${report.failures.join("; ")}`,
    );
    assert.ok(report.requests > 20, `only ${report.requests} requests`);
    return run;
  }

  /** Waits until the app answers GET /notes again, and returns the texts it lists. */
  async function notesWithin(ms: number): Promise<string[]> {
    const deadline = Date.now() + ms;
    let last = "";
    for (;;) {
      const read = await call("GET", "/notes").catch(
        (e: Error): { status: number; body: Record<string, unknown> } => ({
          status: 0,
          body: { error: e.message },
        }),
      );
      last = JSON.stringify(read.body);
      if (read.status === 200) return (read.body.notes as { text: string }[]).map((n) => n.text);
      assert.ok(Date.now() < deadline, `not back within ${ms / 1000}s: ${last}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  it("comes back, data and all, after the engine restarts and after the whole box reboots", async () => {
    await box.exec(["systemctl", "restart", "docker"], { timeoutMs: 120_000 });
    assert.deepEqual(await notesWithin(90_000), ["first"]);
    for (const name of ["notes-db", "notes-cache"]) {
      assert.equal(await containerState(name), "running");
    }
    // systemd (PID 1 of the box) starts anew: a boot, not a restart of services.
    const init = () => box.exec(["ps", "-o", "lstart=", "-p", "1"]);
    const before = await init();
    await box.reboot();
    assert.notEqual(await init(), before, "the box booted again");
    assert.deepEqual(await notesWithin(120_000), ["first"]);
    for (const name of ["notes-db", "notes-cache", "notes-reports", "slipway-proxy"]) {
      assert.equal(await containerState(name), "running");
    }
  });

  it("boot again changes nothing; remove without flags changes nothing; with --yes the data survives", async () => {
    const again = await ok(["accessory", "boot"]);
    assert.match(
      again.stdout,
      /db on 127\.0\.0\.1: already running as configured, nothing changed/,
    );
    const dry = await ok(["accessory", "remove", "db"]);
    assert.match(dry.stdout, /Nothing was changed: add --yes/);
    assert.equal(await containerState("notes-db"), "running");

    const removed = await ok(["accessory", "remove", "db", "--yes"]);
    assert.match(removed.stdout, /removed container notes-db; kept volume notes-db-data/);
    assert.equal(await containerState("notes-db"), "absent");
    assert.equal(
      (await box.exec(["docker", "volume", "ls", "--quiet"])).includes("notes-db-data"),
      true,
    );

    await ok(["accessory", "boot", "db"]);
    const read = await call("GET", "/notes");
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(
      (read.body.notes as { text: string }[]).map((n) => n.text),
      ["first"],
    );
  });

  it("rotating the database password keeps the app serving throughout; the old one is retired", async () => {
    const before = await password("notes", "db");
    const dry = await ok(["secrets", "rotate", "db"]);
    assert.match(dry.stdout, /Nothing was changed: add --yes/);
    assert.equal(await password("notes", "db"), before);

    const run = await rotateUnderLoad("db");
    assert.match(
      run.stdout,
      /db: the app now logs in as notes_b with a new password; notes's old password is retired/,
    );

    const after = JSON.parse(
      await box.exec(["cat", "/var/lib/slipway/notes/accessories/db/credentials.json"]),
    ) as { user: string; password: string };
    assert.equal(after.user, "notes_b");
    assert.notEqual(after.password, before);
    assert.ok(
      !(run.stdout + run.stderr).includes(after.password),
      "the new password in the output",
    );
    // Over TCP, as the app logs in: the new login works, the old password no longer does.
    // From another container on the private network, as the app logs in (inside its own container
    // Postgres trusts 127.0.0.1, as the official image does).
    const login = (user: string, secret: string) =>
      loginFrom(
        POSTGRES_IMAGE,
        'read -r PGPASSWORD; export PGPASSWORD; psql -h notes-db -U "$1" -d notes -tAc "select current_user" 2>&1 || true',
        user,
        secret,
      );
    assert.equal((await login("notes_b", after.password)).trim(), "notes", "acts as the owner");
    assert.match(await login("notes", before), /password authentication failed/);
    // The notes written before are still the app's.
    assert.deepEqual(await notesWithin(10_000), ["first"]);

    // And a secret of env.secret: new value, the app restarted with it, the hosts agree.
    const secretRun = await ok(["secrets", "rotate", "SESSION_SECRET", "--yes"]);
    assert.match(
      secretRun.stdout,
      /SESSION_SECRET: new value in .*secrets \(the previous file is kept as .*secrets\.previous\)/,
    );
    const diff = await ok(["secrets", "diff"]);
    assert.match(diff.stdout, /127\.0\.0\.1 web SESSION_SECRET: same/);
    assert.ok(
      !(secretRun.stdout + secretRun.stderr + diff.stdout).includes("first-session-secret"),
    );
  });

  it("MariaDB beside them: healthy, its app user in its database, its URL in the app's env (redacted); rotated twice, db console still logs in and boot finds it as configured", async () => {
    const query = await ok([
      "accessory",
      "exec",
      "reports",
      "--",
      "sh",
      "-c",
      'MYSQL_PWD="$MARIADB_PASSWORD" mariadb -u"$MARIADB_USER" "$MARIADB_DATABASE" -N -e "select 1 + 1, database()"',
    ]);
    assert.match(query.stdout, /^2\s+notes$/m);
    const env = await ok(["exec", "web", "--", "printenv", "REPORTS_URL"]);
    assert.match(env.stdout, /^mysql:\/\/notes:\[redacted\]@notes-reports:3306\/notes$/m);

    // Rotated: the app's env names the second user, whose new password works; the old one is retired.
    const before = await password("notes", "reports");
    const rotated = await ok(["secrets", "rotate", "reports", "--yes"]);
    assert.match(rotated.stdout, /reports: the app now logs in as notes_b/);
    const after = await password("notes", "reports");
    const rotatedEnv = await ok(["exec", "web", "--", "printenv", "REPORTS_URL"]);
    assert.match(rotatedEnv.stdout, /^mysql:\/\/notes_b:\[redacted\]@notes-reports:3306\/notes$/m);
    const login = (user: string, secret: string) =>
      loginFrom(
        MARIADB_IMAGE,
        'read -r MYSQL_PWD; export MYSQL_PWD; mariadb -h notes-reports -u"$1" notes -N -e "select current_user()" 2>&1 || true',
        user,
        secret,
      );
    assert.match(await login("notes_b", after), /^notes_b@%$/m);
    assert.match(await login("notes", before), /Access denied/);

    // The console logs in as root, whose password no rotation changes: after any number of them.
    const consoleAs = async () =>
      (
        await ok(
          ["db", "console", "reports"],
          "select concat('as:', current_user(), ':', database());\n",
        )
      ).stdout;
    assert.match(await consoleAs(), /^as:root@localhost:notes$/m);
    const back = await ok(["secrets", "rotate", "reports", "--yes"]);
    assert.match(
      back.stdout,
      /reports: the app now logs in as notes with a new password; notes_b's old password is retired/,
    );
    assert.match(await consoleAs(), /^as:root@localhost:notes$/m);
    // A rotation alone changes no setting: boot finds each accessory as configured (the db's
    // password was rotated in the test before this one).
    const boot = await ok(["accessory", "boot"]);
    assert.doesNotMatch(boot.stdout + boot.stderr, /other settings/);
    assert.match(boot.stdout, /reports on 127\.0\.0\.1: already running as configured/);
    assert.match(boot.stdout, /db on 127\.0\.0\.1: already running as configured/);
  });

  it("rotating the Redis password under load: the old one is refused, the new one survives a restart of Redis", async () => {
    const before = await password("notes", "cache");
    const run = await rotateUnderLoad("cache");
    assert.match(
      run.stdout,
      /cache: the app now logs in with a new password; the old one is retired/,
    );
    const after = await password("notes", "cache");
    assert.notEqual(after, before);
    assert.ok(!(run.stdout + run.stderr).includes(after), "the new password in the output");
    // From the app's network, as the app logs in (the password on stdin, into REDISCLI_AUTH).
    const ping = (secret: string) =>
      loginFrom(
        REDIS_IMAGE,
        "read -r REDISCLI_AUTH; export REDISCLI_AUTH; redis-cli -h notes-cache ping 2>&1 || true",
        "",
        secret,
      );
    assert.equal((await ping(after)).trim(), "PONG");
    assert.match(await ping(before), /WRONGPASS|invalid password/);
    // Redis keeps passwords in memory only: restarted, it must read the new one.
    await box.exec(["docker", "restart", "notes-cache"], { timeoutMs: 120_000 });
    let answer = "";
    for (let i = 0; i < 60 && answer !== "PONG"; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      answer = (await ping(after)).trim();
    }
    assert.equal(answer, "PONG", "the new password after a restart");
    assert.match(await ping(before), /WRONGPASS|invalid password/);
    assert.deepEqual(await notesWithin(30_000), ["first"]);
  });

  it("db console logs in; stop and start keep the data; upgrade refuses a Postgres major version and moves Redis to another tag on the same data", async () => {
    const consoleRun = await notes.slipway(["db", "console", "db"], {
      input: "select 'count:' || count(*) from notes;\n",
    });
    assert.equal(consoleRun.code, 0, consoleRun.stderr);
    assert.match(consoleRun.stdout, /count:1/);

    // On a terminal (script(1) gives it one) psql gets one too: its prompt shows, as a person sees it.
    const onTerminal = await new Promise<SlipwayRun>((resolve) => {
      // A terminal of a usual size (script's own has none when its input is not a terminal).
      const command = `stty rows 40 cols 120; ${[process.execPath, BIN, "db", "console", "db"].map((w) => `'${w}'`).join(" ")}`;
      const child = spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], {
        timeout: 60_000,
        cwd: notes.dir,
        env: notes.env,
      });
      let stdout = "";
      child.stdout.on("data", (c) => {
        stdout += c;
      });
      child.on("close", (code) => resolve({ code, stdout, stderr: "" }));
      child.stdin.write("select 'count:' || count(*) from notes;\n\\q\n");
    });
    assert.equal(onTerminal.code, 0, onTerminal.stdout);
    assert.match(onTerminal.stdout, /notes=# select 'count:'/, "psql's prompt");
    assert.match(onTerminal.stdout, /count:1/);

    assert.match(
      (await ok(["accessory", "stop", "cache"])).stdout,
      /cache on 127\.0\.0\.1: stopped/,
    );
    assert.equal(await containerState("notes-cache"), "exited");
    assert.match((await ok(["accessory", "start", "cache"])).stdout, /started, healthy/);

    const major = await notes.slipway(["accessory", "upgrade", "db", "--to", "16"]);
    assert.equal(major.code, 1);
    assert.match(major.stderr, /Postgres 15 -> 16 is a major upgrade/);
    assert.match(major.stderr, /pg_dumpall/);

    execFileSync("podman", ["tag", REDIS_IMAGE, "localhost/slipway-redis:7.0"]);
    try {
      const written = (await call("GET", "/notes")).body.written;
      const upgraded = await ok(["accessory", "upgrade", "cache", "--to", "7.0"]);
      assert.match(
        upgraded.stdout,
        /localhost\/slipway-redis:7 -> localhost\/slipway-redis:7\.0, healthy/,
      );
      const image = await box.exec([
        "docker",
        "inspect",
        "--format",
        "{{.Config.Image}}",
        "notes-cache",
      ]);
      assert.equal(image.trim(), "localhost/slipway-redis:7.0");
      assert.equal((await call("GET", "/notes")).body.written, written, "the counter survived");
    } finally {
      execFileSync("podman", ["untag", REDIS_IMAGE, "localhost/slipway-redis:7.0"]);
    }
  });

  it("a generic accessory: its image and command, its secret only in its env file, private unless published, its volume kept", async () => {
    // A small key-value service on the node image: it wants a token, keeps values in /data.
    const server = [
      "const http = require('node:http'), fs = require('node:fs');",
      "http.createServer((req, res) => {",
      "  if (req.url === '/health') return res.end('ok');",
      "  if (req.headers['x-token'] !== process.env.KV_TOKEN) { res.statusCode = 401; return res.end(); }",
      "  const file = process.env.KV_DIR + '/' + encodeURIComponent(req.url.slice(1));",
      "  if (req.method === 'PUT') { const body = []; req.on('data', (c) => body.push(c));",
      "    return req.on('end', () => { fs.writeFileSync(file, Buffer.concat(body)); res.statusCode = 204; res.end(); }); }",
      "  fs.readFile(file, (e, data) => { res.statusCode = e ? 404 : 200; res.end(e ? '' : data); });",
      "}).listen(7000);",
      // As PID 1, node has no default SIGTERM handler: without this, a stop waits its full timeout.
      "process.on('SIGTERM', () => process.exit(0));",
    ].join(" ");
    const health =
      "fetch('http://127.0.0.1:7000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))";
    const token = "kv-token-0123456789abcdef";
    await appendFile(join(notes.dir, ".slipway/secrets"), `KV_TOKEN=${token}\n`);
    await writeConfig(
      [],
      [
        "  kv:",
        "    engine: generic",
        `    image: ${NODE_IMAGE}`,
        `    cmd: ${JSON.stringify(["node", "-e", server])}`,
        `    healthcheck: ${JSON.stringify(["node", "-e", health])}`,
        '    volume: "kv:/data"',
        "    port: 7000",
        "    publish: 17000",
        "    env:",
        "      clear: { KV_DIR: /data }",
        "      secret: [KV_TOKEN]",
      ],
    );
    try {
      const boot = await ok(["accessory", "boot", "kv"]);
      assert.match(
        boot.stderr,
        /kv: starting notes-kv \(localhost\/slipway-node:24, volume notes-kv\)/,
      );
      assert.match(boot.stderr, /kv: healthy/);
      assert.doesNotMatch(boot.stderr, /credentials/, "a generic accessory gets no generated ones");
      assert.ok(!(boot.stdout + boot.stderr).includes(token), "the token in the output");
      const files = await box.exec(["ls", "/var/lib/slipway/notes/accessories/kv"]);
      assert.equal(files.trim(), "container.env");
      const args = await box.exec([
        "docker",
        "inspect",
        "--format",
        "{{json .Config.Cmd}} {{json .Args}} {{json .Config.Healthcheck}}",
        "notes-kv",
      ]);
      assert.ok(!args.includes(token), "the token in the container's command");
      assert.ok(!(await box.exec(["ps", "-eo", "args"])).includes(token), "the token in ps");
      assert.match(
        await box.exec([
          "stat",
          "-c",
          "%a %U",
          "/var/lib/slipway/notes/accessories/kv/container.env",
        ]),
        /^600 root$/m,
      );

      // Published on the host's loopback only, and there it works with the token.
      const kv = (script: string) => box.exec(["sh", "-c", script, "sh"], { input: `${token}\n` });
      const put = await kv(
        'read -r t; curl -s -o /dev/null -w "%{http_code}" -X PUT -H "x-token: $t" --data-binary kept http://127.0.0.1:17000/greeting',
      );
      assert.equal(put, "204");
      const read = 'read -r t; curl -s -H "x-token: $t" http://127.0.0.1:17000/greeting';
      assert.equal(await kv(read), "kept");
      assert.equal(
        await kv('curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:17000/greeting'),
        "401",
        "it sees its own secret: without the token it refuses",
      );
      const listening = await box.exec(["sh", "-c", "ss -Hltn | awk '{print $4}'"]);
      assert.match(listening, /^127\.0\.0\.1:17000$/m);
      assert.doesNotMatch(listening, /^(0\.0\.0\.0|\*|\[::\]):17000$/m);
      assert.equal(
        await probe("slipway-notes", "notes-kv", 7000),
        "open",
        "from the app's network",
      );
      assert.equal(await probe("slipway", "notes-kv", 7000), "closed", "from another network");

      const diff = await ok(["secrets", "diff"]);
      assert.match(diff.stdout, /^127\.0\.0\.1 accessory kv KV_TOKEN: same$/m);

      // Restarted on the same volume: the value is still there; no console, no rotation for it.
      assert.match((await ok(["accessory", "restart", "kv"])).stdout, /kv on 127\.0\.0\.1/);
      assert.equal(await kv(read), "kept");
      const consoleRun = await notes.slipway(["db", "console", "kv"]);
      assert.equal(consoleRun.code, 1);
      assert.match(consoleRun.stderr, /kv is generic: Slipway knows no console for it/);
      const rotate = await notes.slipway(["secrets", "rotate", "kv", "--yes"]);
      assert.equal(rotate.code, 1);
      assert.match(rotate.stderr, /kv is generic: Slipway keeps no password of it/);

      const removed = await ok(["accessory", "remove", "kv", "--yes"]);
      assert.match(removed.stdout, /removed container notes-kv; kept volume notes-kv/);
    } finally {
      await writeConfig();
    }
  });

  it("staging on the same host has its own accessories and data", async () => {
    await ok(["deploy", "-d", "staging", "--version", "s1"]);
    for (const name of ["notes-staging-db", "notes-staging-cache"]) {
      assert.equal(await containerState(name), "running");
    }
    const staged = await call("POST", "/notes?text=staged", "staging.notes.test");
    assert.equal(staged.status, 201, JSON.stringify(staged.body));
    assert.equal(staged.body.written, 1, "staging's own Redis");
    const staging = await call("GET", "/notes", "staging.notes.test");
    assert.deepEqual(
      (staging.body.notes as { text: string }[]).map((n) => n.text),
      ["staged"],
    );
    const production = await call("GET", "/notes");
    assert.deepEqual(
      (production.body.notes as { text: string }[]).map((n) => n.text),
      ["first"],
    );
    assert.notEqual(await password("notes-staging", "db"), await password("notes", "db"));
  });
});
