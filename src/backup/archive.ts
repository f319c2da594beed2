/**
 * The archive: one streamed pipeline, dump → compress (zstd, or gzip) → encrypt with age, with
 * no copy on disk at any point. Encryption is to public-key recipients, so the host that writes
 * backups holds no key that opens them; a passphrase is the alternative for a team without keys.
 * The result opens with the standard tools: `age -d -i key.txt FILE | zstd -d`. To recipients,
 * the age library writes the header and node:crypto the payload (age-stream.ts: five times faster
 * than the library's JavaScript cipher); to a passphrase, the library writes both.
 */
import { createHash } from "node:crypto";
import { PassThrough, pipeline, Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline as pipelineAsync } from "node:stream/promises";
import {
  constants,
  createGunzip,
  createGzip,
  createZstdCompress,
  createZstdDecompress,
} from "node:zlib";
import { Decrypter, Encrypter } from "age-encryption";
import { UserError } from "../errors/index.ts";
import { AgePayload, ageHead } from "./age-stream.ts";
import { giveBack } from "./lent.ts";

export type Compression = "zstd" | "gzip";

/** Who can open an archive: age public keys (age1...), or one passphrase. */
export type Sealing =
  | { recipients: readonly string[]; passphrase?: undefined }
  | { passphrase: string; recipients?: undefined };

/** Who opens it: age identities (AGE-SECRET-KEY-1...), or the passphrase. */
export type Opening =
  | { identities: readonly string[]; passphrase?: undefined }
  | { passphrase: string; identities?: undefined };

export interface SealOptions {
  compression: Compression;
  /**
   * zstd 1..19 (default 1: a third less CPU than 3 for a dump's few percent more bytes, and CPU is
   * what a backup takes from the host's app; `npm run bench:backup`) or gzip 1..9 (default 6).
   */
  level?: number;
  sealing: Sealing;
}

/** The identities of an identity file's text (comments and blank lines skipped). */
export function identitiesOf(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
}

/** Sizes and SHA-256 of both ends of the pipeline, known once the archive has ended. */
export interface ArchiveStats {
  plainBytes: number;
  plainSha256: string;
  archiveBytes: number;
  archiveSha256: string;
}

/** What a file name of an archive ends with, per compression. */
export function archiveSuffix(compression: Compression): string {
  return compression === "zstd" ? ".zst.age" : ".gz.age";
}

/**
 * A pass-through that counts bytes and hashes them. With `batchBytes` it hands on chunks of at
 * least that size (the last one excepted): a dump read from `docker exec` arrives in chunks of
 * about 8 KiB, and every stage after this one pays per chunk, not per byte.
 */
export class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash("sha256");
  private digest: string | undefined;
  private readonly batchBytes: number;
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(options: { batchBytes?: number } = {}) {
    super();
    this.batchBytes = options.batchBytes ?? 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (this.batchBytes === 0) {
      done(null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    done(null, this.heldBytes < this.batchBytes ? undefined : this.release());
  }

  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest("hex");
    done(null, this.heldBytes > 0 ? this.release() : undefined);
  }

  private release(): Buffer {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length === 1) return held[0] as Buffer;
    const batch = Buffer.concat(held);
    for (const chunk of held) giveBack(chunk); // copied: the originals are not read again
    return batch;
  }

  /** The hex SHA-256 of everything that passed; only after the stream ended. */
  get sha256(): string {
    if (this.digest === undefined) throw new Error("the stream has not ended");
    return this.digest;
  }
}

/** What the plain meter hands the compressor at a time (see {@link Meter}). */
const PLAIN_BATCH = 1 << 20;
/** zlib's output buffer, both ways: with its 16 KiB default it takes a thread-pool trip per 16 KiB out. */
const ZLIB_CHUNK = 256 << 10;

function compressor(compression: Compression, level: number | undefined): Transform {
  const z =
    compression === "gzip"
      ? createGzip({ level: level ?? 6, chunkSize: ZLIB_CHUNK })
      : createZstdCompress({
          chunkSize: ZLIB_CHUNK,
          params: { [constants.ZSTD_c_compressionLevel]: level ?? 1 },
        });
  // A transform calls back once it has consumed a chunk: a lent one is given back then (lent.ts).
  const consume = z._transform.bind(z);
  z._transform = (chunk: Buffer, encoding, done) =>
    consume(chunk, encoding, (error, data) => {
      giveBack(chunk);
      done(error, data);
    });
  return z;
}

function decompressor(compression: Compression): Transform {
  const options = { chunkSize: ZLIB_CHUNK };
  return compression === "gzip" ? createGunzip(options) : createZstdDecompress(options);
}

function encrypter(sealing: Sealing): Encrypter {
  const e = new Encrypter();
  if (sealing.passphrase !== undefined) {
    if (sealing.passphrase.length < 12)
      throw new UserError({
        code: "backup.passphrase",
        message: "the backup passphrase is shorter than 12 characters",
        hint: "use a long random passphrase, or age public keys (age-keygen) instead",
      });
    e.setPassphrase(sealing.passphrase);
    return e;
  }
  if (sealing.recipients.length === 0)
    throw new UserError({
      code: "backup.recipients",
      message: "a backup needs at least one age recipient (public key) to encrypt to",
      hint: "make a key pair with age-keygen and give its public key (age1...)",
    });
  for (const r of sealing.recipients) {
    try {
      e.addRecipient(r);
    } catch (cause) {
      throw new UserError({
        code: "backup.recipients",
        message: `${JSON.stringify(r)} is not an age recipient: ${(cause as Error).message}`,
        hint: "an age public key starts with age1 (age-keygen -y key.txt prints it)",
        cause,
      });
    }
  }
  return e;
}

/**
 * Seals a dump stream into an archive stream. The returned stream fails when the source does:
 * a dump that dies half-way never looks like a finished archive.
 */
export function sealArchive(
  source: Readable,
  options: SealOptions,
): { archive: Readable; stats: Promise<ArchiveStats> } {
  const age = encrypter(options.sealing); // throws before anything starts
  const plain = new Meter({ batchBytes: PLAIN_BATCH });
  const sealed = new Meter();
  const archive = new PassThrough();
  const compress = () => compressor(options.compression, options.level);
  const stats = (async (): Promise<ArchiveStats> => {
    try {
      if (options.sealing.passphrase === undefined) {
        const head = await ageHead(age);
        await pipelineAsync(source, plain, compress(), new AgePayload(head), sealed, archive);
      } else {
        // The library's scrypt recipient hands no other recipient the file key: its own payload.
        const compressed = pipeline(source, plain, compress(), () => {});
        const encrypted = await age.encrypt(
          Readable.toWeb(compressed) as ReadableStream<Uint8Array>,
        );
        await pipelineAsync(Readable.fromWeb(encrypted as never), sealed, archive);
      }
    } catch (err) {
      archive.destroy(err as Error);
      throw err;
    }
    return {
      plainBytes: plain.bytes,
      plainSha256: plain.sha256,
      archiveBytes: sealed.bytes,
      archiveSha256: sealed.sha256,
    };
  })();
  // Whoever reads the archive sees its errors; the stats promise must not also crash the process.
  stats.catch(() => {});
  return { archive, stats };
}

/**
 * Opens an archive stream: resolves once age's header was read and matched an identity (a wrong
 * key fails here), with the plain stream, which fails if the archive is cut or altered.
 */
export async function openArchive(
  archive: Readable,
  options: { compression: Compression; opening: Opening },
): Promise<Readable> {
  const d = new Decrypter();
  if (options.opening.passphrase !== undefined) d.addPassphrase(options.opening.passphrase);
  else for (const identity of options.opening.identities) d.addIdentity(identity);
  // Its errors reach the reader through the web stream; unheard here, they would crash the process.
  archive.on("error", () => {});
  let decrypted: ReadableStream<Uint8Array>;
  try {
    decrypted = await d.decrypt(Readable.toWeb(archive) as ReadableStream<Uint8Array>);
  } catch (cause) {
    archive.destroy();
    throw new UserError({
      code: "backup.open",
      message: `the archive cannot be opened: ${(cause as Error).message}`,
      hint: "give the age identity (secret key) of one of the archive's recipients, or its passphrase",
      cause,
    });
  }
  return pipeline(
    Readable.fromWeb(decrypted as never),
    decompressor(options.compression),
    () => {},
  );
}
