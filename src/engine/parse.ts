/**
 * Parsers for what the engine prints: `docker ps --format '{{json .}}'`, `docker inspect`,
 * `docker image inspect`, `docker load`. Docker's shapes first; Podman's (which differ in
 * places: arrays and maps where Docker prints joined strings, IDs without "sha256:") are
 * accepted too. Output that is not what an engine prints is a BugError.
 */
import { BugError } from "../errors/index.ts";

/** Container states as both engines name them; anything else becomes "unknown". */
export type ContainerState =
  | "created"
  | "running"
  | "paused"
  | "restarting"
  | "removing"
  | "exited"
  | "dead"
  | "unknown";

const STATES: ReadonlySet<string> = new Set([
  "created",
  "running",
  "paused",
  "restarting",
  "removing",
  "exited",
  "dead",
]);

/** Status of a container's HEALTHCHECK. */
export type HealthStatus = "starting" | "healthy" | "unhealthy";

/** One line of `docker ps`. */
export interface ContainerSummary {
  id: string;
  name: string;
  /** The image reference the container was started from, as the engine shows it. */
  image: string;
  state: ContainerState;
  /** For people: "Up 3 seconds (healthy)", "Exited (1) 2 minutes ago". */
  status: string;
  /**
   * Labels, the image's included. Docker joins them with "," in this output, so a value holding
   * a "," (which Slipway never writes) is only exact in {@link ContainerInfo.labels}.
   */
  labels: Record<string, string>;
  networks: string[];
}

/** What Slipway needs from `docker inspect` of a container. */
export interface ContainerInfo {
  id: string;
  /** Without Docker's leading "/". */
  name: string;
  /** The image reference the container was started from. */
  image: string;
  /** "sha256:<hex>", whichever engine. */
  imageId: string;
  state: ContainerState;
  running: boolean;
  exitCode: number;
  oomKilled: boolean;
  /** Undefined when the container has no HEALTHCHECK. */
  health: HealthStatus | undefined;
  /** What the container's last health check printed (trimmed), when it ran one. */
  healthOutput: string | undefined;
  restartCount: number;
  /** RFC 3339; undefined when never started. */
  startedAt: string | undefined;
  /** RFC 3339; undefined while never stopped. */
  finishedAt: string | undefined;
  labels: Record<string, string>;
  /** The container's IP address by network name; undefined while it is not running. */
  networks: Record<string, string | undefined>;
}

/** What Slipway needs from `docker image inspect`. */
export interface ImageInfo {
  /** "sha256:<hex>", whichever engine. */
  id: string;
  repoTags: string[];
  /** Digests of the uncompressed layers: equal for the same image in Docker and Podman. */
  layers: string[];
  sizeBytes: number;
}

/** What `docker load` says it loaded. */
export interface LoadedImages {
  /** References tagged by the load ("localhost/hello:abc"). */
  refs: string[];
  /** IDs of untagged images loaded. */
  ids: string[];
}

type Json = Record<string, unknown>;

function unexpected(what: string, text: string, cause?: unknown): never {
  const sample = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  throw new BugError(`unexpected output from ${what}: ${JSON.stringify(sample)}`, cause);
}

function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return unexpected(what, text, error);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

function toState(value: unknown): ContainerState {
  const s = str(value).toLowerCase();
  return STATES.has(s) ? (s as ContainerState) : "unknown";
}

/** "sha256:<hex>" from either engine's spelling of an image ID. */
export function normalizeImageId(id: string): string {
  const trimmed = id.trim();
  return /^[0-9a-f]{64}$/.test(trimmed) ? `sha256:${trimmed}` : trimmed;
}

// An unset time in Go's JSON: the zero time.
function timeOrUndefined(value: unknown): string | undefined {
  const s = str(value);
  return s === "" || s.startsWith("0001-01-01") ? undefined : s;
}

/**
 * Docker prints labels as "k=v,k2=v2". A piece without "=" belongs to the previous value
 * (a value holding ","), which is the best that can be done with this format.
 */
function parseJoinedLabels(joined: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let last: string | undefined;
  for (const piece of joined === "" ? [] : joined.split(",")) {
    const eq = piece.indexOf("=");
    if (eq > 0) {
      last = piece.slice(0, eq);
      labels[last] = piece.slice(eq + 1);
    } else if (last !== undefined) {
      labels[last] = `${labels[last]},${piece}`;
    }
  }
  return labels;
}

function summaryOf(row: Json): ContainerSummary {
  const names = row.Names;
  const labels = row.Labels;
  const networks = row.Networks;
  const id = str(row.ID) || str(row.Id);
  if (!id) unexpected("docker ps", JSON.stringify(row));
  return {
    id,
    name: Array.isArray(names) ? str(names[0]) : str(names),
    image: str(row.Image),
    state: toState(row.State),
    status: str(row.Status),
    labels: typeof labels === "string" ? parseJoinedLabels(labels) : stringRecord(labels),
    networks: Array.isArray(networks)
      ? stringArray(networks)
      : str(networks)
          .split(",")
          .filter((n) => n !== ""),
  };
}

/** Parses `docker ps --format '{{json .}}'`: JSON lines (Docker) or one JSON array (Podman 4). */
export function parseContainerList(stdout: string): ContainerSummary[] {
  const text = stdout.trim();
  if (text === "") return [];
  const rows = text.startsWith("[")
    ? parseJson("docker ps", text)
    : text.split("\n").flatMap((line) => (line.trim() ? [parseJson("docker ps", line)] : []));
  if (!Array.isArray(rows)) return unexpected("docker ps", text);
  return rows.map((row) => (isObject(row) ? summaryOf(row) : unexpected("docker ps", text)));
}

function healthOf(state: Json): HealthStatus | undefined {
  // Docker: State.Health; Podman 4.3 and older: State.Healthcheck.
  const health = isObject(state.Health) ? state.Health : state.Healthcheck;
  const status = isObject(health) ? str(health.Status) : "";
  return status === "starting" || status === "healthy" || status === "unhealthy"
    ? status
    : undefined;
}

function lastHealthOutput(state: Json): string | undefined {
  const health = isObject(state.Health) ? state.Health : state.Healthcheck;
  const log = isObject(health) && Array.isArray(health.Log) ? health.Log : [];
  const last = log.at(-1);
  const output = isObject(last) ? str(last.Output).trim() : "";
  return output ? output.slice(-300) : undefined;
}

function networksOf(settings: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const networks = isObject(settings) ? settings.Networks : undefined;
  if (!isObject(networks)) return out;
  for (const [name, value] of Object.entries(networks)) {
    if (!isObject(value)) continue;
    out[name] = str(value.IPAddress) || undefined;
  }
  return out;
}

function infoOf(raw: Json, text: string): ContainerInfo {
  const state = raw.State;
  const config = raw.Config;
  const id = str(raw.Id);
  if (!id || !isObject(state) || !isObject(config)) return unexpected("docker inspect", text);
  return {
    id,
    name: str(raw.Name).replace(/^\//, ""),
    image: str(config.Image) || str(raw.ImageName),
    imageId: normalizeImageId(str(raw.Image)),
    state: toState(state.Status),
    running: state.Running === true,
    exitCode: num(state.ExitCode),
    oomKilled: state.OOMKilled === true,
    health: healthOf(state),
    healthOutput: lastHealthOutput(state),
    restartCount: num(raw.RestartCount),
    startedAt: timeOrUndefined(state.StartedAt),
    finishedAt: timeOrUndefined(state.FinishedAt),
    labels: stringRecord(config.Labels),
    networks: networksOf(raw.NetworkSettings),
  };
}

/** Parses `docker inspect --type container` output (a JSON array, one entry per name asked). */
export function parseContainerInspect(stdout: string): ContainerInfo[] {
  const text = stdout.trim();
  const raw = parseJson("docker inspect", text);
  if (!Array.isArray(raw)) return unexpected("docker inspect", text);
  return raw.map((entry) =>
    isObject(entry) ? infoOf(entry, text) : unexpected("docker inspect", text),
  );
}

/** Parses `docker inspect --type container NAME` of one container (BugError when it is absent). */
export function parseInspect(stdout: string): ContainerInfo {
  const [info] = parseContainerInspect(stdout);
  return info ?? unexpected("docker inspect of one container", stdout);
}

/** The container's IP address on a network, when it is attached and running. */
export function containerIp(info: ContainerInfo, network: string): string | undefined {
  return info.networks[network];
}

/** Parses `docker image inspect --format {{.Id}}` (see dockerImageId). */
export function parseImageId(stdout: string): string {
  const id = normalizeImageId(stdout.trim());
  if (!/^sha256:[0-9a-f]{64}$/.test(id)) return unexpected("docker image inspect", stdout);
  return id;
}

/** Parses `docker image inspect` (a JSON array). */
export function parseImageInspect(stdout: string): ImageInfo[] {
  const text = stdout.trim();
  const raw = parseJson("docker image inspect", text);
  if (!Array.isArray(raw)) return unexpected("docker image inspect", text);
  return raw.map((entry) => {
    if (!isObject(entry) || !str(entry.Id)) return unexpected("docker image inspect", text);
    const rootfs = entry.RootFS;
    return {
      id: normalizeImageId(str(entry.Id)),
      repoTags: stringArray(entry.RepoTags),
      layers: isObject(rootfs) ? stringArray(rootfs.Layers) : [],
      sizeBytes: num(entry.Size),
    };
  });
}

/**
 * Parses what `docker load` prints: "Loaded image: REF" per tag, "Loaded image ID: sha256:..."
 * for an untagged image; Podman prints "Loaded image(s): REF,REF" or "Loaded image: REF".
 */
export function parseLoadOutput(stdout: string): LoadedImages {
  const loaded: LoadedImages = { refs: [], ids: [] };
  for (const line of stdout.split("\n")) {
    const id = /^Loaded image ID:\s*(\S+)\s*$/.exec(line);
    if (id?.[1]) {
      loaded.ids.push(normalizeImageId(id[1]));
      continue;
    }
    const refs = /^Loaded image(?:\(s\))?:\s*(.+?)\s*$/.exec(line);
    if (refs?.[1])
      loaded.refs.push(
        ...refs[1]
          .split(",")
          .map((r) => r.trim())
          .filter(Boolean),
      );
  }
  return loaded;
}
