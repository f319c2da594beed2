/**
 * Certificate renewal by the agent's scheduler, without the operator. Whether the site needs a
 * certificate is read here from its files (cheap: node:crypto); only then does the certificate
 * runner (src/certs, with the ACME client) run, in a one-off container of the agent's image, so
 * neither its code nor its memory ever lands in the agent. The runner checks and puts the new
 * certificate in place; the proxy is then reloaded by SIGHUP (graceful) and seen to serve it, or
 * the previous certificate is put back. A failure fails the run, which opens the job's incident
 * and alerts; after one, runs wait out the backoff and stay failed until an attempt succeeds.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  currentFacts,
  type Order,
  parseOrder,
  type RunResult,
  readState,
  renewalDue,
} from "../certs/index.ts";
import { loadTls } from "./builtins.ts";
import type { JobConfig } from "./config.ts";
import type { EngineClient } from "./engine.ts";
import { type JobResult, type JobRunner, TimeoutError } from "./scheduler.ts";

type CertificateJob = Extract<JobConfig, { kind: "certificate" }>;

/** The label of the runner's containers (a killed agent's leftovers are found by it). */
export const CERT_RUN_LABEL = "slipway.certs.run";
const SERVE_WAIT_MS = 15_000;

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
    await this.engine.kill(job.proxy, "HUP");
    const seen = await this.served(job, order, result.facts.fingerprint);
    if (seen) {
      const until = new Date(result.facts.notAfter).toISOString().slice(0, 10);
      return outcome("ok", `renewed (${result.detail}): valid until ${until}`, output);
    }
    // nginx kept the old certificate: the files must say the same, for the next reload.
    await this.runner(job, order, ["restore"], run);
    await this.engine.kill(job.proxy, "HUP").catch(() => {});
    return outcome(
      "failed",
      "the proxy did not serve the new certificate after a reload; the previous one is back in place",
      output,
    );
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
      await this.engine.start(id);
      const code = await this.engine.wait(id, run.signal).catch((error: unknown) => {
        if (run.signal.aborted) return undefined;
        throw error;
      });
      const output = await this.engine.logs(id).catch(() => "");
      if (code === undefined) {
        const reason = run.signal.reason as Error | undefined;
        return {
          kind: "job",
          job: {
            outcome: reason instanceof TimeoutError ? "timeout" : "interrupted",
            exitCode: null,
            detail: reason?.message ?? "aborted",
            output,
          },
        };
      }
      const answer = output
        .split("\n")
        .reverse()
        .find((line) => line.startsWith('{"outcome"'));
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

  /** Whether the proxy serves the certificate with this fingerprint within SERVE_WAIT_MS. */
  private async served(job: CertificateJob, order: Order, fingerprint: string): Promise<boolean> {
    const at = job.serves.lastIndexOf(":");
    const host = job.serves.slice(0, at);
    const port = Number(job.serves.slice(at + 1));
    const servername = (order.domains.find((d) => !d.startsWith("*.")) ?? "").replace(/^\*\./, "");
    const deadline = this.now() + SERVE_WAIT_MS;
    for (;;) {
      const seen = await peerFingerprint(host, port, servername).catch(() => undefined);
      if (seen === fingerprint) return true;
      if (this.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
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
