/**
 * Verification: a backup proves itself by being restored. Each part's SHA-256 is checked as it
 * streams, the dump is restored into a throwaway container of the image the accessory ran
 * (SQLite: into a temporary file), and what the copy holds is compared with the manifest: rows
 * per table, number of keys, integrity_check. The throwaway container and its files are removed
 * whatever happens.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { text } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { ENGINES, SECRETS_MOUNT } from "../accessories/index.ts";
import {
  type AccessoryTarget,
  openPart,
  readFacts,
  restoreAccessory,
  waitReady,
} from "./accessory.ts";
import { Meter, type Opening } from "./archive.ts";
import { type Containers, dockerCli, OWNER_LABEL } from "./containers.ts";
import { readFilesBackup } from "./files.ts";
import type { Manifest, VerifyFacts } from "./manifest.ts";
import { sqliteFacts } from "./sqlite.ts";
import type { BackupStore } from "./stores/store.ts";

export interface VerifyCheck {
  what: string;
  expected: string;
  actual: string;
  ok: boolean;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  /** "restore": opened and restored, what it holds compared; "check": sizes and SHA-256 only. */
  how?: "restore" | "check";
  checks: VerifyCheck[];
  /** Why the restore itself failed (a damaged archive, a refused dump). */
  error?: string;
}

/** A verification's outcome, kept beside the backup's manifest (ACCESSORY/ID/verify.json). */
export interface VerifyMark extends VerifyReport {
  at: string;
}

export const VERIFY_MARK_NAME = "verify.json";

/** A throwaway verification container's label: the backup it verifies ("target/ID"). */
export const VERIFY_LABEL = "slipway.verify";
export { OWNER_LABEL };

export interface VerifyOptions {
  store: BackupStore;
  manifest: Manifest;
  opening: Opening;
  /** Default: the image the manifest names. */
  image?: string;
  /** How long the throwaway container may take to come up; default 180 s. */
  readyTimeoutMs?: number;
  /**
   * Where the throwaway container is made; default: this machine's docker CLI. Its secret files
   * are made in the temporary folder (TMPDIR), which the engine must see at the same path.
   */
  containers?: Containers;
  /** Who makes the throwaway (its OWNER_LABEL); default: this process's host name. */
  owner?: string;
}

/** Expected against actual, one check per table and per fact; a missing table fails. */
export function compareFacts(expected: VerifyFacts, actual: VerifyFacts): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  const show = (n: number | undefined) => (n === undefined ? "missing" : String(n));
  const tables = new Set([
    ...Object.keys(expected.tables ?? {}),
    ...(expected.tables ? Object.keys(actual.tables ?? {}) : []),
  ]);
  for (const table of [...tables].sort()) {
    const e = expected.tables?.[table];
    const a = actual.tables?.[table];
    checks.push({ what: `rows in ${table}`, expected: show(e), actual: show(a), ok: e === a });
  }
  if (expected.buckets !== undefined)
    checks.push({
      what: "buckets",
      expected: expected.buckets.join(", ") || "none",
      actual: actual.buckets === undefined ? "missing" : actual.buckets.join(", ") || "none",
      ok: JSON.stringify(expected.buckets) === JSON.stringify(actual.buckets),
    });
  // Redis's keys, a folder's entries.
  for (const what of ["keys", "entries"] as const) {
    const e = expected[what];
    if (e !== undefined)
      checks.push({
        what,
        expected: String(e),
        actual: show(actual[what]),
        ok: e === actual[what],
      });
  }
  if (expected.integrity !== undefined)
    checks.push({
      what: "integrity_check",
      expected: expected.integrity,
      actual: actual.integrity ?? "not ok",
      ok: actual.integrity === expected.integrity,
    });
  return checks;
}

/**
 * Server settings of a throwaway container: its data is counted and removed, so durability buys
 * nothing there (a crash only fails the verification). Postgres without fsync and full-page
 * writes: bench:backup's verification of a 457 MB dump, the container's start 2.7-4.7 s -> 1.5-1.7
 * s and the restore 10.7-15.3 s -> 7.7-10.2 s. Never used for a restore into an accessory.
 */
const THROWAWAY_SETTINGS: Partial<Record<Manifest["engine"], Record<string, string>>> = {
  postgres: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
};

/**
 * Removes the throwaway containers of `target`'s verifications that a killed runner left behind
 * (a runner removes its own when it ends): those whose maker runs no more, and those made before
 * `before` by a runner that did not say who it was. Another target's are never touched, nor one
 * whose maker still runs (a verification of the same target running beside this one). Returns
 * the ids removed.
 */
export async function removeLeftoverThrowaways(
  containers: Containers,
  target: string,
  before: number,
): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await containers.labelled(VERIFY_LABEL)) {
    if (!c.labels[VERIFY_LABEL]?.startsWith(`${target}/`)) continue;
    const owner = c.labels[OWNER_LABEL];
    const left =
      owner === undefined
        ? c.sinceMs !== undefined && c.sinceMs < before
        : !(await containers.running(owner));
    if (!left) continue;
    await containers.remove(c.id);
    removed.push(c.id);
  }
  return removed;
}

/** Restores into a throwaway container and reads what it holds. */
async function restoreInContainer(o: VerifyOptions, image: string): Promise<VerifyFacts> {
  const m = o.manifest;
  const engine = m.engine;
  if (engine === "sqlite" || engine === "files") throw new TypeError("not a container engine");
  const containers = o.containers ?? dockerCli;
  await removeLeftoverThrowaways(containers, m.accessory, Date.now());
  const name = `slipway-verify-${m.accessory}-${m.id.toLowerCase()}-${randomBytes(3).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "slipway-verify-"));
  const login = m.login ?? { user: "slipway", database: "slipway" };
  const credentials = {
    user: login.user,
    database: login.database,
    password: randomBytes(18).toString("base64url"),
    rootPassword: randomBytes(18).toString("base64url"),
  };
  const def = ENGINES[engine];
  const secrets = join(dir, "secrets");
  const files = def.secretFiles?.(credentials) ?? {};
  if (Object.keys(files).length > 0) {
    // Read by the engine's own user in the container; the folder above is 0700.
    await mkdir(secrets, { mode: 0o755 });
    for (const [file, content] of Object.entries(files))
      await writeFile(join(secrets, file), content, { mode: 0o644 });
  }
  const command = def.command(THROWAWAY_SETTINGS[engine] ?? {});
  const t: AccessoryTarget = {
    engine,
    container: name,
    user: login.user,
    database: login.database,
  };
  try {
    await containers.run(
      {
        name,
        image,
        labels: { [VERIFY_LABEL]: `${m.accessory}/${m.id}`, [OWNER_LABEL]: o.owner ?? hostname() },
        restart: "no",
        ...(command ? { cmd: command } : {}),
        ...(Object.keys(files).length > 0
          ? { volumes: [{ source: secrets, target: SECRETS_MOUNT, readOnly: true }] }
          : {}),
      },
      def.containerEnv(credentials),
    );
    await waitReady(t, containers, o.readyTimeoutMs ?? 180_000);
    await restoreAccessory({
      target: t,
      store: o.store,
      manifest: m,
      opening: o.opening,
      image,
      containers,
      // Only a Redis restarts to load what was restored: the restore waits for it to serve.
      ...(o.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: o.readyTimeoutMs }),
    });
    return await readFacts(t, containers);
  } finally {
    await containers.remove(name).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

async function restoreSqliteCopy(o: VerifyOptions): Promise<VerifyFacts> {
  const dir = await mkdtemp(join(tmpdir(), "slipway-verify-"));
  try {
    const path = join(dir, "restored.sqlite");
    const { plain, checked } = await openPart(o.store, o.manifest, "sqlite", o.opening);
    // Not restoreSqlite: a copy that fails integrity_check is a finding here, not a stop.
    await pipeline(plain, createWriteStream(path, { mode: 0o600 }));
    checked();
    const { integrityMessage: _, ...facts } = sqliteFacts(path);
    return facts;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Verifies one backup by restoring it; never throws for what it finds, only reports. */
export async function verifyBackup(o: VerifyOptions): Promise<VerifyReport> {
  const m = o.manifest;
  const image = o.image ?? m.image;
  try {
    let actual: VerifyFacts;
    if (m.engine === "sqlite") actual = await restoreSqliteCopy(o);
    else if (m.engine === "files") actual = await readFilesBackup(o.store, m, o.opening);
    else {
      if (!image) throw new Error(`backup ${m.id} names no image; give the accessory's image`);
      actual = await restoreInContainer(o, image);
    }
    const checks = compareFacts(m.verify, actual);
    return { id: m.id, ok: checks.every((c) => c.ok), how: "restore", checks };
  } catch (err) {
    return { id: m.id, ok: false, how: "restore", checks: [], error: (err as Error).message };
  }
}

/**
 * Checks a backup without opening it, so without a key (the host that wrote it can): every part
 * is read from the store whole and its size and SHA-256 compared with the manifest. A flipped
 * byte, a cut or a missing part fails; whether the dump inside restores takes verifyBackup.
 */
export async function checkBackup(store: BackupStore, m: Manifest): Promise<VerifyReport> {
  const checks: VerifyCheck[] = [];
  try {
    for (const part of m.parts) {
      const meter = new Meter();
      await pipeline(
        await store.read(part.key),
        meter,
        new Writable({ write: (_c, _e, cb) => cb() }),
      );
      checks.push({
        what: `${part.name} archive`,
        expected: `${part.archiveBytes} bytes, SHA-256 ${part.archiveSha256.slice(0, 16)}`,
        actual: `${meter.bytes} bytes, SHA-256 ${meter.sha256.slice(0, 16)}`,
        ok: meter.bytes === part.archiveBytes && meter.sha256 === part.archiveSha256,
      });
    }
    return { id: m.id, ok: checks.every((c) => c.ok), how: "check", checks };
  } catch (err) {
    return { id: m.id, ok: false, how: "check", checks, error: (err as Error).message };
  }
}

/** A backup's verification mark; null when it has none or it cannot be read. */
export async function readVerifyMark(
  store: BackupStore,
  accessory: string,
  id: string,
): Promise<VerifyMark | null> {
  try {
    return JSON.parse(
      await text(await store.read(`${accessory}/${id}/${VERIFY_MARK_NAME}`)),
    ) as VerifyMark;
  } catch {
    return null;
  }
}

/** Keeps a verification's outcome beside the backup, for `backup list`. */
export async function markVerified(
  store: BackupStore,
  accessory: string,
  report: VerifyReport,
  at: Date,
): Promise<void> {
  const mark: VerifyMark = { ...report, at: at.toISOString() };
  await store.write(
    `${accessory}/${report.id}/${VERIFY_MARK_NAME}`,
    Readable.from([Buffer.from(`${JSON.stringify(mark, null, 2)}\n`)]),
  );
}
