/**
 * `slipway server bootstrap`: makes a fresh Debian or Ubuntu host ready for deploys. A container
 * engine (Docker from the distribution's packages), curl for health probes, Slipway's state
 * folder, the private network and the proxy. Each step checks first, so a second run changes
 * nothing and says so.
 */

import { ensure, run, type Step } from "../plan/index.ts";
import { planProxyBoot } from "../proxy/index.ts";

const APT_ENV = ["env", "DEBIAN_FRONTEND=noninteractive"];
const APT_TIMEOUT_MS = 15 * 60_000;

/** Installs Debian/Ubuntu packages without prompts (apt's lists refreshed first). */
function aptInstall(title: string, packages: string[]): Step[] {
  return [
    run("refresh package lists", [...APT_ENV, "apt-get", "update", "-q"], {
      timeoutMs: APT_TIMEOUT_MS,
    }),
    run(
      title,
      [...APT_ENV, "apt-get", "install", "-y", "-q", "--no-install-recommends", ...packages],
      {
        timeoutMs: APT_TIMEOUT_MS,
      },
    ),
  ];
}

/** The host-level steps: engine, curl, state folder. */
export function planHostBase(): Step[] {
  return [
    ensure(
      "container engine (Docker)",
      ["sh", "-c", "command -v docker"],
      [...aptInstall("install Docker (docker.io)", ["docker.io"])],
    ),
    ensure(
      "Docker running at boot",
      ["systemctl", "is-enabled", "--quiet", "docker"],
      [run("enable and start Docker", ["systemctl", "enable", "--now", "docker"])],
    ),
    ensure(
      "Docker answering",
      ["docker", "info", "--format", "{{.ServerVersion}}"],
      [run("start Docker", ["systemctl", "start", "docker"])],
    ),
    ensure(
      "curl (health probes)",
      ["sh", "-c", "command -v curl"],
      [...aptInstall("install curl", ["curl", "ca-certificates"])],
    ),
    ensure(
      "state folder /var/lib/slipway",
      ["test", "-d", "/var/lib/slipway"],
      [run("create /var/lib/slipway", ["install", "-d", "-m", "0700", "/var/lib/slipway"])],
    ),
  ];
}

/** Everything bootstrap does on a host, with the proxy image to run. */
export function planBootstrap(proxyImage: string): Step[] {
  return [...planHostBase(), ...planProxyBoot(proxyImage)];
}
