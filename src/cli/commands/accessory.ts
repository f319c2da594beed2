/**
 * `slipway accessory boot|stop|start|restart|logs|exec|upgrade|remove NAME` and
 * `slipway db console NAME`: the databases and caches beside the app. Changes take the app's lock.
 */
import { ExitCode, UserError } from "../../errors/index.ts";
import type { Transport } from "../../transport/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

type Loaded = Awaited<ReturnType<CommandContext["loadConfig"]>>;
type Connections = import("../../transport/index.ts").Connections;
type Resolved = import("../../accessories/index.ts").ResolvedAccessory;

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

async function resolve(loaded: Loaded): Promise<Resolved[]> {
  const { resolveAccessories } = await import("../../accessories/index.ts");
  const { primaryHost } = await import("../../deploy/index.ts");
  return resolveAccessories(loaded, primaryHost(loaded.config));
}

/** The named accessories (all of them when none is named); an unknown name is a usage error. */
function choose(all: readonly Resolved[], names: readonly string[], file: string): Resolved[] {
  if (all.length === 0) {
    throw new UserError({
      code: "accessory.none",
      message: `${file} defines no accessories`,
      hint: "add one under accessories:, for example\n  accessories:\n    db: { engine: postgres }",
      exitCode: ExitCode.usage,
    });
  }
  if (names.length === 0) return [...all];
  return names.map((name) => {
    const found = all.find((a) => a.name === name);
    if (!found) {
      throw new UserError({
        code: "accessory.unknown",
        message: `There is no accessory "${name}" in ${file}.`,
        hint: `Accessories: ${all.map((a) => a.name).join(", ")}.`,
        exitCode: ExitCode.usage,
      });
    }
    return found;
  });
}

/** Runs `work` for each chosen accessory under the app's lock. */
async function locked(
  context: CommandContext,
  names: readonly string[],
  verb: string,
  work: (accessory: Resolved, connections: Connections, loaded: Loaded) => Promise<void>,
): Promise<number> {
  const { acquireLock } = await import("../../lock/index.ts");
  const { primaryHost, siteName } = await import("../../deploy/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const chosen = choose(await resolve(loaded), names, loaded.file);
    const site = siteName(loaded.config.service, loaded.environment);
    const lock = await acquireLock(
      connections.get(primaryHost(loaded.config)),
      site,
      `${verb} accessory ${chosen.map((a) => a.name).join(", ")}`,
      { heartbeat: true },
    );
    try {
      for (const accessory of chosen) await work(accessory, connections, loaded);
    } finally {
      await lock.release();
    }
    return ExitCode.ok;
  });
}

/** Ships (or has the host pull) the image an accessory runs; see placeImage. */
async function place(
  context: CommandContext,
  loaded: Loaded,
  connections: Connections,
  accessory: Resolved,
  image?: string,
) {
  const { accessoryImage } = await import("../../accessories/index.ts");
  const { placeImage } = await import("../../deploy/index.ts");
  const { detectLocalEngine } = await import("../../build/index.ts");
  const { registryLogin } = await import("../../registry/index.ts");
  const engine = await detectLocalEngine().catch(() => undefined);
  await placeImage(
    image ?? accessoryImage(accessory.settings),
    connections.get(accessory.host),
    engine,
    context.reporter,
    registryLogin(loaded),
  );
}

export async function boot(context: CommandContext, _o: unknown, names: string[]): Promise<number> {
  const { bootAccessory } = await import("../../accessories/index.ts");
  return locked(context, names, "booting", async (accessory, connections, loaded) => {
    await place(context, loaded, connections, accessory);
    const outcome = await bootAccessory(
      connections.get(accessory.host),
      accessory,
      context.reporter,
    );
    const said = {
      created: "booted",
      started: "started again",
      running: "already running as configured, nothing changed",
      differs: `running with other settings than slipway.yml has now; apply them with: slipway accessory restart ${accessory.name}`,
    }[outcome];
    context.print(`${accessory.name} on ${accessory.host}: ${said}`);
  });
}

export async function stop(context: CommandContext, _o: unknown, names: string[]): Promise<number> {
  const { stopAccessory } = await import("../../accessories/index.ts");
  return locked(context, names, "stopping", async (accessory, connections) => {
    const stopped = await stopAccessory(connections.get(accessory.host), accessory);
    context.print(
      `${accessory.name} on ${accessory.host}: ${stopped ? "stopped" : "already stopped"}`,
    );
  });
}

export async function start(
  context: CommandContext,
  _o: unknown,
  names: string[],
): Promise<number> {
  const { startAccessory } = await import("../../accessories/index.ts");
  return locked(context, names, "starting", async (accessory, connections) => {
    const started = await startAccessory(connections.get(accessory.host), accessory);
    context.print(
      `${accessory.name} on ${accessory.host}: ${started ? "started, healthy" : "already running"}`,
    );
  });
}

export async function restart(
  context: CommandContext,
  _o: unknown,
  names: string[],
): Promise<number> {
  const { restartAccessory } = await import("../../accessories/index.ts");
  return locked(context, names, "restarting", async (accessory, connections, loaded) => {
    await place(context, loaded, connections, accessory);
    await restartAccessory(connections.get(accessory.host), accessory, context.reporter);
    context.print(
      `${accessory.name} on ${accessory.host}: restarted with the current settings, healthy`,
    );
  });
}

export async function upgrade(
  context: CommandContext,
  options: Record<string, unknown>,
  names: string[],
): Promise<number> {
  const to = text(options.to);
  if (!to) {
    throw new UserError({
      code: "accessory.upgrade_to",
      message: "upgrade needs the version to go to",
      hint: "slipway accessory upgrade NAME --to 16.4",
      exitCode: ExitCode.usage,
    });
  }
  const { accessoryImage, planUpgrade, upgradeAccessory, withVersion } = await import(
    "../../accessories/index.ts"
  );
  return locked(context, names.slice(0, 1), "upgrading", async (accessory, connections, loaded) => {
    // Refused before anything moves when slipway.yml's version already tells (a major upgrade).
    planUpgrade(accessory, accessoryImage(accessory.settings), to);
    const image = withVersion(accessoryImage(accessory.settings), to);
    await place(context, loaded, connections, accessory, image);
    const done = await upgradeAccessory(
      connections.get(accessory.host),
      accessory,
      to,
      context.reporter,
    );
    context.print(`${accessory.name} on ${accessory.host}: ${done.from} -> ${done.to}, healthy`);
    if (!done.to.endsWith(`:${accessory.settings.version ?? ""}`)) {
      context.reporter.warn(
        `set version: "${to}" for ${accessory.name} in slipway.yml, or the next boot will report that it runs other settings`,
      );
    }
  });
}

export async function remove(
  context: CommandContext,
  options: Record<string, unknown>,
  names: string[],
): Promise<number> {
  const yes = options.yes === true;
  const deleteData = options.deleteData === true;
  if (names.length !== 1) {
    throw new UserError({
      code: "accessory.remove_one",
      message: "remove takes exactly one accessory name",
      hint: "slipway accessory remove NAME --yes",
      exitCode: ExitCode.usage,
    });
  }
  if (!yes) {
    context.print(
      `Would remove the container of ${names[0]}${deleteData ? ", its data volume and its credentials" : "; its data and credentials stay"}. Nothing was changed: add --yes to do it.`,
    );
    return ExitCode.ok;
  }
  const { removeAccessory } = await import("../../accessories/index.ts");
  return locked(context, names, "removing", async (accessory, connections) => {
    const done = await removeAccessory(connections.get(accessory.host), accessory, { deleteData });
    context.print(
      `${accessory.name} on ${accessory.host}: removed ${done.removed.join(", ") || "nothing (no container)"}${done.kept.length > 0 ? `; kept ${done.kept.join(" and ")} (--delete-data removes them)` : ""}`,
    );
  });
}

/** The accessory's container on its host, for logs, exec and console. */
async function target(loaded: Loaded, connections: Connections, name: string) {
  const { accessoryContainer } = await import("../../accessories/plan.ts");
  const { readCredentials } = await import("../../accessories/index.ts");
  const [accessory] = choose(await resolve(loaded), [name], loaded.file);
  if (!accessory) throw new Error("unreachable");
  // Known, so redacted from what the container prints (an `env` in exec, a console's output).
  await readCredentials(connections.get(accessory.host), accessory);
  return {
    accessory,
    transport: connections.get(accessory.host),
    container: accessoryContainer(accessory.site, accessory.name),
  };
}

export async function logs(
  context: CommandContext,
  options: Record<string, unknown>,
  names: string[],
): Promise<number> {
  const { dockerLogs } = await import("../../engine/index.ts");
  const { HostLineWriter, redactor } = await import("../../output/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const { transport, container } = await target(loaded, connections, names[0] ?? "");
    const tail = text(options.tail);
    const out = new HostLineWriter("", redactor, (line) => process.stdout.write(`${line}\n`));
    const err = new HostLineWriter("", redactor, (line) => process.stderr.write(`${line}\n`));
    if (options.follow === true) process.once("SIGINT", () => void connections.closeAll());
    const result = await transport.run(
      dockerLogs(container, {
        follow: options.follow === true,
        tail: tail === undefined ? 100 : Number(tail),
      }),
      {
        check: false,
        capture: false,
        onStdout: (c) => out.write(c),
        onStderr: (c) => err.write(c),
      },
    );
    out.flush();
    err.flush();
    return result.code === 0 ? ExitCode.ok : ExitCode.failure;
  });
}

export async function exec(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const [name = "", ...argv] = args;
  return inContainer(context, name, argv, options.interactive === true);
}

/** `slipway db console NAME`: the engine's shell in the accessory's container, logged in. */
export async function dbConsole(
  context: CommandContext,
  _o: unknown,
  names: string[],
): Promise<number> {
  const { ENGINES } = await import("../../accessories/index.ts");
  const loaded = await context.loadConfig();
  const [accessory] = choose(await resolve(loaded), names.slice(0, 1), loaded.file);
  if (!accessory) throw new Error("unreachable");
  if (accessory.engine === "generic") {
    throw new UserError({
      code: "accessory.no_console",
      message: `accessory ${accessory.name} is generic: Slipway knows no console for it`,
      hint: `run its own client: slipway accessory exec ${accessory.name} --interactive -- COMMAND`,
    });
  }
  return inContainer(context, accessory.name, [...ENGINES[accessory.engine].console], true);
}

async function inContainer(
  context: CommandContext,
  name: string,
  argv: readonly string[],
  interactive: boolean,
): Promise<number> {
  const { dockerExec } = await import("../../engine/index.ts");
  const { HostLineWriter, redactor } = await import("../../output/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const { transport, container } = await target(loaded, connections, name);
    if (interactive && process.stdin.isTTY && process.stdout.isTTY) {
      return onTerminal(transport, dockerExec(container, argv, { interactive, tty: true }));
    }
    const out = new HostLineWriter("", redactor, (line) => process.stdout.write(`${line}\n`));
    const err = new HostLineWriter("", redactor, (line) => process.stderr.write(`${line}\n`));
    const result = await transport.run(dockerExec(container, argv, { interactive }), {
      check: false,
      capture: false,
      ...(interactive ? { stdin: process.stdin } : {}),
      onStdout: (c) => out.write(c),
      onStderr: (c) => err.write(c),
    });
    out.flush();
    err.flush();
    return result.code;
  });
}

/**
 * Runs argv with this terminal attached (raw mode, its size followed), as `ssh -t` would: a
 * console's prompt, line editing and ^C reach the program. Its output is shown raw, unredacted:
 * it is what the engine's own client prints to the person at the terminal.
 */
async function onTerminal(transport: Transport, argv: readonly string[]): Promise<number> {
  const stdin = process.stdin;
  stdin.setRawMode(true);
  try {
    const result = await transport.run(argv, {
      check: false,
      capture: false,
      stdin,
      terminal: {
        term: process.env.TERM || "xterm-256color",
        rows: process.stdout.rows,
        cols: process.stdout.columns,
        onResize: (listener) => {
          const resized = () => listener(process.stdout.rows, process.stdout.columns);
          process.stdout.on("resize", resized);
          return () => process.stdout.off("resize", resized);
        },
      },
      onStdout: (c) => process.stdout.write(c),
      onStderr: (c) => process.stderr.write(c),
    });
    return result.code;
  } finally {
    stdin.setRawMode(false);
    stdin.unpipe();
    stdin.pause();
  }
}
