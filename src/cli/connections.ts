/** The SSH connections a command works through, opened from slipway.yml and always closed. */
import type { CommandContext } from "./context.ts";
import { sshSettingsFrom } from "./context.ts";

type Loaded = Awaited<ReturnType<CommandContext["loadConfig"]>>;
type Connections = import("../transport/index.ts").Connections;

/** Loads the config, opens connections for it, runs `work`, and always closes them. */
export async function withConnections<T>(
  context: CommandContext,
  work: (loaded: Loaded, connections: Connections) => Promise<T>,
): Promise<T> {
  const loaded = await context.loadConfig();
  const { Connections } = await import("../transport/index.ts");
  const connections = new Connections(sshSettingsFrom(loaded), {
    onCommand: context.reporter.command,
    onHostKeyPinned: (host, fp, file) =>
      context.reporter.info(`${host}: pinned host key ${fp} in ${file}`),
  });
  try {
    await rememberAccessorySecrets(loaded, connections);
    return await work(loaded, connections);
  } finally {
    await connections.closeAll();
  }
}

/**
 * Registers the accessories' passwords with the redactor before anything prints: an app's logs,
 * `exec env` or `run printenv` show its DATABASE_URL. One read per accessory; an accessory not
 * booted yet, or a host that cannot be reached now, has nothing to register.
 */
async function rememberAccessorySecrets(loaded: Loaded, connections: Connections): Promise<void> {
  if (Object.keys(loaded.config.accessories ?? {}).length === 0) return;
  const { readCredentials, resolveAccessories } = await import("../accessories/index.ts");
  const { primaryHost } = await import("../deploy/index.ts");
  let accessories: ReturnType<typeof resolveAccessories>;
  try {
    accessories = resolveAccessories(loaded, primaryHost(loaded.config));
  } catch {
    return; // the command itself reports what is wrong with them
  }
  await Promise.all(
    accessories.map((a) => readCredentials(connections.get(a.host), a).catch(() => undefined)),
  );
}
