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
type RecoveryReport = import("../../agent/index.ts").RecoveryReport;

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
        `${r.host}: agent ${r.outcome === "unchanged" ? "already up to date" : r.outcome}, ${loaded.config.monitoring?.checks.length ?? 0} checks of ${loaded.config.service}${r.jobs > 0 ? `, ${r.jobs} cron job${r.jobs === 1 ? "" : "s"}` : ""}${r.backupJobs > 0 ? `, ${r.backupJobs} backup job${r.backupJobs === 1 ? "" : "s"}` : ""}`,
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

/**
 * The answers of the agents that answer; each host whose agent does not (host down, agent
 * stopped, a refusal) is named on the output instead of failing the whole command.
 */
async function askLiving(
  context: CommandContext,
  loaded: Loaded,
  connections: Connections,
  path: string,
): Promise<{ answers: { host: string; value: unknown }[]; silent: string[] }> {
  const { appHosts, callAgent } = await import("../../monitor/index.ts");
  const answers = [];
  const silent = [];
  for (const host of appHosts(loaded)) {
    try {
      const { status, value } = await callAgent(connections.get(host), "GET", path);
      if (status >= 400) {
        throw new Error(`it answered ${status}: ${(value as { error?: string }).error ?? ""}`);
      }
      answers.push({ host, value });
    } catch (error) {
      silent.push(host);
      const text = `${host}: the agent does not answer: ${(error as Error).message}`;
      if (context.flags.json) context.reporter.warn(text);
      else context.print(text);
    }
  }
  return { answers, silent };
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
    const { answers, silent } = await askLiving(context, loaded, connections, "/api/checks");
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
        const last =
          r.lastAt === null
            ? r.kind === "heartbeat"
              ? "no ping yet"
              : "not run yet"
            : r.kind === "heartbeat"
              ? `${r.lastDetail} at ${new Date(r.lastAt).toISOString()}`
              : `${r.lastDetail} in ${r.lastMs}ms`;
        const incident =
          r.incidentId === null ? "" : `, incident #${r.incidentId} open (${r.severity})`;
        context.print(
          `${r.host} ${r.name}: ${r.status}${r.flapping ? " (flapping)" : ""}${r.paused ? " (paused)" : ""}, ${last}${incident}`,
        );
      }
    }
    // An incident, not one bad reading, is what "down" means to people (and to scripts); a host
    // whose agent is silent may be down too.
    return rows.some((r) => r.incidentId !== null) || silent.length > 0
      ? ExitCode.failure
      : ExitCode.ok;
  });
}

export async function incidents(
  context: CommandContext,
  options: Record<string, unknown>,
): Promise<number> {
  return withConnections(context, async (loaded, connections) => {
    const prefix = `${await site(loaded)}/`;
    const path = options.all === true ? "/api/incidents" : "/api/incidents?open=1";
    const { answers, silent } = await askLiving(context, loaded, connections, path);
    const rows = answers.flatMap(({ host, value }) =>
      (value as IncidentRow[]).flatMap((i) => {
        const check = own(prefix, i.check);
        return check === undefined ? [] : [{ host, ...i, check }];
      }),
    );
    const done = silent.length > 0 ? ExitCode.failure : ExitCode.ok;
    if (context.flags.json) {
      context.print(JSON.stringify(rows, null, 2));
      return done;
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
    if (options.all === true) {
      const { callAgent, recoveryLine } = await import("../../monitor/index.ts");
      for (const { host } of answers) {
        const { status, value } = await callAgent(connections.get(host), "GET", "/api/mttr");
        const line = status < 400 ? recoveryLine(prefix, value as RecoveryReport) : undefined;
        if (line) context.print(`${host} ${line}`);
      }
    }
    return done;
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
  // A maintenance window: from a later time (RFC 3339, or HH:MM today here).
  let startsAt: number | undefined;
  if (typeof options.from === "string") {
    const { windowStart } = await import("../../monitor/index.ts");
    const start = windowStart(options.from, minutes * 60_000, new Date());
    if ("problem" in start) {
      throw new UserError({
        code: "monitor.silence_from",
        message: start.problem,
        hint: start.hint,
        exitCode: ExitCode.usage,
      });
    }
    startsAt = start.at;
  }
  return withConnections(context, async (loaded, connections) => {
    const [check] = args;
    // "<site>/" (a name ending in "/") covers every check of the app, its host checks too.
    const app = await site(loaded);
    const names = [check ? `${app}/${check}` : `${app}/`];
    const reason = typeof options.reason === "string" ? options.reason : "silenced from the CLI";
    const from = startsAt === undefined ? {} : { starts_at: new Date(startsAt).toISOString() };
    for (const name of names) {
      await ask(loaded, connections, "POST", "/api/silences", {
        check: name,
        minutes,
        reason,
        ...from,
      });
    }
    const when = startsAt === undefined ? "" : ` from ${new Date(startsAt).toISOString()}`;
    context.print(
      `${check ?? `every check of ${app}`}: no notifications${when} for ${minutes} minutes (incidents are still recorded)`,
    );
    return ExitCode.ok;
  });
}

/**
 * `slipway monitor ping-url CHECK`: a heartbeat's URLs, key and all. The key is a secret, so it
 * is printed only here, on request, straight to stdout (past the redactor, which would hide a
 * key that is a secret), and never to the reporter's log.
 */
export async function pingUrl(
  context: CommandContext,
  _options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { appHosts, AGENT_CONTAINER, pingKeyPath, pingUrls } = await import(
    "../../monitor/index.ts"
  );
  return withConnections(context, async (loaded, connections) => {
    const name = args[0] ?? "";
    const heartbeats = (loaded.config.monitoring?.checks ?? []).filter(
      (c) => c.heartbeat !== undefined,
    );
    const check = heartbeats.find((c) => c.name === name);
    if (!check) {
      throw new UserError({
        code: "monitor.not_heartbeat",
        message: `${loaded.file} has no heartbeat check named ${JSON.stringify(name)}`,
        hint:
          heartbeats.length > 0
            ? `its heartbeat checks: ${heartbeats.map((c) => c.name).join(", ")}`
            : "add one under monitoring.checks: { name: backup, heartbeat: 1d }",
        exitCode: ExitCode.usage,
      });
    }
    const [host] = appHosts(loaded);
    if (!host) throw new Error("the app has no hosts");
    const transport = connections.get(host);
    const { PROXY_NETWORK } = await import("../../proxy/index.ts");
    let key = check.key === undefined ? undefined : loaded.secrets.values.get(check.key);
    if (key === undefined) {
      const read = await transport.run(["cat", "--", pingKeyPath(await site(loaded), name)], {
        check: false,
      });
      if (read.code !== 0) {
        throw new UserError({
          code: "monitor.no_ping_key",
          message: `${host}: the agent has no ping key for ${name} yet`,
          hint: "slipway agent install makes it",
        });
      }
      key = read.stdout.trim();
    }
    const inspect = await transport.run(
      [
        "docker",
        "inspect",
        "--format",
        `{{with index .NetworkSettings.Networks ${JSON.stringify(PROXY_NETWORK)}}}{{.IPAddress}}{{end}}`,
        AGENT_CONTAINER,
      ],
      { check: false },
    );
    const urls = pingUrls(key, inspect.code === 0 ? inspect.stdout.trim() : undefined);
    if (context.flags.json) {
      process.stdout.write(`${JSON.stringify({ agent: host, ...urls }, null, 2)}\n`);
      return ExitCode.ok;
    }
    const lines = [
      `${name} on the agent of ${host} (add /fail to report a failed run):`,
      `  from the app's containers: ${urls.network}`,
      urls.host === undefined
        ? "  from the host: the agent is not running"
        : `  from the host itself:     ${urls.host} (until the agent's container is made anew)`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
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
