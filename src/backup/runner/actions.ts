/**
 * What the runner does on a host, one request at a time: back a target up (then apply its
 * retention), list what the store holds, check or verify a backup (and mark the outcome beside
 * it), restore one (after checking it whole), or plan and apply retention. Every outcome is a
 * RunnerResult; failures too, with the error's code, message and hint.
 */
import { readdir, stat } from "node:fs/promises";
import { SlipwayError, UserError } from "../../errors/index.ts";
import { formatBytes } from "../../output/index.ts";
import {
  type AccessoryTarget,
  backupAccessory,
  backupSqlite,
  readFacts,
  restoreAccessory,
  restoreSqliteBackup,
} from "../accessory.ts";
import { identitiesOf, type Opening, type SealOptions } from "../archive.ts";
import type { Containers } from "../containers.ts";
import { backupFiles, restoreFiles } from "../files.ts";
import { MANIFEST_NAME, type Manifest } from "../manifest.ts";
import { planRetention, type RetentionPlan } from "../retention.ts";
import {
  listBackups,
  type PartProgress,
  pruneBackups,
  readManifest,
  storedBackups,
} from "../run.ts";
import { directoryStore } from "../stores/directory.ts";
import type { BackupStore } from "../stores/store.ts";
import {
  checkBackup,
  compareFacts,
  markVerified,
  readVerifyMark,
  VERIFY_MARK_NAME,
  type VerifyMark,
  type VerifyReport,
  verifyBackup,
} from "../verify.ts";
import type {
  ParsedRequest,
  RunnerResult,
  RunnerSecrets,
  RunnerSource,
  StoreSpec,
} from "./request.ts";

export interface RunnerContext {
  request: ParsedRequest;
  secrets: RunnerSecrets;
  containers: Containers;
  /** A progress line for people (the runner's stderr). */
  say: (line: string) => void;
  now?: () => Date;
}

type Target = ParsedRequest["targets"][number];

/** One backup as `backup list` shows it. */
export interface ListedBackup {
  id: string;
  at: string;
  /** Its manifest is there: the backup is whole. */
  complete: boolean;
  /** The parts' archives in the store. */
  bytes: number;
  verified: VerifyMark | null;
}

/** Opens the store a request names; S3's SDK is loaded only for S3. */
export async function openStore(spec: StoreSpec, secrets: RunnerSecrets): Promise<BackupStore> {
  if (spec.kind === "directory") return directoryStore(spec.path);
  if (!secrets.s3)
    throw new UserError({
      code: "backup.s3_keys",
      message: `the keys of s3://${spec.bucket} did not reach the runner`,
      hint: "slipway agent install puts them on the host; check backups.s3 and .slipway/secrets",
    });
  const { s3Store } = await import("../stores/s3.ts");
  return s3Store({
    bucket: spec.bucket,
    prefix: spec.prefix,
    region: spec.region,
    ...(spec.endpoint === undefined ? {} : { endpoint: spec.endpoint }),
    forcePathStyle: spec.path_style,
    credentials: {
      accessKeyId: secrets.s3.access_key_id,
      secretAccessKey: secrets.s3.secret_access_key,
    },
  });
}

function sealOptions(request: ParsedRequest, secrets: RunnerSecrets): SealOptions {
  if (request.recipients)
    return { compression: request.compression, sealing: { recipients: request.recipients } };
  if (secrets.passphrase !== undefined)
    return { compression: request.compression, sealing: { passphrase: secrets.passphrase } };
  throw new UserError({
    code: "backup.recipients",
    message: "the runner got neither recipients nor the passphrase to encrypt to",
    hint: "set backups.recipients (or backups.passphrase), then slipway agent install",
  });
}

function openingOf(secrets: RunnerSecrets): Opening {
  if (secrets.identity !== undefined) {
    const identities = identitiesOf(secrets.identity);
    if (identities.length > 0) return { identities };
  }
  if (secrets.passphrase !== undefined) return { passphrase: secrets.passphrase };
  throw new UserError({
    code: "backup.no_identity",
    message: "opening a backup takes the age identity (secret key) of one of its recipients",
    hint: "give it with --identity FILE, or name its secret in backups.identity",
  });
}

function progress(say: RunnerContext["say"], target: string): (p: PartProgress) => void {
  let last = Date.now();
  return (p) => {
    if (p.archiveBytes !== undefined) {
      say(
        `${target}: ${p.part} ${formatBytes(p.plainBytes)} read, ${formatBytes(p.archiveBytes)} stored`,
      );
    } else if (Date.now() - last >= 2_000) {
      last = Date.now();
      say(`${target}: ${p.part} ${formatBytes(p.plainBytes)} read so far`);
    }
  };
}

const engineTarget = (s: Extract<RunnerSource, { container: string }>): AccessoryTarget => ({
  engine: s.kind,
  container: s.container,
  user: s.user,
  database: s.database,
});

/** The backups of a target in the store, newest first, with sizes and verification marks. */
async function listed(store: BackupStore, target: string): Promise<ListedBackup[]> {
  const out: ListedBackup[] = [];
  for (const b of await storedBackups(store, target))
    out.push({
      id: b.id,
      at: b.at.toISOString(),
      complete: b.ok,
      bytes: b.bytes,
      verified: b.others.includes(VERIFY_MARK_NAME)
        ? await readVerifyMark(store, target, b.id)
        : null,
    });
  return out;
}

/** The backup a request names, or the newest whole one. */
async function chosen(
  store: BackupStore,
  target: string,
  id: string | undefined,
): Promise<Manifest> {
  const pick = id ?? (await listBackups(store, target)).find((r) => r.ok)?.id;
  if (pick === undefined)
    throw new UserError({
      code: "backup.none",
      message: `${store.location} holds no whole backup of ${target}`,
      hint: `make one: slipway backup run ${target}`,
    });
  try {
    return await readManifest(store, target, pick);
  } catch (cause) {
    throw new UserError({
      code: "backup.not_found",
      message: `${store.location} has no whole backup ${target}/${pick}: ${(cause as Error).message}`,
      hint: `slipway backup list ${target} shows the backups there`,
      cause,
    });
  }
}

/** The store holds the backup as its manifest says: each part there, at its size. */
async function confirmStored(store: BackupStore, m: Manifest): Promise<void> {
  const held = new Map(
    (await store.list(`${m.accessory}/${m.id}/`)).map((o) => [o.key, o.bytes] as const),
  );
  const missing = m.parts.filter((p) => held.get(p.key) !== p.archiveBytes);
  if (!held.has(`${m.accessory}/${m.id}/${MANIFEST_NAME}`) || missing.length > 0)
    throw new SlipwayError({
      code: "backup.unconfirmed",
      message: `${store.location} does not list backup ${m.accessory}/${m.id} whole after writing it (${missing.map((p) => p.name).join(", ") || MANIFEST_NAME})`,
      hint: "the store lost what it confirmed: check it, then run the backup again",
    });
}

const passed = (n: number) => `${n} check${n === 1 ? "" : "s"} passed`;
const seconds = (from: number, to: number) => `${Math.max(0, Math.round((to - from) / 1000))}s`;

async function backupTarget(ctx: RunnerContext, target: Target): Promise<RunnerResult> {
  const { request, secrets } = ctx;
  const store = await openStore(request.store, secrets);
  const common = {
    store,
    seal: sealOptions(request, secrets),
    accessory: target.name,
    sourceHost: request.host,
    onProgress: progress(ctx.say, target.name),
    ...(ctx.now ? { now: ctx.now } : {}),
  };
  const started = Date.now();
  const source = target.source;
  ctx.say(`${target.name}: backing up to ${store.location}`);
  const manifest =
    source.kind === "files"
      ? await backupFiles({ ...common, path: source.path, exclude: source.exclude })
      : source.kind === "sqlite"
        ? await backupSqlite({ ...common, path: source.path })
        : await backupAccessory({
            ...common,
            target: engineTarget(source),
            image: source.image,
            containers: ctx.containers,
            onFallback: (part, reason) =>
              ctx.say(
                `${target.name}: ${part} read by docker exec, as the pipe beside its container failed: ${reason.replace(/\s+/g, " ").slice(0, 300)}`,
              ),
          });
  await confirmStored(store, manifest);
  const plain = manifest.parts.reduce((n, p) => n + p.plainBytes, 0);
  const stored = manifest.parts.reduce((n, p) => n + p.archiveBytes, 0);
  let retention: RetentionPlan | undefined;
  let warning: string | undefined;
  if (target.keep) {
    try {
      retention = await pruneBackups(store, target.name, target.keep);
    } catch (error) {
      warning = `retention was not applied: ${(error as Error).message}`;
    }
  }
  const removed = retention?.remove.map((r) => r.id) ?? [];
  return {
    ok: true,
    action: "backup",
    summary: `${target.name} ${manifest.id}: ${formatBytes(plain)} dumped, ${formatBytes(stored)} stored in ${seconds(started, Date.now())}${removed.length > 0 ? `, ${removed.length} old removed` : ""}`,
    target: target.name,
    store: store.location,
    backup: {
      id: manifest.id,
      engine: manifest.engine,
      engineVersion: manifest.engineVersion,
      startedAt: manifest.startedAt,
      finishedAt: manifest.finishedAt,
      plainBytes: plain,
      bytes: stored,
      parts: manifest.parts.map((p) => ({
        name: p.name,
        plainBytes: p.plainBytes,
        bytes: p.archiveBytes,
      })),
    },
    removed,
    ...(warning === undefined ? {} : { warning }),
  };
}

async function listTargets(ctx: RunnerContext): Promise<RunnerResult> {
  const store = await openStore(ctx.request.store, ctx.secrets);
  const targets = [];
  for (const t of ctx.request.targets)
    targets.push({ name: t.name, backups: await listed(store, t.name) });
  const count = targets.reduce((n, t) => n + t.backups.length, 0);
  return {
    ok: true,
    action: "list",
    summary: `${count} backup${count === 1 ? "" : "s"} in ${store.location}`,
    store: store.location,
    targets,
  };
}

function describeReport(target: string, report: VerifyReport): string {
  if (report.ok)
    return `${target} ${report.id}: ${report.how === "check" ? "intact (sizes and SHA-256 as in its manifest)" : `restored and compared: ${passed(report.checks.length)}`}`;
  const bad = report.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.what}: expected ${c.expected}, got ${c.actual}`);
  return `${target} ${report.id}: FAILED ${report.how ?? "verification"}: ${[report.error, ...bad].filter(Boolean).join("; ")}`;
}

async function verifyTarget(
  ctx: RunnerContext,
  target: Target,
  how: "check" | "verify",
): Promise<RunnerResult> {
  const store = await openStore(ctx.request.store, ctx.secrets);
  const manifest = await chosen(store, target.name, ctx.request.backup);
  ctx.say(
    `${target.name}: ${how === "check" ? "checking" : "verifying"} ${manifest.id} (${manifest.engine})`,
  );
  const report =
    how === "check"
      ? await checkBackup(store, manifest)
      : await verifyBackup({
          store,
          manifest,
          opening: openingOf(ctx.secrets),
          containers: ctx.containers,
        });
  let warning: string | undefined;
  try {
    await markVerified(store, target.name, report, ctx.now?.() ?? new Date());
  } catch (error) {
    warning = `the outcome could not be kept beside the backup: ${(error as Error).message}`;
  }
  return {
    ok: report.ok,
    action: how,
    summary: describeReport(target.name, report),
    target: target.name,
    report,
    ...(warning === undefined ? {} : { warning }),
  };
}

async function restoreTarget(ctx: RunnerContext, target: Target): Promise<RunnerResult> {
  const { request, secrets } = ctx;
  const from = await openStore(request.from ?? request.store, secrets);
  const manifest = await chosen(from, target.name, request.backup);
  const into = request.into ?? target.source;
  if (into.kind !== manifest.engine)
    throw new UserError({
      code: "backup.restore_kind",
      message: `backup ${target.name}/${manifest.id} is of ${manifest.engine}, not ${into.kind}`,
      hint: "restore it into a target of the same kind",
    });
  // Beside the target, a restore never replaces something that is there unless told to.
  if (!request.replace && (await holdsData(into)))
    throw new UserError({
      code: "backup.restore_not_empty",
      message: `${"container" in into ? into.container : into.path} holds data already: nothing was restored`,
      hint: "restore over it with --yes, or choose another --to",
    });
  // Nothing changes before the whole backup has been read and found as its manifest says.
  ctx.say(`${target.name}: checking ${manifest.id} before restoring it`);
  const check = await checkBackup(from, manifest);
  if (!check.ok)
    return {
      ok: false,
      action: "restore",
      summary: `${describeReport(target.name, check)}; nothing was restored`,
      report: check,
    };
  const opening = openingOf(secrets);
  ctx.say(
    `${target.name}: restoring ${manifest.id} into ${"container" in into ? into.container : into.path}`,
  );
  let checks: VerifyReport["checks"] = [];
  if (into.kind === "files")
    await restoreFiles({ store: from, manifest, opening, path: into.path });
  else if (into.kind === "sqlite")
    await restoreSqliteBackup({ store: from, manifest, opening, path: into.path });
  else {
    const t = engineTarget(into);
    await restoreAccessory({
      target: t,
      store: from,
      manifest,
      opening,
      image: into.image,
      containers: ctx.containers,
    });
    checks = compareFacts(manifest.verify, await readFacts(t, ctx.containers));
  }
  const ok = checks.every((c) => c.ok);
  return {
    ok,
    action: "restore",
    summary: ok
      ? `${target.name} ${manifest.id} restored into ${"container" in into ? into.container : into.path}${checks.length > 0 ? ` (${passed(checks.length)})` : ""}`
      : describeReport(target.name, { id: manifest.id, ok, how: "restore", checks }),
    target: target.name,
    backup: manifest.id,
    checks,
  };
}

/** A folder with something in it, or a file that exists (an accessory is the CLI's to judge). */
async function holdsData(into: RunnerSource): Promise<boolean> {
  if (into.kind === "files") return (await readdir(into.path).catch(() => [])).length > 0;
  if (into.kind === "sqlite") return (await stat(into.path).catch(() => undefined)) !== undefined;
  return false;
}

async function pruneTargets(ctx: RunnerContext): Promise<RunnerResult> {
  const store = await openStore(ctx.request.store, ctx.secrets);
  const plans = [];
  for (const t of ctx.request.targets) {
    if (!t.keep) continue;
    const plan = ctx.request.apply
      ? await pruneBackups(store, t.name, t.keep)
      : planRetention(await listBackups(store, t.name), t.keep);
    plans.push({ target: t.name, ...plan });
  }
  const removed = plans.reduce((n, p) => n + p.remove.length, 0);
  return {
    ok: true,
    action: "prune",
    summary: `${removed} backup${removed === 1 ? "" : "s"} ${ctx.request.apply ? "removed" : "to remove"}`,
    applied: ctx.request.apply,
    plans,
  };
}

/** Runs the request; never throws: a failure is a result with its error. */
export async function runRequest(ctx: RunnerContext): Promise<RunnerResult> {
  const { request } = ctx;
  const first = request.targets[0] as Target;
  try {
    switch (request.action) {
      case "backup":
        return await backupTarget(ctx, first);
      case "list":
        return await listTargets(ctx);
      case "check":
      case "verify":
        return await verifyTarget(ctx, first, request.action);
      case "restore":
        return await restoreTarget(ctx, first);
      case "prune":
        return await pruneTargets(ctx);
    }
  } catch (error) {
    const e = error as Error;
    return {
      ok: false,
      action: request.action,
      summary: `${first.name}: ${e.message}`,
      error: {
        code: e instanceof SlipwayError ? e.code : "backup.failed",
        message: e.message,
        hint: e instanceof SlipwayError ? e.hint : undefined,
      },
    };
  }
}
