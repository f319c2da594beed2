/**
 * How each engine is dumped and restored, as argv run on the accessory's host: `docker exec`
 * into the accessory's container with the engine's own tools. Pure. Passwords are never in argv:
 * Postgres' tools use the container's Unix socket (trusted locally by the official image),
 * MySQL and MariaDB take MYSQL_PWD from the container's own environment, Redis REDISCLI_AUTH
 * from the accessory's mounted secret file. SQL travels on stdin.
 */

import { mysqlRoot, SECRETS_MOUNT } from "../accessories/index.ts";
import { dockerExec, dockerStart, dockerStop } from "../engine/index.ts";
import { type Argv, quoteWord } from "../transport/command.ts";
import { dockerRunOnce, type OneOffContainer } from "./containers.ts";
import { PIPE_DIR, PIPE_FILE } from "./pipe.ts";

export type DumpEngine = "postgres" | "mysql" | "mariadb" | "redis";

/** The accessory to dump or restore into: its container, and the app's login and database. */
export interface EngineTarget {
  engine: DumpEngine;
  container: string;
  user: string;
  database: string;
}

const REDIS_AUTH = `REDISCLI_AUTH="$(cat ${SECRETS_MOUNT}/password)"`;

/** A mysql-family client in the container, logged in as root through MYSQL_PWD. */
function mysqlShell(t: EngineTarget, program: string, args: string): string[] {
  return ["sh", "-c", `${mysqlRoot(t.engine === "mysql" ? "mysql" : "mariadb", program)} ${args}`];
}
const mysqlClient = (t: EngineTarget) => (t.engine === "mysql" ? "mysql" : "mariadb");
const mysqlDumper = (t: EngineTarget) => (t.engine === "mysql" ? "mysqldump" : "mariadb-dump");

/** Reads the server's version: argv whose stdout is one line. */
export function planVersion(t: EngineTarget): Argv {
  if (t.engine === "postgres")
    return dockerExec(t.container, [
      "psql",
      "-XAt",
      "--username",
      t.user,
      "--dbname",
      t.database,
      "-c",
      "SHOW server_version",
    ]);
  if (t.engine === "redis")
    return dockerExec(t.container, ["sh", "-c", `${REDIS_AUTH} exec redis-cli INFO server`]);
  return dockerExec(t.container, mysqlShell(t, mysqlClient(t), "-N -B -e 'SELECT VERSION()'"));
}

/** The version out of what {@link planVersion}'s argv printed. */
export function parseVersion(t: EngineTarget, stdout: string): string {
  if (t.engine === "redis") return /^redis_version:(\S+)/m.exec(stdout)?.[1] ?? "unknown";
  return stdout.trim().split(/\s+/)[0] ?? "unknown";
}

/** One stream of a dump: its name in the backup and the argv whose stdout it is. */
export interface DumpStep {
  name: string;
  argv: Argv;
}

/** pg_dump's options for the database's dump, in the container or beside it. */
function pgDumpArgs(t: EngineTarget, options: { snapshot?: string }): string[] {
  return [
    "--username",
    t.user,
    "--no-password",
    "--format=custom",
    "--compress=0",
    ...(options.snapshot === undefined ? [] : [`--snapshot=${checkSnapshot(options.snapshot)}`]),
    "--dbname",
    t.database,
  ];
}

/**
 * Dumps of a SQL engine. Postgres: the roles (pg_dumpall --globals-only, which a database dump
 * lacks) and the database in pg_dump's custom format (compressed by us, so -Z0). MySQL and
 * MariaDB: one consistent InnoDB snapshot with routines, events and triggers. Redis is dumped
 * by {@link planRedisDump}'s steps, not here.
 */
export function planDump(
  t: EngineTarget,
  /** Postgres: a snapshot exported by {@link planSnapshotSession}'s transaction, to dump that. */
  options: { snapshot?: string } = {},
): DumpStep[] {
  if (t.engine === "postgres") {
    const login = ["--username", t.user];
    return [
      {
        name: "globals",
        argv: dockerExec(t.container, ["pg_dumpall", ...login, "--globals-only", "--no-password"]),
      },
      { name: "database", argv: dockerExec(t.container, ["pg_dump", ...pgDumpArgs(t, options)]) },
    ];
  }
  if (t.engine === "redis") throw new TypeError("redis is dumped through planRedisDump");
  return [
    {
      name: "database",
      argv: dockerExec(
        t.container,
        mysqlShell(
          t,
          mysqlDumper(t),
          `--single-transaction --routines --events --triggers --hex-blob --databases ${quoteWord(t.database)}`,
        ),
      ),
    },
  ];
}

/** Restores of each part from stdin, in the order given (Postgres: globals first). */
export function planRestore(t: EngineTarget): DumpStep[] {
  if (t.engine === "postgres") {
    return [
      {
        // Roles that exist already are errors psql reports and goes past.
        name: "globals",
        argv: dockerExec(
          t.container,
          ["psql", "-X", "-q", "--username", t.user, "--dbname", "postgres", "--no-password"],
          { interactive: true },
        ),
      },
      {
        name: "database",
        argv: dockerExec(
          t.container,
          [
            "pg_restore",
            "--username",
            t.user,
            "--no-password",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            t.database,
          ],
          { interactive: true },
        ),
      },
    ];
  }
  if (t.engine === "redis") throw new TypeError("redis is restored through planRedisRestore");
  return [
    {
      name: "database",
      argv: dockerExec(t.container, mysqlShell(t, mysqlClient(t), ""), { interactive: true }),
    },
  ];
}

/**
 * Row counts per table, for verification: argv and its SQL (on stdin). Postgres counts every
 * table in one query (query_to_xml runs a count per table); MySQL needs the table list first
 * ({@link mysqlCountSql}). Output: lines "table<TAB>rows".
 */
export function planTableList(t: EngineTarget): { argv: Argv; sql: string } {
  if (t.engine === "postgres") {
    return {
      argv: dockerExec(
        t.container,
        ["psql", "-XAt", "-F", "\t", "--username", t.user, "--dbname", t.database],
        { interactive: true },
      ),
      sql: [
        "SELECT table_schema || '.' || table_name,",
        "  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text",
        "FROM information_schema.tables",
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
        "ORDER BY 1;",
        "",
      ].join("\n"),
    };
  }
  return {
    argv: dockerExec(t.container, mysqlShell(t, mysqlClient(t), "-N -B"), { interactive: true }),
    sql: `SELECT table_name FROM information_schema.tables WHERE table_schema = '${t.database.replaceAll("'", "''")}' AND table_type = 'BASE TABLE' ORDER BY 1;\n`,
  };
}

/** A snapshot id as pg_export_snapshot() prints it ("00000003-0000001B-1"). */
export function checkSnapshot(id: string): string {
  if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/i.test(id))
    throw new TypeError(`bad snapshot id ${JSON.stringify(id)}`);
  return id;
}

/**
 * A dump run by a one-off container beside the accessory (of its image, so the same tools, and
 * in its network namespace, so its loopback), writing into PIPE_FILE rather than stdout.
 */
export interface PipedDumpStep {
  name: string;
  /** The accessory's container, whose image and network namespace the one-off takes. */
  beside: string;
  /** What dumps, for messages ("pg_dump beside it failed"). */
  program: string;
  entrypoint: string;
  args: string[];
  /**
   * A FIFO in PIPE_DIR the program reads one line from before it dumps, written by whoever runs
   * the step once the line is known (Postgres: the snapshot), so the container can be started
   * before. An empty line: there is nothing to dump, exit 1.
   */
  awaits?: string;
}

/**
 * What {@link planPipedDump}'s shell runs: the snapshot from the FIFO in $1, then pg_dump into
 * the FIFO in $2. pg_dump's stdio writes a pipe a page (4 KiB) at a time, each write a wake-up
 * of the reading thread and of pg_dump (bench:backup's dump through the FIFO alone: 2.3 machine
 * CPU-s); through stdbuf (coreutils, where the image has it) a MiB at a time (2.0).
 */
const DUMP_ONCE_SNAPSHOT = [
  'IFS= read -r snapshot < "$1" && [ -n "$snapshot" ] || { echo "slipway: no snapshot came through $1" >&2; exit 1; }',
  "out=$2; shift 2",
  'command -v stdbuf > /dev/null 2>&1 && exec stdbuf -o1M pg_dump --snapshot="$snapshot" "$@" > "$out"',
  'exec pg_dump --snapshot="$snapshot" "$@" > "$out"',
].join("\n");

/**
 * Postgres' database dump of {@link planDump}, taken beside the container rather than in it: the
 * bytes then reach the backup through a FIFO instead of the engine's exec stream, which Podman's
 * conmon moves 8 KiB at a time (bench:backup: a third of the dump's CPU). pg_dump connects to
 * 127.0.0.1, which the official image trusts like its socket, and writes its stdout, the FIFO.
 * The snapshot comes through the FIFO `awaits` names: the container is created and started while
 * the session exports it (Podman: 0.1-0.2 s that were the dump's head start).
 */
export function planPipedDump(t: EngineTarget): PipedDumpStep {
  if (t.engine !== "postgres") throw new TypeError(`${t.engine} is not dumped through a pipe`);
  const awaits = "snapshot";
  return {
    name: "database",
    beside: t.container,
    program: "pg_dump",
    entrypoint: "sh",
    args: [
      "-c",
      DUMP_ONCE_SNAPSHOT,
      "pg_dump",
      `${PIPE_DIR}/${awaits}`,
      PIPE_FILE,
      "--host=127.0.0.1",
      ...pgDumpArgs(t, {}),
    ],
    awaits,
  };
}

/** The line that ends the snapshot session's answer to {@link planSnapshotSession}'s SQL. */
export const SNAPSHOT_COUNTS_END = "slipway-counts-end";

/**
 * Postgres: a read-only REPEATABLE READ transaction that exports its snapshot and counts every
 * table's rows in it; held open (psql waits on stdin) while pg_dump --snapshot dumps the very
 * same data, so the manifest's counts are exactly the dump's even while the app writes. Output:
 * "snapshot<TAB>ID<TAB>VERSION" (the server's, asked here rather than by another exec), then
 * the counts, then SNAPSHOT_COUNTS_END; `end` commits.
 */
export function planSnapshotSession(t: EngineTarget): { argv: Argv; begin: string; end: string } {
  const list = planTableList(t);
  return {
    argv: dockerExec(
      t.container,
      [
        "psql",
        "-XAtq",
        "-F",
        "\t",
        "-v",
        "ON_ERROR_STOP=1",
        "--username",
        t.user,
        "--dbname",
        t.database,
      ],
      { interactive: true },
    ),
    begin: [
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
      "SELECT 'snapshot', pg_export_snapshot(), current_setting('server_version');",
      list.sql.trimEnd(),
      `SELECT '${SNAPSHOT_COUNTS_END}';`,
      "",
    ].join("\n"),
    end: "COMMIT;\n",
  };
}

/** MySQL: one query counting the rows of each table listed. */
export function mysqlCountSql(database: string, tables: readonly string[]): string {
  const id = (s: string) => `\`${s.replaceAll("`", "``")}\``;
  const lit = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
  if (tables.length === 0) return "SELECT 1 FROM DUAL WHERE FALSE;\n";
  return `${tables
    .map((t) => `SELECT ${lit(`${database}.${t}`)}, COUNT(*) FROM ${id(database)}.${id(t)}`)
    .join("\nUNION ALL ")};\n`;
}

/** "name<TAB>count" lines to a record. */
export function parseCounts(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const [name, count] = line.split("\t");
    if (name && count !== undefined && /^\d+$/.test(count.trim())) out[name] = Number(count);
  }
  return out;
}

/**
 * Redis: BGSAVE, then wait until LASTSAVE moves past the time before it, then copy the RDB file
 * out of the container. Run `lastsave` before `bgsave`; poll `lastsave` (and `status`, for a
 * failed save) until the number grows; then `copy`'s stdout is the dump; `keys` counts keys.
 */
export function planRedisDump(t: EngineTarget): {
  lastsave: Argv;
  bgsave: Argv;
  status: Argv;
  copy: Argv;
  keys: Argv;
} {
  const cli = (cmd: string) =>
    dockerExec(t.container, ["sh", "-c", `${REDIS_AUTH} exec redis-cli ${cmd}`]);
  return {
    lastsave: cli("LASTSAVE"),
    bgsave: cli("BGSAVE"),
    status: cli("INFO persistence"),
    // The file Redis itself says it writes, read inside the container.
    copy: dockerExec(t.container, [
      "sh",
      "-c",
      `${REDIS_AUTH}; export REDISCLI_AUTH; d="$(redis-cli --raw CONFIG GET dir | sed -n 2p)"; f="$(redis-cli --raw CONFIG GET dbfilename | sed -n 2p)"; exec cat "$d/$f"`,
    ]),
    keys: cli("INFO keyspace"),
  };
}

/** Keys over all databases from INFO keyspace. */
export function parseRedisKeys(stdout: string): number {
  let n = 0;
  for (const m of stdout.matchAll(/^db\d+:keys=(\d+)/gm)) n += Number(m[1]);
  return n;
}

/** Where a Redis keeps its data, as it says itself: what a restore must write. */
export interface RedisPersistence {
  /** Its working folder (absolute) and RDB file's name there. */
  dir: string;
  dbfilename: string;
  /** appendonly yes: it loads its AOF at start, not the RDB. */
  appendonly: boolean;
  appendfilename: string;
  /** Redis 7 and later: the AOF's folder in `dir` (multi-part AOF); absent before 7. */
  appenddirname?: string;
}

const PERSISTENCE_SETTINGS = ["dir", "dbfilename", "appendonly", "appendfilename", "appenddirname"];

/**
 * Reads {@link RedisPersistence}'s settings (one CONFIG GET each: before Redis 7 CONFIG GET takes
 * one name, and a name it does not know prints nothing). Output: name and value lines.
 */
export function planRedisPersistence(t: EngineTarget): Argv {
  return dockerExec(t.container, [
    "sh",
    "-c",
    `${REDIS_AUTH}; export REDISCLI_AUTH; for p in ${PERSISTENCE_SETTINGS.join(" ")}; do redis-cli --raw CONFIG GET "$p" || exit; done`,
  ]);
}

/** What {@link planRedisPersistence}'s argv printed. */
export function parseRedisPersistence(stdout: string): RedisPersistence {
  const lines = stdout.replaceAll("\r", "").split("\n");
  const got = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const name = lines[i] ?? "";
    if (PERSISTENCE_SETTINGS.includes(name)) got.set(name, lines[i + 1] ?? "");
  }
  const dir = got.get("dir");
  if (dir === undefined || !dir.startsWith("/"))
    throw new TypeError(`no dir in Redis's CONFIG GET answer: ${stdout.slice(0, 200)}`);
  const appenddirname = got.get("appenddirname");
  return {
    dir,
    dbfilename: got.get("dbfilename") || "dump.rdb",
    appendonly: got.get("appendonly") === "yes",
    appendfilename: got.get("appendfilename") || "appendonly.aof",
    ...(appenddirname ? { appenddirname } : {}),
  };
}

/**
 * The writer's script: stdin is the RDB. `$1` is Redis's dir, `$2` its dbfilename, `$3` and `$4`
 * the AOF's folder (or file) and appendfilename. Nothing is moved into place before the whole RDB
 * passed redis-check-rdb (a cut or damaged stream ends the script, the old data untouched).
 */
const REDIS_WRITE_RDB = [
  "set -e",
  "umask 077",
  'cd "$1"',
  'trap \'rm -rf "$2.restoring" "$3.restoring"\' EXIT',
  'cat > "$2.restoring"',
  'redis-check-rdb "$2.restoring" >&2',
];
const REDIS_MOVE_RDB = 'mv "$2.restoring" "$2"';

/**
 * Redis 7's multi-part AOF: a new folder beside the old one, the RDB as its base and an empty
 * incr file, listed by a fresh manifest (as Redis writes it), then swapped in by renames.
 */
const REDIS_WRITE_AOF_DIR = [
  ...REDIS_WRITE_RDB,
  'rm -rf "$3.restoring" "$3.old"',
  'mkdir "$3.restoring"',
  'cp "$2.restoring" "$3.restoring/$4.1.base.rdb"',
  ': > "$3.restoring/$4.1.incr.aof"',
  'printf \'file %s seq 1 type b\\nfile %s seq 1 type i\\n\' "$4.1.base.rdb" "$4.1.incr.aof" > "$3.restoring/$4.manifest"',
  REDIS_MOVE_RDB,
  'if [ -e "$3" ]; then mv "$3" "$3.old"; fi',
  'mv "$3.restoring" "$3"',
  'rm -rf "$3.old"',
];

/** Before Redis 7 the AOF is one file, and an RDB is a valid AOF (its RDB preamble, whole). */
const REDIS_WRITE_AOF_FILE = [
  ...REDIS_WRITE_RDB,
  'cp "$2.restoring" "$3.restoring"',
  REDIS_MOVE_RDB,
  'mv "$3.restoring" "$3"',
];

/**
 * Redis restore: Redis reads its data only at start, so the container is stopped, the data is
 * written into its volume by a one-off container of the same image (stdin → the RDB, checked
 * whole, then renamed into place), and the container started again. An append-only Redis loads
 * its AOF, not the RDB: the RDB becomes the AOF too (Redis 7: the base of a new multi-part AOF;
 * before: the AOF file itself). `persistence` is read before the container stops.
 */
export function planRedisRestore(
  t: EngineTarget,
  image: string,
  persistence: RedisPersistence,
  options: { stopTimeoutS?: number } = {},
): { stop: Argv; write: Argv; start: Argv; writer: OneOffContainer; stopTimeoutS: number } {
  const p = persistence;
  const stopTimeoutS = options.stopTimeoutS ?? 60;
  const script = !p.appendonly
    ? [...REDIS_WRITE_RDB, REDIS_MOVE_RDB]
    : p.appenddirname !== undefined
      ? REDIS_WRITE_AOF_DIR
      : REDIS_WRITE_AOF_FILE;
  const aof = p.appenddirname ?? p.appendfilename;
  const writer: OneOffContainer = {
    image,
    volumesFrom: t.container,
    user: "redis",
    entrypoint: "sh",
    cmd: ["-c", script.join("\n"), "sh", p.dir, p.dbfilename, aof, p.appendfilename],
  };
  return {
    stop: dockerStop(t.container, stopTimeoutS),
    write: dockerRunOnce(writer),
    start: dockerStart(t.container),
    writer,
    stopTimeoutS,
  };
}

/**
 * Exits 0 once the server takes connections from the network, not only the socket: the official
 * images' first boot runs a socket-only server for the init scripts, then restarts.
 */
export function planReady(t: EngineTarget): Argv {
  if (t.engine === "postgres")
    return dockerExec(t.container, [
      "pg_isready",
      "--quiet",
      "--host",
      "127.0.0.1",
      "--username",
      t.user,
    ]);
  if (t.engine === "redis")
    return dockerExec(t.container, ["sh", "-c", `${REDIS_AUTH} redis-cli ping | grep -qx PONG`]);
  return dockerExec(
    t.container,
    mysqlShell(t, mysqlClient(t), "--protocol=TCP --host=127.0.0.1 -e 'SELECT 1'"),
  );
}
