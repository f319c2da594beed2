/**
 * Backups that prove themselves: retention, a streamed archive (dump, compress, encrypt to
 * public keys), stores (a directory, S3) with a manifest written only once the store holds every
 * byte, engine dumps and restores, and verification by restoring.
 */

export {
  type ArchiveStats,
  archiveSuffix,
  type Compression,
  Meter,
  type Opening,
  openArchive,
  type Sealing,
  type SealOptions,
  sealArchive,
} from "./archive.ts";
export {
  type BackupRecord,
  type KeepReason,
  planRetention,
  type RetentionPlan,
  type RetentionPolicy,
} from "./retention.ts";
