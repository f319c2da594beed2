/**
 * The manifest: one JSON file per backup, written last, after the store confirmed every part.
 * Its presence is what makes a backup count; it holds what a restore and a verification need
 * (engine and version, each part's sizes and SHA-256, who can open it, what the data looked like).
 */
import { z } from "zod";

/** What a restored copy must show to pass verification. */
export const verifyFacts = z.object({
  /** Rows per table ("schema.table" or "db.table"), counted when the dump was taken. */
  tables: z.record(z.string(), z.int().min(0)).optional(),
  /** Redis: keys over all databases. */
  keys: z.int().min(0).optional(),
  /** SQLite: PRAGMA integrity_check said "ok". */
  integrity: z.literal("ok").optional(),
  /** A folder's tar: its entries (files, folders, links). */
  entries: z.int().min(0).optional(),
  /** InfluxDB: the names of the org's own buckets, sorted. */
  buckets: z.array(z.string()).optional(),
});
export type VerifyFacts = z.infer<typeof verifyFacts>;

const part = z.object({
  /** "database", "globals", "redis", "sqlite", "files". */
  name: z.string().min(1),
  /** Relative to the store. */
  key: z.string().min(1),
  plainBytes: z.int().min(0),
  plainSha256: z.string().regex(/^[0-9a-f]{64}$/),
  archiveBytes: z.int().min(0),
  archiveSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ManifestPart = z.infer<typeof part>;

export const manifest = z.object({
  format: z.literal(1),
  id: z.string().min(1),
  accessory: z.string().min(1),
  /** "files": a folder as tar (a volume, a host folder, the app's state on its host). */
  engine: z.enum([
    "postgres",
    "mysql",
    "mariadb",
    "mongodb",
    "redis",
    "influxdb",
    "sqlite",
    "files",
  ]),
  engineVersion: z.string(),
  sourceHost: z.string(),
  /** The image the accessory ran: verification restores into a throwaway container of it. */
  image: z.string().optional(),
  /** The app's login and database the dump belongs to (no password): a restore's target. */
  login: z.object({ user: z.string(), database: z.string() }).optional(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  compression: z.enum(["zstd", "gzip"]),
  /** age public keys the parts are encrypted to; absent with a passphrase. */
  recipients: z.array(z.string()).optional(),
  passphrase: z.boolean().optional(),
  parts: z.array(part).min(1),
  verify: verifyFacts,
});
export type Manifest = z.infer<typeof manifest>;
export type EngineKind = Manifest["engine"];

export const MANIFEST_NAME = "manifest.json";

/** Parses a manifest's text; throws naming the first bad field. */
export function parseManifest(text: string, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not JSON: ${(err as Error).message}`);
  }
  const r = manifest.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${where}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return r.data;
}

/** A backup's id from its start: sortable, and safe in a key or file name. */
export function backupId(startedAt: Date): string {
  return startedAt
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** The start time an id stands for; undefined for a key that is not a backup's. */
export function backupTime(id: string): Date | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(id);
  if (!m) return undefined;
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}
