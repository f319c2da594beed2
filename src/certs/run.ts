/**
 * One run of a site's order, under its lock: is a certificate due, is a retry allowed yet,
 * issue, check, then stage it (the CLI puts it in place behind `nginx -t`) or put it in place
 * (the agent, which then reloads the proxy), and record the attempt.
 */
import { AcmeError, type IssueOptions, issueCertificate } from "./issue.ts";
import type { Order } from "./order.ts";
import { afterAttempt, renewalDue } from "./renewal.ts";
import {
  activateCertificate,
  currentFacts,
  readState,
  stageCertificate,
  withLock,
  writeState,
} from "./store.ts";
import type { CertificateFacts } from "./validate.ts";

export type RunResult =
  | { outcome: "issued"; site: string; detail: string; facts: CertificateFacts }
  | { outcome: "not-due"; site: string; detail: string }
  | { outcome: "waiting"; site: string; detail: string; error: string; nextAttemptAt: number }
  | { outcome: "failed"; site: string; detail: string; error: string };

export interface RunOptions extends IssueOptions {
  /** Issue even when the certificate in place is good for a while yet. */
  force?: boolean;
  /** A scheduled run (the agent's): after a failure, wait out the backoff. */
  scheduled?: boolean;
  /** Write the new files as `<name>.next` rather than in place. */
  stage?: boolean;
  now?: () => number;
}

export function runOrder(order: Order, options: RunOptions = {}): Promise<RunResult> {
  const now = options.now ?? Date.now;
  return withLock(order, async () => {
    const startedAt = now();
    const state = readState(order);
    const due = options.force
      ? ({ due: true, reason: "asked to renew" } as const)
      : renewalDue(currentFacts(order), order.domains, order.renew_before_ms, state, startedAt);
    const site = order.site;
    if (!due.due) return { outcome: "not-due", site, detail: `not due: ${due.reason}` };
    const { lastError, nextAttemptAt } = state;
    if (
      options.scheduled &&
      lastError !== undefined &&
      nextAttemptAt !== undefined &&
      startedAt < nextAttemptAt
    ) {
      return {
        outcome: "waiting",
        site,
        detail: `${due.reason}; the next attempt is at ${new Date(nextAttemptAt).toISOString()}`,
        error: lastError,
        nextAttemptAt,
      };
    }
    let issued: Awaited<ReturnType<typeof issueCertificate>>;
    try {
      issued = await issueCertificate(order, options);
    } catch (error) {
      const message = error instanceof AcmeError ? error.message : String(error);
      writeState(order, afterAttempt(state, startedAt, { ok: false, error: message }, now()));
      return { outcome: "failed", site, detail: due.reason, error: message };
    }
    if (options.stage) stageCertificate(order, issued.pem, issued.facts);
    else activateCertificate(order, issued.pem, issued.facts);
    writeState(order, afterAttempt(state, startedAt, { ok: true }, now()));
    return { outcome: "issued", site, detail: due.reason, facts: issued.facts };
  });
}
