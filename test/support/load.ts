/**
 * A bounded load generator for zero-downtime tests: `concurrency` loops of GET requests to one
 * loopback URL, each on a new connection (Connection: close), until stopped or `maxMs` passes.
 * Every answer's status and the app version it reports are recorded, in order.
 */
import { request } from "node:http";
import { request as httpsRequest } from "node:https";

export interface LoadReport {
  requests: number;
  failed: number;
  /** Up to the first 10 failures, for the assertion message. */
  failures: string[];
  /** Versions in the order they were first seen. */
  versions: string[];
  /** When (ms since the start) each version was first and last seen. */
  seen: Record<string, { first: number; last: number }>;
  /** The version of the last answer. */
  lastVersion: string | undefined;
}

export interface Load {
  stop(): Promise<LoadReport>;
}

/** HTTPS to 127.0.0.1 as a visitor of `servername` would, trusting only `ca`. */
export interface LoadTls {
  ca: string;
  servername: string;
}

function once(
  url: string,
  timeoutMs: number,
  tls?: LoadTls,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : request)(
      url,
      {
        agent: false,
        headers: { connection: "close", ...(tls ? { host: tls.servername } : {}) },
        timeout: timeoutMs,
        ...(tls ? { ca: tls.ca, servername: tls.servername } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Starts the load; `stop()` ends it and reports. Only ever aim it at 127.0.0.1. */
export function startLoad(
  url: string,
  options: {
    concurrency?: number;
    maxMs?: number;
    /** For an https:// URL: the CA to trust and the name to ask for (SNI and Host). */
    tls?: LoadTls;
    /** Called once, the first time a request has gone `slowMs` without an answer (diagnostics). */
    onSlow?: (sentAt: number) => void;
    slowMs?: number;
  } = {},
): Load {
  if (!/^https?:\/\/127\.0\.0\.1:\d+\//.test(url))
    throw new Error(`load only goes to loopback, not ${url}`);
  const report: LoadReport = {
    requests: 0,
    failed: 0,
    failures: [],
    versions: [],
    seen: {},
    lastVersion: undefined,
  };
  const started = Date.now();
  const deadline = Date.now() + (options.maxMs ?? 120_000);
  let running = true;
  const fail = (why: string) => {
    report.failed++;
    if (report.failures.length < 10) report.failures.push(why);
  };
  let slowRaised = false;
  const raiseSlow = (sent: number) => {
    if (slowRaised) return;
    slowRaised = true;
    options.onSlow?.(sent);
  };
  const loop = async () => {
    while (running && Date.now() < deadline) {
      report.requests++;
      const sent = Date.now() - started;
      const slow = options.onSlow && setTimeout(() => raiseSlow(sent), options.slowMs ?? 2_000);
      try {
        const { status, body } = await once(url, 10_000, options.tls).finally(() =>
          clearTimeout(slow),
        );
        if (status !== 200) {
          fail(`HTTP ${status}: ${body.slice(0, 80)}`);
          continue;
        }
        const version = String(JSON.parse(body).version);
        const at = Date.now() - started;
        if (!report.versions.includes(version)) report.versions.push(version);
        report.seen[version] = { first: report.seen[version]?.first ?? at, last: at };
        report.lastVersion = version;
      } catch (error) {
        // When it was sent, to line failures up with what the deploy did then.
        fail(`${error instanceof Error ? error.message : String(error)} (sent at +${sent}ms)`);
      }
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 4 }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}

/**
 * Milliseconds during which both versions answered (the old one's last answer after the new
 * one's first). A proxy reload serves connections already accepted by old workers, so a few
 * tens of milliseconds of overlap are expected; after that only the new version may answer.
 */
export function overlapMs(report: LoadReport, from: string, to: string): number {
  const old = report.seen[from];
  const next = report.seen[to];
  if (!old || !next) return Number.NaN;
  return Math.max(0, old.last - next.first);
}
