/**
 * Certificate renewal by the agent's scheduler, without the operator. Whether the site needs a
 * certificate is read here from its files (cheap: node:crypto); only then does the certificate
 * runner (src/certs, with the ACME client) run, in a one-off container of the agent's image, so
 * neither its code nor its memory ever lands in the agent. The runner checks and puts the new
 * certificate in place; the proxy is then reloaded by SIGHUP (graceful) and seen to serve it, or
 * the previous certificate is put back. A failure fails the run, which opens the job's incident
 * and alerts; after one, runs wait out the backoff and stay failed until an attempt succeeds.
 * The site's other web hosts take the issuing host's certificate, sealed, from its proxy.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  activateCertificate,
  type CertificateFacts,
  checkCertificateFile,
  currentFacts,
  type Order,
  openCertificate,
  parseOrder,
  parseSharingKey,
  type RunResult,
  readState,
  renewalDue,
  restorePrevious,
} from "../certs/index.ts";
import { http, loadTls } from "./builtins.ts";
import type { JobConfig } from "./config.ts";
import { lastLineStarting, startAndWait } from "./container-job.ts";
import type { EngineClient } from "./engine.ts";
import type { JobResult, JobRunner } from "./scheduler.ts";

type CertificateJob = Extract<JobConfig, { kind: "certificate" }>;

/** The label of the runner's containers (a killed agent's leftovers are found by it). */
export const CERT_RUN_LABEL = "slipway.certs.run";
const SERVE_WAIT_MS = 15_000;
/** Connections in a row that must present the new certificate (see `served`). */
const SERVED_IN_A_ROW = 5;
/** A host whose certificate runs out within this many days fails when it gets no newer one. */
const SHARED_GRACE_DAYS = 7;

export class CertificateJobRunner implements JobRunner<CertificateJob> {
  private readonly engine: EngineClient;
  private readonly now: () => number;

  constructor(engine: EngineClient, now: () => number = Date.now) {
    this.engine = engine;
    this.now = now;
  }

  async recover(): Promise<void> {
    const left = await this.engine.list({}, { all: true, has: [CERT_RUN_LABEL] }).catch(() => []);
    for (const container of left) await this.engine.remove(container.Id).catch(() => {});
  }

  async run(job: CertificateJob, run: { id: number; signal: AbortSignal }): Promise<JobResult> {
    let text: string;
    try {
      text = readFileSync(job.order, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return outcome("ok", "no certificate ordered yet (a deploy orders it)");
    }
    const order = parseOrder(text, job.order);
    if (job.from !== undefined) return this.fromIssuer(job, job.from, order);
    const now = this.now();
    const state = readState(order);
    const due = renewalDue(currentFacts(order), order.domains, order.renew_before_ms, state, now);
    // The CA's renewal window (ARI) is asked again by the runner once its Retry-After is over.
    const askCa = state.ari !== undefined && now >= state.ari.retryAfterAt;
    if (!due.due && state.lastError === undefined && !askCa) {
      return outcome("ok", `not due: ${due.reason}`);
    }
    if (state.lastError !== undefined && (state.nextAttemptAt ?? 0) > now) {
      return outcome(
        "failed",
        `the last attempt failed (${state.lastError}); the next one is at ${new Date(state.nextAttemptAt ?? now).toISOString()}`,
      );
    }
    // A failed attempt is retried (once its backoff is over) even while the certificate in
    // place is good: that attempt was asked for (a new domain, a forced renewal).
    const retry = !due.due && state.lastError !== undefined;
    const args = ["issue", "--scheduled", ...(retry ? ["--force"] : [])];
    const issued = await this.runner(job, order, args, run);
    if (issued.kind === "job") return issued.job;
    const { result, output } = issued;
    if (result.outcome === "not-due") return outcome("ok", result.detail, output);
    if (result.outcome !== "issued") {
      return outcome("failed", result.error, output);
    }
    const restore = async () => {
      await this.runner(job, order, ["restore"], run);
    };
    const failure = await this.reloadAndSee(job, order, result.facts, restore);
    if (failure !== undefined) return outcome("failed", failure, output);
    const until = new Date(result.facts.notAfter).toISOString().slice(0, 10);
    return outcome("ok", `renewed (${result.detail}): valid until ${until}`, output);
  }

  /**
   * Reloads the proxy (SIGHUP) and waits to see `facts`' certificate served; when it is not,
   * `restore` puts the previous files back (nginx kept the old certificate: the files must say
   * the same, for the next reload) and the proxy is reloaded again. Resolves with the failure.
   */
  private async reloadAndSee(
    job: CertificateJob,
    order: Order,
    facts: CertificateFacts,
    restore: () => Promise<void>,
  ): Promise<string | undefined> {
    await this.engine.kill(job.proxy, "HUP");
    if (await this.served(job, order, facts.fingerprint)) return undefined;
    await restore();
    await this.engine.kill(job.proxy, "HUP").catch(() => {});
    return "the proxy did not serve the new certificate after a reload; the previous one is back in place";
  }

  /**
   * A web host that does not issue: the issuing host's certificate, sealed (src/certs/share.ts),
   * fetched from its proxy, opened with the site's key, checked, and put in place when newer.
   */
  private async fromIssuer(
    job: CertificateJob,
    from: NonNullable<CertificateJob["from"]>,
    order: Order,
  ): Promise<JobResult> {
    const local = currentFacts(order);
    const now = this.now();
    const daysLeft = local === undefined ? 0 : Math.floor((local.notAfter - now) / 86_400_000);
    const got = await fetchText(from.url, from.host).catch((error: Error) => ({
      status: 0,
      body: error.message,
    }));
    if (got.status !== 200) {
      const why =
        got.status === 404
          ? "the issuing host shares no certificate yet"
          : `the issuing host's certificate could not be fetched (${got.status || got.body})`;
      // Only a certificate here that runs out soon makes that a failure.
      return daysLeft > SHARED_GRACE_DAYS
        ? outcome("ok", `${why}; the one here is good for ${daysLeft} days`)
        : outcome("failed", why);
    }
    let facts: CertificateFacts;
    let pem: string;
    try {
      const key = parseSharingKey(readFileSync(from.key_file, "utf8"));
      pem = openCertificate(Buffer.from(got.body.trim(), "base64"), key, order.site);
      facts = checkCertificateFile(pem, order.domains, now);
    } catch (error) {
      return outcome(
        "failed",
        `the issuing host's certificate is not usable: ${(error as Error).message}`,
      );
    }
    const until = new Date(facts.notAfter).toISOString().slice(0, 10);
    if (local !== undefined && local.notAfter >= facts.notAfter) {
      return outcome(
        "ok",
        `in step with the issuing host: valid until ${new Date(local.notAfter).toISOString().slice(0, 10)}`,
      );
    }
    activateCertificate(order, pem, facts);
    const restore = async () => {
      restorePrevious(order);
    };
    const failure = await this.reloadAndSee(job, order, facts, restore);
    if (failure !== undefined) return outcome("failed", failure);
    return outcome("ok", `took the issuing host's certificate: valid until ${until}`);
  }

  /** The runner in a one-off container; its JSON answer, or why it gave none. */
  private async runner(
    job: CertificateJob,
    order: Order,
    args: readonly string[],
    run: { id: number; signal: AbortSignal },
  ): Promise<
    { kind: "answer"; result: RunResult; output: string } | { kind: "job"; job: JobResult }
  > {
    const name = `${order.site}-certs-${run.id}-${args[0]}`;
    const runnerDir = dirname(job.runner);
    const id = await this.engine.create(name, {
      Image: job.image,
      Cmd: ["node", job.runner, ...args, "--order", job.order],
      Labels: { [CERT_RUN_LABEL]: String(run.id), "slipway.certs": order.site },
      HostConfig: {
        Binds: [`${order.tls_dir}:${order.tls_dir}`, `${runnerDir}:${runnerDir}:ro`],
        NetworkMode: job.network,
      },
    });
    try {
      const ran = await startAndWait(this.engine, id, run.signal);
      if ("stopped" in ran) return { kind: "job", job: ran.stopped };
      const { exitCode: code, output } = ran;
      const answer = lastLineStarting(output, '{"outcome"');
      if (answer === undefined) {
        const job = outcome(
          "failed",
          `the certificate runner exited ${code} without an answer`,
          output,
        );
        return { kind: "job", job };
      }
      return { kind: "answer", result: JSON.parse(answer) as RunResult, output };
    } finally {
      await this.engine.remove(id).catch(() => {});
    }
  }

  /**
   * Whether the proxy serves the certificate with `fingerprint` now, seen on SERVED_IN_A_ROW
   * connections in a row. After a SIGHUP nginx starts new workers and tells the old ones to stop
   * accepting; an old worker the machine has not scheduled yet still answers with the old
   * configuration for a moment, so one connection to a new worker is not proof the reload took.
   */
  private async served(job: CertificateJob, order: Order, fingerprint: string): Promise<boolean> {
    const at = job.serves.lastIndexOf(":");
    const host = job.serves.slice(0, at);
    const port = Number(job.serves.slice(at + 1));
    const servername = (order.domains.find((d) => !d.startsWith("*.")) ?? "").replace(/^\*\./, "");
    const deadline = this.now() + SERVE_WAIT_MS;
    let inARow = 0;
    for (;;) {
      const seen = await peerFingerprint(host, port, servername).catch(() => undefined);
      inARow = seen === fingerprint ? inARow + 1 : 0;
      if (inARow >= SERVED_IN_A_ROW) return true;
      if (this.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, inARow > 0 ? 100 : 250));
    }
  }
}

/** GET `url` with `host` as its Host header: the status and the body as text. */
function fetchText(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { host }, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => {
        if (body.length < 1_000_000) body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

/** The fingerprint of the certificate a TLS server presents for `servername`. */
function peerFingerprint(host: string, port: number, servername: string): Promise<string> {
  const tls = loadTls();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername, rejectUnauthorized: false });
    socket.setTimeout(5_000, () => socket.destroy(new Error("timeout")));
    socket.once("secureConnect", () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

function outcome(kind: "ok" | "failed", detail: string, output = ""): JobResult {
  return { outcome: kind, exitCode: kind === "ok" ? 0 : 1, detail, output };
}
