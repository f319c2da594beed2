/**
 * Accessory planning: every engine's container argv holds no secret (the host's `ps` sees all of
 * it), credentials reach the container through its env file, URLs point at the private network,
 * nothing is published unless asked, and tuning follows memory with overrides winning.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  accessoryImage,
  accessorySpec,
  accessoryUrl,
  ENGINES,
  type EngineName,
  generateCredentials,
  influxRotation,
  planAccessory,
  planRotation,
  privateNetwork,
  tuneAccessory,
} from "../../../src/accessories/index.ts";
import { dockerRun } from "../../../src/engine/index.ts";

const GiB = 1024 ** 3;
const credentials = {
  user: "hello",
  password: "app-Secret_0123456789abcdefghij",
  database: "hello",
  rootPassword: "root-Secret_0123456789abcdefghij",
};
const engines = Object.keys(ENGINES) as EngineName[];

function plan(engine: EngineName, extra: Partial<Parameters<typeof planAccessory>[3]> = {}) {
  return planAccessory(
    "hello-staging",
    "staging",
    "hello",
    {
      name: "db",
      engine,
      version: undefined,
      image: undefined,
      volume: undefined,
      publish: undefined,
      env: {},
      settings: tuneAccessory({ engine, memoryBytes: 4 * GiB, dedicated: false, overrides: {} }),
      memoryBytes: undefined,
      ...extra,
    },
    credentials,
  );
}

/** A generic accessory of the site "hello" (production): no engine, no credentials. */
function generic(extra: Partial<Parameters<typeof planAccessory>[3]> & { name: string }) {
  return planAccessory(
    "hello",
    undefined,
    "hello",
    {
      engine: "generic",
      version: undefined,
      image: undefined,
      volume: undefined,
      publish: undefined,
      env: {},
      settings: {},
      memoryBytes: undefined,
      ...extra,
    },
    undefined,
  );
}

describe("accessory containers", () => {
  for (const engine of engines) {
    it(`${engine}: no secret in argv, health check or console; all of them in its 0600 files`, () => {
      const p = plan(engine);
      const argv = [
        ...dockerRun(p.container),
        ...ENGINES[engine].healthCheck,
        ...ENGINES[engine].console,
      ];
      for (const secret of [credentials.password, credentials.rootPassword]) {
        assert.ok(!argv.some((word) => word.includes(secret)), `${secret} in ${argv.join(" ")}`);
      }
      const kept = [p.envFile, ...p.secretFiles].map((f) => f.content).join("\n");
      assert.ok(kept.includes(credentials.password), kept);
      assert.equal(p.envFile.path, "/var/lib/slipway/hello-staging/accessories/db/container.env");
    });

    it(`${engine}: on the site's private network only, its data on a named volume, restarted, logs rotated`, () => {
      const argv = dockerRun(plan(engine).container);
      const value = (flag: string) => argv[argv.indexOf(flag) + 1];
      assert.equal(value("--network"), "slipway-hello-staging");
      assert.equal(value("--name"), "hello-staging-db");
      assert.equal(value("--volume"), `hello-staging-db-data:${ENGINES[engine].dataPath}`);
      assert.equal(value("--restart"), "unless-stopped");
      assert.equal(value("--log-opt"), "max-size=10m");
      assert.ok(!argv.includes("--publish"), "published though nobody asked");
      assert.ok(argv.includes("slipway.accessory=db"));
      assert.ok(argv.includes("slipway.environment=staging"));
    });
  }

  it("a named volume is the site's (staging never opens production's), a host path is as given", () => {
    const volume = (v: string) => {
      const argv = dockerRun(plan("postgres", { volume: v }).container);
      return argv[argv.indexOf("--volume") + 1];
    };
    assert.equal(volume("pgdata"), "hello-staging-pgdata:/var/lib/postgresql/data");
    assert.equal(volume("/srv/pg"), "/srv/pg:/var/lib/postgresql/data");
  });

  it("generic: its image, command, port, volume path, health check and env file; no credentials", () => {
    const p = generic({
      name: "queue",
      image: "nats:2.10",
      volume: "jetstream:/data",
      publish: { address: "127.0.0.1", port: 14222 },
      env: { NATS_TOKEN: "tok-Secret_0123456789", LOG: "info" },
      port: 4222,
      cmd: ["nats-server", "--jetstream", "--store_dir", "/data"],
      healthcheck: ["wget", "-q", "-O-", "http://127.0.0.1:8222/healthz"],
    });
    const argv = dockerRun(p.container);
    const value = (flag: string) => argv[argv.indexOf(flag) + 1];
    assert.equal(p.engine, undefined);
    assert.equal(value("--name"), "hello-queue");
    assert.equal(value("--network"), "slipway-hello");
    assert.equal(value("--volume"), "hello-jetstream:/data");
    assert.equal(value("--publish"), "127.0.0.1:14222:4222");
    assert.equal(value("--restart"), "unless-stopped");
    assert.ok(argv.includes("slipway.engine=generic"), argv.join(" "));
    assert.deepEqual(argv.slice(argv.indexOf("nats:2.10")), [
      "nats:2.10",
      "nats-server",
      "--jetstream",
      "--store_dir",
      "/data",
    ]);
    assert.deepEqual(p.container.health?.cmd, [
      "wget",
      "-q",
      "-O-",
      "http://127.0.0.1:8222/healthz",
    ]);
    assert.ok(!argv.join(" ").includes("tok-Secret"), "a secret in argv");
    assert.equal(p.envFile.content, "LOG=info\nNATS_TOKEN=tok-Secret_0123456789\n");
  });

  it("generic without volume or health check: nothing mounted, the image's own HEALTHCHECK", () => {
    const p = generic({ name: "mail", image: "localhost/mailpit:1" });
    const argv = dockerRun(p.container);
    assert.ok(!argv.includes("--volume"), argv.join(" "));
    assert.ok(!argv.some((word) => word.startsWith("--health")), argv.join(" "));
    assert.equal(argv.at(-1), "localhost/mailpit:1");
  });

  it("publishes on the address asked for, to the engine's port", () => {
    const argv = dockerRun(
      plan("postgres", { publish: { address: "127.0.0.1", port: 15432 } }).container,
    );
    assert.equal(argv[argv.indexOf("--publish") + 1], "127.0.0.1:15432:5432");
  });

  it("a host path instead of a volume, a memory limit, the image's own name and version", () => {
    const argv = dockerRun(
      plan("redis", { volume: "/srv/redis", memoryBytes: 256 * 1024 * 1024, version: "7.2" })
        .container,
    );
    assert.equal(argv[argv.indexOf("--volume") + 1], "/srv/redis:/data");
    assert.equal(argv[argv.indexOf("--memory") + 1], String(256 * 1024 * 1024));
    assert.ok(argv.includes("redis:7.2"));
    assert.equal(
      accessoryImage({ engine: "postgres", version: undefined, image: undefined }),
      "postgres:16",
    );
    assert.equal(
      accessoryImage({ engine: "postgres", version: "15", image: "localhost/slipway-postgres:15" }),
      "localhost/slipway-postgres:15",
    );
    assert.equal(
      accessoryImage({ engine: "mongodb", version: "7.0", image: undefined }),
      "mongo:7.0",
    );
  });

  it("postgres: tuning as -c arguments to postgres", () => {
    const cmd = plan("postgres").container.cmd ?? [];
    assert.deepEqual(cmd.slice(0, 3), ["postgres", "-c", "shared_buffers=1024MB"]);
    assert.ok(cmd.includes("effective_cache_size=3072MB"), cmd.join(" "));
  });

  it("redis: the password from its mounted secret file into a config file by the shell, tuning as arguments", () => {
    const p = plan("redis");
    const cmd = p.container.cmd ?? [];
    assert.equal(cmd[0], "sh");
    assert.match(
      cmd[2] ?? "",
      /printf "requirepass %s\\n" "\$\(cat \/run\/slipway-secrets\/password\)" > \/tmp\/slipway-auth\.conf/,
    );
    assert.match(
      cmd[2] ?? "",
      /exec docker-entrypoint\.sh redis-server \/tmp\/slipway-auth\.conf "\$@"$/,
    );
    // The folder is mounted (not the file), so a rotation's new file shows in the container.
    assert.deepEqual(p.secretFiles, [
      {
        path: "/var/lib/slipway/hello-staging/accessories/db/secrets/password",
        content: credentials.password,
      },
    ]);
    const argv = dockerRun(p.container);
    assert.ok(
      argv.includes(
        "/var/lib/slipway/hello-staging/accessories/db/secrets:/run/slipway-secrets:ro",
      ),
      argv.join(" "),
    );
    assert.equal(p.envFile.content, "", "no password in the container's env (docker inspect)");
    assert.deepEqual(cmd.slice(3), [
      "redis",
      "--maxmemory",
      "1024mb",
      "--maxmemory-policy",
      "noeviction",
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
    ]);
  });

  it("mariadb and mysql: tuning as --options of the server", () => {
    assert.deepEqual(plan("mariadb").container.cmd, [
      "mariadbd",
      "--innodb-buffer-pool-size=1024M",
      "--max-connections=100",
    ]);
    assert.equal(plan("mysql").container.cmd?.[0], "mysqld");
    assert.match(plan("mysql").envFile.content, /^MYSQL_ROOT_PASSWORD=root-Secret/m);
    assert.match(plan("mariadb").envFile.content, /^MARIADB_USER=hello$/m);
  });

  it("mariadb and mysql: the console logs in as root (no rotation changes its password) to the app's database", () => {
    assert.deepEqual(ENGINES.mariadb.console, [
      "sh",
      "-c",
      'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb --user=root "$MARIADB_DATABASE"',
    ]);
    assert.deepEqual(ENGINES.mysql.console, [
      "sh",
      "-c",
      'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysql --user=root "$MYSQL_DATABASE"',
    ]);
  });

  it("mongodb (no server can run here, so by exact argv): the login of the day from mounted 0600 files, none in the env", () => {
    const p = plan("mongodb");
    assert.equal(
      p.envFile.content,
      "MONGO_INITDB_DATABASE=hello\n",
      "docker inspect shows no password",
    );
    assert.deepEqual(
      p.secretFiles.map((f) => [f.path.split("/").at(-1), f.content]),
      [
        ["user", "hello"],
        ["password", credentials.password],
      ],
    );
    // The entrypoint reads *_FILE only as the mongodb user: a root shell reads the files at every
    // start into its environment (it unsets them before it execs mongod); --auth always.
    assert.deepEqual(p.container.cmd, [
      "sh",
      "-c",
      'MONGO_INITDB_ROOT_USERNAME="$(cat /run/slipway-secrets/user)"; MONGO_INITDB_ROOT_PASSWORD="$(cat /run/slipway-secrets/password)"; export MONGO_INITDB_ROOT_USERNAME MONGO_INITDB_ROOT_PASSWORD; exec docker-entrypoint.sh mongod "$@"',
      "mongod",
      "--auth",
      "--wiredTigerCacheSizeGB",
      "1.00",
    ]);
    assert.ok(
      dockerRun(p.container).includes(
        "/var/lib/slipway/hello-staging/accessories/db/secrets:/run/slipway-secrets:ro",
      ),
    );
    assert.deepEqual(ENGINES.mongodb.console, [
      "mongosh",
      "--nodb",
      "--norc",
      "--shell",
      "--eval",
      "const r = (f) => require('fs').readFileSync('/run/slipway-secrets/' + f, 'utf8'), q = encodeURIComponent; db = connect('mongodb://' + q(r('user')) + ':' + q(r('password')) + '@127.0.0.1:27017/' + q(process.env.MONGO_INITDB_DATABASE) + '?authSource=admin');",
    ]);
    assert.deepEqual(ENGINES.mongodb.healthCheck, [
      "mongosh",
      "--quiet",
      "--norc",
      "--eval",
      "db.adminCommand('ping').ok",
    ]);
  });

  it("influxdb (no InfluxDB 2 can run here, so by exact argv): password and token through the image's *_FILE variables", () => {
    const p = plan("influxdb");
    assert.equal(
      p.envFile.content,
      [
        "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE=/run/slipway-secrets/token",
        "DOCKER_INFLUXDB_INIT_BUCKET=hello",
        "DOCKER_INFLUXDB_INIT_MODE=setup",
        "DOCKER_INFLUXDB_INIT_ORG=hello",
        "DOCKER_INFLUXDB_INIT_PASSWORD_FILE=/run/slipway-secrets/admin-password",
        "DOCKER_INFLUXDB_INIT_USERNAME=hello",
        "INFLUX_ORG=hello",
        "",
      ].join("\n"),
    );
    assert.deepEqual(
      p.secretFiles.map((f) => [f.path.split("/").at(-1), f.content]),
      [
        ["admin-password", credentials.rootPassword],
        ["token", credentials.password],
      ],
    );
    assert.equal(p.container.cmd, undefined, "the image's influxd");
    assert.deepEqual(ENGINES.influxdb.console, [
      "sh",
      "-c",
      'INFLUX_TOKEN="$(cat /run/slipway-secrets/token)" exec influx v1 shell',
    ]);
  });

  it("every shell script of an engine parses (sh -n)", () => {
    for (const engine of engines) {
      const definition = ENGINES[engine];
      for (const argv of [
        definition.healthCheck,
        definition.console,
        plan(engine).container.cmd ?? [],
      ]) {
        if (argv[0] !== "sh") continue;
        const check = spawnSync("sh", ["-n", "-c", argv[2] ?? ""], { encoding: "utf8" });
        assert.equal(check.status, 0, `${engine}: ${argv[2]}\n${check.stderr}`);
      }
    }
  });

  it("no shell passes a password variable as an argument (only into env or a file)", () => {
    for (const engine of engines) {
      const definition = ENGINES[engine];
      const scripts = [definition.healthCheck, definition.console, plan(engine).container.cmd ?? []]
        .filter((argv) => argv[0] === "sh")
        .map((argv) => argv[2] ?? "");
      for (const script of scripts) {
        // "$X_PASSWORD" may follow only an assignment (VAR="$X") or printf into a file.
        for (const use of script.matchAll(/(\S*)"\$\w*PASSWORD"/g)) {
          assert.match(use[1] ?? "", /^(\w+=|)$/, `${engine}: ${script}`);
          if (use[1] === "") assert.match(script, /printf [^>]*> \/tmp\//, `${engine}: ${script}`);
        }
      }
    }
  });

  it("the network name is the site's", () => {
    assert.equal(privateNetwork("hello"), "slipway-hello");
  });
});

describe("accessory URLs for the app", () => {
  const url = (engine: EngineName) => accessoryUrl("hello", { name: "db", engine }, credentials);
  it("point at the container's name on the private network, with the engine's scheme and port", () => {
    assert.equal(url("postgres"), `postgres://hello:${credentials.password}@hello-db:5432/hello`);
    assert.equal(url("mariadb"), `mysql://hello:${credentials.password}@hello-db:3306/hello`);
    assert.equal(url("redis"), `redis://:${credentials.password}@hello-db:6379/0`);
    assert.equal(
      url("mongodb"),
      `mongodb://hello:${credentials.password}@hello-db:27017/hello?authSource=admin`,
    );
    for (const engine of engines) assert.doesNotThrow(() => new URL(url(engine)));
  });

  it("escape what a URL cannot hold in user names", () => {
    const odd = { ...credentials, user: "a b@c" };
    assert.equal(
      accessoryUrl("hello", { name: "db", engine: "postgres" }, odd),
      `postgres://a%20b%40c:${credentials.password}@hello-db:5432/hello`,
    );
  });
});

describe("generated credentials", () => {
  it("are URL-safe, 32 characters, and new each time", () => {
    const a = generateCredentials("hello", "hello");
    const b = generateCredentials("hello", "hello");
    assert.match(a.password, /^[A-Za-z0-9_-]{32}$/);
    assert.match(a.rootPassword, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a.password, b.password);
    assert.notEqual(a.password, a.rootPassword);
  });
});

describe("tuning from memory", () => {
  it("postgres on a 4 GiB host: a quarter for shared buffers, three quarters as cache size", () => {
    assert.deepEqual(
      tuneAccessory({ engine: "postgres", memoryBytes: 4 * GiB, dedicated: false, overrides: {} }),
      {
        shared_buffers: "1024MB",
        effective_cache_size: "3072MB",
        work_mem: "10MB",
        maintenance_work_mem: "256MB",
        max_connections: "100",
      },
    );
  });

  it("overrides win, and fewer connections leave each more work_mem", () => {
    const tuned = tuneAccessory({
      engine: "postgres",
      memoryBytes: 4 * GiB,
      dedicated: false,
      overrides: { max_connections: 20, shared_buffers: "512MB" },
    });
    assert.equal(tuned.shared_buffers, "512MB");
    assert.equal(tuned.max_connections, "20");
    assert.equal(tuned.work_mem, "51MB");
  });

  it("a small host still gets usable values", () => {
    const tuned = tuneAccessory({
      engine: "postgres",
      memoryBytes: 512 * 1024 ** 2,
      dedicated: false,
      overrides: {},
    });
    assert.equal(tuned.shared_buffers, "128MB");
    assert.equal(tuned.work_mem, "4MB");
  });

  it("redis: a quarter of a shared host, more of its own limit; never evicts unless told", () => {
    assert.equal(
      tuneAccessory({ engine: "redis", memoryBytes: 2 * GiB, dedicated: false, overrides: {} })
        .maxmemory,
      "512mb",
    );
    const own = tuneAccessory({
      engine: "redis",
      memoryBytes: 1 * GiB,
      dedicated: true,
      overrides: { "maxmemory-policy": "allkeys-lru" },
    });
    assert.equal(own.maxmemory, "614mb");
    assert.equal(own["maxmemory-policy"], "allkeys-lru");
    assert.equal(own.appendfsync, "everysec");
  });

  it("mongodb: WiredTiger's cache in quarter gigabytes, at least 0.25", () => {
    assert.equal(
      tuneAccessory({ engine: "mongodb", memoryBytes: 4 * GiB, dedicated: false, overrides: {} })
        .wiredTigerCacheSizeGB,
      "1.00",
    );
    assert.equal(
      tuneAccessory({ engine: "mongodb", memoryBytes: GiB / 2, dedicated: false, overrides: {} })
        .wiredTigerCacheSizeGB,
      "0.25",
    );
  });
});

describe("password rotation (alternating logins)", () => {
  const first = { user: "hello", password: "old", database: "hello", rootPassword: "r" };

  it("moves the app to a second login that acts as the owner, then retires the first", () => {
    const plan = planRotation("postgres", first, "new-pass");
    assert.deepEqual(plan.next, {
      ...first,
      user: "hello_b",
      password: "new-pass",
      owner: "hello",
    });
    assert.equal(
      plan.prepare,
      [
        "DO $$ BEGIN",
        "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hello_b') THEN",
        '    CREATE ROLE "hello_b" LOGIN IN ROLE "hello";',
        "  END IF;",
        "END $$;",
        "ALTER ROLE \"hello_b\" SET role = 'hello';",
        "ALTER ROLE \"hello_b\" WITH LOGIN PASSWORD 'new-pass';",
        "",
      ].join("\n"),
    );
    assert.match(plan.retire("unknown"), /^ALTER ROLE "hello" WITH PASSWORD 'unknown';\n/);
    assert.match(plan.retire("unknown"), /usename = 'hello' AND pid <> pg_backend_pid\(\)/);
  });

  it("the next rotation goes back to the owner's login", () => {
    const second = planRotation("postgres", first, "p2").next;
    const third = planRotation("postgres", second, "p3");
    assert.equal(third.next.user, "hello");
    assert.equal(third.prepare, "ALTER ROLE \"hello\" WITH LOGIN PASSWORD 'p3';\n");
    assert.match(third.retire("x"), /ALTER ROLE "hello_b"/);
  });

  it("MariaDB and MySQL: a second user with the same grants, SQL as root with the password from env", () => {
    const plan = planRotation("mariadb", first, "n3w");
    assert.equal(plan.next.user, "hello_b");
    assert.deepEqual(plan.client, [
      "sh",
      "-c",
      'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb --user=root --batch',
    ]);
    assert.equal(
      plan.prepare,
      [
        "CREATE USER IF NOT EXISTS 'hello_b'@'%' IDENTIFIED BY 'n3w';",
        "ALTER USER 'hello_b'@'%' IDENTIFIED BY 'n3w';",
        "GRANT ALL PRIVILEGES ON `hello`.* TO 'hello_b'@'%';",
        "",
      ].join("\n"),
    );
    assert.equal(plan.retire("x"), "ALTER USER 'hello'@'%' IDENTIFIED BY 'x';\n");
    assert.match(
      planRotation("mysql", first, "n").client[2] ?? "",
      /\$MYSQL_ROOT_PASSWORD" exec mysql /,
    );
  });

  it("Redis: a second password of the same user, then the old one removed; every answer must be OK", () => {
    const plan = planRotation("redis", first, "new-Pass_1");
    assert.deepEqual(plan.next, { ...first, password: "new-Pass_1" });
    assert.equal(plan.prepare, "ACL SETUSER default on >new-Pass_1\n");
    assert.equal(plan.retire("ignored"), `ACL SETUSER default <${first.password}\n`);
    assert.ok(!plan.client.join(" ").includes(first.password), "a password in the client's argv");
    assert.match(
      plan.client.join(" "),
      /REDISCLI_AUTH="\$\(cat \/run\/slipway-secrets\/password\)"/,
    );
  });

  it("MongoDB (by its exact scripts: no server here): a second admin user with the owner's roles, logged in from the secret files", () => {
    const plan = planRotation("mongodb", first, "n3w'\"");
    assert.deepEqual(plan.next, { ...first, user: "hello_b", password: "n3w'\"", owner: "hello" });
    assert.deepEqual(plan.client, [
      "mongosh",
      "--nodb",
      "--quiet",
      "--norc",
      "--file",
      "/dev/stdin",
    ]);
    const login =
      "const r = (f) => require('fs').readFileSync('/run/slipway-secrets/' + f, 'utf8'), q = encodeURIComponent; const admin = connect('mongodb://' + q(r('user')) + ':' + q(r('password')) + '@127.0.0.1:27017/' + 'admin' + '?authSource=admin');";
    assert.equal(
      plan.prepare,
      [
        "try {",
        `  ${login}`,
        '  const roles = admin.getUser("hello").roles;',
        '  if (admin.getUser("hello_b")) admin.updateUser("hello_b", { pwd: "n3w\'\\"", roles });',
        '  else admin.createUser({ user: "hello_b", pwd: "n3w\'\\"", roles });',
        "} catch (error) {",
        "  print('slipway: ' + error.message);",
        "  quit(1);",
        "}",
        "",
      ].join("\n"),
    );
    // What mongosh runs is JavaScript that parses (mongosh's own globals aside).
    for (const script of [plan.prepare, plan.retire("x"), ENGINES.mongodb.console[5] ?? ""]) {
      assert.doesNotThrow(
        () => new Function("connect", "print", "quit", "require", script),
        script,
      );
    }
    // Retired after the files hold the new login: it logs in as hello_b and locks hello out.
    assert.match(plan.retire("x"), /\n {2}admin\.updateUser\("hello", \{ pwd: "x" \}\);\n\} catch/);
    // The next rotation goes back to the owner, who only gets a new password.
    const third = planRotation("mongodb", plan.next, "p3");
    assert.equal(third.next.user, "hello");
    assert.match(third.prepare, /\n {2}admin\.updateUser\("hello", \{ pwd: "p3" \}\);\n/);
    assert.doesNotMatch(third.prepare, /createUser/);
    assert.match(third.retire("y"), /admin\.updateUser\("hello_b", \{ pwd: "y" \}\)/);
  });
});

describe("InfluxDB token rotation (by exact argv and realistic influx output: no InfluxDB 2 here)", () => {
  const setup = {
    user: "notes",
    password: "s3tup-Token_0123456789abcdefghij",
    database: "notes",
    rootPassword: "admin-Pass_0123456789",
  };
  const token = (id: string, description: string, value: string) => ({
    id,
    description,
    token: value,
    status: "active",
    userName: "notes",
    userID: "0c8a4f6e1b2d3000",
    permissions: [
      "read:/authorizations",
      "write:/authorizations",
      "read:/buckets",
      "write:/buckets",
    ],
  });
  // influx prints JSON with tabs (json.Encoder with SetIndent("", "\t")).
  const print = (value: unknown) => `${JSON.stringify(value, null, "\t")}\n`;

  it("creates an operator token with the influx CLI, the old token from its file as INFLUX_TOKEN", () => {
    assert.deepEqual(influxRotation.create(setup, "slipway metrics 2026-12-01T21:00:00.000Z"), [
      "sh",
      "-c",
      'INFLUX_TOKEN="$(cat /run/slipway-secrets/token)" exec influx "$@"',
      "influx",
      "auth",
      "create",
      "--operator",
      "--user",
      "notes",
      "--org",
      "notes",
      "--description",
      "slipway metrics 2026-12-01T21:00:00.000Z",
      "--json",
    ]);
    assert.deepEqual(influxRotation.list().slice(3), ["influx", "auth", "list", "--json"]);
    assert.deepEqual(influxRotation.delete("0c8a4f6e1b2d4000").slice(3), [
      "influx",
      "auth",
      "delete",
      "--id",
      "0c8a4f6e1b2d4000",
    ]);
  });

  it("the app moves to the token and id InfluxDB printed; output without them fails without quoting it", () => {
    const created = print(token("0c8a4f6e1b2d4000", "slipway metrics …", "n3w-Token=="));
    assert.deepEqual(influxRotation.created(setup, created), {
      ...setup,
      password: "n3w-Token==",
      tokenId: "0c8a4f6e1b2d4000",
    });
    for (const bad of ["Error: could not write auth: 401 Unauthorized", print({ id: "x" }), ""]) {
      assert.throws(
        () => influxRotation.created(setup, bad),
        (error: Error) =>
          /printed no token and id as JSON/.test(error.message) &&
          !error.message.includes(bad || "\u0000"),
      );
    }
  });

  it("finds the old token by its value (InfluxDB before 2.9 lists values)", () => {
    const list = print([
      token("0c8a4f6e1b2d3001", "telegraf", "other-Token=="),
      token("0c8a4f6e1b2d3002", "notes's Token", setup.password),
      token("0c8a4f6e1b2d4000", "slipway metrics …", "n3w-Token=="),
    ]);
    assert.equal(influxRotation.previousId(setup, list), "0c8a4f6e1b2d3002");
  });

  it("finds setup's token by the description setup gives it when tokens are hashed (2.9: no values)", () => {
    const hashed = print([
      token("0c8a4f6e1b2d3001", "telegraf", ""),
      token("0c8a4f6e1b2d3002", "notes's Token", ""),
      token("0c8a4f6e1b2d4000", "slipway metrics …", ""),
    ]);
    assert.equal(influxRotation.setupDescription(setup), "notes's Token");
    assert.equal(influxRotation.previousId(setup, hashed), "0c8a4f6e1b2d3002");
    // Two with that description: which one the app used is unknown, so none is deleted.
    const twice = print([
      token("0c8a4f6e1b2d3002", "notes's Token", ""),
      token("0c8a4f6e1b2d3003", "notes's Token", ""),
    ]);
    assert.equal(influxRotation.previousId(setup, twice), undefined);
  });

  it("a token Slipway made is found by the id it kept, never by a description", () => {
    const rotated = { ...setup, password: "n3w-Token==", tokenId: "0c8a4f6e1b2d4000" };
    const list = print([
      token("0c8a4f6e1b2d3002", "notes's Token", ""),
      token("0c8a4f6e1b2d4000", "slipway metrics …", ""),
      token("0c8a4f6e1b2d5000", "slipway metrics …", ""),
    ]);
    assert.equal(influxRotation.previousId(rotated, list), "0c8a4f6e1b2d4000");
    assert.equal(
      influxRotation.previousId(rotated, print([token("0c8a4f6e1b2d3002", "notes's Token", "")])),
      undefined,
    );
  });

  it("nothing found: none deleted (an empty list prints null; unreadable output too)", () => {
    assert.equal(influxRotation.previousId(setup, print([token("1", "telegraf", "x")])), undefined);
    assert.equal(influxRotation.previousId(setup, "null\n"), undefined);
    assert.equal(influxRotation.previousId(setup, "Error: 401 Unauthorized"), undefined);
  });
});

describe("the spec digest (the accessory's label)", () => {
  const settings = (engine: EngineName) => ({
    name: "db",
    engine,
    version: undefined,
    image: undefined,
    volume: undefined,
    publish: undefined,
    env: {},
    settings: {},
    memoryBytes: undefined,
  });
  it("leaves out the login and passwords of the day: a rotation alone changes none; a setting does", () => {
    for (const engine of engines) {
      const before = accessorySpec("hello", undefined, "hello", settings(engine), credentials);
      let rotated: typeof credentials & { owner?: string; tokenId?: string } = credentials;
      for (let i = 0; i < 3; i++) {
        rotated =
          engine === "influxdb"
            ? { ...rotated, password: `t${i}`, tokenId: `id${i}` }
            : planRotation(engine, rotated, `p${i}`).next;
        assert.equal(
          accessorySpec("hello", undefined, "hello", settings(engine), rotated),
          before,
          `${engine} after rotation ${i + 1}`,
        );
      }
      assert.notEqual(
        accessorySpec("hello", undefined, "hello", { ...settings(engine), version: "99" }, rotated),
        before,
        `${engine}: another version`,
      );
      assert.notEqual(
        accessorySpec(
          "hello",
          undefined,
          "hello",
          { ...settings(engine), memoryBytes: GiB },
          credentials,
        ),
        before,
        `${engine}: a memory limit`,
      );
    }
  });
});
