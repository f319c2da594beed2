/**
 * `slipway-agent --config FILE --state DIR`, or, as Slipway runs it on a host,
 * `slipway-agent --config DIR --host NAME [--listen ADDRESS:PORT] [--token-file FILE] --state DIR`
 * with one fragment per app in DIR. Reads its configuration, opens its store, serves its API and
 * runs its checks until SIGTERM or SIGINT, then finishes running work and writes what is pending.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "./agent.ts";
import {
  type AgentConfig,
  type CheckConfig,
  checkSchema,
  mergeFragments,
  parseAgentConfig,
} from "./config.ts";
import { AgentMetrics } from "./metrics.ts";
import { createApi } from "./server.ts";
import { effectiveChecks } from "./settings.ts";
import { Store } from "./store.ts";

function loadConfig(values: {
  config: string;
  host?: string | undefined;
  listen?: string | undefined;
  "token-env"?: string | undefined;
  "token-file"?: string | undefined;
  "public-status"?: boolean | undefined;
  "engine-socket"?: string | undefined;
}): AgentConfig {
  if (!statSync(values.config).isDirectory()) {
    return parseAgentConfig(readFileSync(values.config, "utf8"), values.config);
  }
  const files = readdirSync(values.config)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const file = join(values.config, name);
      return { file, text: readFileSync(file, "utf8") };
    });
  const [address = "127.0.0.1", port = "9465"] = (values.listen ?? "").split(/:(?=\d+$)/);
  return mergeFragments(files, {
    host: values.host ?? "localhost",
    listen: { address: address || "127.0.0.1", port: Number(port) },
    ...(values["token-env"] ? { token_env: values["token-env"] } : {}),
    ...(values["token-file"] ? { token_file: values["token-file"] } : {}),
    public_status: values["public-status"] === true,
    ...(values["engine-socket"] ? { engine_socket: values["engine-socket"] } : {}),
  });
}

/** The API's checks kept in the store; one this agent no longer accepts is dropped, and said. */
function validOverrides(store: Store): Map<string, CheckConfig> {
  const valid = new Map<string, CheckConfig>();
  for (const [name, check] of store.overrides()) {
    const parsed = checkSchema.safeParse(check);
    if (parsed.success) valid.set(name, parsed.data);
    else {
      store.deleteOverride(name);
      process.stderr.write(`slipway-agent: dropped the API's check ${name}: no longer valid\n`);
    }
  }
  return valid;
}

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: "string" },
      state: { type: "string" },
      host: { type: "string" },
      listen: { type: "string" },
      "token-env": { type: "string" },
      "token-file": { type: "string" },
      "public-status": { type: "boolean" },
      "engine-socket": { type: "string" },
    },
  });
  if (!values.config || !values.state) {
    throw new Error(
      "usage: slipway-agent --config FILE|DIR --state DIR [--host NAME] [--listen ADDRESS:PORT] [--token-env NAME | --token-file FILE]",
    );
  }
  const config = loadConfig({ ...values, config: values.config });
  mkdirSync(values.state, { recursive: true, mode: 0o700 });
  const store = new Store(join(values.state, "agent.db"));
  const metrics = new AgentMetrics();
  const overrides = validOverrides(store);
  const agent = new Agent(
    { ...config, checks: effectiveChecks(config.checks, overrides) },
    store,
    metrics,
  );
  const token =
    config.token_file !== undefined
      ? readFileSync(config.token_file, "utf8").trim()
      : config.token_env === undefined
        ? undefined
        : process.env[config.token_env];
  const server = createApi({
    agent,
    store,
    metrics,
    token,
    host: config.host,
    publicStatus: config.public_status,
    config,
  });
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
