/**
 * `slipway deploy` and `slipway rollback`: the whole release across hosts. Lock, image on every
 * host, release command once, then each role host by host (web roles first, so they pass their
 * gate before workers boot), stopping at the first failure.
 */
import { dirname } from "node:path";
import { ensureNetwork, privateNetwork } from "../accessories/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import { UserError } from "../errors/index.ts";
import { acquireLock, currentHolder } from "../lock/index.ts";
import type { Reporter } from "../output/index.ts";
import { CLOUDFLARE, FORWARDED_FOR_HEADER, type ProxySite } from "../proxy/index.ts";
import type { ReleaseKind } from "../releases/index.ts";
import { proxyBridgePin } from "../server/index.ts";
import type { Connections, HostOutcome } from "../transport/index.ts";
import { onHosts } from "../transport/index.ts";
import { renderEnvFile } from "./env-file.ts";
import { imageRef, roleVolumes, siteName } from "./names.ts";
import { type RoleOutcome, type RoleRelease, releaseRoleOnHost } from "./role.ts";

export interface RoleSettings {
  name: string;
  hosts: string[];
  proxied: boolean;
}

/** The roles in deploy order: roles behind the proxy first. */
export function rolesInOrder(config: LoadedConfig["config"]): RoleSettings[] {
  const roles = Object.entries(config.servers).map(([name, role]) => ({
    name,
    hosts: role.hosts,
    proxied: role.proxy ?? name === "web",
  }));
  return [...roles.filter((r) => r.proxied), ...roles.filter((r) => !r.proxied)];
}

/** The hosts behind the proxy (its web roles'), each once, in deploy order: the first issues TLS. */
export function webHosts(config: LoadedConfig["config"]): string[] {
  return [
    ...new Set(
      rolesInOrder(config)
        .filter((role) => role.proxied)
        .flatMap((role) => role.hosts),
    ),
  ];
}

/** Hosts of a role changed at once: a number, or a percentage of the role's hosts (at least 1). */
export function rollingLimit(limit: number | string, hosts: number): number {
  if (typeof limit === "number") return limit;
  return Math.max(1, Math.floor((hosts * Number(limit.replace("%", ""))) / 100));
}

/** The app's primary host: where the lock lives. */
export function primaryHost(config: LoadedConfig["config"]): string {
  const first = rolesInOrder(config)[0]?.hosts[0];
  if (!first)
    throw new UserError({
      code: "config.no_hosts",
      message: "no hosts",
      hint: "add hosts under servers",
    });
  return first;
}

export function proxySite(loaded: LoadedConfig, role: string): ProxySite {
  const { config } = loaded;
  const site: ProxySite = {
    site: siteName(config.service, loaded.environment),
    role,
    domains: config.proxy.domains,
    appPort: config.proxy.app_port,
    healthPath: config.proxy.healthcheck.path,
    maxBodySize: config.proxy.max_body_size,
  };
  if (config.proxy.rate_limit) {
    site.rateLimit = {
      requestsPerSecond: config.proxy.rate_limit.requests_per_second,
      burst: config.proxy.rate_limit.burst,
    };
  }
  return { ...site, ...siteEdge(config.proxy) };
}

const DAY_S = 86_400;

/** HTTPS, CSP and trusted proxies of a site, from proxy: in slipway.yml. */
function siteEdge(proxy: LoadedConfig["config"]["proxy"]): Partial<ProxySite> {
  const edge: Partial<ProxySite> = {};
  if (proxy.tls !== undefined) {
    const hsts = proxy.hsts ?? {
      max_age: 730 * DAY_S * 1000,
      include_subdomains: false,
      preload: false,
    };
    edge.https = {
      acme: proxy.tls.acme?.challenge === "http-01",
      ...(hsts === false
        ? {}
        : {
            hsts: {
              maxAgeS: Math.floor(hsts.max_age / 1000),
              includeSubdomains: hsts.include_subdomains,
              preload: hsts.preload,
            },
          }),
    };
  }
  if (proxy.csp !== undefined) edge.csp = proxy.csp;
  const trusted = proxy.trusted_proxies;
  if (trusted !== undefined) {
    edge.realIp =
      trusted === "cloudflare"
        ? { from: CLOUDFLARE.from, header: CLOUDFLARE.header }
        : { from: trusted, header: FORWARDED_FOR_HEADER };
  }
  return edge;
}

export interface ReleasePlanInput {
  loaded: LoadedConfig;
  version: string;
  kind: ReleaseKind;
  /** The env of each role; for a rollback, read from the kept release on each host. */
  envFor: (role: string, host: string) => Promise<string>;
}

/** What one role's release on a host needs, from the config. */
export function roleRelease(input: ReleasePlanInput, role: RoleSettings, env: string): RoleRelease {
  const { config } = input.loaded;
  const settings = config.servers[role.name];
  if (!settings) throw new Error(`unknown role ${role.name}`);
  const holder = currentHolder("");
  return {
    service: config.service,
    environment: input.loaded.environment,
    site: siteName(config.service, input.loaded.environment),
    role: role.name,
    version: input.version,
    image: imageRef(config, input.version),
    cmd: settings.cmd,
    env,
    singleton: settings.singleton,
    stopTimeoutMs: settings.stop_timeout,
    readyAfterMs: settings.ready_after,
    readyTimeoutMs: settings.ready_timeout,
    memoryBytes: settings.options.memory,
    cpus: settings.options.cpus,
    proxy: role.proxied
      ? {
          site: proxySite(input.loaded, role.name),
          healthPath: config.proxy.healthcheck.path,
          intervalMs: config.proxy.healthcheck.interval,
          timeoutMs: config.proxy.healthcheck.timeout,
          successes: config.proxy.healthcheck.successes,
          deadlineMs: config.proxy.healthcheck.deadline,
          drainMs: config.proxy.drain_timeout,
        }
      : undefined,
    kind: input.kind,
    by: { user: holder.user, machine: holder.machine },
    keep: config.releases.keep,
    privateNetwork: privateNetwork(siteName(config.service, input.loaded.environment)),
    volumes: roleVolumes(siteName(config.service, input.loaded.environment), settings.volumes),
  };
}

/** The env file of a role from the configuration. */
export function configEnv(
  loaded: LoadedConfig,
  role: RoleSettings,
  version: string,
  accessories?: ReadonlyMap<string, string>,
): string {
  const { config } = loaded;
  return renderEnvFile({
    ...(accessories ? { accessories } : {}),
    clear: config.env.clear,
    secretNames: config.env.secret,
    secrets: loaded.secrets.values,
    facts: { service: config.service, environment: loaded.environment, role: role.name, version },
    ...(role.proxied ? { appPort: config.proxy.app_port } : {}),
  });
}

export interface RolloutOptions {
  input: ReleasePlanInput;
  connections: Connections;
  reporter: Reporter;
  /** Runs on each host before its roles change (ship the image, boot the proxy...). */
  prepareHost: (host: string) => Promise<void>;
  /** Runs once, on the primary host, after every host is prepared and before any switch. */
  beforeSwitch?: (primary: string) => Promise<void>;
  /** Release only these roles (default: every role). */
  roles?: readonly string[];
  signal?: AbortSignal;
}

export interface RolloutSummary {
  version: string;
  roles: { role: string; hosts: HostOutcome<RoleOutcome>[] }[];
}

/** Locks, prepares every host, then releases role by role; the lock is released in the end. */
export async function rollout(options: RolloutOptions): Promise<RolloutSummary> {
  const { input, connections, reporter } = options;
  const { config } = input.loaded;
  const site = siteName(config.service, input.loaded.environment);
  const primary = primaryHost(config);
  const verb = { deploy: "deploying", rollback: "rolling back to", restart: "restarting" }[
    input.kind
  ];
  const lock = await acquireLock(connections.get(primary), site, `${verb} ${input.version}`, {
    heartbeat: true,
    warn: (m) => reporter.warn(m),
  });
  // What each host does after its switch (drain, stop the old, record, prune) runs on while the
  // next host or role starts; all of it ends before the lock is released.
  const finishing: Promise<void>[] = [];
  const defer = (work: Promise<void>) => {
    work.catch(() => {}); // settled below
    finishing.push(work);
  };
  let failed = false;
  // A role behind the proxy whose switches are still going on while the next roles start, and
  // what stopped it when it failed meanwhile (hosts not started yet then stop too).
  let switching: Promise<void> | undefined;
  let switchFailure: { error: unknown } | undefined;
  try {
    const roles = rolesInOrder(config).filter((r) => options.roles?.includes(r.name) ?? true);
    const allHosts = [...new Set(roles.flatMap((r) => r.hosts))];
    const prepared = await onHosts(
      allHosts,
      async (host) => {
        const transport = connections.get(host);
        // Before any container starts or stops here: see src/server/bridge.ts.
        const pinBridge = await proxyBridgePin(transport, reporter);
        await pinBridge();
        await ensureNetwork(transport, privateNetwork(site));
        await options.prepareHost(host);
        await pinBridge();
      },
      { limit: Math.max(1, allHosts.length), failFast: false },
    );
    const unprepared = prepared.find((o) => o.status === "failed");
    if (unprepared && unprepared.status === "failed") throw unprepared.error;
    checkAborted(options.signal);
    await options.beforeSwitch?.(primary);

    const summary: RolloutSummary = { version: input.version, roles: [] };
    for (const [index, role] of roles.entries()) {
      checkAborted(options.signal);
      const slot = summary.roles.push({ role: role.name, hosts: [] }) - 1;
      const gated = countdown(role.hosts.length);
      const released = onHosts(
        role.hosts,
        async (host) => {
          checkAborted(options.signal);
          if (switchFailure) throw switchFailure.error;
          const env = await input.envFor(role.name, host);
          return releaseRoleOnHost(
            connections.get(host),
            roleRelease(input, role, env),
            reporter,
            defer,
            gated.tick,
          );
        },
        { limit: rollingLimit(config.rolling.limit, role.hosts.length), failFast: true },
      ).then((outcomes) => {
        summary.roles[slot] = { role: role.name, hosts: outcomes };
        const failure = outcomes.find((o) => o.status === "failed");
        if (failure && failure.status === "failed") {
          const skipped = outcomes.filter((o) => o.status === "skipped").map((o) => o.host);
          if (skipped.length > 0) {
            reporter.warn(
              `${role.name}: not deployed on ${skipped.join(", ")} (stopped at the first failure)`,
            );
          }
          throw failure.error;
        }
      });
      const next = roles[index + 1];
      if (role.proxied && next && !next.proxied) {
        // Roles without the proxy boot once every host of the web role passed its gate; its
        // switches go on meanwhile, and are awaited before the rollout ends.
        await Promise.race([gated.done, released]);
        switching = released;
        switching.catch((error: unknown) => {
          switchFailure = { error };
        }); // awaited below
      } else {
        await released;
      }
    }
    await switching;
    return summary;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // Never release the lock while a switch is still going on.
    await switching?.catch(() => {});
    const settled = await Promise.allSettled(finishing);
    const unfinished = settled.find((s) => s.status === "rejected");
    await lock.release().catch((error: unknown) => {
      reporter.warn(
        `could not release the lock: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    // The new version serves, but the old one may still run or the release is not recorded.
    // biome-ignore lint/correctness/noUnsafeFinally: an error of its own when the rollout had none
    if (unfinished && !failed) throw unfinished.reason;
    if (unfinished) reporter.warn(`after the switch: ${describe(unfinished.reason)}`);
  }
}

/** Resolves `done` once `tick` was called `count` times. */
function countdown(count: number): { tick: () => void; done: Promise<void> } {
  let left = count;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  if (left <= 0) resolve();
  return {
    tick: () => {
      left--;
      if (left === 0) resolve();
    },
    done,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new UserError({
      code: "deploy.interrupted",
      message:
        "Interrupted: nothing was switched after this point; what was serving keeps serving.",
      hint: "Run the deploy again; it converges.",
    });
  }
}

/** The folder of slipway.yml: builds and hooks run there. */
export function projectDir(loaded: LoadedConfig): string {
  return dirname(loaded.file);
}
