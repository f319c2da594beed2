/**
 * The automatic silence around a deploy or rollback: on each host whose agent runs, this app's
 * checks send nothing while the rollout runs (a restarting worker, a migration's load), and
 * notify again once it is over. Best effort: a host without an agent, or an agent that does not
 * answer, never fails the rollout. The silence ends by itself after 30 minutes, should Slipway
 * die before it ends it.
 */
import type { LoadedConfig } from "../config/index.ts";
import { siteName } from "../deploy/index.ts";
import type { Reporter } from "../output/index.ts";
import type { Connections } from "../transport/index.ts";
import { callAgent } from "./api.ts";
import { appHosts } from "./install.ts";
import { AGENT_CONTAINER } from "./plan.ts";

const LONGEST_MINUTES = 30;

export async function withRolloutSilence<T>(
  loaded: LoadedConfig,
  connections: Connections,
  reporter: Reporter,
  reason: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!loaded.config.monitoring) return work();
  // A name ending in "/" silences every check of the app (its host checks too).
  const prefix = `${siteName(loaded.config.service, loaded.environment)}/`;
  const silences: { host: string; id: number }[] = [];
  for (const host of appHosts(loaded)) {
    const transport = connections.get(host);
    try {
      const running = await transport.run(
        ["docker", "inspect", "--format", "{{.State.Running}}", AGENT_CONTAINER],
        { check: false },
      );
      if (running.stdout.trim() !== "true") continue;
      const { status, value } = await callAgent(transport, "POST", "/api/silences", {
        check: prefix,
        minutes: LONGEST_MINUTES,
        reason,
      });
      if (status !== 201) throw new Error(`the agent answered ${status}`);
      silences.push({ host, id: (value as { id: number }).id });
      reporter.info(`${host} agent: ${prefix}* silenced during the ${reason}`);
    } catch (error) {
      reporter.warn(`${host} agent: could not silence the checks (${(error as Error).message})`);
    }
  }
  try {
    return await work();
  } finally {
    for (const { host, id } of silences) {
      await callAgent(connections.get(host), "DELETE", `/api/silences/${id}`).then(
        () => reporter.info(`${host} agent: checks of ${prefix}* notify again`),
        (error: Error) =>
          reporter.warn(`${host} agent: the silence stays until it expires (${error.message})`),
      );
    }
  }
}
