/**
 * `slipway-agent --config FILE --state DIR`: the agent's process. Reads its configuration, opens
 * its store, serves its API and runs its checks until SIGTERM or SIGINT, then finishes running
 * work and writes what is pending before it exits.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "./agent.ts";
import { parseAgentConfig } from "./config.ts";
import { AgentMetrics } from "./metrics.ts";
import { createApi } from "./server.ts";
import { Store } from "./store.ts";

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: { config: { type: "string" }, state: { type: "string" } },
  });
  if (!values.config || !values.state) {
    throw new Error("usage: slipway-agent --config FILE --state DIR");
  }
  const config = parseAgentConfig(readFileSync(values.config, "utf8"), values.config);
  mkdirSync(values.state, { recursive: true, mode: 0o700 });
  const store = new Store(join(values.state, "agent.db"));
  const metrics = new AgentMetrics();
  const agent = new Agent(config, store, metrics);
  const token = config.token_env === undefined ? undefined : process.env[config.token_env];
  const server = createApi({ agent, store, metrics, token });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.address, resolve);
  });
  agent.start();
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.listen.port;
  process.stdout.write(
    `slipway-agent: ${config.checks.length} checks, ${config.notifiers.length} notifiers, listening on ${config.listen.address}:${port}\n`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    await agent.stop();
    store.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`slipway-agent: ${error.message}\n`);
  process.exit(1);
});
