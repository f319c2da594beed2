/**
 * SQLite through the whole library: a live database in WAL mode, with a writer holding data in
 * the WAL, is backed up from a VACUUM INTO snapshot (never a file copy), sealed into a directory
 * store, restored to a new file with the same content, and verified (integrity_check and rows
 * per table against the manifest). A damaged archive and a damaged database are caught.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import {
  backupSqlite,
  directoryStore,
  type Opening,
  restoreSqliteBackup,
  type SealOptions,
  verifyBackup,
} from "../../src/backup/index.ts";
import { ageKeys } from "../support/age-keys.ts";

const dir = mkdtempSync(join(tmpdir(), "slipway-backup-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let seal: SealOptions;
let opening: Opening;
before(async () => {
  ({ seal, opening } = await ageKeys("gzip"));
});

/** The content, not the file: rows of every table in a stable order. */
function contentOf(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = [
      ...db.prepare("SELECT id, name, hex(data) FROM notes ORDER BY id").all(),
      ...db.prepare("SELECT k, v FROM kv ORDER BY k").all(),
    ];
    return createHash("sha256").update(JSON.stringify(rows)).digest("hex");
  } finally {
    db.close();
  }
}

describe("SQLite: VACUUM INTO snapshot, restore, verify", () => {
  it("backs up a live WAL database, restores the same content and verifies it", async () => {
    const path = join(dir, "app.sqlite");
    const app = new DatabaseSync(path);
    app.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;");
    app.exec(
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, name TEXT, data BLOB); CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)",
    );
    const insert = app.prepare("INSERT INTO notes (name, data) VALUES (?, randomblob(64))");
    app.exec("BEGIN");
    for (let i = 0; i < 3000; i++) insert.run(`note ${i} 'quoted'`);
    app.exec("COMMIT");
    app.exec("INSERT INTO kv VALUES ('a', '1'), ('b', '2')");
    // Still open, nothing checkpointed: the rows are in the WAL, which a copy of the file misses.
    const raw = join(dir, "raw-copy.sqlite");
    copyFileSync(path, raw);
    const copy = new DatabaseSync(raw);
    assert.throws(() => copy.prepare("SELECT count(*) FROM notes").get(), /no such table: notes/);
    copy.close();

    const store = directoryStore(join(dir, "store"));
    const m = await backupSqlite({ path, store, seal, accessory: "app-db", sourceHost: "web-1" });
    app.close();
    assert.equal(m.engine, "sqlite");
    assert.match(m.engineVersion, /^3\./);
    assert.deepEqual(m.verify, { tables: { kv: 2, notes: 3000 }, integrity: "ok" });

    const restored = join(dir, "restored.sqlite");
    await restoreSqliteBackup({ store, manifest: m, opening, path: restored });
    assert.equal(contentOf(restored), contentOf(path));

    const report = await verifyBackup({ store, manifest: m, opening });
    assert.deepEqual(report, {
      id: m.id,
      ok: true,
      how: "restore",
      checks: [
        { what: "rows in kv", expected: "2", actual: "2", ok: true },
        { what: "rows in notes", expected: "3000", actual: "3000", ok: true },
        { what: "integrity_check", expected: "ok", actual: "ok", ok: true },
      ],
    });

    // A manifest that expects other rows: the check names the table.
    const other = await verifyBackup({
      store,
      manifest: { ...m, verify: { ...m.verify, tables: { kv: 2, notes: 2999 } } },
      opening,
    });
    assert.equal(other.ok, false);
    assert.deepEqual(
      other.checks.filter((c) => !c.ok),
      [{ what: "rows in notes", expected: "2999", actual: "3000", ok: false }],
    );

    // A flipped byte in the stored archive.
    const file = join(dir, "store", m.parts[0]?.key ?? "");
    const bytes = readFileSync(file);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    writeFileSync(file, bytes);
    const damaged = await verifyBackup({ store, manifest: m, opening });
    assert.equal(damaged.ok, false);
    assert.match(damaged.error ?? "", /invalid tag|does not match its manifest/);
    await assert.rejects(
      restoreSqliteBackup({ store, manifest: m, opening, path: restored }),
      /invalid tag|does not match/,
    );
    assert.equal(
      contentOf(restored),
      contentOf(path),
      "a failed restore leaves the file as it was",
    );
  });

  it("refuses to back up a database that fails its integrity check", async () => {
    const path = join(dir, "broken.sqlite");
    const db = new DatabaseSync(path);
    db.exec("PRAGMA page_size = 1024; CREATE TABLE t (x TEXT); CREATE INDEX tx ON t (x);");
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    db.exec("BEGIN");
    for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${"x".repeat(50)}`);
    db.exec("COMMIT");
    db.close();
    // Damage a page in the middle of the file (index or table b-tree).
    const bytes = readFileSync(path);
    bytes.fill(0x41, 60 * 1024, 60 * 1024 + 600);
    writeFileSync(path, bytes);
    await assert.rejects(
      backupSqlite({
        path,
        store: directoryStore(join(dir, "store2")),
        seal,
        accessory: "x",
        sourceHost: "h",
      }),
      /fails its integrity check|malformed/,
    );
  });
});
