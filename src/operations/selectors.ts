/** Label selectors for the app's containers on a host, from the labels every release writes. */
import { roleSelector } from "../deploy/index.ts";

/** Every container of one app (service and environment), whatever its role: one-offs included. */
export function siteSelector(
  service: string,
  environment: string | undefined,
): Record<string, string> {
  const { "slipway.role": _role, ...site } = roleSelector({ service, environment, role: "" });
  return site;
}
