/**
 * What Slipway's backup pipeline costs over the dump itself: a Postgres database of at least
 * BENCH_DB_MB (default 500) MB in a container of the rig's image, dumped raw and through the
 * whole pipeline (snapshot counts, globals and database dumps → zstd → age to a public key → S3
 * multipart upload to s3rver on loopback, confirmed, manifest written), in the same run.
 *
 * The baseline (raw_s) is the very pg_dump the pipeline runs (`--format=custom --compress=0`)
 * to /dev/null through `docker exec`: the pipeline's whole cost over the dump, compression
 * included. What a runbook runs, `pg_dump --format=custom` with its default zlib compression,
 * is timed too and printed before it (the pipeline takes about half its time). The pipeline
 * runs as on a host, through the backup runner's Engine API client: the dump is taken beside
 * the container and read through a FIFO (src/backup/pipe.ts), which `docker exec` to /dev/null
 * does not get. Timed in turn: runbook, raw, then BENCH_RUNS (default 2) times pipeline and raw,
 * then runbook; each figure is the mean of its runs, so all see the same machine load. The last
 * backup is verified by verifyBackup (restored into a fresh container, row counts compared).
 * Everything it starts is removed. It runs itself again with the node flags the runner runs
 * with on a host (RUNNER_NODE), and prints the full collections a pipeline run makes and this
 * process's peak memory. Needs the test rig (rig/install.sh). Goal: ratio at most 1.3,
 * verified=1.
 *
 * Last line: backup-bench: db_mb=<n> raw_s=<s> slipway_s=<s> ratio=<slipway_s/raw_s> restore_s=<s> verified=<0|1>
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver, constants as perf } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { EngineClient } from "../src/agent/engine.ts";
import {
  backupAccessory,
  type EngineTarget,
  planDump,
  planPipedDump,
  RUNNER_NODE,
  s3Store,
  verifyBackup,
} from "../src/backup/index.ts";
import { engineContainers } from "../src/backup/runner/engine-containers.ts";
import { POSTGRES_IMAGE } from "../test/rig/images.ts";
import { freePort, onProcessExit, rigAvailable, run } from "../test/rig/index.ts";
import { ageKeys } from "../test/support/age-keys.ts";

const MAJOR_GC = perf.NODE_PERFORMANCE_GC_MAJOR;
const DB_MB = Number(process.env.BENCH_DB_MB ?? 500);
const BATCH_ROWS = 250_000;
/** Pipeline runs timed; each is a whole backup, the last one restored and verified. */
const PIPELINE_RUNS = Number(process.env.BENCH_RUNS ?? 2);
/** The zstd level to seal with; unset, the library's default. */
const LEVEL = process.env.BENCH_ZSTD_LEVEL ? Number(process.env.BENCH_ZSTD_LEVEL) : undefined;

// The pipeline runs in this process: with the node flags the runner runs with on a host.
const runnerFlags = RUNNER_NODE.slice(1);
if (!runnerFlags.every((f) => process.execArgv.includes(f))) {
  const again = spawnSync(
    process.execPath,
    [...runnerFlags, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(again.status ?? 1);
}

const check = rigAvailable(POSTGRES_IMAGE);
if (!check.ok) {
  console.error(`backup-bench: ${check.reason} (run rig/install.sh as root)`);
  process.exit(1);
}
// The planners speak `docker`; Podman answers through its Docker API, as in the tests.
const SOCKET = "/run/podman/podman.sock";
process.env.DOCKER_HOST ??= `unix://${SOCKET}`;

const ID = randomBytes(4).toString("hex");
const source = `slipway-bench-backup-${ID}`;
const dir = mkdtempSync(join(tmpdir(), "slipway-backup-bench-"));
let s3: ChildProcess | undefined;
function cleanup(): void {
  s3?.kill("SIGKILL");
  spawnSync("podman", ["rm", "-f", "--volumes", "-t", "0", source], {
    stdio: "ignore",
    timeout: 120_000,
  });
  // A verification interrupted by a signal leaves its throwaway container: it carries this label.
  const left = spawnSync(
    "podman",
    ["ps", "-a", "--filter", "label=slipway.verify", "--format", "{{.Names}}"],
    { encoding: "utf8" },
  );
  for (const name of (left.stdout ?? "")
    .split("\n")
    .filter((n) => n.startsWith("slipway-verify-bench-")))
    spawnSync("podman", ["rm", "-f", "--volumes", "-t", "0", name], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
}
onProcessExit(cleanup);

async function ok(program: string, args: string[], input?: string): Promise<string> {
  const r = await run(program, args, {
    timeoutMs: 1_800_000,
    ...(input === undefined ? {} : { input }),
  });
  if (r.code !== 0) throw new Error(`${program} ${args.slice(0, 4).join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const psql = (sql: string) =>
  ok(
    "podman",
    ["exec", "-i", source, "psql", "-XAtq", "-U", "bench", "-d", "bench", "-v", "ON_ERROR_STOP=1"],
    sql,
  ).then((s) => s.trim());

async function waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`no ${what} within 180 s`);
    await sleep(500);
  }
}

/** Seconds `fn` takes. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/**
 * The pipeline's own pg_dump argv (--compress=0) by `docker exec`, or with `runbook` pg_dump's
 * default compression. The pipeline dumps beside the container (planPipedDump) and falls back to
 * this argv (planDump): both must still dump so, or this baseline is another dump.
 */
function dumpArgv(t: EngineTarget, how: "runbook" | "pipeline"): string[] {
  const step = planDump(t).find((s) => s.name === "database");
  const beside = planPipedDump(t).args;
  for (const [what, args] of [
    ["planDump", step?.argv ?? []],
    ["planPipedDump", beside],
  ] as const)
    if (!args.includes("--compress=0") || !args.includes("--format=custom"))
      throw new Error(`${what}'s pg_dump no longer says -Fc --compress=0: revisit this baseline`);
  if (!step) throw new Error("planDump has no database step");
  return how === "pipeline" ? [...step.argv] : step.argv.filter((a) => a !== "--compress=0");
}

/** A pg_dump to /dev/null through `docker exec`: what a dump costs with no pipeline. */
function rawDump(t: EngineTarget, how: "runbook" | "pipeline"): Promise<void> {
  const [program, ...args] = dumpArgv(t, how);
  const devNull = openSync("/dev/null", "w");
  return new Promise((resolve, reject) => {
    const child = spawn(program as string, args, { stdio: ["ignore", devNull, "inherit"] });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`raw pg_dump exited ${code}`)),
    );
  });
}

async function startS3(): Promise<number> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "node_modules/s3rver/bin/s3rver.js",
      ...["-d", join(dir, "s3"), "-a", "127.0.0.1", "-p", String(port), "--silent"],
      ...["--configure-bucket", "backups"],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  s3 = child;
  let log = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    log = (log + d).slice(-4000);
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    log = (log + d).slice(-4000);
  });
  await waitFor("s3rver", async () => log.includes("S3rver listening"));
  return port;
}

try {
  const [port] = await Promise.all([
    startS3(),
    // Loading fast matters here, not durability: the restore runs with the image's defaults.
    ok("podman", [
      ...["run", "-d", "--name", source],
      ...["-e", "POSTGRES_USER=bench", "-e", "POSTGRES_DB=bench", "-e", "POSTGRES_PASSWORD=bench"],
      POSTGRES_IMAGE,
      ...["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off"],
      ...["-c", "full_page_writes=off", "-c", "max_wal_size=4GB"],
    ]),
  ]);
  await waitFor(
    "postgres",
    async () =>
      (await run("podman", ["exec", source, "pg_isready", "-q", "-h", "127.0.0.1"])).code === 0,
  );
  await psql(
    "CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, note text, at timestamptz); CREATE TABLE orders (id bigserial PRIMARY KEY, customer bigint, total numeric(10,2), status text);",
  );
  const loadStarted = performance.now();
  let rows = 0;
  let dbMb = 0;
  while (dbMb < DB_MB) {
    const from = rows + 1;
    rows += BATCH_ROWS;
    await psql(
      `INSERT INTO customers SELECT i, 'customer ' || i, 'user' || i || '@example.com', md5(i::text) || md5((i * 31)::text) || md5((i * 97)::text) || ' ' || repeat('lorem ipsum dolor sit amet ', 6), '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(${from}, ${rows}) i;
       INSERT INTO orders (customer, total, status) SELECT i, (i % 997) / 3.0, (ARRAY['new','paid','shipped'])[i % 3 + 1] FROM generate_series(${from}, ${rows}) i;`,
    );
    dbMb = Math.round(Number(await psql("SELECT pg_database_size('bench')")) / 1e6);
  }
  await psql("VACUUM ANALYZE");
  // The load's writes reach the disk now, not in the kernel's writeback during the timed runs.
  await psql("CHECKPOINT");
  spawnSync("sync");
  console.log(
    `database: ${dbMb} MB, ${rows} customers and orders, loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`,
  );

  const target: EngineTarget = {
    engine: "postgres",
    container: source,
    user: "bench",
    database: "bench",
  };
  const keys = await ageKeys("zstd");
  const seal = LEVEL === undefined ? keys.seal : { ...keys.seal, level: LEVEL };
  const store = s3Store({
    bucket: "backups",
    prefix: "bench",
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });

  const backup = () =>
    backupAccessory({
      target,
      store,
      seal,
      accessory: "bench",
      sourceHost: "bench",
      image: POSTGRES_IMAGE,
      containers: engineContainers(new EngineClient(SOCKET)),
    });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  await rawDump(target, "pipeline"); // warms the page cache for all
  // Each pipeline run between two raw ones, so both see the same machine load.
  const runbook = [await timed(() => rawDump(target, "runbook"))];
  const raw = [await timed(() => rawDump(target, "pipeline"))];
  const slipway: number[] = [];
  let manifest: Awaited<ReturnType<typeof backupAccessory>> | undefined;
  // Full collections during the pipeline runs: what RUNNER_NODE's flag is for.
  let pipelineRunning = false;
  let fullGcs = 0;
  const gcs = new PerformanceObserver((l) => {
    for (const e of l.getEntries())
      if (pipelineRunning && (e as { detail?: { kind?: number } }).detail?.kind === MAJOR_GC)
        fullGcs++;
  });
  gcs.observe({ entryTypes: ["gc"] });
  for (let i = 0; i < PIPELINE_RUNS; i++) {
    pipelineRunning = true;
    slipway.push(
      await timed(async () => {
        manifest = await backup();
      }),
    );
    pipelineRunning = false;
    raw.push(await timed(() => rawDump(target, "pipeline")));
  }
  gcs.disconnect();
  runbook.push(await timed(() => rawDump(target, "runbook")));
  const rawS = mean(raw);
  const slipwayS = mean(slipway);
  const runbookS = mean(runbook);
  if (!manifest) throw new Error("no manifest");
  const m = manifest;
  const db = m.parts.find((p) => p.name === "database");
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
  if (db)
    console.log(
      `dump ${(db.plainBytes / 1e6).toFixed(0)} MB → archive ${(db.archiveBytes / 1e6).toFixed(0)} MB (zstd ${LEVEL ?? "default level"}, age, s3 multipart)`,
    );
  console.log(
    `raw (pg_dump -Fc --compress=0, as the pipeline runs it): ${list(raw)} s; slipway: ${list(slipway)} s`,
  );
  console.log(
    `runbook (pg_dump -Fc, zlib): ${list(runbook)} s; slipway_s/runbook_s = ${(slipwayS / runbookS).toFixed(2)}`,
  );
  console.log(
    `node ${runnerFlags.join(" ")}: ${(fullGcs / PIPELINE_RUNS).toFixed(0)} full GCs a pipeline run; this process's peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
  );

  let report: Awaited<ReturnType<typeof verifyBackup>> | undefined;
  const restoreS = await timed(async () => {
    report = await verifyBackup({ store, manifest: m, opening: keys.opening });
  });
  const verified = report?.ok === true && (report.checks.length ?? 0) > 0;
  if (!verified) {
    console.log(`verification failed: ${report?.error ?? ""}`);
    for (const c of report?.checks ?? [])
      if (!c.ok) console.log(`  ${c.what}: ${c.expected} expected, ${c.actual} found`);
  }
  console.log(
    `backup-bench: db_mb=${dbMb} raw_s=${rawS.toFixed(2)} slipway_s=${slipwayS.toFixed(2)} ratio=${(slipwayS / rawS).toFixed(2)} restore_s=${restoreS.toFixed(1)} verified=${verified ? 1 : 0}`,
  );
} finally {
  cleanup();
}
