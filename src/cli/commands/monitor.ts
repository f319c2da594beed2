/**
 * `slipway agent install|status|logs` and `slipway monitor status|incidents|ack|silence|test-notify`:
 * the agent on the app's hosts, and what it knows. Each monitor command asks the agent on every
 * host of the app (the primary first); their answers are shown by host.
 */
import { ExitCode, UserError } from "../../errors/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

type Loaded = Awaited<ReturnType<CommandContext["loadConfig"]>>;
type Connections = import("../../transport/index.ts").Connections;

type CheckRow = import("../../agent/index.ts").CheckView & { mttr_ms: number | null };
type IncidentRow = import("../../agent/index.ts").Incident;

/** The app's name on the agent (its site, as deploys name it); its checks are "<site>/<check>". */
async function site(loaded: Loaded): Promise<string> {
  const { siteName } = await import("../../deploy/index.ts");
  return siteName(loaded.config.service, loaded.environment);
}

export async function install(context: CommandContext): Promise<number> {
  const { installAgent } = await import("../../monitor/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const results = await installAgent(loaded, connections, context.reporter);
    for (const r of results) {
      context.print(
        `${r.host}: agent ${r.outcome === "unchanged" ? "already up to date" : r.outcome}, ${loaded.config.monitoring?.checks.length ?? 0} checks of ${loaded.config.service}${r.jobs > 0 ? `, ${r.jobs} cron job${r.jobs === 1 ? "" : "s"}` : ""}`,
      );
    }
    return ExitCode.ok;
  });
}

/** The API's answer on each host of the app; a host whose agent refuses is an error. */
async function ask(
  loaded: Loaded,
  connections: Connections,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ host: string; value: unknown }[]> {
  const { appHosts, callAgent } = await import("../../monitor/index.ts");
  const out = [];
  for (const host of appHosts(loaded)) {
    const { status, value } = await callAgent(connections.get(host), method, path, body);
    if (status >= 400) {
      const error = (value as { error?: string }).error ?? JSON.stringify(value);
      throw new UserError({
        code: "monitor.refused",
        message: `${host}: the agent answered ${status}: ${error}`,
        hint: "slipway monitor incidents lists the incidents and their ids",
      });
    }
    out.push({ host, value });
  }
  return out;
}

/** This app's part of an agent's answer: its checks are named "<site>/<check>". */
function own(prefix: string, name: string): string | undefined {
  return name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
}

export async function agentStatus(context: CommandContext): Promise<number> {
  const { appHosts, AGENT_CONTAINER } = await import("../../monitor/index.ts");
  return withConnections(context, async (loaded, connections) => {
    let down = false;
    for (const host of appHosts(loaded)) {
      const result = await connections
        .get(host)
        .run(
          [
            "docker",
            "inspect",
            "--format",
            "{{.State.Status}} since {{.State.StartedAt}}",
            AGENT_CONTAINER,
          ],
          { check: false },
        );
      const state = result.code === 0 ? result.stdout.trim() : "not installed";
      if (!state.startsWith("running")) down = true;
      context.print(`${host}: agent ${state}`);
    }
    return down ? ExitCode.failure : ExitCode.ok;
  });
}

export async function agentLogs(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { appHosts, AGENT_CONTAINER } = await import("../../monitor/index.ts");
  const tail = typeof options.tail === "string" ? options.tail : "100";
  return withConnections(context, async (loaded, connections) => {
    for (const host of appHosts(loaded)) {
      const result = await connections
        .get(host)
        .run(["docker", "logs", "--tail", tail, AGENT_CONTAINER], { check: false });
      for (const line of `${result.stdout}${result.stderr}`.trimEnd().split("\n")) {
        context.print(`${host} | ${line}`);
      }
    }
    return ExitCode.ok;
  });
}

export async function status(context: CommandContext): Promise<number> {
  return withConnections(context, async (loaded, connections) => {
    const prefix = `${await site(loaded)}/`;
    const answers = await ask(loaded, connections, "GET", "/api/checks");
    const rows = answers.flatMap(({ host, value }) =>
      (value as CheckRow[]).flatMap((c) => {
        const name = own(prefix, c.name);
        return name === undefined ? [] : [{ host, ...c, name }];
      }),
    );
    if (context.flags.json) {
      context.print(JSON.stringify(rows, null, 2));
    } else if (rows.length === 0) {
      context.print("no checks: add them under monitoring.checks, then slipway agent install");
    } else {
      for (const r of rows) {
        const last = r.lastAt === null ? "not run yet" : `${r.lastDetail} in ${r.lastMs}ms`;
        const incident = r.incidentId === null ? "" : `, incident #${r.incidentId} open`;
        context.print(
          `${r.host} ${r.name}: ${r.status}${r.flapping ? " (flapping)" : ""}, ${last}${incident}`,
        );
      }
    }
    // An incident, not one bad reading, is what "down" means to people (and to scripts).
    return rows.some((r) => r.incidentId !== null) ? ExitCode.failure : ExitCode.ok;
  });
}

export async function incidents(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  return withConnections(context, async (loaded, connections) => {
    const prefix = `${await site(loaded)}/`;
    const path = options.all === true ? "/api/incidents" : "/api/incidents?open=1";
    const answers = await ask(loaded, connections, "GET", path);
    const rows = answers.flatMap(({ host, value }) =>
      (value as IncidentRow[]).flatMap((i) => {
        const check = own(prefix, i.check);
        return check === undefined ? [] : [{ host, ...i, check }];
      }),
    );
    if (context.flags.json) {
      context.print(JSON.stringify(rows, null, 2));
      return ExitCode.ok;
    }
    if (rows.length === 0)
      context.print(options.all === true ? "no incidents" : "no open incidents");
    for (const i of rows) {
      const since = new Date(i.openedAt).toISOString();
      const state =
        i.resolvedAt !== null
          ? `resolved after ${Math.round((i.resolvedAt - i.openedAt) / 1000)}s`
          : i.acknowledgedBy !== null
            ? `open, acknowledged by ${i.acknowledgedBy}`
            : "open";
      context.print(
        `${i.host} #${i.id} ${i.check} (${i.severity}): ${i.cause}, since ${since}, ${state}`,
      );
    }
    return ExitCode.ok;
  });
}

export async function ack(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const id = Number(args[0]);
  if (!Number.isInteger(id) || id < 1) {
    throw new UserError({
      code: "monitor.ack_id",
      message: `${JSON.stringify(args[0] ?? "")} is not an incident id`,
      hint: "slipway monitor incidents lists them: slipway monitor ack 12",
      exitCode: ExitCode.usage,
    });
  }
  const by = typeof options.by === "string" ? options.by : (process.env.USER ?? "someone");
  return withConnections(context, async (loaded, connections) => {
    const { appHosts, callAgent } = await import("../../monitor/index.ts");
    const host = typeof options.host === "string" ? options.host : appHosts(loaded)[0];
    if (!host) throw new Error("the app has no hosts");
    const { status: code, value } = await callAgent(
      connections.get(host),
      "POST",
      `/api/incidents/${id}/ack`,
      { by },
    );
    if (code !== 200) {
      throw new UserError({
        code: "monitor.ack",
        message: `${host}: incident #${id} is not open and unacknowledged there (${(value as { error?: string }).error ?? code})`,
        hint: "incidents are per host: slipway monitor incidents shows each one's host; pass --host",
      });
    }
    context.print(`${host}: incident #${id} acknowledged by ${by}`);
    return ExitCode.ok;
  });
}

export async function silence(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { parseDuration } = await import("../../config/units.ts");
  const text = typeof options.for === "string" ? options.for : "30m";
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new UserError({
      code: "monitor.silence_for",
      message: `--for ${text}: ${(error as Error).message}`,
      hint: "e.g. --for 30m or --for 2h",
      exitCode: ExitCode.usage,
    });
  }
  const minutes = Math.max(1, Math.round(ms / 60_000));
  return withConnections(context, async (loaded, connections) => {
    const [check] = args;
    // "<site>/" (a name ending in "/") covers every check of the app, its host checks too.
    const app = await site(loaded);
    const names = [check ? `${app}/${check}` : `${app}/`];
    const reason = typeof options.reason === "string" ? options.reason : "silenced from the CLI";
    for (const name of names) {
      await ask(loaded, connections, "POST", "/api/silences", { check: name, minutes, reason });
    }
    context.print(
      `${check ?? `every check of ${app}`}: no notifications for ${minutes} minutes (incidents are still recorded)`,
    );
    return ExitCode.ok;
  });
}

export async function testNotify(context: CommandContext): Promise<number> {
  return withConnections(context, async (loaded, connections) => {
    const prefix = `${await site(loaded)}/`;
    const answers = await ask(loaded, connections, "POST", "/api/test-notify");
    let failed = false;
    for (const { host, value } of answers) {
      for (const r of value as { notifier: string; ok: boolean; error?: string }[]) {
        if (own(prefix, r.notifier) === undefined) continue;
        if (!r.ok) failed = true;
        context.print(
          `${host} ${own(prefix, r.notifier)}: ${r.ok ? "sent" : `failed: ${r.error}`}`,
        );
      }
    }
    return failed ? ExitCode.failure : ExitCode.ok;
  });
}

/** `slipway render prometheus [--out DIR]`: the scrape job and alert rules of this app's checks. */
export async function renderPrometheusFiles(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { planFragment, renderPrometheus } = await import("../../monitor/index.ts");
  const loaded = await context.loadConfig();
  const monitoring = loaded.config.monitoring;
  if (!monitoring) {
    throw new UserError({
      code: "render.no_monitoring",
      message: `${loaded.file} has no monitoring section: there is nothing to alert on`,
      hint: "add checks under monitoring.checks",
    });
  }
  const files = renderPrometheus(planFragment(await site(loaded), monitoring));
  const out = typeof options.out === "string" ? options.out : undefined;
  if (out === undefined) {
    context.print(`# prometheus.yml\n${files.config}\n# slipway-rules.yml\n${files.rules}`);
    return ExitCode.ok;
  }
  const { mkdir, writeFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  await mkdir(out, { recursive: true });
  await writeFile(join(out, "prometheus.yml"), files.config);
  await writeFile(join(out, "slipway-rules.yml"), files.rules);
  context.print(`wrote ${join(out, "prometheus.yml")} and ${join(out, "slipway-rules.yml")}`);
  return ExitCode.ok;
}

/**
 * `slipway monitor open [--port N] [--host HOST]`: the agent's status page on this machine. A
 * local server on 127.0.0.1 passes each GET to the agent through SSH (`docker exec` on the
 * host), so the page needs no published port and the token never leaves the host.
 */
export async function open(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  const { appHosts, callAgentRaw } = await import("../../monitor/index.ts");
  const { createServer } = await import("node:http");
  const port = typeof options.port === "string" ? Number(options.port) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError({
      code: "monitor.port",
      message: `--port ${String(options.port)} is not a port`,
      hint: "e.g. --port 9465, or leave it out for any free port",
      exitCode: ExitCode.usage,
    });
  }
  return withConnections(context, async (loaded, connections) => {
    const host = typeof options.host === "string" ? options.host : appHosts(loaded)[0];
    if (!host) throw new Error("the app has no hosts");
    const transport = connections.get(host);
    const server = createServer((req, res) => {
      const path = req.url ?? "/";
      if (req.method !== "GET" || !/^\/(status|metrics|api\/[a-z/]+)?(\?[\w=&]*)?$/.test(path)) {
        res.writeHead(404).end("not here\n");
        return;
      }
      callAgentRaw(transport, "GET", path === "/" ? "/status" : path).then(
        ({ status, body }) => {
          const type = path.startsWith("/api/")
            ? "application/json"
            : path.startsWith("/metrics")
              ? "text/plain; version=0.0.4"
              : "text/html; charset=utf-8";
          res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(body);
        },
        (error: Error) => res.writeHead(502).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const address = server.address();
    const bound = typeof address === "object" && address ? address.port : port;
    context.print(`the agent of ${host}: http://127.0.0.1:${bound}/status (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    server.close();
    return ExitCode.ok;
  });
}
