/**
 * One accessory's container, from its settings and the facts read from its host: name, image,
 * volume, private network, published port (loopback unless told otherwise), env file, command,
 * labels, restart policy and log rotation; and the URL the app gets. Pure.
 */
import { createHash, randomBytes } from "node:crypto";
import { type ContainerSpec, dockerRun, formatEnvFile } from "../engine/index.ts";
import {
  type Credentials,
  ENGINES,
  type EngineDefinition,
  type EngineName,
  SECRETS_MOUNT,
} from "./engines.ts";
import { ownerOf } from "./rotate.ts";

export interface AccessorySettings {
  /** The accessory's name in slipway.yml ("db"). */
  name: string;
  /** An engine Slipway knows, or "generic": any image, run as configured. */
  engine: EngineName | "generic";
  version: string | undefined;
  image: string | undefined;
  /**
   * A volume name (namespaced by site) or an absolute host path; default: a volume named after
   * site and accessory. A generic accessory's has ":/path/in/container" after it.
   */
  volume: string | undefined;
  publish: { address: string; port: number } | undefined;
  /** Extra variables of the container (env.clear, and env.secret's values): its env file. */
  env: Readonly<Record<string, string>>;
  /** Engine settings after tuning (engine spelling). */
  settings: Readonly<Record<string, string>>;
  memoryBytes: number | undefined;
  /** A generic accessory's port in its container (for publish). */
  port?: number | undefined;
  /** A generic accessory's command; undefined: the image's. */
  cmd?: readonly string[] | undefined;
  /** A generic accessory's health check; undefined: the image's HEALTHCHECK, if any. */
  healthcheck?: readonly string[] | undefined;
}

export interface AccessoryPlan {
  container: ContainerSpec;
  /** The container's env file on the host (0600, root): credentials and extra variables. */
  envFile: { path: string; content: string };
  /** Secret files on the host (0600, root), mounted read-only: for engines that read them. */
  secretFiles: { path: string; content: string }[];
  /** Created on first boot; never removed unless asked. */
  volume: string;
  /** The private network of the site: only its app containers and accessories are on it. */
  network: string;
  /** Undefined for a generic accessory. */
  engine: EngineDefinition | undefined;
}

/** Where an accessory's files live on its host (credentials, env file). */
export function accessoryDir(site: string, name: string): string {
  return `/var/lib/slipway/${site}/accessories/${name}`;
}

/** The folder of an accessory's secret files on its host, mounted read-only in its container. */
export function secretsDir(site: string, name: string): string {
  return `${accessoryDir(site, name)}/secrets`;
}

/** The private network of a site's accessories and app containers. */
export function privateNetwork(site: string): string {
  return `slipway-${site}`;
}

/** The accessory's container name, also its address on the private network. */
export function accessoryContainer(site: string, name: string): string {
  return `${site}-${name}`;
}

/**
 * Where an accessory's data lives: a host path as given, a volume name namespaced by site (so
 * staging on the same host never opens production's data), else a volume named after it.
 */
export function accessoryVolume(
  site: string,
  settings: Pick<AccessorySettings, "name" | "volume">,
): string {
  const source = settings.volume?.split(":")[0];
  if (source === undefined) return `${accessoryContainer(site, settings.name)}-data`;
  return source.startsWith("/") ? source : `${site}-${source}`;
}

/** Where the data is mounted in the container: the engine's data path, or the generic's own. */
function dataTarget(settings: Pick<AccessorySettings, "engine" | "volume">): string | undefined {
  if (settings.engine !== "generic") return ENGINES[settings.engine].dataPath;
  return settings.volume?.split(":")[1];
}

/** The image an accessory runs: its own, or the engine's official one at its version. */
export function accessoryImage(
  settings: Pick<AccessorySettings, "engine" | "version" | "image">,
): string {
  if (settings.image !== undefined) return settings.image;
  if (settings.engine === "generic") throw new Error("a generic accessory has its own image");
  const engine = ENGINES[settings.engine];
  return `${engine.image}:${settings.version ?? engine.defaultVersion}`;
}

export function planAccessory(
  site: string,
  environment: string | undefined,
  service: string,
  settings: AccessorySettings,
  /** An engine's kept credentials; a generic accessory has none. */
  credentials: Credentials | undefined,
): AccessoryPlan {
  const engine = settings.engine === "generic" ? undefined : ENGINES[settings.engine];
  const name = accessoryContainer(site, settings.name);
  const volume = accessoryVolume(site, settings);
  const target = dataTarget(settings);
  const network = privateNetwork(site);
  const envPath = `${accessoryDir(site, settings.name)}/container.env`;
  const command = engine ? engine.command(settings.settings) : settings.cmd;
  const port = engine?.port ?? settings.port;
  const healthcheck = engine?.healthCheck ?? settings.healthcheck;
  if (engine && !credentials) throw new Error(`${settings.engine} needs its credentials`);
  const secretFiles = Object.entries(
    engine?.secretFiles && credentials ? engine.secretFiles(credentials) : {},
  ).map(([file, content]) => ({ path: `${secretsDir(site, settings.name)}/${file}`, content }));
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
    volumes: [
      ...(target === undefined ? [] : [{ source: volume, target }]),
      // The folder, not each file: a file replaced on the host (rename) shows in the container.
      ...(secretFiles.length > 0
        ? [{ source: secretsDir(site, settings.name), target: SECRETS_MOUNT, readOnly: true }]
        : []),
    ],
    ...(settings.publish && port !== undefined
      ? {
          publish: [
            {
              hostIp: settings.publish.address,
              hostPort: settings.publish.port,
              containerPort: port,
            },
          ],
        }
      : {}),
    ...(settings.memoryBytes !== undefined ? { memoryBytes: settings.memoryBytes } : {}),
    ...(command ? { cmd: command } : {}),
    ...(healthcheck
      ? {
          health: {
            cmd: healthcheck,
            intervalS: 2,
            timeoutS: 5,
            retries: 5,
            // A first boot initialises the database: no verdict until it had time to.
            startPeriodS: 120,
          },
        }
      : {}),
  };
  const variables = {
    ...settings.env,
    ...(engine && credentials ? engine.containerEnv(credentials) : {}),
  };
  return {
    container,
    envFile: {
      path: envPath,
      content: formatEnvFile(Object.entries(variables).sort(([a], [b]) => (a < b ? -1 : 1))),
    },
    secretFiles,
    volume,
    network,
    engine,
  };
}

/**
 * The digest of how an accessory's container is configured, kept in its label. It leaves out the
 * login and passwords of the day: a rotation changes them (and so the env file and secret files)
 * but not the configuration, so a rotation alone must not read as "runs with other settings".
 */
export function accessorySpec(
  site: string,
  environment: string | undefined,
  service: string,
  settings: AccessorySettings,
  credentials: Credentials | undefined,
): string {
  const steady = credentials && {
    user: ownerOf(credentials),
    database: credentials.database,
    password: "",
    rootPassword: "",
  };
  const plan = planAccessory(site, environment, service, settings, steady);
  return createHash("sha256")
    .update(JSON.stringify([dockerRun(plan.container), plan.envFile.content]))
    .digest("hex")
    .slice(0, 12);
}

/** The app's view: the URL variable and its value, through the private network. */
export function accessoryUrl(
  site: string,
  settings: Pick<AccessorySettings, "name"> & { engine: EngineName },
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
