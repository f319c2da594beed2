/**
 * `slipway agent upgrade`: the agent's code on each host replaced by this Slipway's bundle, its
 * state (SQLite: incidents, alert states, the API's overrides) and configuration kept. A host
 * already running this version is left alone. The version is Slipway's with a digest of the
 * bundle (a build of the same version with other code is another agent), kept in AGENT_DIR/version.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { UserError } from "../errors/index.ts";
import type { Connections, Transport } from "../transport/index.ts";
import { AGENT_CONTAINER, AGENT_DIR } from "./plan.ts";

export const VERSION_PATH = `${AGENT_DIR}/version`;

/** "<slipway version>+<12 hex of the bundle's files>": the same for the same files, in any order. */
export function agentVersion(slipway: string, bundle: ReadonlyMap<string, string>): string {
  const hash = createHash("sha256");
  for (const name of [...bundle.keys()].sort()) {
    hash.update(`${name}\0${bundle.get(name)}\0`);
  }
  return `${slipway}+${hash.digest("hex").slice(0, 12)}`;
}

/** This installation's version of the agent. */
export function shippedAgentVersion(bundle: ReadonlyMap<string, string>): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return agentVersion(pkg.version, bundle);
}

/** The version a host's agent runs; "unknown" when it was installed before versions were kept. */
export async function installedAgentVersion(transport: Transport): Promise<string> {
  const result = await transport.run(["cat", "--", VERSION_PATH], { check: false });
  return result.code === 0 && result.stdout.trim() ? result.stdout.trim() : "unknown";
}

export interface UpgradeOutcome {
  host: string;
  from: string;
  to: string;
  upgraded: boolean;
}

/**
 * Each host's agent's version and this Slipway's; `upgraded` for those to be replaced (another
 * version, or stopped). A host without the agent is an error: upgrade is not install.
 */
export async function agentVersions(
  hosts: readonly string[],
  connections: Connections,
  bundle: ReadonlyMap<string, string>,
): Promise<UpgradeOutcome[]> {
  const to = shippedAgentVersion(bundle);
  const outcomes = [];
  for (const host of hosts) {
    const transport = connections.get(host);
    const state = await transport.run(
      ["docker", "inspect", "--format", "{{.State.Running}}", AGENT_CONTAINER],
      { check: false },
    );
    if (state.code !== 0) {
      throw new UserError({
        code: "agent.not_installed",
        message: `${host}: the agent is not installed, there is nothing to upgrade`,
        hint: "slipway agent install puts it there",
      });
    }
    const from = await installedAgentVersion(transport);
    outcomes.push({ host, from, to, upgraded: from !== to || state.stdout.trim() !== "true" });
  }
  return outcomes;
}
