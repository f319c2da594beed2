/**
 * One run of a site's order, under its lock: is a certificate due, is a retry allowed yet,
 * issue, check, then stage it (the CLI puts it in place behind `nginx -t`) or put it in place
 * (the agent, which then reloads the proxy), and record the attempt.
 */
import { certId, fetchRenewalInfo } from "./ari.ts";
import { AcmeError, type IssueOptions, issueCertificate } from "./issue.ts";
import type { Order } from "./order.ts";
import { afterAttempt, RETRY_FIRST_MS, renewalDue } from "./renewal.ts";
import {
  activateCertificate,
  type CertState,
  currentFacts,
  readCertificate,
  readState,
  shareCertificate,
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
    const state = await refreshedRenewalInfo(order, readState(order), startedAt);
    const due = options.force
      ? ({ due: true, reason: "asked to renew" } as const)
      : renewalDue(currentFacts(order), order.domains, order.renew_before_ms, state, startedAt);
    const site = order.site;
    if (!due.due) {
      // The other web hosts fetch the certificate in place: it is there for them.
      const pem = readCertificate(order);
      if (pem !== undefined) shareCertificate(order, pem);
      return { outcome: "not-due", site, detail: `not due: ${due.reason}` };
    }
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
    const current = readCertificate(order);
    // A CA with ARI is told which certificate the new one replaces.
    const replaces = state.ari !== undefined && current !== undefined ? certId(current) : undefined;
    try {
      issued = await issueCertificate(order, {
        ...options,
        ...(replaces === undefined ? {} : { replaces }),
      });
    } catch (error) {
      const message = error instanceof AcmeError ? error.message : String(error);
      writeState(order, afterAttempt(state, startedAt, { ok: false, error: message }, now()));
      return { outcome: "failed", site, detail: due.reason, error: message };
    }
    if (options.stage) stageCertificate(order, issued.pem, issued.facts);
    else activateCertificate(order, issued.pem, issued.facts);
    shareCertificate(order, issued.pem);
    const ari = await fetchRenewalInfo(order, issued.pem, now()).catch(() => undefined);
    writeState(order, {
      ...afterAttempt(state, startedAt, { ok: true }, now()),
      ...(ari === undefined ? {} : { ari }),
    });
    return { outcome: "issued", site, detail: due.reason, facts: issued.facts };
  });
}

/**
 * The state with the CA's renewal window asked again once its Retry-After is over (a CA that
 * offered ARI for the certificate in place); kept as it was when the CA does not answer.
 */
async function refreshedRenewalInfo(order: Order, state: CertState, now: number) {
  const ari = state.ari;
  const pem = readCertificate(order);
  if (ari === undefined || pem === undefined || now < ari.retryAfterAt) return state;
  const fresh = await fetchRenewalInfo(order, pem, now).catch(() => undefined);
  const next: CertState = {
    ...state,
    ari: fresh ?? { ...ari, retryAfterAt: now + RETRY_FIRST_MS },
  };
  writeState(order, next);
  return next;
}
