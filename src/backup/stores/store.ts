/** What the backup pipeline needs of a place that keeps archives. */
import type { Readable } from "node:stream";

export interface StoredObject {
  /** Relative to the store's root or prefix. */
  key: string;
  bytes: number;
}

/** Proof of a write: the bytes the store says it holds, checked against what was sent. */
export interface WriteReceipt {
  bytes: number;
  sha256: string;
}

export interface BackupStore {
  /** Where it is, for messages: "s3://bucket/prefix" or a path. Holds no secret. */
  readonly location: string;
  /**
   * Streams `body` to `key`. Resolves only once the store confirms it holds every byte (size and
   * checksum compared with what was sent); on any failure nothing is left under `key`.
   */
  write(key: string, body: Readable): Promise<WriteReceipt>;
  read(key: string): Promise<Readable>;
  /** Objects whose key starts with `prefix`, in no particular order. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Removes these keys; a key that is not there is no error. */
  remove(keys: readonly string[]): Promise<void>;
}

/** A key names a file below the root: no empty, `.` or `..` segment, no leading slash. */
export function checkKey(key: string): string {
  const segments = key.split("/");
  if (key.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".."))
    throw new TypeError(`bad store key ${JSON.stringify(key)}`);
  return key;
}
