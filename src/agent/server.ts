/**
 * The agent's HTTP API, on loopback or the private network only: /healthz for anyone; /status
 * (the status page) and /api/status for anyone when it is public; /metrics, /api/* and a private /status need
 * `Authorization: Bearer <token>` (compared in constant time). Without a token configured,
 * everything else is refused: an agent is never open by mistake.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Agent } from "./agent.ts";
import { http } from "./builtins.ts";
import type { AgentConfig } from "./config.ts";
import { failDetail } from "./heartbeat.ts";
import type { AgentMetrics } from "./metrics.ts";
import { meanTimeToRecovery, type RecoveryReport } from "./mttr.ts";
import { answerSettings } from "./settings-api.ts";
import { renderStatusPage, type StatusModel, statusModel } from "./status-page.ts";
import type { Store } from "./store.ts";

const MAX_BODY = 64 * 1024;

export interface ApiOptions {
  agent: Agent;
  store: Store;
  metrics: AgentMetrics;
  token: string | undefined;
  /** The host's name on the status page. */
  host: string;
  /** Serve /status without the token. */
  publicStatus: boolean;
  /** The configuration from the files (the write API's overrides are in the store). */
  config: AgentConfig;
}

export function createApi(options: ApiOptions): Server {
  return http.createServer((req, res) => {
    handle(req, res, options).catch((error: Error) => {
      if (!res.headersSent) json(res, 500, { error: error.message });
      else res.destroy();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, o: ApiOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  const route = `${req.method} ${url.pathname}`;
  if (route === "GET /healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  // Heartbeats: the key in the path is the secret, so no token (the app's cron job has none).
  const ping = /^(?:GET|POST) \/ping\/([A-Za-z0-9_-]{1,200})(\/fail)?$/.exec(route);
  if (ping?.[1]) {
    const failed = ping[2] !== undefined;
    const detail = failed ? failDetail(await readText(req, 1_000)) : "ping";
    const found = o.agent.ping(ping[1], !failed, detail);
    res
      .writeHead(found ? 200 : 404, { "content-type": "text/plain" })
      .end(found ? "OK\n" : "not found\n");
    return;
  }
  if (route === "GET /status" && o.publicStatus) {
    page(res, o);
    return;
  }
  // The page's JSON is as public as the page (a status domain serves both).
  if (route === "GET /api/status" && o.publicStatus) {
    json(res, 200, model(o));
    return;
  }
  if (!authorized(req, o.token)) {
    json(res, 401, {
      error: o.token ? "a valid bearer token is needed" : "the agent has no API token configured",
    });
    return;
  }
  if (route === "GET /metrics") {
    const text = await o.metrics.registry.metrics();
    res.writeHead(200, { "content-type": o.metrics.registry.contentType }).end(text);
    return;
  }
  if (route === "GET /status") {
    page(res, o);
    return;
  }
  if (route === "GET /api/status") {
    json(res, 200, model(o));
    return;
  }
  if (route === "GET /api/checks") {
    const mttr = new Map(recovery(o).checks.map((r) => [r.check, r.mttr_ms]));
    json(
      res,
      200,
      o.agent.checks().map((c) => ({ ...c, mttr_ms: mttr.get(c.name) ?? null })),
    );
    return;
  }
  if (route === "GET /api/mttr") {
    json(res, 200, recovery(o));
    return;
  }
  if (route === "GET /api/incidents") {
    json(res, 200, o.store.incidents({ openOnly: url.searchParams.get("open") === "1" }));
    return;
  }
  if (route === "GET /api/notifications") {
    json(res, 200, o.store.notifications());
    return;
  }
  const ack = /^POST \/api\/incidents\/(\d+)\/ack$/.exec(route);
  if (ack) {
    const body = await readJson(req);
    const by = typeof body.by === "string" && body.by ? body.by : "someone";
    const done = o.store.acknowledge(Number(ack[1]), by, Date.now());
    json(
      res,
      done ? 200 : 404,
      done
        ? { acknowledged: Number(ack[1]), by }
        : { error: "no such open, unacknowledged incident" },
    );
    return;
  }
  if (route === "GET /api/silences") {
    json(res, 200, o.store.activeSilences(Date.now()));
    return;
  }
  const unsilence = /^DELETE \/api\/silences\/(\d+)$/.exec(route);
  if (unsilence) {
    const done = o.store.endSilence(Number(unsilence[1]), Date.now());
    json(
      res,
      done ? 200 : 404,
      done ? { ended: Number(unsilence[1]) } : { error: "no such running silence" },
    );
    return;
  }
  if (route === "POST /api/silences") {
    const body = await readJson(req);
    const minutes = Number(body.minutes);
    if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 7 * 24 * 60) {
      json(res, 400, { error: "minutes must be a number from 1 to 10080" });
      return;
    }
    const check = typeof body.check === "string" ? body.check : undefined;
    const now = Date.now();
    // A maintenance window may start later (starts_at, RFC 3339), within 30 days.
    const startsAt = body.starts_at === undefined ? now : Date.parse(String(body.starts_at));
    if (Number.isNaN(startsAt) || startsAt - now > 30 * 86_400_000) {
      json(res, 400, { error: "starts_at must be a time (RFC 3339) within the next 30 days" });
      return;
    }
    const endsAt = startsAt + minutes * 60_000;
    const id = o.store.addSilence(
      check,
      startsAt,
      endsAt,
      typeof body.reason === "string" ? body.reason : "",
    );
    json(res, 201, {
      id,
      check: check ?? null,
      from: new Date(startsAt).toISOString(),
      until: new Date(endsAt).toISOString(),
    });
    return;
  }
  const settings = await answerSettings(req.method ?? "", url.pathname, () => readJson(req), o);
  if (settings) {
    json(res, settings.status, settings.value);
    return;
  }
  if (route === "GET /api/jobs") {
    json(res, 200, o.agent.scheduler.views());
    return;
  }
  if (route === "POST /api/jobs/record") {
    await recordRun(req, res, o, url.searchParams.get("job") ?? "");
    return;
  }
  if (route === "GET /api/jobs/runs" || route === "POST /api/jobs/run") {
    const name = url.searchParams.get("job") ?? "";
    if (!o.agent.scheduler.job(name)) {
      json(res, 404, { error: `no job ${name}` });
      return;
    }
    if (route === "GET /api/jobs/runs") {
      const limit = Math.min(50, Math.max(1, Number(url.searchParams.get("limit") ?? 5) || 5));
      json(res, 200, o.agent.scheduler.runs(name, limit));
      return;
    }
    await runJob(res, o, name);
    return;
  }
  if (route === "POST /api/test-notify") {
    json(res, 200, await o.agent.testNotify());
    return;
  }
  json(res, 404, { error: `no route ${route}` });
}

/** Mean time to recovery per check and per service, from every resolved incident kept. */
function recovery(o: ApiOptions): RecoveryReport {
  return meanTimeToRecovery(o.store.resolvedIncidents(), (check) => o.agent.serviceOf(check));
}

/**
 * Runs a job now and answers with the finished run. The status goes out first and a space every
 * 20 s after (JSON allows leading whitespace), so a client's idle timeout never ends a long run.
 */
async function runJob(res: ServerResponse, o: ApiOptions, name: string): Promise<void> {
  if (o.agent.scheduler.views().find((j) => j.name === name)?.running) {
    json(res, 409, { error: `${name} is running already` });
    return;
  }
  const running = o.agent.scheduler.runNow(name);
  res.writeHead(200, { "content-type": "application/json" });
  const keepAlive = setInterval(() => res.write(" "), 20_000);
  try {
    const run = await running.catch((error: Error) => ({ error: error.message }));
    res.end(`${JSON.stringify(run)}\n`);
  } finally {
    clearInterval(keepAlive);
  }
}

/**
 * Records a run that happened outside the agent (`slipway backup verify` runs with a key the agent
 * must not keep): {outcome: "ok" | "failed", detail, output?, started_at?}. It alerts like the
 * job's own runs, so a failed verification opens "<job> job" whoever ran it.
 */
async function recordRun(
  req: IncomingMessage,
  res: ServerResponse,
  o: ApiOptions,
  name: string,
): Promise<void> {
  if (!o.agent.scheduler.job(name)) {
    json(res, 404, { error: `no job ${name}` });
    return;
  }
  const body = await readJson(req);
  const outcome = body.outcome;
  const detail = typeof body.detail === "string" ? body.detail.slice(0, 1_000) : "";
  if ((outcome !== "ok" && outcome !== "failed") || detail === "") {
    json(res, 400, { error: 'outcome must be "ok" or "failed", with a detail' });
    return;
  }
  const now = Date.now();
  const started = Number(body.started_at ?? now);
  const run = o.agent.scheduler.record(
    name,
    {
      outcome,
      exitCode: outcome === "ok" ? 0 : 1,
      detail,
      output: typeof body.output === "string" ? body.output : "",
    },
    Number.isFinite(started) && started <= now ? started : now,
    now,
  );
  json(res, 200, run);
}

function model(o: ApiOptions): StatusModel {
  return statusModel(
    o.host,
    o.agent.checks(),
    (check, since) => o.store.summaries(check, since),
    o.store.incidents({ openOnly: true }),
    Date.now(),
  );
}

function page(res: ServerResponse, o: ApiOptions): void {
  res
    .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
    .end(renderStatusPage(model(o)));
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization ?? "";
  const given = header.startsWith("Bearer ") ? header.slice(7) : "";
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(`${JSON.stringify(value)}\n`);
}

/** The first `limit` bytes of a body as text (the rest is not read). */
async function readText(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8");
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error("request body too large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  const value = JSON.parse(text) as unknown;
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
