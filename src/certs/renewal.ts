/**
 * When a site needs a certificate, and when to try again after a failure. Pure: the runner and
 * the agent's renewal job ask the same questions of the same facts.
 */
import type { CertState } from "./store.ts";
import { type CertificateFacts, uncovered } from "./validate.ts";

const DAY_MS = 86_400_000;
/** The first retry after a failure; each failure in a row doubles it, up to RETRY_MAX_MS. */
export const RETRY_FIRST_MS = 15 * 60_000;
export const RETRY_MAX_MS = 12 * 3_600_000;

export type Due = { due: true; reason: string } | { due: false; reason: string };

/**
 * Whether the site needs a certificate now: none yet, one that misses a domain, one that
 * expires within `renewBeforeMs`, or one the CA's renewal information (ARI) says to renew.
 */
export function renewalDue(
  current: CertificateFacts | undefined,
  domains: readonly string[],
  renewBeforeMs: number,
  state: Pick<CertState, "ari">,
  now: number,
): Due {
  if (current === undefined) return { due: true, reason: "no certificate yet" };
  const missing = uncovered(current, domains);
  if (missing.length > 0) return { due: true, reason: `it does not cover ${missing.join(", ")}` };
  const left = current.notAfter - now;
  const days = Math.floor(left / DAY_MS);
  if (left <= renewBeforeMs) {
    return {
      due: true,
      reason: left <= 0 ? "it has expired" : `it expires in ${days} days`,
    };
  }
  const ari = state.ari;
  if (ari !== undefined && now >= ari.renewAt) {
    return {
      due: true,
      reason: `the CA asks for renewal between ${iso(ari.windowStart)} and ${iso(ari.windowEnd)}`,
    };
  }
  return { due: false, reason: `it expires in ${days} days` };
}

/** The delay before the next scheduled attempt after `failures` failures in a row. */
export function retryDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 20));
}

/** The state after an attempt: its outcome recorded, the backoff set after a failure. */
export function afterAttempt(
  state: CertState,
  startedAt: number,
  outcome: { ok: true } | { ok: false; error: string },
  endedAt: number,
): CertState {
  if (outcome.ok) {
    const { lastError: _error, nextAttemptAt: _next, ari: _ari, ...rest } = state;
    return { ...rest, lastAttemptAt: startedAt, lastSuccessAt: endedAt, failures: 0 };
  }
  const failures = state.failures + 1;
  return {
    ...state,
    lastAttemptAt: startedAt,
    lastError: outcome.error,
    failures,
    nextAttemptAt: endedAt + retryDelay(failures),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
