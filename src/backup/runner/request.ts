/**
 * What the backup runner is asked to do, as JSON: planned by the CLI from slipway.yml
 * (src/backup/plan.ts), read by the runner on the host. It holds no secret: the store's keys, a
 * passphrase and an identity come apart, from a 0600 file on the host (scheduled runs) or on the
 * runner's stdin for one run (the CLI's verify and restore), so the request can be kept, logged
 * and shown.
 */
import { z } from "zod";
import type { RetentionPlan } from "../retention.ts";
import type { VerifyReport } from "../verify.ts";
import type { ListedBackup } from "./actions.ts";

const absolute = z.string().regex(/^\/[^\0\n]*$/, "an absolute path");

/** An accessory's container to dump or restore into, with its engine's login. */
const accessorySource = z.strictObject({
  kind: z.enum(["postgres", "mysql", "mariadb", "mongodb", "redis", "influxdb"]),
  container: z.string().min(1),
  user: z.string(),
  database: z.string(),
  /** The image it runs: recorded in manifests, and what verification's throwaway copy runs. */
  image: z.string().min(1),
});

/** A folder as the runner sees it (mounted there), archived with tar. */
const filesSource = z.strictObject({
  kind: z.literal("files"),
  path: absolute,
  /** Paths inside it left out of the archive. */
  exclude: z.array(z.string().min(1)).default([]),
});

/** A SQLite file as the runner sees it (its volume mounted). */
const sqliteSource = z.strictObject({ kind: z.literal("sqlite"), path: absolute });

export const runnerSource = z.discriminatedUnion("kind", [
  accessorySource,
  filesSource,
  sqliteSource,
]);
export type RunnerSource = z.infer<typeof runnerSource>;

export const storeSpec = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("directory"), path: absolute }),
  z.strictObject({
    kind: z.literal("s3"),
    bucket: z.string().min(1),
    prefix: z.string(),
    endpoint: z.string().optional(),
    region: z.string().min(1),
    path_style: z.boolean(),
  }),
]);
export type StoreSpec = z.infer<typeof storeSpec>;

const retention = z.strictObject({
  keepLast: z.int().min(1),
  daily: z.int().min(0),
  weekly: z.int().min(0),
  monthly: z.int().min(0),
  yearly: z.int().min(0),
});

export const RUNNER_ACTIONS = ["backup", "list", "check", "verify", "restore", "prune"] as const;
export type RunnerAction = (typeof RUNNER_ACTIONS)[number];

export const runnerRequest = z.strictObject({
  format: z.literal(1),
  action: z.enum(RUNNER_ACTIONS),
  /** The host it runs on, recorded in manifests. */
  host: z.string().min(1),
  store: storeSpec,
  compression: z.enum(["zstd", "gzip"]),
  /** age public keys; absent: the passphrase of the secrets. */
  recipients: z.array(z.string().min(1)).min(1).optional(),
  targets: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        source: runnerSource,
        keep: retention.optional(),
      }),
    )
    .min(1),
  /** check, verify, restore: this backup's id; absent: the newest whole one. */
  backup: z.string().optional(),
  /** prune: remove what the plan says (without it, only the plan). */
  apply: z.boolean().default(false),
  /** restore: where to, when not the target's own source. */
  into: runnerSource.optional(),
  /** restore: a folder that is not empty, or a file that exists, is replaced (else refused). */
  replace: z.boolean().default(false),
  /** restore: read the backup from this store (a backup brought from elsewhere). */
  from: storeSpec.optional(),
});
export type RunnerRequest = z.input<typeof runnerRequest>;
export type ParsedRequest = z.output<typeof runnerRequest>;

/** What the runner gets apart from the request. */
export const runnerSecrets = z.strictObject({
  s3: z
    .strictObject({ access_key_id: z.string().min(1), secret_access_key: z.string().min(1) })
    .optional(),
  passphrase: z.string().optional(),
  identity: z.string().optional(),
});
export type RunnerSecrets = z.infer<typeof runnerSecrets>;

/** What the runner's stdin holds when the CLI starts it for one run. */
export const runnerInput = z.strictObject({
  request: runnerRequest,
  secrets: runnerSecrets.default({}),
});

/** The last line of the runner's stdout: the outcome, for the CLI and the agent. */
export interface RunnerResult {
  ok: boolean;
  action: RunnerAction;
  /** One line for people (the agent's run detail). */
  summary: string;
  error?: { code: string; message: string; hint?: string | undefined };
  /** Where the store is (backup, list). */
  store?: string;
  /** list: each target's backups, newest first. */
  targets?: { name: string; backups: ListedBackup[] }[];
  /** verify, restore: what was compared. */
  report?: VerifyReport;
  /** prune: each target's retention plan. */
  plans?: ({ target: string } & RetentionPlan)[];
  /** backup: what went well but not wholly (retention not applied). */
  warning?: string;
  [key: string]: unknown;
}

/** Marks the result line among the runner's output (its logs interleave stderr). */
export const RESULT_PREFIX = "slipway-backup-result ";

/** The runner's result from its output (the agent's job output, or a `docker run`'s stdout). */
export function parseRunnerResult(output: string): RunnerResult | undefined {
  const line = output
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line.slice(RESULT_PREFIX.length)) as RunnerResult;
  } catch {
    return undefined;
  }
}
