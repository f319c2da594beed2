/**
 * `slipway accessory stop|start|restart|remove|upgrade`: what each does to one accessory on its
 * host. Data is never deleted unless asked twice (--yes and --delete-data); an upgrade across a
 * Postgres major version is refused with the dump-and-restore plan, since the data files of one
 * major version do not open in the next.
 */
import { dockerRemove, dockerRun } from "../engine/index.ts";
import { UserError } from "../errors/index.ts";
import type { Reporter } from "../output/index.ts";
import type { Transport } from "../transport/index.ts";
import {
  bootAccessory,
  ensureCredentials,
  ensureNetwork,
  planOnHost,
  type ResolvedAccessory,
  waitHealthy,
  writeContainerFiles,
} from "./host.ts";
import { accessoryContainer, accessoryDir, accessoryImage, accessoryVolume } from "./plan.ts";

const STOP_TIMEOUT_S = 60;

export async function stopAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
): Promise<boolean> {
  const name = accessoryContainer(accessory.site, accessory.name);
  const running = await isRunning(transport, name);
  if (running === undefined) throw notBooted(accessory);
  if (!running) return false;
  await transport.run(["docker", "stop", "-t", String(STOP_TIMEOUT_S), name]);
  return true;
}

export async function startAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
): Promise<boolean> {
  const name = accessoryContainer(accessory.site, accessory.name);
  const running = await isRunning(transport, name);
  if (running === undefined) throw notBooted(accessory);
  if (running) return false;
  await transport.run(["docker", "start", name]);
  await waitHealthy(transport, name, 180_000);
  return true;
}

/**
 * Stops the container and starts a new one from the current configuration (tuning, version,
 * publish) on the same data, then waits for its health.
 */
export async function restartAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
  reporter: Reporter,
  image?: string,
): Promise<void> {
  const { credentials } = await ensureCredentials(transport, accessory);
  const plan = await planOnHost(
    transport,
    image ? { ...accessory, settings: { ...accessory.settings, image } } : accessory,
    credentials,
  );
  const name = plan.container.name;
  if ((await isRunning(transport, name)) !== undefined) {
    reporter.info(`${transport.host} ${accessory.name}: stopping ${name}`);
    await transport.run(["docker", "stop", "-t", String(STOP_TIMEOUT_S), name]);
    await transport.run(dockerRemove(name));
  }
  await ensureNetwork(transport, plan.network);
  await writeContainerFiles(transport, plan);
  reporter.info(`${transport.host} ${accessory.name}: starting ${name} (${plan.container.image})`);
  await transport.run(dockerRun(plan.container));
  await waitHealthy(transport, name, 180_000);
}

/**
 * Removes the container; with deleteData also its volume (or host folder) and credentials. The
 * caller has asked for --yes; data needs --delete-data on top.
 */
export async function removeAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
  options: { deleteData: boolean },
): Promise<{ removed: string[]; kept: string[] }> {
  // Names only: removing must never create credentials for an accessory that was never booted.
  const name = accessoryContainer(accessory.site, accessory.name);
  const plan = { volume: accessoryVolume(accessory.site, accessory.settings) };
  const removed: string[] = [];
  if ((await isRunning(transport, name)) !== undefined) {
    await transport.run(["docker", "stop", "-t", String(STOP_TIMEOUT_S), name]);
    await transport.run(dockerRemove(name));
    removed.push(`container ${name}`);
  }
  const data = plan.volume.startsWith("/") ? `folder ${plan.volume}` : `volume ${plan.volume}`;
  const files = accessoryDir(accessory.site, accessory.name);
  if (!options.deleteData) return { removed, kept: [data, `credentials in ${files}`] };
  if (plan.volume.startsWith("/")) await transport.run(["rm", "-rf", "--", plan.volume]);
  else await transport.run(["docker", "volume", "rm", "--force", plan.volume]);
  await transport.run(["rm", "-rf", "--", files]);
  removed.push(data, `credentials in ${files}`);
  return { removed, kept: [] };
}

/** The version an image reference carries (its tag), or undefined for a digest or no tag. */
export function imageVersion(image: string): string | undefined {
  const last = image.slice(image.lastIndexOf("/") + 1);
  const at = last.indexOf(":");
  return at < 0 || last.includes("@") ? undefined : last.slice(at + 1);
}

/** The image with another tag. */
export function withVersion(image: string, version: string): string {
  const slash = image.lastIndexOf("/");
  const colon = image.indexOf(":", slash + 1);
  return `${colon < 0 ? image : image.slice(0, colon)}:${version}`;
}

/** The leading number of a version ("16.4-bookworm" -> 16). */
function major(version: string): number | undefined {
  const n = Number(/^(\d+)/.exec(version)?.[1]);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The upgrade's image, or a UserError when it cannot be done by a restart on the same data: a
 * Postgres major version (its data directory format changes), or a downgrade.
 */
export function planUpgrade(accessory: ResolvedAccessory, running: string, to: string): string {
  const from = imageVersion(running);
  const target = withVersion(running, to);
  const a = from === undefined ? undefined : major(from);
  const b = major(to);
  if (a !== undefined && b !== undefined && b < a) {
    throw new UserError({
      code: "accessory.downgrade",
      message: `${accessory.name}: ${from} -> ${to} is a downgrade; data written by ${from} may not open in ${to}`,
      hint: "restore a backup taken before the upgrade instead",
    });
  }
  if (accessory.engine === "postgres" && a !== undefined && b !== undefined && b !== a) {
    throw new UserError({
      code: "accessory.major_upgrade",
      message: `${accessory.name}: Postgres ${a} -> ${b} is a major upgrade; its data directory does not open in ${b}, so a restart cannot do it.`,
      hint: [
        "Dump and restore, with the app stopped or read-only:",
        `  1. slipway accessory exec ${accessory.name} -- pg_dumpall > dump.sql  (a full dump)`,
        `  2. add an accessory on postgres ${b} with a new volume; slipway accessory boot it`,
        "  3. load dump.sql into it with psql, check it, then point url_env at it and deploy",
        "  4. keep the old volume until the new one has served for a while",
      ].join("\n"),
    });
  }
  return target;
}

/** Upgrades to another version of the same image on the same data, then waits for health. */
export async function upgradeAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
  to: string,
  reporter: Reporter,
): Promise<{ from: string; to: string }> {
  const name = accessoryContainer(accessory.site, accessory.name);
  const inspect = await transport.run(
    ["docker", "inspect", "--type", "container", "--format", "{{.Config.Image}}", name],
    { check: false },
  );
  const running = inspect.code === 0 ? inspect.stdout.trim() : accessoryImage(accessory.settings);
  const image = planUpgrade(accessory, running, to);
  await restartAccessory(transport, accessory, reporter, image);
  return { from: running, to: image };
}

/** Boots when missing; for the deploy, which waits for every accessory before the app starts. */
export async function ensureAccessory(
  transport: Transport,
  accessory: ResolvedAccessory,
  reporter: Reporter,
): Promise<void> {
  const outcome = await bootAccessory(transport, accessory, reporter);
  if (outcome === "differs") {
    reporter.warn(
      `${transport.host} ${accessory.name}: runs with other settings than slipway.yml now has; apply them with slipway accessory restart ${accessory.name}`,
    );
  }
}

async function isRunning(transport: Transport, name: string): Promise<boolean | undefined> {
  const result = await transport.run(
    ["docker", "inspect", "--type", "container", "--format", "{{.State.Running}}", name],
    { check: false },
  );
  if (result.code !== 0) return undefined;
  return result.stdout.trim() === "true";
}

function notBooted(accessory: ResolvedAccessory): UserError {
  return new UserError({
    code: "accessory.not_booted",
    message: `accessory ${accessory.name} has no container on ${accessory.host}`,
    hint: `boot it first: slipway accessory boot ${accessory.name}`,
  });
}
