/**
 * Folders (a volume, a directory of the host, the app's state on its host) as a tar stream: GNU
 * tar in the runner's own container, where the folder is mounted, with numeric owners so a
 * restore gives files back to the same uids. The entries are counted as the stream passes, so
 * verification can tell a whole archive from a cut one without unpacking it anywhere.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline, Transform, type TransformCallback } from "node:stream";
import { SlipwayError } from "../errors/index.ts";
import type { Argv } from "../transport/index.ts";
import { type BackupSqliteOptions, openPart } from "./accessory.ts";
import type { Opening } from "./archive.ts";
import { drained, execStream, execText } from "./exec.ts";
import type { Manifest, VerifyFacts } from "./manifest.ts";
import { runBackup } from "./run.ts";
import type { BackupStore } from "./stores/store.ts";

/** The part's name in a folder's backup. */
export const FILES_PART = "files";

/** tar of everything in `path` (its contents, as ./...), minus `exclude` (paths relative to it). */
export function planTar(path: string, exclude: readonly string[] = []): Argv {
  return [
    "tar",
    "--create",
    "--file",
    "-",
    "--directory",
    path,
    "--numeric-owner",
    ...exclude.map((e) => `--exclude=./${e}`),
    ".",
  ];
}

/** Unpacks a tar from stdin into `path`, owners and modes as archived. */
export function planUntar(path: string): Argv {
  return [
    "tar",
    "--extract",
    "--file",
    "-",
    "--directory",
    path,
    "--numeric-owner",
    "--same-permissions",
  ];
}

const BLOCK = 512;
/** Header types that describe the next entry (GNU long names, pax headers), not an entry. */
const META_TYPES = new Set(["L", "K", "x", "g"]);

/** The size field of a tar header: octal text, or base-256 with the high bit set. */
function entrySize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if ((field[0] ?? 0) & 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return n;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

/** A pass-through that counts the entries of the tar stream it carries. */
export class TarCounter extends Transform {
  entries = 0;
  /** Two zero blocks were seen: the archive's end marker. */
  ended = false;
  private header = Buffer.alloc(0);
  private skip = 0;
  private zeros = 0;

  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const want = BLOCK - this.header.length;
      const piece = chunk.subarray(at, at + want);
      this.header =
        this.header.length === 0 ? Buffer.from(piece) : Buffer.concat([this.header, piece]);
      at += piece.length;
      if (this.header.length === BLOCK) this.block(this.header);
    }
    done(null, chunk);
  }

  private block(header: Buffer): void {
    this.header = Buffer.alloc(0);
    if (header.every((b) => b === 0)) {
      if (++this.zeros >= 2) this.ended = true;
      return;
    }
    this.zeros = 0;
    const size = entrySize(header);
    const type = String.fromCharCode(header[156] ?? 0);
    if (!META_TYPES.has(type)) this.entries++;
    this.skip = Math.ceil(size / BLOCK) * BLOCK;
  }

  /** What verification compares: the entries, once the stream has ended whole. */
  facts(): VerifyFacts {
    if (!this.ended)
      throw new SlipwayError({
        code: "backup.tar",
        message: "the tar stream ended without its end marker: it is cut",
        hint: "this backup is damaged: use an older one (slipway backup list)",
      });
    return { entries: this.entries };
  }
}

/** As a SQLite backup's, `path` being the folder (as this process sees it). */
export interface BackupFilesOptions extends BackupSqliteOptions {
  /** Paths inside it left out (the runner's own work folder, a lock). */
  exclude?: readonly string[];
}

/** Archives a folder with tar into the store; the manifest counts its entries. */
export async function backupFiles(o: BackupFilesOptions): Promise<Manifest> {
  const version = (await execText(["tar", "--version"])).split("\n")[0]?.trim() ?? "tar";
  const counter = new TarCounter();
  return runBackup({
    store: o.store,
    accessory: o.accessory,
    engine: "files",
    engineVersion: version,
    sourceHost: o.sourceHost,
    parts: [
      {
        name: FILES_PART,
        open: () => pipeline(execStream(planTar(o.path, o.exclude)).stdout, counter, () => {}),
      },
    ],
    seal: o.seal,
    facts: async () => counter.facts(),
    ...(o.now ? { now: o.now } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
}

/** Reads a folder backup whole from the store (checked against the manifest): its entries. */
export async function readFilesBackup(
  store: BackupStore,
  manifest: Manifest,
  opening: Opening,
): Promise<VerifyFacts> {
  const { plain, checked } = await openPart(store, manifest, FILES_PART, opening);
  const counter = new TarCounter();
  const counted: Readable = plain.pipe(counter);
  plain.on("error", (error) => counter.destroy(error));
  counted.resume();
  await new Promise<void>((resolve, reject) => {
    counted.on("end", resolve);
    counted.on("error", reject);
  });
  checked();
  return counter.facts();
}

/**
 * Restores a folder backup into `path`: what is there is removed first (the caller took a safety
 * backup), then the archive is unpacked, checked against the manifest as it streams.
 */
export async function restoreFiles(o: {
  store: BackupStore;
  manifest: Manifest;
  opening: Opening;
  path: string;
}): Promise<void> {
  const { plain, checked } = await openPart(o.store, o.manifest, FILES_PART, o.opening);
  for (const entry of await readdir(o.path))
    await rm(join(o.path, entry), { recursive: true, force: true });
  await drained(execStream(planUntar(o.path), { stdin: plain }));
  checked();
}
