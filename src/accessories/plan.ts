/**
 * One accessory's container, from its settings and the facts read from its host: name, image,
 * volume, private network, published port (loopback unless told otherwise), env file, command,
 * labels, restart policy and log rotation; and the URL the app gets. Pure.
 */
import { randomBytes } from "node:crypto";
import { type ContainerSpec, formatEnvFile } from "../engine/index.ts";
import { type Credentials, ENGINES, type EngineDefinition, type EngineName } from "./engines.ts";

export interface AccessorySettings {
  /** The accessory's name in slipway.yml ("db"). */
  name: string;
  engine: EngineName;
  version: string | undefined;
  image: string | undefined;
  /** A named volume, or an absolute host path; default: a volume named after site and accessory. */
  volume: string | undefined;
  publish: { address: string; port: number } | undefined;
  /** Extra non-secret variables of the container. */
  env: Readonly<Record<string, string>>;
  /** Engine settings after tuning (engine spelling). */
  settings: Readonly<Record<string, string>>;
  memoryBytes: number | undefined;
}

export interface AccessoryPlan {
  container: ContainerSpec;
  /** The container's env file on the host (0600, root): credentials and extra variables. */
  envFile: { path: string; content: string };
  /** Created on first boot; never removed unless asked. */
  volume: string;
  /** The private network of the site: only its app containers and accessories are on it. */
  network: string;
  engine: EngineDefinition;
}

/** Where an accessory's files live on its host (credentials, env file). */
export function accessoryDir(site: string, name: string): string {
  return `/var/lib/slipway/${site}/accessories/${name}`;
}

/** The private network of a site's accessories and app containers. */
export function privateNetwork(site: string): string {
  return `slipway-${site}`;
}

/** The accessory's container name, also its address on the private network. */
export function accessoryContainer(site: string, name: string): string {
  return `${site}-${name}`;
}

/** Where an accessory's data lives: its own volume or path, else a volume named after it. */
export function accessoryVolume(
  site: string,
  settings: Pick<AccessorySettings, "name" | "volume">,
): string {
  return settings.volume ?? `${accessoryContainer(site, settings.name)}-data`;
}

/** The image an accessory runs: its own, or the engine's official one at its version. */
export function accessoryImage(
  settings: Pick<AccessorySettings, "engine" | "version" | "image">,
): string {
  if (settings.image !== undefined) return settings.image;
  const engine = ENGINES[settings.engine];
  return `${engine.image}:${settings.version ?? engine.defaultVersion}`;
}

export function planAccessory(
  site: string,
  environment: string | undefined,
  service: string,
  settings: AccessorySettings,
  credentials: Credentials,
): AccessoryPlan {
  const engine = ENGINES[settings.engine];
  const name = accessoryContainer(site, settings.name);
  const volume = accessoryVolume(site, settings);
  const network = privateNetwork(site);
  const envPath = `${accessoryDir(site, settings.name)}/container.env`;
  const command = engine.command(settings.settings);
  const container: ContainerSpec = {
    name,
    image: accessoryImage(settings),
    network,
    labels: {
      "slipway.service": service,
      "slipway.environment": environment ?? "",
      "slipway.accessory": settings.name,
      "slipway.engine": settings.engine,
    },
    envFile: envPath,
    restart: "unless-stopped",
    // Databases flush on SIGTERM; a kill mid-checkpoint means a longer recovery at next start.
    stopTimeoutS: 60,
    volumes: [{ source: volume, target: engine.dataPath }],
    ...(settings.publish
      ? {
          publish: [
            {
              hostIp: settings.publish.address,
              hostPort: settings.publish.port,
              containerPort: engine.port,
            },
          ],
        }
      : {}),
    ...(settings.memoryBytes !== undefined ? { memoryBytes: settings.memoryBytes } : {}),
    ...(command ? { cmd: command } : {}),
    health: {
      cmd: engine.healthCheck,
      intervalS: 2,
      timeoutS: 5,
      retries: 5,
      // A first boot initialises the database: no verdict until it had time to.
      startPeriodS: 120,
    },
  };
  const variables = { ...settings.env, ...engine.containerEnv(credentials) };
  return {
    container,
    envFile: {
      path: envPath,
      content: formatEnvFile(Object.entries(variables).sort(([a], [b]) => (a < b ? -1 : 1))),
    },
    volume,
    network,
    engine,
  };
}

/** The app's view: the URL variable and its value, through the private network. */
export function accessoryUrl(
  site: string,
  settings: Pick<AccessorySettings, "name" | "engine">,
  credentials: Credentials,
): string {
  const engine = ENGINES[settings.engine];
  return engine.url(accessoryContainer(site, settings.name), engine.port, credentials);
}

/** New credentials: URL-safe random passwords, so no URL or shell ever needs to escape them. */
export function generateCredentials(
  user: string,
  database: string,
  random: (bytes: number) => Buffer = randomBytes,
): Credentials {
  return {
    user,
    database,
    password: random(24).toString("base64url"),
    rootPassword: random(24).toString("base64url"),
  };
}
