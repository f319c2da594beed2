/**
 * Backups that prove themselves: retention, a streamed archive (dump, compress, encrypt to
 * public keys), stores (a directory, S3) with a manifest written only once the store holds every
 * byte, engine dumps and restores, and verification by restoring.
 */

export {
  type BackupAccessoryOptions,
  type BackupSqliteOptions,
  backupAccessory,
  backupSqlite,
  type RestoreAccessoryOptions,
  readFacts,
  restoreAccessory,
  restoreSqliteBackup,
} from "./accessory.ts";
export {
  type ArchiveStats,
  archiveSuffix,
  type Compression,
  identitiesOf,
  Meter,
  type Opening,
  openArchive,
  type Sealing,
  type SealOptions,
  sealArchive,
} from "./archive.ts";
export {
  type Containers,
  dockerCli,
  dockerPipedRun,
  dockerRunOnce,
  type ExecRun,
  type LabelledContainer,
  type OneOffContainer,
} from "./containers.ts";
export {
  checkSnapshot,
  type DumpEngine,
  type DumpStep,
  type EngineTarget,
  mysqlCountSql,
  type PipedDumpStep,
  parseCounts,
  parseRedisKeys,
  parseRedisPersistence,
  planDump,
  planPipedDump,
  planReady,
  planRedisDump,
  planRedisPersistence,
  planRedisRestore,
  planRestore,
  planSnapshotSession,
  planTableList,
  planVersion,
  type RedisPersistence,
} from "./engines.ts";
export { execStream, execText } from "./exec.ts";
export {
  backupFiles,
  FILES_PART,
  planTar,
  planUntar,
  readFilesBackup,
  restoreFiles,
  TarCounter,
} from "./files.ts";
export {
  type InfluxBucket,
  type InfluxTarget,
  parseInfluxBuckets,
  parseInfluxVersion,
  planInfluxBuckets,
  planInfluxDump,
  planInfluxReady,
  planInfluxRestore,
  planInfluxVersion,
} from "./influxdb.ts";
export {
  backupId,
  type EngineKind,
  MANIFEST_NAME,
  type Manifest,
  type ManifestPart,
  parseManifest,
  type VerifyFacts,
} from "./manifest.ts";
export {
  type MongoTarget,
  planMongoCounts,
  planMongoDump,
  planMongoReady,
  planMongoRestore,
  planMongoVersion,
} from "./mongodb.ts";
export {
  type HandOver,
  handOverOf,
  PIPE_DIR,
  PIPE_FILE,
  type PipeWriter,
  readThroughPipe,
  withFallback,
} from "./pipe.ts";
export {
  type BackupTarget,
  backupDir,
  backupJobName,
  backupRequestPath,
  backupSecretsPath,
  backupWorkDir,
  cronPeriodMs,
  planBackupFiles,
  planBackupJobs,
  planRequest,
  planSecrets,
  planStore,
  planTargets,
  RESTORE_MOUNT,
  RUNNER_NODE,
  type RunnerPlacement,
  runnerContainer,
  SOURCE_MOUNT,
  type TargetSettings,
} from "./plan.ts";
export {
  type BackupRecord,
  type KeepReason,
  planRetention,
  type RetentionPlan,
  type RetentionPolicy,
} from "./retention.ts";
export {
  type DumpPart,
  listBackups,
  type PartProgress,
  pruneBackups,
  type RunBackupOptions,
  readManifest,
  runBackup,
} from "./run.ts";
export {
  parseRunnerResult,
  RESULT_PREFIX,
  type RunnerAction,
  type RunnerRequest,
  type RunnerResult,
  type RunnerSecrets,
  type RunnerSource,
  type StoreSpec,
} from "./runner/request.ts";
export { restoreSqlite, sqliteFacts, sqliteSnapshot } from "./sqlite.ts";
export { directoryStore } from "./stores/directory.ts";
export { parseS3Url, type S3StoreOptions, s3Store } from "./stores/s3.ts";
export type { BackupStore, StoredObject, WriteReceipt } from "./stores/store.ts";
export {
  checkBackup,
  compareFacts,
  markVerified,
  OWNER_LABEL,
  removeLeftoverThrowaways,
  VERIFY_LABEL,
  VERIFY_MARK_NAME,
  type VerifyCheck,
  type VerifyMark,
  type VerifyOptions,
  type VerifyReport,
  verifyBackup,
} from "./verify.ts";
