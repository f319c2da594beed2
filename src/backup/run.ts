/**
 * One backup run: each part of the dump is streamed through the archive pipeline into the store,
 * and the manifest is written only after the store confirmed every part. A failure anywhere
 * removes the parts already written (best effort) and writes no manifest, so nothing claims a
 * backup that is not whole. Retention and listing read the same layout:
 * ACCESSORY/ID/PART.zst.age and ACCESSORY/ID/manifest.json.
 */
import { pipeline, Readable, Transform } from "node:stream";
import { text } from "node:stream/consumers";
import { archiveSuffix, type SealOptions, sealArchive } from "./archive.ts";
import {
  backupId,
  backupTime,
  type EngineKind,
  MANIFEST_NAME,
  type Manifest,
  type ManifestPart,
  parseManifest,
  type VerifyFacts,
} from "./manifest.ts";
import {
  type BackupRecord,
  planRetention,
  type RetentionPlan,
  type RetentionPolicy,
} from "./retention.ts";
import type { BackupStore } from "./stores/store.ts";

/** One stream of a dump: Postgres has "globals" and "database", the others one part. */
export interface DumpPart {
  name: string;
  /** Started when the run starts: the parts of a backup run at once. */
  open(): Readable;
}

export interface RunBackupOptions {
  store: BackupStore;
  accessory: string;
  engine: EngineKind;
  engineVersion: string;
  sourceHost: string;
  image?: string;
  login?: { user: string; database: string };
  parts: readonly DumpPart[];
  seal: SealOptions;
  /** What verification will compare a restored copy with; read after the dump. */
  facts?: () => Promise<VerifyFacts>;
  now?: () => Date;
  /**
   * Told as each part's dump is read (its plain bytes so far), and once more when the store has
   * confirmed it (with the archive's size), for progress on long runs.
   */
  onProgress?: (progress: PartProgress) => void;
}

/** How far a part is: bytes of the dump read; the archive's bytes once it is stored. */
export interface PartProgress {
  part: string;
  plainBytes: number;
  archiveBytes?: number;
}

/** The dump as it is read, counted for onProgress. */
function counted(source: Readable, part: string, tell: (p: PartProgress) => void): Readable {
  let plainBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      plainBytes += chunk.length;
      tell({ part, plainBytes });
      done(null, chunk);
    },
  });
  // pipeline, not pipe: a reader that stops destroys the dump too (its program is stopped).
  pipeline(source, counter, () => {});
  return counter;
}

export async function runBackup(o: RunBackupOptions): Promise<Manifest> {
  const now = o.now ?? (() => new Date());
  const started = now();
  const id = backupId(started);
  const written: string[] = [];
  const archives: Readable[] = [];
  let failure: { cause: unknown } | undefined;
  /** The first part to fail stops the others (their writes fail too) and is what the run says. */
  const stopAll = (cause: unknown) => {
    failure ??= { cause };
    for (const a of archives) a.destroy(cause as Error);
  };
  async function writePart(p: DumpPart): Promise<ManifestPart> {
    const key = `${o.accessory}/${id}/${p.name}${archiveSuffix(o.seal.compression)}`;
    written.push(key);
    try {
      if (failure) throw failure.cause;
      const dump = p.open();
      const source = o.onProgress ? counted(dump, p.name, o.onProgress) : dump;
      let sealed: ReturnType<typeof sealArchive>;
      try {
        sealed = sealArchive(source, o.seal);
      } catch (err) {
        dump.destroy(); // a dump nobody will read: execStream stops its program
        throw err;
      }
      const { archive, stats } = sealed;
      archives.push(archive);
      const receipt = await o.store.write(key, archive);
      const s = await stats;
      if (receipt.bytes !== s.archiveBytes || receipt.sha256 !== s.archiveSha256)
        throw new Error(`${key}: the store received other bytes than the archive made`);
      o.onProgress?.({ part: p.name, plainBytes: s.plainBytes, archiveBytes: s.archiveBytes });
      return { name: p.name, key, ...s };
    } catch (err) {
      stopAll(err);
      throw err;
    }
  }
  try {
    // All parts at once (Postgres' globals beside its database): each waits on its own dump.
    const settled = await Promise.allSettled(o.parts.map(writePart));
    if (failure) throw failure.cause;
    const parts = settled.map((r) => (r as PromiseFulfilledResult<ManifestPart>).value);
    const verify = o.facts ? await o.facts() : {};
    const m: Manifest = {
      format: 1,
      id,
      accessory: o.accessory,
      engine: o.engine,
      engineVersion: o.engineVersion,
      sourceHost: o.sourceHost,
      ...(o.image === undefined ? {} : { image: o.image }),
      ...(o.login === undefined ? {} : { login: o.login }),
      startedAt: started.toISOString(),
      finishedAt: now().toISOString(),
      compression: o.seal.compression,
      ...(o.seal.sealing.passphrase !== undefined
        ? { passphrase: true }
        : { recipients: [...o.seal.sealing.recipients] }),
      parts,
      verify,
    };
    await o.store.write(
      `${o.accessory}/${id}/${MANIFEST_NAME}`,
      Readable.from([Buffer.from(`${JSON.stringify(m, null, 2)}\n`)]),
    );
    return m;
  } catch (err) {
    await o.store.remove(written).catch(() => {});
    throw err;
  }
}

/** A backup's files in a store, gathered: its parts' bytes, its manifest, any other file. */
export interface StoredBackup extends BackupRecord {
  /** The parts' archives' bytes. */
  bytes: number;
  /** Files beside the parts and the manifest (a verification's mark), by name. */
  others: string[];
}

/** The backups of an accessory in a store, newest first: ok when its manifest is there. */
export async function storedBackups(
  store: BackupStore,
  accessory: string,
): Promise<StoredBackup[]> {
  const byId = new Map<string, StoredBackup>();
  for (const o of await store.list(`${accessory}/`)) {
    const [, id, name] = o.key.split("/");
    const at = id === undefined ? undefined : backupTime(id);
    if (id === undefined || name === undefined || at === undefined) continue;
    const backup = byId.get(id) ?? { id, at, ok: false, bytes: 0, others: [] };
    if (name === MANIFEST_NAME) backup.ok = true;
    else if (name.endsWith(".age")) backup.bytes += o.bytes;
    else backup.others.push(name);
    byId.set(id, backup);
  }
  return [...byId.values()].sort((a, b) => b.at.getTime() - a.at.getTime());
}

/** The backups of an accessory in a store, newest first: ok when its manifest is there. */
export async function listBackups(store: BackupStore, accessory: string): Promise<BackupRecord[]> {
  return (await storedBackups(store, accessory)).map(({ id, at, ok }) => ({ id, at, ok }));
}

export async function readManifest(
  store: BackupStore,
  accessory: string,
  id: string,
): Promise<Manifest> {
  const key = `${accessory}/${id}/${MANIFEST_NAME}`;
  return parseManifest(await text(await store.read(key)), `${store.location}/${key}`);
}

/**
 * Applies retention to an accessory's backups: call it after a successful run only (the planner
 * also removes nothing when the newest backup is not whole). Returns what it did.
 */
export async function pruneBackups(
  store: BackupStore,
  accessory: string,
  policy: RetentionPolicy,
): Promise<RetentionPlan> {
  const plan = planRetention(await listBackups(store, accessory), policy);
  const gone = new Set(plan.remove.map((r) => r.id));
  const keys = (await store.list(`${accessory}/`))
    .map((o) => o.key)
    .filter((k) => gone.has(k.split("/")[1] ?? ""));
  // Manifests first: a backup interrupted mid-removal then reads as incomplete, never as whole.
  keys.sort((a, b) => Number(b.endsWith(MANIFEST_NAME)) - Number(a.endsWith(MANIFEST_NAME)));
  await store.remove(keys);
  return plan;
}
