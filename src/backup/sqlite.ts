/**
 * SQLite: never a copy of the file (a copy taken while the app writes can be torn, and misses
 * what is still in the WAL). VACUUM INTO writes a consistent, compacted snapshot through SQLite
 * itself, into a private temporary folder; that snapshot is what is streamed, counted and
 * checked, and it is removed once streamed. A restore writes beside the database, checks the
 * result, and renames it into place whole.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SlipwayError } from "../errors/index.ts";
import type { VerifyFacts } from "./manifest.ts";

/** Rows per table and the integrity check of a database file. */
export function sqliteFacts(path: string): VerifyFacts & { integrityMessage: string } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    const message = rows.map((r) => r.integrity_check).join("; ");
    const tables: Record<string, number> = {};
    const names = db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as { name: string }[];
    for (const { name } of names) {
      const row = db.prepare(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`).get() as {
        n: number;
      };
      tables[name] = Number(row.n);
    }
    return {
      tables,
      ...(message === "ok" ? { integrity: "ok" as const } : {}),
      integrityMessage: message,
    };
  } finally {
    db.close();
  }
}

/**
 * A consistent snapshot of a live database, as a stream, with its facts (counted on the snapshot
 * itself, so they match the backup exactly). `cleanup` removes the snapshot; call it when done.
 */
export async function sqliteSnapshot(path: string): Promise<{
  stream: () => Readable;
  facts: VerifyFacts;
  version: string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "slipway-sqlite-"));
  const snapshot = join(dir, "snapshot.sqlite");
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    let version: string;
    try {
      // Waits (up to 10 s) for a writer rather than failing at once.
      db.exec("PRAGMA busy_timeout = 10000");
      db.prepare("VACUUM INTO ?").run(snapshot);
      version = String((db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v);
    } finally {
      db.close();
    }
    const { integrityMessage, ...facts } = sqliteFacts(snapshot);
    if (facts.integrity !== "ok")
      throw new SlipwayError({
        code: "backup.sqlite",
        message: `${path} fails its integrity check: ${integrityMessage}`,
        hint: "the database itself is damaged: restore an older backup, or repair it (sqlite3 .recover)",
      });
    return { stream: () => createReadStream(snapshot), facts, version, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Writes a restored database to `path`: beside it first, checked with integrity_check, then
 * renamed over it (its -wal and -shm removed, they belong to the file replaced). The app must
 * be stopped meanwhile.
 */
export async function restoreSqlite(
  plain: Readable,
  path: string,
  /** Runs once every byte is written, before anything is replaced: throws to stop the restore. */
  written: () => void = () => {},
): Promise<void> {
  const incoming = join(dirname(path), `.${path.split("/").pop()}.restoring`);
  try {
    await pipeline(plain, createWriteStream(incoming, { mode: 0o600, flush: true }));
    written();
    const { integrityMessage, integrity } = sqliteFacts(incoming);
    if (integrity !== "ok")
      throw new SlipwayError({
        code: "backup.sqlite",
        message: `the restored database fails its integrity check: ${integrityMessage}`,
        hint: "the backup is damaged: restore an older one",
      });
    await rm(`${path}-wal`, { force: true });
    await rm(`${path}-shm`, { force: true });
    await rename(incoming, path);
  } catch (err) {
    await rm(incoming, { force: true });
    throw err;
  }
}
