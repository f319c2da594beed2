/**
 * The checks themselves: one HTTP(S) request or one TCP connection, bounded by a timeout, read no
 * more than needed (a keyword is looked for in the first 64 KiB only), so a thousand checks every
 * 30 s fit in the agent's memory budget. Each new connection: keep-alive would hide a server that
 * no longer accepts.
 */
import type { ClientRequestArgs, IncomingMessage } from "node:http";
import { connect, createConnection, type NetConnectOpts } from "node:net";
import { requestFor } from "./builtins.ts";
import type { CheckConfig } from "./config.ts";
import { probeContainer } from "./container-probe.ts";
import { probeDns } from "./dns-probe.ts";
import { EngineClient } from "./engine.ts";
import { probeHost } from "./host-probes.ts";
import { probeTls } from "./tls-probe.ts";

export interface ProbeResult {
  ok: boolean;
  /** Time to the answer (HTTP: the response head and, with a keyword, the body read). */
  ms: number;
  /** What happened, for people: "HTTP 200", "HTTP 503", "timeout after 10000ms", "ECONNREFUSED". */
  detail: string;
}

const KEYWORD_BYTES = 64 * 1024;
const USER_AGENT = "slipway-agent";

/** One run of a check; container checks ask `engine` (default: the engine at Docker's socket). */
export function probe(check: CheckConfig, engine?: EngineClient): Promise<ProbeResult> {
  switch (check.kind) {
    case "http":
      return probeHttp(check);
    case "tcp":
      return probeTcp(check);
    case "host":
      return probeHost(check);
    case "tls":
      return probeTls(check);
    case "dns":
      return probeDns(check);
    case "heartbeat":
      // Pushed by the app (heartbeat.ts), never probed.
      return Promise.reject(new Error(`${check.name} is a heartbeat: the app pings it`));
    case "container":
      return probeContainer(check, engine ?? new EngineClient());
  }
}

type HttpCheck = Extract<CheckConfig, { kind: "http" }>;

async function probeHttp(check: HttpCheck): Promise<ProbeResult> {
  const started = performance.now();
  const deadline = started + check.timeout_ms;
  let url = new URL(check.url);
  for (let hop = 0; ; hop++) {
    const left = deadline - performance.now();
    if (left <= 0) return { ok: false, ms: elapsed(started), detail: timeoutDetail(check) };
    let answer: { status: number; location: string | undefined; body: string };
    try {
      answer = await get(url, left, check.keyword !== undefined);
    } catch (error) {
      return { ok: false, ms: elapsed(started), detail: describe(error, check) };
    }
    if (
      answer.status >= 300 &&
      answer.status < 400 &&
      answer.location &&
      hop < check.follow_redirects
    ) {
      url = new URL(answer.location, url);
      continue;
    }
    const ms = elapsed(started);
    const [low, high] = check.status;
    if (answer.status < low || answer.status > high)
      return { ok: false, ms, detail: `HTTP ${answer.status}` };
    if (check.keyword !== undefined && !answer.body.includes(check.keyword))
      return { ok: false, ms, detail: `HTTP ${answer.status} without "${check.keyword}"` };
    if (check.max_latency_ms !== undefined && ms > check.max_latency_ms)
      return {
        ok: false,
        ms,
        detail: `HTTP ${answer.status} in ${ms}ms, over ${check.max_latency_ms}ms`,
      };
    return { ok: true, ms, detail: `HTTP ${answer.status}` };
  }
}

function get(
  url: URL,
  timeoutMs: number,
  readBody: boolean,
): Promise<{ status: number; location: string | undefined; body: string }> {
  const request = requestFor(url);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "GET",
      ...(url.protocol === "https:" ? { agent: false } : { createConnection: newConnection }),
      headers: { "user-agent": USER_AGENT, connection: "close" },
    });
    const timer = setTimeout(() => req.destroy(new TimeoutError()), timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on("response", (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (!readBody) {
        clearTimeout(timer);
        res.resume();
        req.destroy();
        resolve({ status, location, body: "" });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status, location, body: Buffer.concat(chunks).toString("utf8") });
      };
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= KEYWORD_BYTES) done();
      });
      res.on("end", done);
      res.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.end();
  });
}

/**
 * A plain TCP connection for one request, with no http.Agent: `agent: false` builds a whole new
 * Agent (and its bookkeeping) for every request. Node has set host and port by now.
 */
function newConnection(options: ClientRequestArgs) {
  return createConnection(options as NetConnectOpts);
}

type TcpCheck = Extract<CheckConfig, { kind: "tcp" }>;

function probeTcp(check: TcpCheck): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: check.host, port: check.port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, ms: elapsed(started), detail: timeoutDetail(check) }),
      check.timeout_ms,
    );
    socket.once("connect", () =>
      finish({ ok: true, ms: elapsed(started), detail: `connected to port ${check.port}` }),
    );
    socket.once("error", (error) =>
      finish({ ok: false, ms: elapsed(started), detail: describe(error, check) }),
    );
  });
}

class TimeoutError extends Error {}

function describe(error: unknown, check: CheckConfig): string {
  if (error instanceof TimeoutError) return timeoutDetail(check);
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error instanceof Error ? error.message : String(error));
}

function timeoutDetail(check: CheckConfig): string {
  return `timeout after ${check.timeout_ms}ms`;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
