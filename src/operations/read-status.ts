/** Reads `slipway status` from every host at once; a host that fails is reported, not thrown. */
import type { LoadedConfig } from "../config/index.ts";
import { primaryHost, rolesInOrder, siteName } from "../deploy/index.ts";
import {
  dockerInspect,
  dockerListContainers,
  parseContainerInspect,
  parseContainerList,
} from "../engine/index.ts";
import { type LockStatus, lockStatus } from "../lock/index.ts";
import { PROXY_CONTAINER } from "../proxy/index.ts";
import { readCurrentVersion } from "../releases/index.ts";
import { type Connections, onHosts, type Transport } from "../transport/index.ts";
import { siteSelector } from "./selectors.ts";
import {
  containersToInspect,
  type HostFacts,
  hostStatus,
  type StatusReport,
  statusOk,
  unreachableHost,
} from "./status.ts";
import { allHosts, failureReason, HOSTS_AT_ONCE } from "./targets.ts";

export async function readStatus(options: {
  loaded: LoadedConfig;
  connections: Connections;
}): Promise<StatusReport> {
  const { loaded, connections } = options;
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const roles = rolesInOrder(config);
  const primary = primaryHost(config);
  let lock: LockStatus | null = null;

  const outcomes = await onHosts(
    allHosts(roles),
    async (host) => {
      const transport = connections.get(host);
      const here = roles.filter((r) => r.hosts.includes(host));
      const facts = await readHostFacts(transport, loaded, here);
      if (host === primary) lock = await lockStatus(transport, site);
      return hostStatus(facts, new Date());
    },
    { limit: HOSTS_AT_ONCE, failFast: false },
  );
  const hosts = outcomes.map((o) =>
    o.status === "ok"
      ? o.value
      : unreachableHost(o.host, o.status === "failed" ? failureReason(o.error) : "skipped"),
  );
  return { site, ok: statusOk(hosts), lock, hosts };
}

async function readHostFacts(
  transport: Transport,
  loaded: LoadedConfig,
  roles: readonly { name: string; proxied: boolean }[],
): Promise<HostFacts> {
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const listed = await transport.run(
    dockerListContainers(siteSelector(config.service, loaded.environment), { all: true }),
  );
  const containers = parseContainerList(listed.stdout);
  const names = containersToInspect(containers, roles);
  const [first, ...more] = names;
  // check: false: a container may go between the listing and this; the others still print.
  const inspected = first
    ? await transport.run(dockerInspect(first, ...more), { check: false })
    : undefined;
  const current: Record<string, string | undefined> = {};
  for (const role of roles)
    current[role.name] = await readCurrentVersion(transport, site, role.name);
  let proxy: HostFacts["proxy"];
  if (roles.some((r) => r.proxied)) {
    const result = await transport.run(dockerInspect(PROXY_CONTAINER), { check: false });
    proxy = result.code === 0 ? parseContainerInspect(result.stdout)[0] : undefined;
  }
  return {
    host: transport.host,
    roles,
    containers,
    inspected: inspected?.stdout.trim() ? parseContainerInspect(inspected.stdout) : [],
    current,
    proxy,
  };
}
