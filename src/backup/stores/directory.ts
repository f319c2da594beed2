/**
 * A directory store: a folder on the host (an NFS or a second disk mounted there, say). Writes go
 * to KEY.partial, are flushed to disk, checked for size, and only then renamed to KEY, so a
 * crash never leaves a file that looks whole.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Meter } from "../archive.ts";
import { type BackupStore, checkKey, type StoredObject, type WriteReceipt } from "./store.ts";

const PARTIAL = ".partial";

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function directoryStore(root: string): BackupStore {
  const pathOf = (key: string) => join(root, checkKey(key));
  return {
    location: root,

    async write(key: string, body: Readable): Promise<WriteReceipt> {
      const path = pathOf(key);
      const partial = `${path}${PARTIAL}`;
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const meter = new Meter();
      try {
        await pipeline(body, meter, createWriteStream(partial, { mode: 0o600, flush: true }));
        const held = (await stat(partial)).size;
        if (held !== meter.bytes)
          throw new Error(`${partial} holds ${held} bytes, ${meter.bytes} were written`);
        await rename(partial, path);
        await fsyncDir(dirname(path));
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
      return { bytes: meter.bytes, sha256: meter.sha256 };
    },

    async read(key: string): Promise<Readable> {
      const path = pathOf(key);
      await stat(path); // a missing file fails here, not on the first read
      return createReadStream(path);
    },

    async list(prefix: string): Promise<StoredObject[]> {
      let names: string[];
      try {
        names = await readdir(root, { recursive: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
      }
      const out: StoredObject[] = [];
      for (const name of names) {
        const key = relative(root, join(root, name)).split("\\").join("/");
        if (!key.startsWith(prefix)) continue;
        const s = await stat(join(root, name));
        if (s.isFile()) out.push({ key, bytes: s.size });
      }
      return out;
    },

    async remove(keys: readonly string[]): Promise<void> {
      for (const key of keys) await rm(pathOf(key), { force: true });
    },
  };
}
