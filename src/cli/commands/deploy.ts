/** `slipway deploy`, `rollback`, `releases`, `lock`, `server bootstrap`. */
import { ExitCode } from "../../errors/index.ts";
import { table } from "../../output/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

type Connections = import("../../transport/index.ts").Connections;

/** Ctrl-C stops the deploy at the next safe point instead of killing it mid-switch. */
function interruptible(context: CommandContext): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    context.reporter.warn("interrupted: stopping at the next safe point (Ctrl-C again to force)");
    controller.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  return controller.signal;
}

type Loaded = Awaited<ReturnType<CommandContext["loadConfig"]>>;
type Summary = import("../../deploy/index.ts").RolloutSummary;

/** Runs a rollout (deploy or rollback), times it, and prints the outcome for people or --json. */
function timedRollout(
  context: CommandContext,
  done: string,
  start: (loaded: Loaded, connections: Connections, signal: AbortSignal) => Promise<Summary>,
): Promise<number> {
  return withConnections(context, async (loaded, connections) => {
    const started = performance.now();
    const signal = interruptible(context);
    const rollout = () => start(loaded, connections, signal);
    // With monitoring, the agents keep quiet about this app while it rolls out.
    const summary = loaded.config.monitoring
      ? await (await import("../../monitor/index.ts")).withRolloutSilence(
          loaded,
          connections,
          context.reporter,
          done === "Deployed" ? "deploy" : "rollback",
          rollout,
        )
      : await rollout();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    context.print(
      context.flags.json
        ? JSON.stringify({ ok: true, version: summary.version, seconds: Number(seconds) })
        : `${done} ${summary.version} in ${seconds}s.`,
    );
    return ExitCode.ok;
  });
}

export async function deploy(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { deploy: run } = await import("../../deploy/index.ts");
  return timedRollout(context, "Deployed", async (loaded, connections, signal) => {
    const summary = await run({
      loaded,
      connections,
      reporter: context.reporter,
      signal,
      ...(typeof options.version === "string" ? { version: options.version } : {}),
      ...(options.skipBuild ? { skipBuild: true } : {}),
    });
    if (loaded.config.proxy.tls !== undefined) await certificates(context, loaded, connections);
    return summary;
  });
}

/**
 * After a deploy: the site's certificate on every web host. A refusal by the CA is a warning,
 * not a failed deploy: the new version serves (over HTTP until there is a certificate), the
 * agent retries with backoff and alerts, and `slipway certs status` shows the error.
 */
async function certificates(
  context: CommandContext,
  loaded: Loaded,
  connections: Connections,
): Promise<void> {
  const { ensureCertificates } = await import("../../https/index.ts");
  const { reportCertificates } = await import("./certs.ts");
  const after =
    ". The site serves what it served before (HTTP until it has one); the agent retries (slipway agent install), or run slipway certs issue";
  let result: Awaited<ReturnType<typeof ensureCertificates>>;
  try {
    result = await ensureCertificates(loaded, connections, context.reporter);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    context.reporter.warn(`no certificate: ${why}${after}`);
    return;
  }
  if (result === undefined) return;
  reportCertificates(context, result);
  if (!result.ok) {
    context.reporter.warn(
      `no certificate for ${result.site}: ${result.error ?? "unknown error"}${after}`,
    );
  }
}

export async function rollback(
  context: CommandContext,
  _options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { rollback: run } = await import("../../deploy/index.ts");
  return timedRollout(context, "Rolled back to", (loaded, connections, signal) =>
    run({
      loaded,
      connections,
      reporter: context.reporter,
      signal,
      ...(args[0] ? { version: args[0] } : {}),
    }),
  );
}

export async function releases(context: CommandContext): Promise<number> {
  const { readReleases, readCurrentVersion } = await import("../../releases/index.ts");
  const { rolesInOrder, siteName } = await import("../../deploy/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const site = siteName(loaded.config.service, loaded.environment);
    const role = rolesInOrder(loaded.config)[0];
    const host = role?.hosts[0];
    if (!role || !host) return ExitCode.ok;
    const transport = connections.get(host);
    const records = await readReleases(transport, site);
    const current = await readCurrentVersion(transport, site, role.name);
    if (context.flags.json) {
      context.print(JSON.stringify({ host, current: current ?? null, releases: records }, null, 2));
      return ExitCode.ok;
    }
    if (records.length === 0) {
      context.print(`No releases of ${site} on ${host} yet.`);
      return ExitCode.ok;
    }
    const rows = records.map((r) => [
      r.version === current && r.role === role.name ? "*" : " ",
      r.version,
      r.role,
      r.kind,
      r.outcome,
      r.at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
      `${r.by}@${r.machine}`,
      `${(r.durationMs / 1000).toFixed(1)}s`,
    ]);
    context.print(
      table([[" ", "VERSION", "ROLE", "KIND", "OUTCOME", "WHEN", "WHO", "TOOK"], ...rows]),
    );
    return ExitCode.ok;
  });
}

/** Runs `work` with the lock module, the primary host's transport and the site name. */
async function onLock(
  context: CommandContext,
  work: (
    lock: typeof import("../../lock/index.ts"),
    transport: ReturnType<Connections["get"]>,
    site: string,
  ) => Promise<void>,
): Promise<number> {
  const lock = await import("../../lock/index.ts");
  const { primaryHost, siteName } = await import("../../deploy/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const site = siteName(loaded.config.service, loaded.environment);
    await work(lock, connections.get(primaryHost(loaded.config)), site);
    return ExitCode.ok;
  });
}

export function lockStatus(context: CommandContext): Promise<number> {
  return onLock(context, async (lock, transport, site) => {
    const status = await lock.lockStatus(transport, site);
    if (context.flags.json) {
      context.print(JSON.stringify(status, null, 2));
    } else if (!status.held) {
      context.print(`${site} is not locked.`);
    } else {
      context.print(
        `${site} is locked by ${lock.describeHolder(status.holder)}${status.stale ? ` (stale: ${status.staleReason})` : ""}.`,
      );
    }
  });
}

export function lockAcquire(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  return onLock(context, async (lock, transport, site) => {
    const message = typeof options.message === "string" ? options.message : "locked by hand";
    await lock.acquireLock(transport, site, message, { manual: true });
    context.print(`${site} is locked: ${message}. Release it with: slipway lock release`);
  });
}

export function lockRelease(context: CommandContext): Promise<number> {
  return onLock(context, async (lock, transport, site) => {
    await lock.releaseLock(transport, site);
    context.print(`${site} is not locked.`);
  });
}

export async function bootstrap(context: CommandContext): Promise<number> {
  const { bootstrapHosts } = await import("../../server/bootstrap.ts");
  return withConnections(context, async (loaded, connections) => {
    const reports = await bootstrapHosts({ loaded, connections, reporter: context.reporter });
    let failed = false;
    for (const report of reports) {
      if (report.error) {
        failed = true;
        context.print(`${report.host}: failed: ${report.error}`);
      } else if (report.changed.length === 0) {
        context.print(`${report.host}: already set up, nothing changed.`);
      } else {
        context.print(`${report.host}: ${report.changed.join("; ")}.`);
      }
    }
    return failed ? ExitCode.failure : ExitCode.ok;
  });
}
