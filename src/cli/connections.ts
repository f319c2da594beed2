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
    return await work(loaded, connections);
  } finally {
    await connections.closeAll();
  }
}
