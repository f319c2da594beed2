/**
 * The engine planners' exact argv: no password in any of them (the host's `ps` sees all), SQL on
 * stdin, and the tools and flags that make a consistent, complete dump.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkSnapshot,
  compareFacts,
  dockerPipedRun,
  type EngineTarget,
  mysqlCountSql,
  parseCounts,
  parseRedisKeys,
  parseRedisPersistence,
  planDump,
  planPipedDump,
  planRedisDump,
  planRedisPersistence,
  planRedisRestore,
  planRestore,
  planSnapshotSession,
} from "../../../src/backup/index.ts";

const pg: EngineTarget = {
  engine: "postgres",
  container: "hello-db",
  user: "hello",
  database: "hello",
};
const maria: EngineTarget = {
  engine: "mariadb",
  container: "hello-db",
  user: "hello",
  database: "it's",
};
const redis: EngineTarget = { engine: "redis", container: "hello-cache", user: "", database: "" };

describe("engine planners", () => {
  it("Postgres: globals, then the database in custom format, over the container's socket", () => {
    assert.deepEqual(planDump(pg), [
      {
        name: "globals",
        argv: [
          "docker",
          "exec",
          "hello-db",
          "pg_dumpall",
          "--username",
          "hello",
          "--globals-only",
          "--no-password",
        ],
      },
      {
        name: "database",
        argv: [
          "docker",
          "exec",
          "hello-db",
          "pg_dump",
          "--username",
          "hello",
          "--no-password",
          "--format=custom",
          "--compress=0",
          "--dbname",
          "hello",
        ],
      },
    ]);
    assert.deepEqual(planRestore(pg).at(1)?.argv, [
      "docker",
      "exec",
      "--interactive",
      "hello-db",
      "pg_restore",
      "--username",
      "hello",
      "--no-password",
      "--clean",
      "--if-exists",
      "--single-transaction",
      "--exit-on-error",
      "--dbname",
      "hello",
    ]);
  });

  it("MariaDB: one consistent snapshot with routines and events; the password from the container's env", () => {
    assert.deepEqual(planDump(maria), [
      {
        name: "database",
        argv: [
          "docker",
          "exec",
          "hello-db",
          "sh",
          "-c",
          `MYSQL_PWD="$MARIADB_ROOT_PASSWORD" exec mariadb-dump --user=root --single-transaction --routines --events --triggers --hex-blob --databases 'it'\\''s'`,
        ],
      },
    ]);
    const mysql = planDump({ ...maria, engine: "mysql", database: "app" })[0]?.argv.at(-1);
    assert.equal(
      mysql,
      `MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysqldump --user=root --single-transaction --routines --events --triggers --hex-blob --databases app`,
    );
    assert.deepEqual(planRestore(maria)[0]?.argv.slice(0, 4), [
      "docker",
      "exec",
      "--interactive",
      "hello-db",
    ]);
  });

  it("Redis: BGSAVE and LASTSAVE with REDISCLI_AUTH from the secret file", () => {
    const d = planRedisDump(redis);
    assert.deepEqual(d.bgsave, [
      "docker",
      "exec",
      "hello-cache",
      "sh",
      "-c",
      'REDISCLI_AUTH="$(cat /run/slipway-secrets/password)" exec redis-cli BGSAVE',
    ]);
  });

  it("Redis: where its data is, asked one setting at a time (Redis 6 knows no appenddirname)", () => {
    assert.deepEqual(planRedisPersistence(redis), [
      "docker",
      "exec",
      "hello-cache",
      "sh",
      "-c",
      'REDISCLI_AUTH="$(cat /run/slipway-secrets/password)"; export REDISCLI_AUTH; for p in dir dbfilename appendonly appendfilename appenddirname; do redis-cli --raw CONFIG GET "$p" || exit; done',
    ]);
    assert.deepEqual(
      parseRedisPersistence(
        "dir\n/data\ndbfilename\ndump.rdb\nappendonly\nyes\nappendfilename\nappendonly.aof\nappenddirname\nappendonlydir\n",
      ),
      {
        dir: "/data",
        dbfilename: "dump.rdb",
        appendonly: true,
        appendfilename: "appendonly.aof",
        appenddirname: "appendonlydir",
      },
    );
    // Redis 6: no appenddirname line at all; CRLF tolerated.
    assert.deepEqual(
      parseRedisPersistence(
        "dir\r\n/var/lib/redis\r\ndbfilename\r\nmy.rdb\r\nappendonly\r\nno\r\nappendfilename\r\nmine.aof\r\n",
      ),
      {
        dir: "/var/lib/redis",
        dbfilename: "my.rdb",
        appendonly: false,
        appendfilename: "mine.aof",
      },
    );
    assert.throws(() => parseRedisPersistence("NOAUTH Authentication required.\n"), /no dir/);
  });

  it("Redis restore: the RDB checked whole before anything moves, then made the AOF too", () => {
    const persistence = {
      dir: "/data",
      dbfilename: "dump.rdb",
      appendonly: false,
      appendfilename: "appendonly.aof",
      appenddirname: "appendonlydir",
    };
    const head = [
      "set -e",
      "umask 077",
      'cd "$1"',
      'trap \'rm -rf "$2.restoring" "$3.restoring"\' EXIT',
      'cat > "$2.restoring"',
      'redis-check-rdb "$2.restoring" >&2',
    ];
    const r = planRedisRestore(redis, "redis:7", persistence);
    assert.deepEqual(r.stop, ["docker", "stop", "-t", "60", "hello-cache"]);
    assert.deepEqual(r.write, [
      "docker",
      "run",
      "--rm",
      "--interactive",
      "--volumes-from",
      "hello-cache",
      "--user",
      "redis",
      "--entrypoint",
      "sh",
      "redis:7",
      "-c",
      [...head, 'mv "$2.restoring" "$2"'].join("\n"),
      "sh",
      "/data",
      "dump.rdb",
      "appendonlydir",
      "appendonly.aof",
    ]);
    assert.deepEqual(r.start, ["docker", "start", "hello-cache"]);

    // Redis 7 with appendonly: a new multi-part AOF whose base is the RDB, swapped in whole.
    const aof = planRedisRestore(redis, "redis:7", { ...persistence, appendonly: true });
    assert.deepEqual(aof.writer.cmd, [
      "-c",
      [
        ...head,
        'rm -rf "$3.restoring" "$3.old"',
        'mkdir "$3.restoring"',
        'cp "$2.restoring" "$3.restoring/$4.1.base.rdb"',
        ': > "$3.restoring/$4.1.incr.aof"',
        'printf \'file %s seq 1 type b\\nfile %s seq 1 type i\\n\' "$4.1.base.rdb" "$4.1.incr.aof" > "$3.restoring/$4.manifest"',
        'mv "$2.restoring" "$2"',
        'if [ -e "$3" ]; then mv "$3" "$3.old"; fi',
        'mv "$3.restoring" "$3"',
        'rm -rf "$3.old"',
      ].join("\n"),
      "sh",
      "/data",
      "dump.rdb",
      "appendonlydir",
      "appendonly.aof",
    ]);

    // Before Redis 7: one AOF file, and the RDB (its preamble, whole) is that file.
    const { appenddirname: _, ...redis6 } = persistence;
    const single = planRedisRestore(redis, "redis:6", { ...redis6, appendonly: true });
    assert.deepEqual(single.writer.cmd, [
      "-c",
      [
        ...head,
        'cp "$2.restoring" "$3.restoring"',
        'mv "$2.restoring" "$2"',
        'mv "$3.restoring" "$3"',
      ].join("\n"),
      "sh",
      "/data",
      "dump.rdb",
      "appendonly.aof",
      "appendonly.aof",
    ]);
  });

  it("counts rows with quoted names, and parses counts and keys", () => {
    assert.equal(
      mysqlCountSql("app", ["a`b", "o'k"]),
      "SELECT 'app.a`b', COUNT(*) FROM `app`.`a``b`\nUNION ALL SELECT 'app.o''k', COUNT(*) FROM `app`.`o'k`;\n",
    );
    assert.deepEqual(parseCounts("public.t\t3\nother.x\t0\n\nbad line\n"), {
      "public.t": 3,
      "other.x": 0,
    });
    assert.equal(
      parseRedisKeys("# Keyspace\r\ndb0:keys=4,expires=0,avg_ttl=0\r\ndb1:keys=50,expires=1\r\n"),
      54,
    );
  });
});

describe("Postgres snapshot session", () => {
  it("exports a snapshot and counts in it; pg_dump dumps that snapshot", () => {
    const session = planSnapshotSession(pg);
    assert.deepEqual(session.argv, [
      "docker",
      "exec",
      "--interactive",
      "hello-db",
      "psql",
      "-XAtq",
      "-F",
      "\t",
      "-v",
      "ON_ERROR_STOP=1",
      "--username",
      "hello",
      "--dbname",
      "hello",
    ]);
    assert.match(
      session.begin,
      /^BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT 'snapshot', pg_export_snapshot\(\), current_setting\('server_version'\);\n/,
    );
    assert.match(session.begin, /SELECT 'slipway-counts-end';\n$/);
    assert.equal(session.end, "COMMIT;\n");
    assert.ok(
      planDump(pg, { snapshot: "00000003-0000001B-1" })[1]?.argv.includes(
        "--snapshot=00000003-0000001B-1",
      ),
    );
    assert.throws(() => planDump(pg, { snapshot: "x; DROP" }), /bad snapshot id/);
  });

  it("Postgres beside its container: the same dump over the shared loopback, into the FIFO, once its snapshot came", () => {
    const step = planPipedDump(pg);
    assert.equal(step.entrypoint, "sh");
    assert.equal(step.args[0], "-c");
    assert.match(
      step.args[1] ?? "",
      /read -r snapshot < "\$1".*exec stdbuf -o1M pg_dump --snapshot="\$snapshot" "\$@" > "\$out"\nexec pg_dump --snapshot="\$snapshot" "\$@" > "\$out"$/s,
    );
    assert.deepEqual(step, {
      name: "database",
      beside: "hello-db",
      program: "pg_dump",
      entrypoint: "sh",
      awaits: "snapshot",
      args: [
        "-c",
        step.args[1],
        "pg_dump",
        "/slipway-pipe/snapshot",
        "/slipway-pipe/dump",
        "--host=127.0.0.1",
        "--username",
        "hello",
        "--no-password",
        "--format=custom",
        "--compress=0",
        "--dbname",
        "hello",
      ],
    });
    assert.throws(() => planPipedDump(maria), /not dumped through a pipe/);
    assert.equal(checkSnapshot("00000003-0000001B-1"), "00000003-0000001B-1");
    assert.throws(() => checkSnapshot("x; DROP"), /bad snapshot id/);
  });

  it("dockerPipedRun: the accessory's image by id, its network namespace, the FIFO's folder", () => {
    const step = planPipedDump(pg);
    const image = `sha256:${"a".repeat(64)}`;
    assert.deepEqual(
      dockerPipedRun(step, { folder: "/tmp/slipway-pipe-x", image, owner: "runner1" }),
      [
        "docker",
        "run",
        "--rm",
        "--network",
        "container:hello-db",
        "--volume",
        "/tmp/slipway-pipe-x:/slipway-pipe",
        "--label",
        "slipway.owner=runner1",
        "--entrypoint",
        "sh",
        image,
        ...step.args,
      ],
    );
    assert.throws(
      () => dockerPipedRun({ ...step, beside: "a b" }, { folder: "/f", image, owner: "r" }),
      /container name/,
    );
  });
});

describe("compareFacts", () => {
  it("names each table whose rows differ, a missing or an extra table, keys and integrity", () => {
    const checks = compareFacts(
      { tables: { "public.a": 3, "public.b": 1 }, keys: 5, integrity: "ok" },
      { tables: { "public.a": 3, "public.c": 0 }, keys: 4 },
    );
    assert.deepEqual(checks, [
      { what: "rows in public.a", expected: "3", actual: "3", ok: true },
      { what: "rows in public.b", expected: "1", actual: "missing", ok: false },
      { what: "rows in public.c", expected: "missing", actual: "0", ok: false },
      { what: "keys", expected: "5", actual: "4", ok: false },
      { what: "integrity_check", expected: "ok", actual: "not ok", ok: false },
    ]);
    assert.deepEqual(compareFacts({}, { tables: { x: 1 } }), []);
  });
});
