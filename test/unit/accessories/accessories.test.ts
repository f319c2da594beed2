/**
 * Accessory planning: every engine's container argv holds no secret (the host's `ps` sees all of
 * it), credentials reach the container through its env file, URLs point at the private network,
 * nothing is published unless asked, and tuning follows memory with overrides winning.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  accessoryImage,
  accessoryUrl,
  ENGINES,
  type EngineName,
  generateCredentials,
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

  it("mongodb (no server can run here, so by exact argv): the console logs in from the environment", () => {
    const consoleArgv = ENGINES.mongodb.console;
    assert.deepEqual(consoleArgv.slice(0, 5), ["mongosh", "--nodb", "--norc", "--shell", "--eval"]);
    assert.match(consoleArgv[5] ?? "", /process\.env/);
    assert.doesNotMatch(
      consoleArgv.join(" "),
      /\$MONGO_INITDB_ROOT_PASSWORD/,
      "a shell would put it in argv",
    );
    assert.deepEqual(ENGINES.mongodb.healthCheck, [
      "mongosh",
      "--quiet",
      "--norc",
      "--eval",
      "db.adminCommand('ping').ok",
    ]);
    assert.deepEqual(plan("mongodb").container.cmd, ["mongod", "--wiredTigerCacheSizeGB", "1.00"]);
    assert.match(plan("mongodb").envFile.content, /^MONGO_INITDB_ROOT_PASSWORD=app-Secret/m);
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

  it("other engines say they are not supported yet", () => {
    assert.throws(
      () => planRotation("mongodb", first, "x"),
      /rotating a mongodb password is not supported yet \(Postgres, MySQL, MariaDB and Redis are\)/,
    );
  });
});
