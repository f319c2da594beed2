/**
 * Accessories on their hosts: credentials generated once and kept there, the private network,
 * the container started from the plan and gated on its engine's health check, and what the app's
 * env gets. The container's spec digest is kept in a label, so boot can tell "already running as
 * configured" from "running, but configured differently".
 */
import type { LoadedConfig } from "../config/index.ts";
import { dockerInspect, dockerRemove, dockerRun, parseInspect } from "../engine/index.ts";
import { UserError } from "../errors/index.ts";
import { type Reporter, redactor } from "../output/index.ts";
import type { Transport } from "../transport/index.ts";
import { type Credentials, ENGINES, type EngineName } from "./engines.ts";
import {
  type AccessoryPlan,
  type AccessorySettings,
  accessoryContainer,
  accessoryDir,
  accessorySpec,
  accessoryUrl,
  generateCredentials,
  planAccessory,
  privateNetwork,
  secretsDir,
} from "./plan.ts";
import { tuneAccessory } from "./tuning.ts";

export const ACCESSORY_SPEC_LABEL = "slipway.accessory.spec";

/** An accessory of slipway.yml with its defaults applied. */
export interface ResolvedAccessory {
  name: string;
  engine: EngineName | "generic";
  host: string;
  site: string;
  service: string;
  environment: string | undefined;
  /** The app env variable its URL goes to; undefined: none (always, for a generic one). */
  urlEnv: string | undefined;
  user: string;
  database: string;
  overrides: Record<string, string>;
  settings: Omit<AccessorySettings, "settings">;
}

/** The accessories of the loaded config, each with its host and names resolved. */
export function resolveAccessories(loaded: LoadedConfig, primary: string): ResolvedAccessory[] {
  const { config } = loaded;
  const site = loaded.environment ? `${config.service}-${loaded.environment}` : config.service;
  return Object.entries(config.accessories ?? {}).map(([name, a]) => {
    const publish =
      a.publish === undefined
        ? undefined
        : typeof a.publish === "number"
          ? { address: "127.0.0.1", port: a.publish }
          : parsePublish(a.publish);
    // Secret values go to the container's env file (0600) only; config check made sure they exist.
    const secrets = (a.env?.secret ?? []).map((key) => [key, loaded.secrets.values.get(key) ?? ""]);
    return {
      name,
      engine: a.engine,
      host: a.host ?? primary,
      site,
      service: config.service,
      environment: loaded.environment,
      urlEnv:
        a.engine === "generic" || a.url_env === false
          ? undefined
          : (a.url_env ?? ENGINES[a.engine].urlEnv),
      user: a.user ?? config.service,
      database: a.database ?? config.service,
      overrides: a.tuning,
      settings: {
        name,
        engine: a.engine,
        version: a.version,
        image: a.image,
        volume: a.volume,
        publish,
        env: { ...a.env?.clear, ...Object.fromEntries(secrets) },
        memoryBytes: a.memory,
        port: a.port,
        cmd: a.cmd,
        healthcheck: a.healthcheck,
      },
    };
  });
}

function parsePublish(value: string): { address: string; port: number } {
  const at = value.lastIndexOf(":");
  return { address: value.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(value.slice(at + 1)) };
}

/**
 * The credentials kept on the accessory's host, created (and kept) on first use. A generic
 * accessory has none: its secrets come from env.secret.
 */
export async function ensureCredentials(
  transport: Transport,
  accessory: ResolvedAccessory,
): Promise<{ credentials: Credentials | undefined; created: boolean }> {
  if (accessory.engine === "generic") return { credentials: undefined, created: false };
  const existing = await readCredentials(transport, accessory);
  if (existing) return { credentials: existing, created: false };
  const credentials = generateCredentials(accessory.user, accessory.database);
  redactor.add(credentials.password, credentials.rootPassword);
  await transport.upload(credentialsPath(accessory), `${JSON.stringify(credentials)}\n`, {
    mode: 0o600,
  });
  return { credentials, created: true };
}

/** The kept credentials, or undefined before the first boot. */
export async function readCredentials(
  transport: Transport,
  accessory: ResolvedAccessory,
): Promise<Credentials | undefined> {
  const result = await transport.run(["cat", "--", credentialsPath(accessory)], { check: false });
  if (result.code !== 0) return undefined;
  let credentials: Credentials;
  try {
    credentials = JSON.parse(result.stdout) as Credentials;
  } catch {
    throw new UserError({
      code: "accessory.credentials_unreadable",
      message: `${transport.host}: ${credentialsPath(accessory)} is not what Slipway wrote`,
      hint: "restore it from a backup of the host; Slipway does not overwrite credentials",
    });
  }
  // Known secrets are redacted from everything Slipway prints, these included.
  redactor.add(credentials.password, credentials.rootPassword);
  return credentials;
}

/** Replaces the kept credentials (0600), after a rotation or to undo one. */
export async function writeCredentials(
  transport: Transport,
  accessory: ResolvedAccessory,
  credentials: Credentials,
): Promise<void> {
  redactor.add(credentials.password, credentials.rootPassword);
  await transport.upload(credentialsPath(accessory), `${JSON.stringify(credentials)}\n`, {
    mode: 0o600,
  });
}

function credentialsPath(accessory: ResolvedAccessory): string {
  return `${accessoryDir(accessory.site, accessory.name)}/credentials.json`;
}

/** The host's memory in bytes, for tuning. */
export async function hostMemory(transport: Transport): Promise<number> {
  const result = await transport.run(["awk", "/^MemTotal:/ { print $2 }", "/proc/meminfo"]);
  const kib = Number(result.stdout.trim());
  if (!Number.isFinite(kib) || kib <= 0)
    throw new Error(`unreadable /proc/meminfo: ${result.stdout}`);
  return kib * 1024;
}

/** The plan of an accessory on its host, tuned from its memory limit or the host's memory. */
export async function planOnHost(
  transport: Transport,
  accessory: ResolvedAccessory,
  credentials: Credentials | undefined,
): Promise<AccessoryPlan & { spec: string }> {
  const { engine } = accessory;
  const limit = accessory.settings.memoryBytes;
  const settings =
    engine === "generic"
      ? {}
      : tuneAccessory({
          engine,
          memoryBytes: limit ?? (await hostMemory(transport)),
          dedicated: limit !== undefined,
          overrides: accessory.overrides,
        });
  const args = [
    accessory.site,
    accessory.environment,
    accessory.service,
    { ...accessory.settings, settings },
    credentials,
  ] as const;
  const plan = planAccessory(...args);
  const spec = accessorySpec(...args);
  plan.container.labels[ACCESSORY_SPEC_LABEL] = spec;
  return { ...plan, spec };
}

export type BootOutcome = "created" | "started" | "running" | "differs";

/**
 * Boots an accessory: network, credentials, env file, container; then waits for its health.
 * A running container is never restarted here: when its spec differs, "differs" says so.
 */
export async function bootAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
  reporter: Reporter,
  options: { healthDeadlineMs?: number } = {},
): Promise<BootOutcome> {
  const say = (m: string) => reporter.info(`${transport.host} ${accessory.name}: ${m}`);
  const { credentials, created } = await ensureCredentials(transport, accessory);
  if (created) say("generated its credentials (kept on the host, 0600)");
  const plan = await planOnHost(transport, accessory, credentials);
  const state = await containerFacts(transport, plan.container.name);
  if (state?.running) {
    if (state.spec === plan.spec) return "running";
    return "differs";
  }
  await ensureNetwork(transport, plan.network);
  await writeContainerFiles(transport, plan);
  let outcome: BootOutcome;
  if (state && state.spec === plan.spec) {
    say(`starting ${plan.container.name}`);
    await transport.run(["docker", "start", plan.container.name]);
    outcome = "started";
  } else {
    if (state) await transport.run(dockerRemove(plan.container.name, { force: true }));
    say(`starting ${plan.container.name} (${plan.container.image}, volume ${plan.volume})`);
    await transport.run(dockerRun(plan.container));
    outcome = "created";
  }
  await waitHealthy(transport, plan.container.name, options.healthDeadlineMs ?? 180_000);
  say("healthy");
  return outcome;
}

/**
 * Rewrites an engine's secret files for new credentials (a rotation): the running container sees
 * them at once, through its read-only mount of their folder.
 */
export async function writeSecretFiles(
  transport: Transport,
  accessory: ResolvedAccessory,
  credentials: Credentials,
): Promise<void> {
  if (accessory.engine === "generic") return;
  const files = ENGINES[accessory.engine].secretFiles?.(credentials) ?? {};
  for (const [file, content] of Object.entries(files)) {
    await transport.upload(`${secretsDir(accessory.site, accessory.name)}/${file}`, content, {
      mode: 0o600,
    });
  }
}

/** The container's env file and secret files on the host, all 0600 root. */
export async function writeContainerFiles(
  transport: Transport,
  plan: Pick<AccessoryPlan, "envFile" | "secretFiles">,
): Promise<void> {
  for (const file of [plan.envFile, ...plan.secretFiles]) {
    await transport.upload(file.path, file.content, { mode: 0o600 });
  }
}

/** Creates the site's private network when missing. */
export async function ensureNetwork(transport: Transport, network: string): Promise<void> {
  const exists = await transport.run(["docker", "network", "inspect", network], { check: false });
  if (exists.code !== 0) await transport.run(["docker", "network", "create", network]);
}

interface ContainerFacts {
  running: boolean;
  spec: string | undefined;
  health: string | undefined;
  healthOutput: string | undefined;
  exitCode: number;
}

async function containerFacts(
  transport: Transport,
  name: string,
): Promise<ContainerFacts | undefined> {
  const result = await transport.run(dockerInspect(name), { check: false });
  if (result.code !== 0) return undefined;
  const info = parseInspect(result.stdout);
  return {
    running: info.running,
    spec: info.labels[ACCESSORY_SPEC_LABEL],
    health: info.health,
    healthOutput: info.healthOutput,
    exitCode: info.exitCode,
  };
}

const NO_HEALTHCHECK_SETTLE_MS = 3_000;

/**
 * Waits until the container's health check passes (or, without one, until it has kept running
 * for a few seconds); a container that exits fails at once.
 */
export async function waitHealthy(
  transport: Transport,
  name: string,
  deadlineMs: number,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    const facts = await containerFacts(transport, name);
    if (!facts?.running) {
      throw new UserError({
        code: "accessory.exited",
        message: `${transport.host}: ${name} ${facts ? `exited with code ${facts.exitCode}` : "is gone"}`,
        hint: `see its logs: slipway accessory logs ${name.split("-").at(-1)}`,
      });
    }
    if (facts.health === "healthy") return;
    // No health check (a generic image without HEALTHCHECK): still running after a moment.
    if (!facts.health && Date.now() - started >= NO_HEALTHCHECK_SETTLE_MS) return;
    if (Date.now() - started > deadlineMs) {
      throw new UserError({
        code: "accessory.unhealthy",
        message: `${transport.host}: ${name} is not healthy after ${Math.round(deadlineMs / 1000)}s${facts.healthOutput ? ` (${facts.healthOutput})` : ""}`,
        hint: "see its logs: slipway accessory logs NAME",
      });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The app env entries the accessories give: URL variable -> URL, read from their hosts. */
export async function accessoryEnv(
  accessories: readonly ResolvedAccessory[],
  transportFor: (host: string) => Transport,
  options: { skipUnbooted?: boolean } = {},
): Promise<Map<string, string>> {
  const env = new Map<string, string>();
  await Promise.all(
    accessories.map(async (accessory) => {
      if (!accessory.urlEnv || accessory.engine === "generic") return;
      const credentials = await readCredentials(transportFor(accessory.host), accessory);
      if (!credentials) {
        if (options.skipUnbooted) return;
        throw new UserError({
          code: "accessory.not_booted",
          message: `accessory ${accessory.name} has no credentials on ${accessory.host} yet`,
          hint: `boot it first: slipway accessory boot ${accessory.name}`,
        });
      }
      env.set(
        accessory.urlEnv,
        accessoryUrl(
          accessory.site,
          { name: accessory.name, engine: accessory.engine },
          credentials,
        ),
      );
    }),
  );
  return env;
}

export { accessoryContainer, privateNetwork };
