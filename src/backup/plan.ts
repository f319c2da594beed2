/**
 * Backups planned from slipway.yml: each target with the host it runs on and what the runner sees
 * of it (an accessory's container, or a folder or file mounted into the runner), the runner's
 * requests and container, the agent's jobs, and the files they read on the host. Pure.
 */
import { posix } from "node:path";
import {
  accessoryContainer,
  accessoryImage,
  type ResolvedAccessory,
  resolveAccessories,
} from "../accessories/index.ts";
import type { JobConfig } from "../agent/index.ts";
import { ENGINE_SOCKET, nextCronTime } from "../agent/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import { primaryHost, rolesInOrder, roleVolumes, siteName } from "../deploy/index.ts";
import type { ContainerSpec, VolumeMount } from "../engine/index.ts";
import { UserError } from "../errors/index.ts";
import { lockPath } from "../lock/index.ts";
import {
  RESULT_PREFIX,
  type RunnerAction,
  type RunnerRequest,
  type RunnerSecrets,
  type RunnerSource,
  type StoreSpec,
} from "./runner/request.ts";
import { parseS3Url } from "./stores/s3.ts";

type Backups = NonNullable<LoadedConfig["config"]["backups"]>;
export type TargetSettings = Backups["targets"][string];

/** Where the runner sees a target's folder or file, and a folder to restore into. */
export const SOURCE_MOUNT = "/source";
export const RESTORE_MOUNT = "/restore";

/** A site's backup files on a host: the agent jobs' requests, the secrets (0600), a work folder. */
export function backupDir(site: string): string {
  return `/var/lib/slipway/${site}/backups`;
}

/** The runner's temporary files (TMPDIR): the engine sees them at the same path. */
export function backupWorkDir(site: string): string {
  return `${backupDir(site)}/work`;
}

export function backupSecretsPath(site: string): string {
  return `${backupDir(site)}/secrets.json`;
}

export function backupRequestPath(site: string, target: string, action: "backup" | "verify") {
  return `${backupDir(site)}/jobs/${target}.${action}.json`;
}

/** The agent's job names of a target (the agent prefixes them with the site). */
export function backupJobName(target: string, action: "backup" | "verify"): string {
  return `${action}.${target}`;
}

export interface BackupTarget {
  name: string;
  kind: "accessory" | "volume" | "sqlite" | "config";
  /** The host whose data it is, where its runner runs. */
  host: string;
  /** What the runner works on, as it sees it. */
  source: RunnerSource;
  /** What the runner's container mounts for it (backups and restores in place). */
  mounts: VolumeMount[];
  settings: TargetSettings;
  /** An accessory target's accessory (a restore --to makes another like it). */
  accessory?: ResolvedAccessory;
  /** A volume or SQLite target: the volume (or host folder) as the host names it. */
  volume?: string;
}

/** How the runner is started on a host: the agent's image and bundle, the engine's socket. */
export interface RunnerPlacement {
  image: string;
  bundleDir: string;
  /** The host's engine socket (Docker's or Podman's), mounted where the runner looks. */
  engineSocket: string;
}

/** A role's volumes: their name in slipway.yml, as the host names them, where containers see them. */
function volumesOf(loaded: LoadedConfig, role: string | undefined) {
  const site = siteName(loaded.config.service, loaded.environment);
  return rolesInOrder(loaded.config)
    .filter((r) => role === undefined || r.name === role)
    .flatMap((r) =>
      (loaded.config.servers[r.name]?.volumes ?? []).flatMap((spec) =>
        roleVolumes(site, [spec]).map((mount) => ({ ...mount, name: spec.split(":")[0], role: r })),
      ),
    );
}

function notFound(what: string, hint: string): UserError {
  return new UserError({ code: "backup.target", message: what, hint });
}

/** Every backup target of the config, resolved: host, source, mounts. */
export function planTargets(loaded: LoadedConfig): BackupTarget[] {
  const backups = loaded.config.backups;
  if (!backups) return [];
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const primary = primaryHost(config);
  const accessories = resolveAccessories(loaded, primary);
  return Object.entries(backups.targets).map(([name, settings]): BackupTarget => {
    if (settings.accessory !== undefined) {
      const accessory = accessories.find((a) => a.name === settings.accessory);
      if (!accessory || accessory.engine === "generic")
        throw notFound(
          `backup target ${name}: accessory ${settings.accessory} cannot be dumped`,
          "see slipway config check",
        );
      return {
        name,
        kind: "accessory",
        host: accessory.host,
        source: {
          kind: accessory.engine,
          container: accessoryContainer(site, accessory.name),
          user: accessory.user,
          database: accessory.database,
          image: accessoryImage(accessory.settings),
        },
        mounts: [],
        settings,
        accessory,
      };
    }
    if (settings.config) {
      return {
        name,
        kind: "config",
        host: settings.host ?? primary,
        // The lock and the runner's own temporary files are no state to keep.
        source: { kind: "files", path: SOURCE_MOUNT, exclude: ["lock", "backups/work"] },
        mounts: [{ source: `/var/lib/slipway/${site}`, target: SOURCE_MOUNT, readOnly: true }],
        settings,
      };
    }
    if (settings.volume !== undefined) {
      const folder = settings.volume;
      const volume = folder.startsWith("/")
        ? undefined
        : volumesOf(loaded, settings.role).find((v) => v.name === folder);
      if (!folder.startsWith("/") && !volume)
        throw notFound(
          `backup target ${name}: no role has a volume ${folder}`,
          "see slipway config check",
        );
      const source = volume?.source ?? folder;
      return {
        name,
        kind: "volume",
        host: settings.host ?? volume?.role.hosts[0] ?? primary,
        source: { kind: "files", path: SOURCE_MOUNT, exclude: [] },
        mounts: [{ source, target: SOURCE_MOUNT, readOnly: true }],
        settings,
        volume: source,
      };
    }
    const file = settings.sqlite ?? "";
    const volume = volumesOf(loaded, settings.role).find((v) => file.startsWith(`${v.target}/`));
    if (!volume)
      throw notFound(
        `backup target ${name}: ${file} is on no volume of a role`,
        "see slipway config check",
      );
    return {
      name,
      kind: "sqlite",
      host: settings.host ?? volume.role.hosts[0] ?? primary,
      source: { kind: "sqlite", path: posix.join(SOURCE_MOUNT, file.slice(volume.target.length)) },
      // Read-write: SQLite's shared memory file of a WAL database is written by readers too.
      mounts: [{ source: volume.source, target: SOURCE_MOUNT }],
      settings,
      volume: volume.source,
    };
  });
}

/** The store as the runner opens it: the app's own folder (or prefix) of the configured one. */
export function planStore(backups: Backups, site: string): StoreSpec {
  if (!backups.store.startsWith("s3://"))
    return { kind: "directory", path: posix.join(backups.store, site) };
  const { bucket, prefix } = parseS3Url(backups.store);
  return {
    kind: "s3",
    bucket,
    prefix: prefix ? `${prefix}/${site}` : site,
    ...(backups.s3?.endpoint === undefined ? {} : { endpoint: backups.s3.endpoint }),
    region: backups.s3?.region ?? "us-east-1",
    path_style: backups.s3?.path_style ?? backups.s3?.endpoint !== undefined,
  };
}

/** A request to the runner for these targets (one, for everything but list and prune). */
export function planRequest(
  loaded: LoadedConfig,
  action: RunnerAction,
  targets: readonly BackupTarget[],
  extra: Pick<RunnerRequest, "backup" | "apply" | "into" | "from" | "replace"> = {},
): RunnerRequest {
  const backups = loaded.config.backups;
  const first = targets[0];
  if (!backups || !first) throw new TypeError("a request needs backups and a target");
  return {
    format: 1,
    action,
    host: first.host,
    store: planStore(backups, siteName(loaded.config.service, loaded.environment)),
    compression: backups.compression,
    ...(backups.recipients === undefined ? {} : { recipients: backups.recipients }),
    targets: targets.map((t) => ({
      name: t.name,
      source: t.source,
      keep: {
        keepLast: t.settings.keep.last,
        daily: t.settings.keep.daily,
        weekly: t.settings.keep.weekly,
        monthly: t.settings.keep.monthly,
        yearly: t.settings.keep.yearly,
      },
    })),
    ...extra,
  };
}

/**
 * What a run needs of the secrets: "store" its keys and the passphrase (run, list, prune); "jobs"
 * the agent's scheduled runs, with the identity only when backups.verify_identity opts in;
 * "open" a verification or restore from here, with backups.identity. The identity opens every
 * backup: it reaches a host only for a run that must open one.
 */
export type SecretsPurpose = "store" | "jobs" | "open";

export function planSecrets(loaded: LoadedConfig, purpose: SecretsPurpose): RunnerSecrets {
  const backups = loaded.config.backups;
  const value = (name: string | undefined) =>
    name === undefined ? undefined : loaded.secrets.values.get(name);
  const key = value(backups?.s3?.access_key_id);
  const secret = value(backups?.s3?.secret_access_key);
  const passphrase = value(backups?.passphrase);
  const identity = value(
    purpose === "jobs"
      ? backups?.verify_identity
      : purpose === "open"
        ? backups?.identity
        : undefined,
  );
  return {
    ...(key !== undefined && secret !== undefined
      ? { s3: { access_key_id: key, secret_access_key: secret } }
      : {}),
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(identity === undefined ? {} : { identity }),
  };
}

/**
 * How node starts the runner. V8 sizes its old generation from what lives there (about 25 MB,
 * the AWS SDK's most of it), so a streamed backup's garbage starts a full marking every tenth of
 * a second (bench:backup: 15 a run, 0.4 CPU-s of 2). Begun at 128 MB: 4 a run, for about 25 MB
 * more at the peak. A flag, as V8 reads it only at start, and NODE_OPTIONS refuses it.
 */
export const RUNNER_NODE: readonly string[] = ["node", "--initial-old-space-size=128"];

/**
 * The runner's container on a host: the bundle (read-only), the engine's socket, the site's backup
 * folder (its work folder is TMPDIR, so files the engine must mount are where it sees them), a
 * directory store, and `mounts` (a target's folder, a folder to restore into).
 */
export function runnerContainer(
  loaded: LoadedConfig,
  placement: RunnerPlacement,
  options: { name: string; command: readonly string[]; mounts?: readonly VolumeMount[] },
): ContainerSpec {
  const site = siteName(loaded.config.service, loaded.environment);
  const store = loaded.config.backups ? planStore(loaded.config.backups, site) : undefined;
  return {
    name: options.name,
    image: placement.image,
    labels: {
      "slipway.service": loaded.config.service,
      "slipway.environment": loaded.environment ?? "",
      "slipway.backup": options.name,
    },
    env: { TMPDIR: backupWorkDir(site) },
    volumes: [
      { source: placement.bundleDir, target: placement.bundleDir, readOnly: true },
      { source: placement.engineSocket, target: ENGINE_SOCKET },
      { source: backupDir(site), target: backupDir(site) },
      ...(store?.kind === "directory" ? [{ source: store.path, target: store.path }] : []),
      ...(options.mounts ?? []),
    ],
    cmd: [...RUNNER_NODE, `${placement.bundleDir}/runner.mjs`, ...options.command],
  };
}

/**
 * The longest gap between two runs of a cron schedule over the coming two years (a weekday
 * schedule's is its weekend): how long a backup may be absent before it is stale, before grace.
 */
export function cronPeriodMs(schedule: string, from = Date.UTC(2026, 0, 1)): number {
  let longest = 0;
  let at = nextCronTime(schedule, from);
  for (let i = 0; at !== undefined && i < 2_000 && at < from + 800 * 86_400_000; i++) {
    const next = nextCronTime(schedule, at);
    if (next === undefined) break;
    longest = Math.max(longest, next - at);
    at = next;
  }
  return longest;
}

/** The files of the agent's backup jobs on a host: each request, and the secrets (0600). */
export function planBackupFiles(
  loaded: LoadedConfig,
  host: string,
): { path: string; content: string }[] {
  const site = siteName(loaded.config.service, loaded.environment);
  const targets = planTargets(loaded).filter((t) => t.host === host);
  if (targets.length === 0) return [];
  const identity = loaded.config.backups?.verify_identity !== undefined;
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return [
    ...targets.flatMap((t) => [
      {
        path: backupRequestPath(site, t.name, "backup"),
        content: json(planRequest(loaded, "backup", [t])),
      },
      {
        path: backupRequestPath(site, t.name, "verify"),
        content: json(planRequest(loaded, identity ? "verify" : "check", [t])),
      },
    ]),
    { path: backupSecretsPath(site), content: json(planSecrets(loaded, "jobs")) },
  ];
}

/**
 * The agent's jobs for the targets whose data is on `host`: each target's backup on its schedule
 * (a missed one run once when the agent is back; stale after its schedule's longest gap plus its
 * grace), and its verification, never during a deploy.
 */
export function planBackupJobs(
  loaded: LoadedConfig,
  host: string,
  placement: RunnerPlacement,
): JobConfig[] {
  const site = siteName(loaded.config.service, loaded.environment);
  return planTargets(loaded)
    .filter((t) => t.host === host)
    .flatMap((t) => {
      const job = (action: "backup" | "verify", schedule: string, mounts: VolumeMount[]) => {
        const spec = runnerContainer(loaded, placement, {
          name: `${site}-${backupJobName(t.name, action)}`,
          command: [
            "--request",
            backupRequestPath(site, t.name, action),
            "--secrets",
            backupSecretsPath(site),
          ],
          mounts,
        });
        return {
          name: backupJobName(t.name, action),
          kind: "runner" as const,
          schedule,
          jitter_ms: 0,
          missed: action === "backup" ? ("run_once" as const) : ("skip" as const),
          timeout_ms: t.settings.timeout,
          lock_path: lockPath(site),
          ...(action === "backup"
            ? { stale_ms: cronPeriodMs(t.settings.schedule) + t.settings.grace }
            : {}),
          image: spec.image,
          command: [...(spec.cmd ?? [])],
          mounts: (spec.volumes ?? []).map((v) => ({
            source: v.source,
            target: v.target,
            read_only: v.readOnly ?? false,
          })),
          env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
          labels: spec.labels,
          // The agent's run detail is the runner's summary.
          result_prefix: RESULT_PREFIX,
        };
      };
      return [
        job("backup", t.settings.schedule, t.mounts),
        ...(t.settings.verify === false ? [] : [job("verify", t.settings.verify, [])]),
      ];
    });
}
