/**
 * monitoring.status_domain on a host: the status page's server block in the Slipway proxy, put in
 * place (nginx -t first, the old file back when it refuses), left alone when current, removed
 * when the setting is gone.
 */
import { createHash } from "node:crypto";
import { applySteps } from "../plan/index.ts";
import {
  PROXY_CONTAINER,
  PROXY_DIR,
  type ProxyOptions,
  planProxyReload,
  planStatusSite,
  renderStatusSite,
  type StatusSite,
  statusSiteName,
} from "../proxy/index.ts";
import type { Transport } from "../transport/index.ts";
import { AGENT_CONTAINER, AGENT_PORT } from "./plan.ts";

export type StatusSiteOutcome = "added" | "updated" | "unchanged" | "removed" | "none";

/** The status site of `site` on this host as `domain` says (undefined: none). */
export async function placeStatusSite(
  transport: Transport,
  site: string,
  domain: string | undefined,
  options: ProxyOptions & Partial<Pick<StatusSite, "agent" | "resolver">> = {},
): Promise<StatusSiteOutcome> {
  const path = `${options.hostDir ?? PROXY_DIR}/sites/${statusSiteName(site)}.conf`;
  const current = await transport.run(["sha256sum", "--", path], { check: false });
  if (domain === undefined) {
    if (current.code !== 0) return "none";
    await transport.run(["rm", "-f", "--", path]);
    await applySteps(transport, planProxyReload());
    return "removed";
  }
  const status: StatusSite = {
    domain,
    agent: options.agent ?? { host: AGENT_CONTAINER, port: AGENT_PORT },
    ...(options.resolver === undefined ? {} : { resolver: options.resolver }),
  };
  const digest = createHash("sha256").update(renderStatusSite(status, options)).digest("hex");
  if (current.code === 0 && current.stdout.startsWith(digest)) return "unchanged";
  await applySteps(transport, planStatusSite(site, status, options));
  return current.code === 0 ? "updated" : "added";
}

/** Whether the Slipway proxy runs on this host (a host of a web role, deployed once). */
export async function proxyRuns(transport: Transport): Promise<boolean> {
  const result = await transport.run(
    ["docker", "container", "inspect", "--format", "{{.State.Running}}", PROXY_CONTAINER],
    { check: false },
  );
  return result.code === 0 && result.stdout.trim() === "true";
}
