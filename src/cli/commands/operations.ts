/** `slipway status`, `logs`, `exec`, `run`, `restart`, `prune`: the app once it is deployed. */
import { ExitCode } from "../../errors/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export async function status(context: CommandContext): Promise<number> {
  const { readStatus, renderStatus } = await import("../../operations/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const report = await readStatus({ loaded, connections });
    context.print(context.flags.json ? JSON.stringify(report, null, 2) : renderStatus(report));
    return report.ok ? ExitCode.ok : ExitCode.failure;
  });
}

export async function logs(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { chooseTargets, logWindow, streamLogs } = await import("../../operations/index.ts");
  const { rolesInOrder } = await import("../../deploy/index.ts");
  const { HostLineWriter, hostPrefixes, redactor } = await import("../../output/index.ts");
  // Checked before connecting: a bad --since fails at once.
  const window = logWindow({ since: text(options.since), tail: text(options.tail) });
  const follow = options.follow === true;
  const choice = { role: text(options.role), host: text(options.host) };
  return withConnections(context, async (loaded, connections) => {
    const label = (t: { host: string; role: string }) => `${t.host} ${t.role}`;
    const prefixes = hostPrefixes(chooseTargets(rolesInOrder(loaded.config), choice).map(label));
    let interrupted = false;
    if (follow) {
      // Ctrl-C ends a followed stream: closing the connections ends every `docker logs -f`.
      process.once("SIGINT", () => {
        interrupted = true;
        void connections.closeAll();
      });
    }
    const failed = await streamLogs({
      loaded,
      connections,
      reporter: context.reporter,
      ...choice,
      follow,
      ...window,
      output: (source, stream) =>
        context.flags.json
          ? new HostLineWriter("", redactor, (line) =>
              context.print(JSON.stringify({ ...source, stream, line })),
            )
          : new HostLineWriter(prefixes.get(label(source)) ?? "", redactor, (line) =>
              (stream === "stdout" ? process.stdout : process.stderr).write(`${line}\n`),
            ),
    });
    if (interrupted) return ExitCode.ok;
    return failed.length > 0 ? ExitCode.failure : ExitCode.ok;
  });
}

/** Line writers for a command's own output: redacted like all output, otherwise as it came. */
async function commandOutput() {
  const { HostLineWriter, redactor } = await import("../../output/index.ts");
  const out = new HostLineWriter("", redactor, (line) => process.stdout.write(`${line}\n`));
  const err = new HostLineWriter("", redactor, (line) => process.stderr.write(`${line}\n`));
  return {
    onStdout: (chunk: Buffer) => out.write(chunk),
    onStderr: (chunk: Buffer) => err.write(chunk),
    flush: () => {
      out.flush();
      err.flush();
    },
  };
}

export async function exec(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { execInRole } = await import("../../operations/index.ts");
  const [role = "", ...argv] = args;
  const output = await commandOutput();
  return withConnections(context, async (loaded, connections) => {
    try {
      const result = await execInRole({
        loaded,
        connections,
        role,
        host: text(options.host),
        argv,
        ...(options.interactive ? { stdin: process.stdin } : {}),
        ...output,
      });
      return result.code;
    } finally {
      output.flush();
    }
  });
}

export async function run(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { runOneOff } = await import("../../operations/index.ts");
  const output = await commandOutput();
  return withConnections(context, async (loaded, connections) => {
    // Ctrl-C removes the one-off container instead of leaving it running on the host.
    const stop = new AbortController();
    const onInterrupt = () => stop.abort();
    process.once("SIGINT", onInterrupt);
    try {
      const result = await runOneOff({
        loaded,
        connections,
        role: text(options.role),
        host: text(options.host),
        argv: args,
        signal: stop.signal,
        ...(options.interactive ? { stdin: process.stdin } : {}),
        ...output,
      });
      return stop.signal.aborted ? 130 : result.code;
    } finally {
      process.removeListener("SIGINT", onInterrupt);
      output.flush();
    }
  });
}

export async function restart(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { restart: restartRoles } = await import("../../deploy/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const controller = new AbortController();
    // Ctrl-C stops at the next safe point, as a deploy does.
    process.once("SIGINT", () => {
      context.reporter.warn("interrupted: stopping at the next safe point (Ctrl-C again to force)");
      controller.abort();
      process.once("SIGINT", () => process.exit(130));
    });
    const role = text(options.role);
    const started = performance.now();
    const summary = await restartRoles({
      loaded,
      connections,
      reporter: context.reporter,
      signal: controller.signal,
      ...(role === undefined ? {} : { role }),
    });
    const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
    const roles = summary.roles.map((r) => r.role);
    context.print(
      context.flags.json
        ? JSON.stringify({ ok: true, version: summary.version, roles, seconds })
        : `Restarted ${roles.join(", ")} (${summary.version}) in ${seconds}s.`,
    );
    return ExitCode.ok;
  });
}

export async function prune(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { pruneHosts, pruneOk, renderPrune } = await import("../../operations/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const report = await pruneHosts({
      loaded,
      connections,
      reporter: context.reporter,
      apply: options.yes === true,
    });
    context.print(context.flags.json ? JSON.stringify(report, null, 2) : renderPrune(report));
    return pruneOk(report) ? ExitCode.ok : ExitCode.failure;
  });
}
