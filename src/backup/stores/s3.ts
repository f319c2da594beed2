/**
 * An S3-compatible store (AWS, Backblaze B2, Cloudflare R2, MinIO, Garage...): keys under a
 * prefix, archives streamed up as a multipart upload (memory: queueSize × partSize), and a write
 * confirmed by HEAD: the size and the ETag must match the bytes sent (the MD5 of the object, or
 * of its parts' MD5s and their count for a multipart object). A failed upload is aborted, so its
 * parts are not kept (and billed) forever.
 */
import { createHash, type Hash } from "node:crypto";
import { pipeline, type Readable, Transform, type TransformCallback } from "node:stream";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { SlipwayError, UserError } from "../../errors/index.ts";
import { type BackupStore, checkKey, type StoredObject, type WriteReceipt } from "./store.ts";

export interface S3StoreOptions {
  bucket: string;
  /** Keys go under it ("backups/hello"); no leading or trailing slash needed. */
  prefix?: string;
  region?: string;
  /** For anything but AWS: "https://s3.eu-central-003.backblazeb2.com", "http://127.0.0.1:9000". */
  endpoint?: string;
  /** bucket.host/key (false, AWS's default) or host/bucket/key (true: MinIO, most others). */
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Bytes per part; S3's minimum is 5 MiB. Default 8 MiB. */
  partSize?: number;
  /** Parts in flight at once. Default 2. */
  queueSize?: number;
  /** Attempts per request, retries included. Default 3. */
  maxAttempts?: number;
}

const MiB = 1024 * 1024;

/** `s3://bucket/some/prefix` → bucket and prefix. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m?.[1])
    throw new UserError({
      code: "backup.store",
      message: `${JSON.stringify(url)} is not an S3 URL`,
      hint: "write s3://BUCKET or s3://BUCKET/PREFIX (bucket names are lower case)",
    });
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

/** Counts, hashes (SHA-256, MD5) and MD5s each part as the uploader will cut it. */
class UploadMeter extends Transform {
  bytes = 0;
  readonly partMd5s: Buffer[] = [];
  private readonly sha = createHash("sha256");
  private readonly md5 = createHash("md5");
  private part: Hash = createHash("md5");
  private partBytes = 0;
  sha256 = "";
  wholeMd5 = "";

  private readonly partSize: number;

  constructor(partSize: number) {
    super();
    this.partSize = partSize;
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.sha.update(chunk);
    this.md5.update(chunk);
    let rest = chunk;
    while (rest.length > 0) {
      const n = Math.min(this.partSize - this.partBytes, rest.length);
      this.part.update(rest.subarray(0, n));
      this.partBytes += n;
      rest = rest.subarray(n);
      if (this.partBytes === this.partSize) {
        this.partMd5s.push(this.part.digest());
        this.part = createHash("md5");
        this.partBytes = 0;
      }
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.partBytes > 0 || this.partMd5s.length === 0) this.partMd5s.push(this.part.digest());
    this.sha256 = this.sha.digest("hex");
    this.wholeMd5 = this.md5.digest("hex");
    done();
  }

  /** ETags an intact object can have: its MD5 (one PUT), or S3's multipart form. */
  expectedEtags(): string[] {
    const parts = createHash("md5").update(Buffer.concat(this.partMd5s)).digest("hex");
    return [this.wholeMd5, `${parts}-${this.partMd5s.length}`];
  }
}

const reason = (err: unknown) => (err instanceof Error ? err.message || err.name : String(err));

export function s3Store(options: S3StoreOptions): BackupStore & { readonly client: S3Client } {
  const partSize = options.partSize ?? 8 * MiB;
  if (partSize < 5 * MiB) throw new RangeError("S3 parts are at least 5 MiB");
  const client = new S3Client({
    region: options.region ?? "us-east-1",
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    // The ETag check below covers integrity; the SDK's streamed CRC trailers are not spoken by
    // every S3-compatible server.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const Bucket = options.bucket;
  const prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
  const location = `s3://${Bucket}${prefix ? `/${prefix}` : ""}`;
  const full = (key: string) => (prefix ? `${prefix}/${checkKey(key)}` : checkKey(key));
  const failure = (key: string, message: string, hint: string, cause?: unknown) =>
    new SlipwayError({
      code: "backup.store",
      message: `${location}/${key}: ${message}`,
      hint,
      cause,
    });

  async function remove(keys: readonly string[]): Promise<void> {
    // One DELETE per key: DeleteObjects is missing from some S3-compatible servers.
    for (const key of keys) await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }));
  }

  return {
    location,
    client,

    async write(key: string, body: Readable): Promise<WriteReceipt> {
      const Key = full(key);
      const meter = new UploadMeter(partSize);
      const metered = pipeline(body, meter, () => {});
      const upload = new Upload({
        client,
        params: { Bucket, Key, Body: metered, ContentType: "application/octet-stream" },
        partSize,
        queueSize: options.queueSize ?? 2,
        // Aborted here, so that a failed abort cannot hide why the upload failed.
        leavePartsOnError: true,
      });
      try {
        await upload.done();
      } catch (cause) {
        metered.destroy();
        let aborted = "";
        if (upload.uploadId) {
          try {
            await client.send(
              new AbortMultipartUploadCommand({ Bucket, Key, UploadId: upload.uploadId }),
            );
            aborted = "; its multipart upload was aborted";
          } catch (abortError) {
            aborted = `; its multipart upload ${upload.uploadId} could not be aborted either (${reason(abortError)})`;
          }
        }
        throw failure(
          key,
          `upload failed: ${reason(cause)}${aborted}`,
          "check that the store is reachable and the credentials may write; nothing was recorded as a backup. An S3 lifecycle rule (AbortIncompleteMultipartUpload) removes parts an abort could not",
          cause,
        );
      }
      let head: { ContentLength?: number | undefined; ETag?: string | undefined };
      try {
        head = await client.send(new HeadObjectCommand({ Bucket, Key }));
      } catch (cause) {
        throw failure(
          key,
          `uploaded, but cannot be confirmed: ${reason(cause)}`,
          "run the backup again",
          cause,
        );
      }
      const etag = (head.ETag ?? "").replaceAll('"', "");
      if (head.ContentLength !== meter.bytes || !meter.expectedEtags().includes(etag)) {
        await remove([key]).catch(() => {});
        throw failure(
          key,
          `the store holds ${head.ContentLength} bytes with ETag ${etag}, but ${meter.bytes} bytes were sent (ETag ${meter.expectedEtags().join(" or ")})`,
          "the upload was damaged on its way and has been removed; run the backup again",
        );
      }
      return { bytes: meter.bytes, sha256: meter.sha256 };
    },

    async read(key: string): Promise<Readable> {
      const out = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
      return out.Body as Readable;
    },

    async list(sub: string): Promise<StoredObject[]> {
      const out: StoredObject[] = [];
      const strip = prefix ? prefix.length + 1 : 0;
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: prefix ? `${prefix}/${sub}` : sub,
            ...(ContinuationToken ? { ContinuationToken } : {}),
          }),
        );
        for (const o of page.Contents ?? [])
          if (o.Key) out.push({ key: o.Key.slice(strip), bytes: o.Size ?? 0 });
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out;
    },

    remove,
  };
}
