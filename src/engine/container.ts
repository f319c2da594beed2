/**
 * Argv for container commands on a host. The Docker CLI spelling; Podman's CLI takes the same
 * words for everything here. Nothing runs in this module.
 */
import { type Argv, renderCommand } from "../transport/command.ts";
import {
  checkAbsolutePath,
  checkCommand,
  checkEnvName,
  checkImageRef,
  checkInteger,
  checkIp,
  checkLabel,
  checkLogSize,
  checkName,
  checkPort,
  checkSince,
  fail,
} from "./validate.ts";

/** A published port: hostIp:hostPort on the host to containerPort in the container. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/** A bind mount (absolute host path) or a named volume, at an absolute path in the container. */
export interface VolumeMount {
  source: string;
  target: string;
  readOnly?: boolean;
}

/** Everything `docker run` needs to start one container. */
export interface ContainerSpec {
  name: string;
  image: string;
  network?: string;
  /** Slipway finds its containers by these; written sorted so argv is stable. */
  labels: Record<string, string>;
  /** A file on the host with the secret (and other) variables, mode 0600: never argv. */
  envFile?: string;
  /** Non-secret variables only: these are visible in `ps` on the host and in `docker inspect`. */
  env?: Record<string, string>;
  /** Command instead of the image's CMD. */
  cmd?: readonly string[];
  restart?: "unless-stopped" | "no";
  /** Seconds between SIGTERM and SIGKILL when the container is stopped (`docker stop` default). */
  stopTimeoutS?: number;
  memoryBytes?: number;
  cpus?: number;
  publish?: PortMapping[];
  volumes?: VolumeMount[];
  /** json-file log rotation: size of one file (default "10m") and files kept (default 3). */
  logMaxSize?: string;
  logMaxFiles?: number;
  /** Run in the background (default true); false attaches and exits with the container's code. */
  detach?: boolean;
  /** Remove the container when it exits (one-off commands). */
  removeOnExit?: boolean;
  /** Keep stdin open (`--interactive`), for data piped into a one-off command. */
  interactive?: boolean;
  /** Another name the container answers to on `network` (how the proxy finds a role). */
  networkAlias?: string;
  /** A health check the engine runs in the container (shown by `docker ps` and inspect). */
  health?: HealthSpec;
}

/** `--health-*`: argv run through the container's /bin/sh (Docker's CLI takes only a string). */
export interface HealthSpec {
  cmd: readonly string[];
  intervalS: number;
  timeoutS: number;
  retries: number;
  /** Failures in this first window do not count (a database's first initialisation). */
  startPeriodS: number;
}

/** Log rotation applied to every container unless the spec says otherwise. */
export const DEFAULT_LOG_MAX_SIZE = "10m";
export const DEFAULT_LOG_MAX_FILES = 3;

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function formatCpus(cpus: number): string {
  if (!Number.isFinite(cpus) || cpus < 0.01) fail("cpus", cpus, "a number >= 0.01");
  return String(Number(cpus.toFixed(2)));
}

function formatPublish(p: PortMapping): string {
  const ip = checkIp("published host IP", p.hostIp);
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return `${host}:${checkPort("host port", p.hostPort)}:${checkPort("container port", p.containerPort)}`;
}

function formatVolume(v: VolumeMount): string {
  const source = v.source.startsWith("/")
    ? checkAbsolutePath("volume source", v.source)
    : checkName("volume name", v.source);
  const target = checkAbsolutePath("volume target", v.target);
  // `--volume` splits on ":", so a path holding one would be read as another field.
  if (source.includes(":")) fail("volume source", source, "no ':'");
  if (target.includes(":")) fail("volume target", target, "no ':'");
  return `${source}:${target}${v.readOnly ? ":ro" : ""}`;
}

/**
 * `docker run` for a spec. Logs always rotate (json-file, max-size and max-file), so a chatty
 * app cannot fill the disk; labels and env are sorted so the same spec gives the same argv.
 */
export function dockerRun(spec: ContainerSpec): Argv {
  const argv = ["docker", "run"];
  if (spec.detach ?? true) argv.push("--detach");
  if (spec.removeOnExit) argv.push("--rm");
  if (spec.interactive) argv.push("--interactive");
  argv.push("--name", checkName("container name", spec.name));
  if (spec.network !== undefined) argv.push("--network", checkName("network", spec.network));
  if (spec.networkAlias !== undefined) {
    if (spec.network === undefined) fail("network alias", spec.networkAlias, "needs a network");
    argv.push("--network-alias", checkName("network alias", spec.networkAlias));
  }
  if (spec.restart !== undefined) argv.push("--restart", spec.restart);
  if (spec.stopTimeoutS !== undefined) {
    argv.push("--stop-timeout", String(checkInteger("stop timeout", spec.stopTimeoutS, 0)));
  }
  if (spec.memoryBytes !== undefined) {
    argv.push("--memory", String(checkInteger("memory limit", spec.memoryBytes, 1)));
  }
  if (spec.cpus !== undefined) argv.push("--cpus", formatCpus(spec.cpus));
  if (spec.envFile !== undefined)
    argv.push("--env-file", checkAbsolutePath("env file", spec.envFile));
  for (const [key, value] of sortedEntries(spec.env ?? {})) {
    argv.push("--env", `${checkEnvName(key)}=${value}`);
  }
  for (const p of spec.publish ?? []) argv.push("--publish", formatPublish(p));
  for (const v of spec.volumes ?? []) argv.push("--volume", formatVolume(v));
  argv.push(
    "--log-driver",
    "json-file",
    "--log-opt",
    `max-size=${checkLogSize(spec.logMaxSize ?? DEFAULT_LOG_MAX_SIZE)}`,
    "--log-opt",
    `max-file=${checkInteger("log max files", spec.logMaxFiles ?? DEFAULT_LOG_MAX_FILES, 1)}`,
  );
  if (spec.health !== undefined) {
    const h = spec.health;
    argv.push(
      "--health-cmd",
      renderCommand(checkCommand("health command", h.cmd)),
      "--health-interval",
      `${checkInteger("health interval", h.intervalS, 1)}s`,
      "--health-timeout",
      `${checkInteger("health timeout", h.timeoutS, 1)}s`,
      "--health-retries",
      String(checkInteger("health retries", h.retries, 1)),
      "--health-start-period",
      `${checkInteger("health start period", h.startPeriodS, 0)}s`,
    );
  }
  for (const [key, value] of sortedEntries(spec.labels)) {
    checkLabel(key, value);
    argv.push("--label", `${key}=${value}`);
  }
  argv.push(checkImageRef(spec.image));
  if (spec.cmd !== undefined) argv.push(...checkCommand("container command", spec.cmd));
  return argv;
}

/** `docker start NAME`: starts a stopped container again. */
export function dockerStart(name: string): Argv {
  return ["docker", "start", checkName("container name", name)];
}

/**
 * `docker stop -t S NAME`: SIGTERM (or the image's STOPSIGNAL), SIGKILL after S seconds.
 * `-t` because the long flag was renamed (`--time` became `--timeout` in Docker 28; Podman and
 * older Docker only know `--time`), and the short one means the same in all of them.
 */
export function dockerStop(name: string, timeoutS: number): Argv {
  return [
    "docker",
    "stop",
    "-t",
    String(checkInteger("stop timeout", timeoutS, 0)),
    checkName("container name", name),
  ];
}

/**
 * `docker rm [--force] --volumes NAME...`, the one spelling of removing containers; --force also
 * stops a running one (SIGKILL).
 */
export function dockerRemove(
  names: string | readonly string[],
  options: { force?: boolean } = {},
): Argv {
  // --volumes: the container's anonymous volumes (an image's VOLUME nobody mounted) go with it;
  // nothing can reach them afterwards. Named volumes and bind mounts are never touched.
  return [
    "docker",
    "rm",
    ...(options.force ? ["--force"] : []),
    "--volumes",
    ...(typeof names === "string" ? [names] : names).map((n) => checkName("container name", n)),
  ];
}

/**
 * `docker ps` of the containers carrying all these labels, one JSON object per line (a JSON
 * array from Podman 4): parse with parseContainerList. `all` includes stopped containers.
 */
export function dockerListContainers(
  labels: Record<string, string>,
  options: { all?: boolean } = {},
): Argv {
  const argv = ["docker", "ps"];
  if (options.all) argv.push("--all");
  argv.push("--no-trunc");
  for (const [key, value] of sortedEntries(labels)) {
    checkLabel(key, value);
    argv.push("--filter", `label=${key}=${value}`);
  }
  argv.push("--format", "{{json .}}");
  return argv;
}

/**
 * `docker inspect --type container NAME...`: a JSON array, one entry per container found; parse
 * with parseContainerInspect. Exit 1 when any is absent (the others are still printed).
 */
export function dockerInspect(name: string, ...more: string[]): Argv {
  return [
    "docker",
    "inspect",
    "--type",
    "container",
    ...[name, ...more].map((n) => checkName("container name", n)),
  ];
}

/** Options of {@link dockerLogs}. */
export interface LogsOptions {
  /** Lines from the end (default: all). */
  tail?: number;
  follow?: boolean;
  /** A duration ("10m") or a timestamp. */
  since?: string;
  timestamps?: boolean;
}

/** `docker logs NAME`: the container's stdout and stderr, on the command's stdout and stderr. */
export function dockerLogs(name: string, options: LogsOptions = {}): Argv {
  const argv = ["docker", "logs"];
  if (options.follow) argv.push("--follow");
  if (options.timestamps) argv.push("--timestamps");
  if (options.since !== undefined) argv.push("--since", checkSince(options.since));
  if (options.tail !== undefined)
    argv.push("--tail", String(checkInteger("tail", options.tail, 0)));
  argv.push(checkName("container name", name));
  return argv;
}

/** Options of {@link dockerExec}. */
export interface ExecOptions {
  /** Keep stdin open (`--interactive`): for consoles and for data piped in. */
  interactive?: boolean;
  /** Allocate a terminal; only when the local side is a terminal too. */
  tty?: boolean;
}

/** `docker exec NAME ARGV...` in a running container. */
export function dockerExec(name: string, argv: readonly string[], options: ExecOptions = {}): Argv {
  return [
    "docker",
    "exec",
    ...(options.interactive ? ["--interactive"] : []),
    ...(options.tty ? ["--tty"] : []),
    checkName("container name", name),
    ...checkCommand("exec command", argv),
  ];
}

/** An exec as {@link dockerExec} spells it, taken apart again. */
export interface ExecParts {
  container: string;
  cmd: string[];
  interactive: boolean;
  tty: boolean;
}

/**
 * The inverse of {@link dockerExec}: what runs where, for an engine reached without the docker
 * CLI (the Engine API's exec takes the same container and command). Undefined for any argv
 * dockerExec cannot have built.
 */
export function parseDockerExec(argv: readonly string[]): ExecParts | undefined {
  if (argv[0] !== "docker" || argv[1] !== "exec") return undefined;
  let at = 2;
  const flags = new Set<string>();
  while (argv[at] === "--interactive" || argv[at] === "--tty") flags.add(argv[at++] ?? "");
  const container = argv[at];
  const cmd = argv.slice(at + 1);
  if (container === undefined || container.startsWith("-") || cmd.length === 0) return undefined;
  return { container, cmd, interactive: flags.has("--interactive"), tty: flags.has("--tty") };
}
