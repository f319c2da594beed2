/**
 * Backing up and restoring an accessory: the engine planners' argv run through the streaming
 * exec, the dumps sealed into the store by runBackup, the restores fed from the store through
 * the archive's opening. Runs where `docker` reaches the accessory's container (on its host).
 */
import { PassThrough, pipeline, type Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { SlipwayError } from "../errors/index.ts";
import type { Argv } from "../transport/index.ts";
import { Meter, type Opening, openArchive, type SealOptions } from "./archive.ts";
import { type Containers, dockerCli, type ExecRun, execTextWith } from "./containers.ts";
import {
  checkSnapshot,
  type DumpStep,
  type EngineTarget,
  mysqlCountSql,
  parseCounts,
  parseRedisKeys,
  parseRedisPersistence,
  parseVersion,
  planDump,
  planPipedDump,
  planReady,
  planRedisDump,
  planRedisPersistence,
  planRedisRestore,
  planRestore,
  planSnapshotSession,
  planTableList,
  planVersion,
  SNAPSHOT_COUNTS_END,
} from "./engines.ts";
import { drained, type ExecStreamOptions } from "./exec.ts";
import {
  type InfluxTarget,
  parseInfluxBuckets,
  parseInfluxVersion,
  planInfluxBuckets,
  planInfluxDump,
  planInfluxReady,
  planInfluxRestore,
  planInfluxVersion,
} from "./influxdb.ts";
import type { Manifest, VerifyFacts } from "./manifest.ts";
import {
  type MongoTarget,
  planMongoCounts,
  planMongoDump,
  planMongoReady,
  planMongoRestore,
  planMongoVersion,
} from "./mongodb.ts";
import { MysqlDumpCounter } from "./mysql-counts.ts";
import { withFallback } from "./pipe.ts";
import { type DumpPart, type RunBackupOptions, runBackup } from "./run.ts";
import { restoreSqlite, sqliteSnapshot } from "./sqlite.ts";
import type { BackupStore } from "./stores/store.ts";

/** An accessory to dump or restore into: an engine of engines.ts's, MongoDB or InfluxDB. */
export type AccessoryTarget = EngineTarget | MongoTarget | InfluxTarget;

/** Row counts per table (documents per collection), or keys: what a restored copy must show. */
export async function readFacts(
  t: AccessoryTarget,
  containers: Containers = dockerCli,
): Promise<VerifyFacts> {
  const execText = (argv: Argv, options?: ExecStreamOptions) =>
    execTextWith(containers, argv, options);
  if (t.engine === "mongodb") return { tables: parseCounts(await execText(planMongoCounts(t))) };
  if (t.engine === "influxdb")
    return { buckets: parseInfluxBuckets(await execText(planInfluxBuckets(t))).map((b) => b.name) };
  if (t.engine === "redis") return { keys: parseRedisKeys(await execText(planRedisDump(t).keys)) };
  const list = planTableList(t);
  const out = await execText(list.argv, { stdin: list.sql });
  if (t.engine === "postgres") return { tables: parseCounts(out) };
  const tables = out.split("\n").filter((l) => l.trim() !== "");
  return {
    tables: parseCounts(await execText(list.argv, { stdin: mysqlCountSql(t.database, tables) })),
  };
}

/** BGSAVE, and wait until LASTSAVE moved past its value before (a new RDB is on disk). */
async function redisSnapshot(
  t: EngineTarget,
  containers: Containers,
  timeoutMs = 300_000,
): Promise<void> {
  const execText = (argv: Argv) => execTextWith(containers, argv);
  const plan = planRedisDump(t);
  const before = Number((await execText(plan.lastsave)).trim());
  // LASTSAVE counts seconds: a save in the same second as the last would not show as a move.
  while (Math.floor(Date.now() / 1000) <= before) await sleep(200);
  const reply = (await execText(plan.bgsave)).trim();
  if (!/^Background saving started|already in progress|scheduled/i.test(reply))
    throw new SlipwayError({
      code: "backup.redis",
      message: `BGSAVE in ${t.container} answered: ${reply}`,
      hint: "check the accessory's logs (slipway accessory logs)",
    });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(200);
    if (Number((await execText(plan.lastsave)).trim()) > before) return;
    const status = await execText(plan.status);
    if (/^rdb_last_bgsave_status:err/m.test(status) && !/^rdb_bgsave_in_progress:1/m.test(status))
      throw new SlipwayError({
        code: "backup.redis",
        message: `the BGSAVE in ${t.container} failed`,
        hint: "Redis logs why (disk full, or fork refused: vm.overcommit_memory)",
      });
  }
  throw new SlipwayError({
    code: "backup.redis",
    message: `the BGSAVE in ${t.container} did not finish within ${timeoutMs / 1000} s`,
    hint: "a large dataset needs longer; check the accessory's logs",
  });
}

/**
 * Opens Postgres' snapshot session: resolves with the exported snapshot as soon as psql printed
 * it, so pg_dump starts while the same transaction counts the rows (`facts`, settled once the
 * counts are read). The transaction stays open until `end`.
 */
async function snapshotSession(
  t: EngineTarget,
  containers: Containers,
): Promise<{
  snapshot: string;
  version: string;
  facts: Promise<VerifyFacts>;
  end: () => Promise<void>;
}> {
  const plan = planSnapshotSession(t);
  const stdin = new PassThrough();
  const session = containers.exec(plan.argv, { stdin });
  const end = async () => {
    stdin.end(plan.end);
    session.stdout.resume();
    await session.done;
  };
  stdin.write(plan.begin);
  let text = "";
  let snapshotSeen: (line: { snapshot: string; version: string }) => void = () => {};
  const snapshotLine = new Promise<{ snapshot: string; version: string }>((resolve) => {
    snapshotSeen = resolve;
  });
  const facts = (async (): Promise<VerifyFacts> => {
    // Not destroyed when the loop ends: the session's psql lives on until `end`.
    for await (const chunk of session.stdout.iterator({ destroyOnReturn: false })) {
      text += String(chunk);
      const line = /^snapshot\t(\S+)\t(.+)\n/m.exec(text); // whole: a chunk may end mid-line
      if (line) snapshotSeen({ snapshot: line[1] as string, version: line[2] as string });
      const at = text.indexOf(`\n${SNAPSHOT_COUNTS_END}\n`);
      if (at < 0) continue;
      const counts = text
        .slice(0, at)
        .split("\n")
        .filter((l) => !l.startsWith("snapshot\t"));
      return { tables: parseCounts(counts.join("\n")) };
    }
    throw new SlipwayError({
      code: "backup.postgres",
      message: `no row counts from ${t.container}: ${text.slice(0, 300)}`,
      hint: "check the accessory's logs (slipway accessory logs)",
    });
  })();
  facts.catch(() => {}); // read after the dump, or never if the dump fails first
  const seen = await Promise.race([snapshotLine, facts.then(() => undefined)]).catch(
    () => undefined,
  );
  if (seen === undefined) {
    stdin.end();
    // psql's own words (a database that is not there, a refused login) say more than its output.
    const why = await session.done.then(
      () => text.slice(0, 300),
      (error: Error) => error.message,
    );
    throw new SlipwayError({
      code: "backup.postgres",
      message: `no snapshot from ${t.container}: ${why}`,
      hint: "check the accessory's logs (slipway accessory logs)",
    });
  }
  return { ...seen, facts, end };
}

/** A dump step as a part of the backup: its program's stdout, started when its turn comes. */
const streamed =
  (containers: Containers) =>
  (step: DumpStep): DumpPart => ({
    name: step.name,
    open: () => containers.exec(step.argv).stdout,
  });

export interface BackupAccessoryOptions {
  target: AccessoryTarget;
  store: BackupStore;
  seal: SealOptions;
  /** The accessory's name in slipway.yml: the store's folder for it. */
  accessory: string;
  sourceHost: string;
  /** The image the accessory runs, recorded for verification. */
  image?: string;
  now?: () => Date;
  /** Where the engine's tools run; default: this machine's docker CLI. */
  containers?: Containers;
  /** Told of each part's bytes as they are read (see runBackup). */
  onProgress?: RunBackupOptions["onProgress"];
  /** Told when a part's dump could not be read through a pipe beside its container, and why. */
  onFallback?: (part: string, reason: string) => void;
}

/** Dumps an accessory into the store: the manifest says it is whole. */
export async function backupAccessory(o: BackupAccessoryOptions): Promise<Manifest> {
  const t = o.target;
  const containers = o.containers ?? dockerCli;
  // Asked while the snapshot is being taken; awaited before anything is written. Postgres'
  // snapshot session tells it.
  let version =
    t.engine === "mongodb"
      ? execTextWith(containers, planMongoVersion(t)).then((out) => out.trim())
      : t.engine === "influxdb"
        ? execTextWith(containers, planInfluxVersion(t)).then(parseInfluxVersion)
        : t.engine === "postgres"
          ? undefined
          : execTextWith(containers, planVersion(t)).then((out) => parseVersion(t, out));
  version?.catch(() => {});
  let parts: DumpPart[];
  /** Read once every part is in the store. */
  let facts: () => Promise<VerifyFacts>;
  let endSession = async () => {};
  /** The piped dump's run, whose `done` includes removing its container. */
  let piped: ExecRun | undefined;
  if (t.engine === "mongodb" || t.engine === "influxdb") {
    // Read after the dump: neither dump is one snapshot to read them in.
    facts = () => readFacts(t, containers);
    const dump = t.engine === "mongodb" ? planMongoDump(t) : planInfluxDump(t);
    parts = [{ name: "database", open: () => containers.exec(dump).stdout }];
  } else if (t.engine === "redis") {
    await redisSnapshot(t, containers);
    const keys = await readFacts(t, containers);
    facts = async () => keys;
    parts = [{ name: "redis", open: () => containers.exec(planRedisDump(t).copy).stdout }];
  } else if (t.engine === "postgres") {
    // Counted in the snapshot pg_dump then dumps: exact, even while the app writes. The FIFO
    // and the container beside are started while the session takes the snapshot; pg_dump
    // there waits for it.
    const opening = snapshotSession(t, containers);
    const early = containers.pipeRun(
      planPipedDump(t),
      opening.then((s) => checkSnapshot(s.snapshot)),
    );
    piped = early;
    let session: Awaited<typeof opening>;
    try {
      session = await opening;
    } catch (error) {
      await early.done.catch(() => {});
      throw error;
    }
    version = Promise.resolve(parseVersion(t, session.version));
    facts = () => session.facts;
    endSession = session.end;
    // The database's bytes through a FIFO (pipe.ts), or by exec where that cannot be had.
    parts = planDump(t, { snapshot: session.snapshot }).map((step) =>
      step.name === "database"
        ? {
            name: step.name,
            open: () =>
              withFallback(
                () => early,
                () => containers.exec(step.argv).stdout,
                (reason) => o.onFallback?.(step.name, reason.message),
              ),
          }
        : streamed(containers)(step),
    );
  } else {
    // Counted in the dump itself as it streams: mysqldump's snapshot cannot be shared.
    const counter = new MysqlDumpCounter();
    facts = async () => ({ tables: counter.tables() });
    parts = planDump(t).map((step) => ({
      name: step.name,
      open: () => pipeline(containers.exec(step.argv).stdout, counter, () => {}),
    }));
  }
  try {
    return await runBackup({
      store: o.store,
      accessory: o.accessory,
      engine: t.engine,
      engineVersion: (await version) ?? "unknown",
      sourceHost: o.sourceHost,
      ...(o.image === undefined ? {} : { image: o.image }),
      ...(t.engine === "redis" ? {} : { login: { user: t.user, database: t.database } }),
      parts,
      seal: o.seal,
      facts,
      ...(o.now ? { now: o.now } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  } finally {
    // Not read at all when another part failed first: its writer then ends on the closed FIFO.
    piped?.stdout.destroy();
    await Promise.all([piped?.done.catch(() => {}), endSession()]);
  }
}

/**
 * Reads a part from the store and opens it, checking the archive's SHA-256 and the plain
 * stream's against the manifest as the bytes pass: a corrupted archive fails the restore.
 */
export async function openPart(
  store: BackupStore,
  m: Manifest,
  name: string,
  opening: Opening,
): Promise<{ plain: Readable; checked: () => void }> {
  const part = m.parts.find((p) => p.name === name);
  if (!part) throw new Error(`backup ${m.id} has no part ${name}`);
  const archiveMeter = new Meter();
  const plainMeter = new Meter();
  const raw = await store.read(part.key);
  const archive = raw.pipe(archiveMeter);
  raw.on("error", (err) => archiveMeter.destroy(err));
  const opened = await openArchive(archive, { compression: m.compression, opening });
  const plain = opened.pipe(plainMeter);
  opened.on("error", (err) => plainMeter.destroy(err));
  // A damaged archive can fail before its reader is attached (an exec being set up): the reader
  // then finds the stream errored (pipeline does), and the process must not crash meanwhile.
  plain.on("error", () => {});
  return {
    plain,
    checked: () => {
      if (archiveMeter.sha256 !== part.archiveSha256 || plainMeter.sha256 !== part.plainSha256)
        throw new SlipwayError({
          code: "backup.corrupt",
          message: `${store.location}/${part.key} does not match its manifest (SHA-256)`,
          hint: "this backup is damaged: restore an older one (slipway backup list)",
        });
    },
  };
}

export interface RestoreAccessoryOptions {
  target: AccessoryTarget;
  store: BackupStore;
  manifest: Manifest;
  opening: Opening;
  /** Redis: the image the accessory runs (the restore writes its volume with it). */
  image?: string;
  /** Where the engine's tools run; default: this machine's docker CLI. */
  containers?: Containers;
  /** How long an accessory restarted by the restore (Redis) may take to serve again; 180 s. */
  readyTimeoutMs?: number;
}

/** Resolves once the accessory's server takes connections (its engine's own probe), polled. */
export async function waitReady(
  t: AccessoryTarget,
  containers: Containers,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = containers.exec(
      t.engine === "mongodb"
        ? planMongoReady(t)
        : t.engine === "influxdb"
          ? planInfluxReady(t)
          : planReady(t),
    );
    if (
      await drained(probe).then(
        () => true,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline)
      throw new SlipwayError({
        code: "backup.not_ready",
        message: `the ${t.engine} container ${t.container} was not ready in ${timeoutMs / 1000} s`,
        hint: "its logs say why (docker logs on its host)",
      });
    await sleep(1000);
  }
}

/** InfluxDB's restore: the buckets it replaces are the org's own now (see influxdb.ts). */
async function influxRestore(t: InfluxTarget, m: Manifest, containers: Containers): Promise<Argv> {
  const replace = parseInfluxBuckets(await execTextWith(containers, planInfluxBuckets(t)));
  return planInfluxRestore(t, {
    from: m.login?.database ?? t.database,
    replace: replace.map((b) => b.id),
  });
}

/** Restores a backup into the target container (replacing its data). */
export async function restoreAccessory(o: RestoreAccessoryOptions): Promise<void> {
  const t = o.target;
  const containers = o.containers ?? dockerCli;
  const steps =
    t.engine === "mongodb"
      ? [{ name: "database", argv: planMongoRestore(t) }]
      : t.engine === "influxdb"
        ? [{ name: "database", argv: await influxRestore(t, o.manifest, containers) }]
        : t.engine === "redis"
          ? []
          : planRestore(t);
  if (t.engine === "redis") {
    if (!o.image) throw new TypeError("a Redis restore needs the accessory's image");
    // Asked while it runs: where its data is, and whether it loads an AOF instead of the RDB.
    const persistence = parseRedisPersistence(
      await execTextWith(containers, planRedisPersistence(t)),
    );
    const plan = planRedisRestore(t, o.image, persistence);
    const { plain, checked } = await openPart(o.store, o.manifest, "redis", o.opening);
    await containers.stop(t.container, plan.stopTimeoutS);
    try {
      await containers.runOnce(plan.writer, plain);
    } catch (error) {
      // The writer moves nothing into place before the whole RDB checked out: the old data is
      // there still, so the accessory comes back with it.
      await containers.start(t.container).catch(() => {});
      throw error;
    }
    checked();
    await containers.start(t.container);
    // Serving again (its data loaded) before anyone reads it: the runner compares it right away.
    await waitReady(t, containers, o.readyTimeoutMs ?? 180_000);
    return;
  }
  for (const step of steps) {
    const { plain, checked } = await openPart(o.store, o.manifest, step.name, o.opening);
    const run = containers.exec(step.argv, { stdin: plain });
    await drained(run); // psql's notices: read so the program never blocks on them
    checked();
  }
}

export interface BackupSqliteOptions {
  /** The database file, as this process sees it. */
  path: string;
  store: BackupStore;
  seal: SealOptions;
  accessory: string;
  sourceHost: string;
  now?: () => Date;
  onProgress?: RunBackupOptions["onProgress"];
}

/** Backs up a SQLite database from a VACUUM INTO snapshot (counted and checked on the snapshot). */
export async function backupSqlite(o: BackupSqliteOptions): Promise<Manifest> {
  const snap = await sqliteSnapshot(o.path);
  try {
    return await runBackup({
      store: o.store,
      accessory: o.accessory,
      engine: "sqlite",
      engineVersion: snap.version,
      sourceHost: o.sourceHost,
      parts: [{ name: "sqlite", open: snap.stream }],
      seal: o.seal,
      facts: async () => snap.facts,
      ...(o.now ? { now: o.now } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  } finally {
    await snap.cleanup();
  }
}

/** Restores a SQLite backup to `path` (the app that uses it must be stopped). */
export async function restoreSqliteBackup(o: {
  store: BackupStore;
  manifest: Manifest;
  opening: Opening;
  path: string;
}): Promise<void> {
  const { plain, checked } = await openPart(o.store, o.manifest, "sqlite", o.opening);
  await restoreSqlite(plain, o.path, checked);
}
