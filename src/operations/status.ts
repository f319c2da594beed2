/**
 * `slipway status` as data: from what the engine lists and inspects on each host to a report per
 * host and role, and that report as a table for people. Pure; reading the facts is read-status.ts.
 */
import type {
  ContainerInfo,
  ContainerState,
  ContainerSummary,
  HealthStatus,
} from "../engine/index.ts";
import { describeHolder, type LockStatus } from "../lock/index.ts";
import { table } from "../output/index.ts";
import { runningNewestFirst } from "./targets.ts";

/** What was read on one host. */
export interface HostFacts {
  host: string;
  /** The app's roles on this host. */
  roles: readonly { name: string; proxied: boolean }[];
  /** Every container of the site on the host, in any state (`docker ps --all`). */
  containers: readonly ContainerSummary[];
  /** `docker inspect` of the containers in containersToInspect. */
  inspected: readonly ContainerInfo[];
  /** The version recorded as current, by role. */
  current: Readonly<Record<string, string | undefined>>;
  /** The proxy container on hosts with proxied roles; undefined when there is none. */
  proxy: ContainerInfo | undefined;
}

export interface ContainerStatus {
  name: string;
  version: string | null;
  state: ContainerState;
  /** null when the container has no HEALTHCHECK. */
  health: HealthStatus | null;
  /** RFC 3339; null when unknown. */
  startedAt: string | null;
  /** Seconds since it started, while it runs. */
  uptimeSeconds: number | null;
  restartCount: number;
}

export interface RoleStatus {
  role: string;
  /** The version recorded as current on the host. */
  current: string | null;
  running: boolean;
  /** The live containers (newest first), or else the newest stopped one. */
  containers: ContainerStatus[];
}

export interface HostStatus {
  host: string;
  reachable: boolean;
  /** Why the host could not be read. */
  error?: string;
  roles: RoleStatus[];
  /** The proxy, on hosts with proxied roles (null: there is no proxy container). */
  proxy?: ContainerStatus | null;
}

export interface StatusReport {
  site: string;
  /** Every host answered, every role runs, every proxy runs. */
  ok: boolean;
  /** The deploy lock on the primary host; null when that host could not be read. */
  lock: LockStatus | null;
  hosts: HostStatus[];
}

const LIVE: ReadonlySet<ContainerState> = new Set(["running", "restarting", "paused"]);

/** The containers shown for a role: the live ones, or else the newest stopped one. */
export function containersToShow(
  containers: readonly ContainerSummary[],
  role: string,
): ContainerSummary[] {
  const mine = containers.filter((c) => c.labels["slipway.role"] === role);
  const running = runningNewestFirst(mine);
  const live = [...running, ...mine.filter((c) => LIVE.has(c.state) && c.state !== "running")];
  if (live.length > 0) return live;
  const newest = [...mine].sort((a, b) =>
    (b.labels["slipway.released"] ?? "").localeCompare(a.labels["slipway.released"] ?? ""),
  )[0];
  return newest ? [newest] : [];
}

/** Names of the containers whose details (health, start, restarts) the status needs. */
export function containersToInspect(
  containers: readonly ContainerSummary[],
  roles: readonly { name: string }[],
): string[] {
  return roles.flatMap((r) => containersToShow(containers, r.name).map((c) => c.name));
}

/** The status of one host that answered. */
export function hostStatus(facts: HostFacts, now: Date): HostStatus {
  const details = new Map(facts.inspected.map((info) => [info.name, info]));
  const roles = facts.roles.map((role): RoleStatus => {
    const shown = containersToShow(facts.containers, role.name);
    return {
      role: role.name,
      current: facts.current[role.name] ?? null,
      running: shown.some((c) => c.state === "running"),
      containers: shown.map((c) => containerStatus(c, details.get(c.name), now)),
    };
  });
  const status: HostStatus = { host: facts.host, reachable: true, roles };
  if (facts.roles.some((r) => r.proxied)) {
    status.proxy = facts.proxy ? containerStatus(undefined, facts.proxy, now) : null;
  }
  return status;
}

/** The status of a host that could not be read. */
export function unreachableHost(host: string, error: string): HostStatus {
  return { host, reachable: false, error, roles: [] };
}

/** Whether all is well: every host answered, every role runs somewhere it should, proxies run. */
export function statusOk(hosts: readonly HostStatus[]): boolean {
  return hosts.every(
    (h) =>
      h.reachable && h.roles.every((r) => r.running) && (h.proxy === undefined || isUp(h.proxy)),
  );
}

function isUp(container: ContainerStatus | null): boolean {
  return container?.state === "running";
}

function containerStatus(
  summary: ContainerSummary | undefined,
  info: ContainerInfo | undefined,
  now: Date,
): ContainerStatus {
  const state = info?.state ?? summary?.state ?? "unknown";
  const startedAt = info?.startedAt ?? null;
  const started = startedAt ? Date.parse(startedAt) : Number.NaN;
  return {
    name: info?.name ?? summary?.name ?? "",
    version: (info?.labels ?? summary?.labels)?.["slipway.version"] || null,
    state,
    health: info?.health ?? null,
    startedAt,
    uptimeSeconds:
      state === "running" && Number.isFinite(started)
        ? Math.max(0, Math.floor((now.getTime() - started) / 1000))
        : null,
    restartCount: info?.restartCount ?? 0,
  };
}

/** "42s", "12m05s", "3h04m", "2d03h": two units at most, as people read an uptime. */
export function formatUptime(seconds: number): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${pad(Math.floor(seconds / 3600) % 24)}h`;
}

/** The report for people: the lock, then one line per container, then what went wrong. */
export function renderStatus(report: StatusReport): string {
  const header = [
    "HOST",
    "ROLE",
    "CONTAINER",
    "VERSION",
    "STATE",
    "HEALTH",
    "UPTIME",
    "RESTARTS",
    "CURRENT",
  ];
  const rows: string[][] = [header];
  const problems: string[] = [];
  for (const host of report.hosts) {
    if (!host.reachable) {
      problems.push(`${host.host}: unreachable: ${host.error ?? "no answer"}`);
      continue;
    }
    for (const role of host.roles) {
      const current = role.current ?? "-";
      if (role.containers.length === 0) {
        rows.push([host.host, role.role, "(none)", "-", "missing", "-", "-", "-", current]);
      }
      for (const c of role.containers) rows.push([host.host, role.role, ...cells(c), current]);
      if (!role.running) problems.push(`${host.host}: ${role.role} has no running container`);
    }
    if (host.proxy === null) {
      rows.push([host.host, "proxy", "(none)", "-", "missing", "-", "-", "-", "-"]);
    } else if (host.proxy) {
      rows.push([host.host, "proxy", ...cells(host.proxy), "-"]);
    }
    if (host.proxy !== undefined && !isUp(host.proxy)) {
      problems.push(`${host.host}: the proxy is not running (slipway server bootstrap starts it)`);
    }
  }
  const lock = !report.lock
    ? "lock unknown"
    : report.lock.held
      ? `locked by ${describeHolder(report.lock.holder)}${report.lock.stale ? ` (stale: ${report.lock.staleReason})` : ""}`
      : "not locked";
  return [
    `${report.site}: ${lock}`,
    "",
    table(rows),
    ...(problems.length > 0 ? ["", ...problems] : []),
  ].join("\n");
}

function cells(c: ContainerStatus): string[] {
  return [
    c.name,
    c.version ?? "-",
    c.state,
    c.health ?? "-",
    c.uptimeSeconds === null ? "-" : formatUptime(c.uptimeSeconds),
    String(c.restartCount),
  ];
}
