/**
 * `slipway backup run|list|verify|restore|prune` on the hosts: a backup runs through the agent
 * of the target's host (as a scheduled one does: never two at once, recorded, alerting), its
 * progress followed from the runner's logs; everything else starts the runner over SSH for one
 * run (`docker run --rm -i`), its request and secrets on stdin, so an identity for verify and
 * restore reaches the host only in the runner's memory, for that run.
 */
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { accessoryContainer, bootAccessory, type ResolvedAccessory } from "../accessories/index.ts";
import type { JobRun } from "../agent/index.ts";
import {
  type BackupTarget,
  backupJobName,
  backupWorkDir,
  identitiesOf,
  parseManifest,
  parseRunnerResult,
  planRequest,
  planSecrets,
  planTargets,
  RESTORE_MOUNT,
  RESULT_PREFIX,
  type RunnerPlacement,
  type RunnerRequest,
  type RunnerResult,
  type RunnerSecrets,
  type RunnerSource,
  runnerContainer,
} from "../backup/index.ts";
import { type LoadedConfig, nameProblem, volumeProblem } from "../config/index.ts";
import { primaryHost, siteName } from "../deploy/index.ts";
import { dockerRun, type VolumeMount } from "../engine/index.ts";
import { ExitCode, UserError } from "../errors/index.ts";
import { acquireLock, assertUnlocked } from "../lock/index.ts";
import {
  agentSettings,
  BUNDLE_DIR,
  callAgent,
  ENGINE_SOCKETS,
  hostEngineSocket,
  placeBackupFolders,
  placeBackups,
} from "../monitor/index.ts";
import { HostLineWriter, type Reporter, redactor } from "../output/index.ts";
import { appDir } from "../releases/index.ts";
import type { Connections, Transport } from "../transport/index.ts";

export interface BackupOps {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
}

const site = (loaded: LoadedConfig) => siteName(loaded.config.service, loaded.environment);

/** Where a site's config and secrets bundle is restored by default: beside its own folder. */
const restoredDir = (s: string) => `${dirname(appDir(s))}/restored/${s}`;

/** Targets by the host they run on, in their order. */
function byHost(targets: readonly BackupTarget[]): Map<string, BackupTarget[]> {
  const out = new Map<string, BackupTarget[]>();
  for (const t of targets) out.set(t.host, [...(out.get(t.host) ?? []), t]);
  return out;
}

/** The targets named (all, for none), refusing an unknown name with the known ones. */
export function chooseTargets(loaded: LoadedConfig, names: readonly string[]): BackupTarget[] {
  if (!loaded.config.backups)
    throw new UserError({
      code: "backup.none_configured",
      message: `${loaded.file} has no backups section`,
      hint: "add one: backups: { store: ..., recipients: [age1...], targets: { db: {} } } (see the README's Backups)",
      exitCode: ExitCode.usage,
    });
  const targets = planTargets(loaded);
  if (names.length === 0) return targets;
  return names.map((name) => {
    const found = targets.find((t) => t.name === name);
    if (!found)
      throw new UserError({
        code: "backup.no_target",
        message: `${loaded.file} has no backup target ${JSON.stringify(name)}`,
        hint: `its targets: ${targets.map((t) => t.name).join(", ")}`,
        exitCode: ExitCode.usage,
      });
    return found;
  });
}

/** A writer of a host's streamed output as progress lines, the runner's result line left out. */
function progressWriter(reporter: Reporter, host: string): HostLineWriter {
  return new HostLineWriter(`${host} | `, redactor, (line) => {
    if (!line.includes(RESULT_PREFIX)) reporter.info(line);
  });
}

/** Each command's hosts, made ready for the runner once per command (see {@link prepared}). */
const preparedHosts = new WeakMap<BackupOps, Map<string, Promise<RunnerPlacement>>>();

/**
 * Where the runner starts on a host, checked once per command however many runs it makes: the
 * runner is there (agent install put it), its folders exist, and which engine socket to mount.
 */
function prepared(ops: BackupOps, host: string): Promise<RunnerPlacement> {
  const hosts = preparedHosts.get(ops) ?? new Map<string, Promise<RunnerPlacement>>();
  preparedHosts.set(ops, hosts);
  let ready = hosts.get(host);
  if (ready === undefined) {
    ready = (async () => {
      const transport = ops.connections.get(host);
      const runner = `${BUNDLE_DIR}/runner.mjs`;
      if ((await transport.run(["test", "-f", runner], { check: false })).code !== 0)
        throw new UserError({
          code: "backup.no_runner",
          message: `${host}: the backup runner is not there (${runner})`,
          hint: "put this Slipway's agent and runner on the host: slipway agent install",
        });
      await placeBackupFolders(transport, ops.loaded);
      return {
        // The agent's image: agent install put it on the host.
        image: agentSettings(ops.loaded)?.image ?? "",
        bundleDir: BUNDLE_DIR,
        engineSocket: ENGINE_SOCKETS[await hostEngineSocket(transport)],
      };
    })();
    // A failed check is asked again by the next run, not remembered.
    ready.catch(() => hosts.delete(host));
    hosts.set(host, ready);
  }
  return ready;
}

/**
 * Starts the runner on a host for one request: its container from the agent's image and bundle
 * (agent install put them there), the request and secrets on stdin, progress from its stderr.
 */
async function runOnHost(
  ops: BackupOps,
  host: string,
  request: RunnerRequest,
  secrets: RunnerSecrets,
  mounts: readonly VolumeMount[] = [],
): Promise<RunnerResult> {
  const transport = ops.connections.get(host);
  const placement = await prepared(ops, host);
  const name = `${site(ops.loaded)}-backup-${request.action}-${Date.now().toString(36)}`;
  const spec = runnerContainer(ops.loaded, placement, { name, command: ["--stdin"], mounts });
  const progress = progressWriter(ops.reporter, host);
  const run = await transport.run(
    dockerRun({ ...spec, detach: false, removeOnExit: true, interactive: true }),
    {
      check: false,
      stdin: JSON.stringify({ request, secrets }),
      onStderr: (chunk) => progress.write(chunk),
    },
  );
  progress.flush();
  const result = parseRunnerResult(run.stdout);
  if (!result)
    throw new UserError({
      code: "backup.runner_failed",
      message: `${host}: the backup runner ended (exit ${run.code}) without a result: ${run.stderr.trim().split("\n").slice(-3).join(" ")}`,
      hint: "is the agent's image there and this Slipway's agent installed? slipway agent install",
    });
  return result;
}

/** Follows the logs of the agent's run container of `job` until `until` settles. */
async function follow(
  transport: Transport,
  job: string,
  progress: HostLineWriter,
  until: Promise<unknown>,
): Promise<void> {
  let done = false;
  const stop = () => {
    done = true;
  };
  until.then(stop, stop);
  while (!done) {
    const listed = await transport.run(
      ["docker", "ps", "--quiet", "--filter", `label=slipway.job=${job}`],
      { check: false },
    );
    const id = listed.stdout.trim().split("\n")[0];
    if (id) {
      await transport.run(["docker", "logs", "--follow", id], {
        check: false,
        capture: false,
        onStdout: (c) => progress.write(c),
        onStderr: (c) => progress.write(c),
      });
      return;
    }
    await sleep(500);
  }
}

/** One backup run through the agent, as `slipway backup run` shows it. */
export interface RunOutcome {
  target: string;
  host: string;
  ok: boolean;
  summary: string;
  result: RunnerResult | undefined;
}

/** Backs a target up now through the agent of its host, following the runner's progress. */
export async function runThroughAgent(ops: BackupOps, target: BackupTarget): Promise<RunOutcome> {
  const transport = ops.connections.get(target.host);
  await placeBackups(transport, ops.loaded, target.host);
  const job = `${site(ops.loaded)}/${backupJobName(target.name, "backup")}`;
  ops.reporter.info(`${target.host}: backing up ${target.name} through the agent`);
  const call = callAgent(transport, "POST", `/api/jobs/run?job=${encodeURIComponent(job)}`);
  const progress = progressWriter(ops.reporter, target.host);
  await Promise.all([call, follow(transport, job, progress, call).catch(() => {})]);
  progress.flush();
  const { status, value } = await call;
  if (status === 404)
    throw new UserError({
      code: "backup.not_installed",
      message: `${target.host}: the agent has no backup job ${job} yet`,
      hint: "give it the backups of slipway.yml: slipway agent install",
    });
  if (status === 409)
    throw new UserError({
      code: "backup.busy",
      message: `${target.host}: a backup of ${target.name} is running already`,
      hint: "wait for it: slipway backup list shows it once it is done",
    });
  const run = value as JobRun & { error?: string };
  if (status !== 200 || run.error !== undefined)
    throw new UserError({
      code: "backup.run",
      message: `${target.host}: the agent did not run ${job}: ${run.error ?? status}`,
      hint: "slipway agent logs",
    });
  const result = parseRunnerResult(run.output ?? "");
  return {
    target: target.name,
    host: target.host,
    ok: run.outcome === "ok" && result?.ok === true,
    summary: result?.summary ?? `${run.outcome} (${run.detail})`,
    result,
  };
}

/** What the store holds for each target, newest first. */
export async function listTargets(ops: BackupOps, targets: readonly BackupTarget[]) {
  const out = [];
  for (const [host, own] of byHost(targets)) {
    const result = await runOnHost(
      ops,
      host,
      planRequest(ops.loaded, "list", own),
      planSecrets(ops.loaded, "store"),
    );
    if (!result.ok) throw failure(host, result);
    const listed = result.targets ?? [];
    for (const t of own)
      out.push({
        target: t.name,
        kind: t.kind,
        host,
        store: result.store ?? "",
        backups: listed.find((l) => l.name === t.name)?.backups ?? [],
      });
  }
  return out;
}

function failure(host: string, result: RunnerResult): UserError {
  return new UserError({
    code: result.error?.code ?? "backup.failed",
    message: `${host}: ${result.summary}`,
    hint: result.error?.hint ?? "the runner's output above says more",
  });
}

/** The identity that opens backups here: --identity's file, or backups.identity's secret. */
export async function identityFor(
  loaded: LoadedConfig,
  file: string | undefined,
): Promise<RunnerSecrets> {
  const secrets = planSecrets(loaded, "open");
  if (file === undefined) return secrets;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new UserError({
      code: "backup.identity_unreadable",
      message: `cannot read the identity file ${file}: ${(cause as Error).message}`,
      hint: "give the file age-keygen wrote (AGE-SECRET-KEY-1...)",
      exitCode: ExitCode.usage,
      cause,
    });
  }
  const keys = identitiesOf(text);
  if (keys.length === 0)
    throw new UserError({
      code: "backup.identity_invalid",
      message: `${file} holds no age identity (a line AGE-SECRET-KEY-1...)`,
      hint: "give the file age-keygen wrote, not the public key",
      exitCode: ExitCode.usage,
    });
  redactor.add(...keys);
  return { ...secrets, identity: keys.join("\n") };
}

/**
 * Verifies a backup on its target's host by restoring it into a throwaway container (a folder's
 * by reading it whole), marks the outcome beside it, and records it with the agent so a failure
 * alerts like a scheduled verification's.
 */
export async function verifyTarget(
  ops: BackupOps,
  target: BackupTarget,
  options: { backup?: string; secrets: RunnerSecrets },
): Promise<{ result: RunnerResult; recorded: boolean }> {
  const started = Date.now();
  const result = await runOnHost(
    ops,
    target.host,
    planRequest(ops.loaded, "verify", [target], options.backup ? { backup: options.backup } : {}),
    options.secrets,
  );
  // A run that could not verify (no key, no backup) is not a verification's finding.
  if (result.error !== undefined && result.report === undefined) return { result, recorded: false };
  const job = `${site(ops.loaded)}/${backupJobName(target.name, "verify")}`;
  const recorded = await callAgent(
    ops.connections.get(target.host),
    "POST",
    `/api/jobs/record?job=${encodeURIComponent(job)}`,
    { outcome: result.ok ? "ok" : "failed", detail: result.summary, started_at: started },
  ).catch(() => ({ status: 0 }));
  return { result, recorded: recorded.status === 200 };
}

/** Where a restore goes: in place, or a new accessory, volume, folder or file. */
export interface RestorePlan {
  target: BackupTarget;
  inPlace: boolean;
  /** For people: "accessory db-restored (container hello-db-restored)", "volume hello-x". */
  into: string;
  source: RunnerSource;
  mounts: VolumeMount[];
  /** An accessory to boot first (a new one, like the target's). */
  boot?: ResolvedAccessory;
}

/**
 * Plans a restore: in place only when asked (`inPlace`), else into `to` (default
 * "<target>-restored"): an accessory like the target's (its own container, volume and
 * credentials), a volume of the site or an absolute folder, a file beside the SQLite file.
 */
export function planRestore(
  loaded: LoadedConfig,
  target: BackupTarget,
  options: { to?: string; inPlace: boolean },
): RestorePlan {
  const s = site(loaded);
  if (options.inPlace && options.to !== undefined)
    throw new TypeError("in place or --to, not both");
  if (options.inPlace) {
    if (target.kind === "config")
      throw new UserError({
        code: "backup.restore_config",
        message: `the app's state (${target.name}) is not restored over itself`,
        hint: `restore it beside: slipway backup restore ${target.name} --to ${restoredDir(s)}, then copy what you need`,
        exitCode: ExitCode.usage,
      });
    if (target.kind === "volume")
      return {
        target,
        inPlace: true,
        into: `volume ${target.volume}`,
        source: { kind: "files", path: RESTORE_MOUNT, exclude: [] },
        mounts: [{ source: target.volume ?? "", target: RESTORE_MOUNT }],
      };
    return {
      target,
      inPlace: true,
      into: target.kind === "accessory" ? `accessory ${target.name}` : target.name,
      source: target.source,
      mounts: target.mounts,
    };
  }
  const to = options.to ?? `${target.name}-restored`;
  if (target.kind === "accessory" && target.accessory) {
    const configured = Object.keys(loaded.config.accessories ?? {});
    if (configured.includes(to) || nameProblem(to, "accessory name") !== undefined)
      throw new UserError({
        code: "backup.restore_to",
        message: configured.includes(to)
          ? `--to ${to} is an accessory of slipway.yml: a restore never goes over another accessory`
          : `--to ${JSON.stringify(to)} is not an accessory name (lowercase letters, digits, dashes)`,
        hint: `choose a new name, e.g. --to ${target.name}-restored`,
        exitCode: ExitCode.usage,
      });
    const a = target.accessory;
    const boot: ResolvedAccessory = {
      ...a,
      name: to,
      urlEnv: undefined,
      settings: { ...a.settings, name: to, volume: undefined, publish: undefined },
    };
    const source = target.source as Extract<RunnerSource, { container: string }>;
    return {
      target,
      inPlace: false,
      into: `accessory ${to} (container ${accessoryContainer(s, to)})`,
      source: { ...source, container: accessoryContainer(s, to) },
      mounts: [],
      boot,
    };
  }
  if (target.kind === "sqlite") {
    const file = (target.source as { path: string }).path;
    const name = options.to ?? basename(file).replace(/(\.[^.]*)?$/, "-restored$1");
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
      throw new UserError({
        code: "backup.restore_to",
        message: `--to ${JSON.stringify(name)} is not a file name`,
        hint: "the new file's name, beside the database, e.g. --to hello-restored.db",
        exitCode: ExitCode.usage,
      });
    return {
      target,
      inPlace: false,
      into: `${name} beside ${basename(file)} in ${target.volume}`,
      source: { kind: "sqlite", path: join(dirname(file), name) },
      mounts: target.mounts,
    };
  }
  const folder = options.to ?? (target.kind === "config" ? restoredDir(s) : `${to}`);
  const host = folder.startsWith("/");
  const problem = volumeProblem(folder);
  if (problem)
    throw new UserError({
      code: "backup.restore_to",
      message: `--to: ${problem.message}`,
      hint: `e.g. --to ${target.name}-restored (a volume) or --to /srv/restored`,
      exitCode: ExitCode.usage,
    });
  const volume = host ? folder : `${s}-${folder}`;
  return {
    target,
    inPlace: false,
    into: host ? `folder ${folder}` : `volume ${volume}`,
    source: { kind: "files", path: RESTORE_MOUNT, exclude: [] },
    mounts: [{ source: volume, target: RESTORE_MOUNT }],
  };
}

/** A local backup folder (manifest.json and its parts), copied to the host for one restore. */
async function uploadBackup(
  transport: Transport,
  loaded: LoadedConfig,
  path: string,
): Promise<{ root: string; name: string; id: string }> {
  const folder = (await stat(path)).isDirectory() ? path : dirname(path);
  const manifest = parseManifest(await readFile(join(folder, "manifest.json"), "utf8"), folder);
  const root = `${backupWorkDir(site(loaded))}/upload-${Date.now().toString(36)}`;
  const dir = `${root}/${manifest.accessory}/${manifest.id}`;
  await transport.run(["install", "-d", "-m", "0700", dir]);
  const files = new Set(await readdir(folder));
  for (const part of [...manifest.parts.map((p) => basename(p.key)), "manifest.json"]) {
    if (!files.has(part))
      throw new UserError({
        code: "backup.from_file",
        message: `${folder} lacks ${part}, which its manifest names`,
        hint: "copy the whole backup folder (ACCESSORY/ID/ in the store)",
        exitCode: ExitCode.usage,
      });
    // Streamed: a dump may be larger than this machine's memory.
    await transport.run(["dd", `of=${dir}/${part}`, "bs=1M", "status=none"], {
      stdin: createReadStream(join(folder, part)),
    });
  }
  return { root, name: manifest.accessory, id: manifest.id };
}

/**
 * Restores a backup as planned: the backup chosen first (the newest whole one, unless named),
 * then, in place, a fresh safety backup through the agent (the restore stops if it fails), a
 * new accessory booted like the target's, and the runner, which checks the backup whole before
 * it changes anything.
 */
export async function restoreTarget(
  ops: BackupOps,
  plan: RestorePlan,
  options: { backup?: string; fromFile?: string; secrets: RunnerSecrets; replace?: boolean },
): Promise<{ result: RunnerResult; safety: RunOutcome | undefined }> {
  const { target } = plan;
  const transport = ops.connections.get(target.host);
  const lockHost = ops.connections.get(primaryHost(ops.loaded.config));
  // In place, a restore never runs during a deploy or another in-place restore: refused at once
  // while the lock is held. It is taken only after the safety backup, which the agent runs as
  // its own job: that job waits while the lock is held, so under our lock it would never start.
  if (plan.inPlace) await assertUnlocked(lockHost, site(ops.loaded));
  let backup = options.backup;
  let upload: { root: string; name: string; id: string } | undefined;
  if (options.fromFile !== undefined) {
    upload = await uploadBackup(transport, ops.loaded, options.fromFile);
    backup = upload.id;
  } else if (backup === undefined && plan.inPlace) {
    // Chosen now, in place: the safety backup made next would otherwise be the newest. Beside,
    // the runner takes the newest whole backup itself.
    const [listed] = await listTargets(ops, [target]);
    backup = listed?.backups.find((b) => b.complete)?.id;
    if (backup === undefined)
      throw new UserError({
        code: "backup.none",
        message: `no whole backup of ${target.name} in ${listed?.store}`,
        hint: `slipway backup list ${target.name}`,
      });
  }
  try {
    let safety: RunOutcome | undefined;
    if (plan.inPlace) {
      ops.reporter.info(`${target.host}: a safety backup of ${target.name} first`);
      safety = await runThroughAgent(ops, target);
      if (!safety.ok)
        throw new UserError({
          code: "backup.no_safety",
          message: `the safety backup of ${target.name} failed (${safety.summary}): nothing was restored`,
          hint: "fix what failed (slipway backup run shows it), or restore beside it with --to",
        });
    }
    if (plan.boot) {
      const name = accessoryContainer(site(ops.loaded), plan.boot.name);
      const exists = await transport.run(["docker", "inspect", "--type", "container", name], {
        check: false,
      });
      if (exists.code === 0 && !options.replace)
        throw new UserError({
          code: "backup.restore_exists",
          message: `${target.host}: ${name} exists already (an earlier restore?)`,
          hint: "restore over it with --yes, or choose another --to",
          exitCode: ExitCode.usage,
        });
      await bootAccessory(transport, plan.boot, ops.reporter);
    }
    // A host folder to restore into must exist before it is mounted (Podman does not make it).
    const folders = plan.inPlace
      ? []
      : plan.mounts.map((m) => m.source).filter((m) => m.startsWith("/"));
    if (folders.length > 0) await transport.run(["install", "-d", "-m", "0700", ...folders]);
    // A backup brought from a file keeps the name it was made under: its parts' keys have it.
    const named = upload ? [{ ...target, name: upload.name }] : [target];
    const request = planRequest(ops.loaded, "restore", named, {
      backup,
      into: plan.source,
      replace: plan.inPlace || options.replace === true,
      ...(upload ? { from: { kind: "directory" as const, path: upload.root } } : {}),
    });
    const lock = plan.inPlace
      ? await acquireLock(lockHost, site(ops.loaded), `restoring ${target.name} in place`, {
          heartbeat: true,
          warn: (m) => ops.reporter.warn(m),
        })
      : undefined;
    try {
      const result = await runOnHost(ops, target.host, request, options.secrets, plan.mounts);
      return { result, safety };
    } finally {
      await lock?.release();
    }
  } finally {
    if (upload) await transport.run(["rm", "-rf", "--", upload.root], { check: false });
  }
}

/** Retention now: the plan for each target, applied only with `apply`. */
export async function pruneTargets(
  ops: BackupOps,
  targets: readonly BackupTarget[],
  apply: boolean,
): Promise<{ host: string; result: RunnerResult }[]> {
  const out = [];
  for (const [host, own] of byHost(targets)) {
    const result = await runOnHost(
      ops,
      host,
      planRequest(ops.loaded, "prune", own, { apply }),
      planSecrets(ops.loaded, "store"),
    );
    if (!result.ok) throw failure(host, result);
    out.push({ host, result });
  }
  return out;
}
