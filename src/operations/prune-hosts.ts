/**
 * `slipway prune`: on every host, what the shared planner says is no longer needed (stopped
 * containers of the app, env files and images of releases beyond releases.keep, dangling
 * images). Only listed unless `apply`; applied under the deploy lock, so a deploy never loses the
 * env file or the stopped container it is working with.
 */
import type { LoadedConfig } from "../config/index.ts";
import { imageRef, primaryHost, rolesInOrder, siteName } from "../deploy/index.ts";
import { acquireLock } from "../lock/index.ts";
import type { Reporter } from "../output/index.ts";
import { readCurrentVersion } from "../releases/index.ts";
import { type Connections, onHosts } from "../transport/index.ts";
import { applyPrune, planPrune, readPruneFacts } from "./prune/index.ts";
import type { PruneReport } from "./prune-report.ts";
import { siteSelector } from "./selectors.ts";
import { allHosts, failureReason, HOSTS_AT_ONCE } from "./targets.ts";

/** Plans pruning on every host at once, and carries the plans out when `apply`. */
export async function pruneHosts(options: {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
  apply: boolean;
}): Promise<PruneReport> {
  const { loaded, connections, reporter } = options;
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const roles = rolesInOrder(config);
  const lock = options.apply
    ? await acquireLock(connections.get(primaryHost(config)), site, "pruning old releases", {
        heartbeat: true,
        warn: (m) => reporter.warn(m),
      })
    : undefined;
  try {
    const outcomes = await onHosts(
      allHosts(roles),
      async (host) => {
        const transport = connections.get(host);
        const here = roles.filter((r) => r.hosts.includes(host));
        const current = await Promise.all(
          here.map(async (r) => ({
            name: r.name,
            current: await readCurrentVersion(transport, site, r.name),
          })),
        );
        const plan = planPrune(
          await readPruneFacts(transport, {
            site,
            roles: current,
            knownRoles: roles.map((r) => r.name),
            keep: config.releases.keep,
            containerLabels: siteSelector(config.service, loaded.environment),
            // Any tag: the planner names a version without a record after this repository.
            image: imageRef(config, "latest"),
            dangling: true,
          }),
        );
        if (options.apply) await applyPrune(transport, plan);
        return plan;
      },
      { limit: HOSTS_AT_ONCE, failFast: false },
    );
    return {
      site,
      applied: options.apply,
      hosts: outcomes.map((o) =>
        o.status === "ok"
          ? { host: o.host, plan: o.value }
          : { host: o.host, error: o.status === "failed" ? failureReason(o.error) : "skipped" },
      ),
    };
  } finally {
    await lock?.release();
  }
}
