/**
 * From check results to incidents, as one pure state machine per check: an incident opens after
 * `open_after` consecutive failures and resolves after `resolve_after` consecutive successes (so
 * one lost packet neither pages nor resolves), reminds while open, and a check that keeps
 * changing state is "flapping": notified once, then quiet until it settles. A silence (a
 * maintenance window, a deploy's switch) keeps the incident record but sends nothing. A failure
 * graver than its open incident (a budget that starts to burn fast) escalates that incident.
 */
import type { AlertPolicy } from "./config.ts";

export type CheckStatus = "unknown" | "up" | "down";
export type Severity = AlertPolicy["severity"];

const GRAVITY: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

export interface CheckState {
  status: CheckStatus;
  /** Consecutive failures (0 after a success) and successes (0 after a failure). */
  failures: number;
  successes: number;
  /** The open incident, if any. */
  incident:
    | {
        id: number;
        openedAt: number;
        lastNotifiedAt: number;
        /** Absent in states saved before severities could change: the policy's. */
        severity?: Severity;
      }
    | undefined;
  /** When the status last changed, newest last, within the flap window. */
  changes: number[];
  flapping: boolean;
}

export type AlertEvent =
  | { kind: "open"; at: number; cause: string; silenced: boolean }
  | { kind: "resolve"; at: number; incidentId: number; openedAt: number; silenced: boolean }
  | { kind: "remind"; at: number; incidentId: number; openedAt: number; silenced: boolean }
  | { kind: "flapping"; at: number; changes: number; silenced: boolean }
  | {
      kind: "escalate";
      at: number;
      incidentId: number;
      openedAt: number;
      from: Severity;
      to: Severity;
      silenced: boolean;
    };

export interface Observation {
  ok: boolean;
  at: number;
  /** Why it failed, for the incident ("HTTP 503", "timeout after 10000ms"). */
  detail: string;
  /** How grave this failure is; absent: the policy's severity. */
  severity?: Severity;
}

export function initialState(): CheckState {
  return {
    status: "unknown",
    failures: 0,
    successes: 0,
    incident: undefined,
    changes: [],
    flapping: false,
  };
}

/**
 * The next state and what to notify. `silencedUntil` (ms since epoch) mutes notifications; the
 * caller gives an opened incident its id (`assignId`), since ids come from the store.
 */
export function observe(
  state: CheckState,
  result: Observation,
  policy: AlertPolicy,
  options: { silencedUntil?: number; assignId: () => number },
): { state: CheckState; events: AlertEvent[] } {
  const silenced = options.silencedUntil !== undefined && result.at < options.silencedUntil;
  const next: CheckState = {
    ...state,
    // Capped where they stop mattering: a steady check's state then stays the same, and is not
    // written again.
    failures: result.ok ? 0 : Math.min(state.failures + 1, policy.open_after),
    successes: result.ok ? Math.min(state.successes + 1, policy.resolve_after) : 0,
    changes: state.changes.filter((t) => t > result.at - policy.flap_window_ms),
  };
  const events: AlertEvent[] = [];
  const status: CheckStatus = result.ok ? "up" : "down";
  if (status !== state.status && state.status !== "unknown") next.changes.push(result.at);
  next.status = status;

  const flapping = next.changes.length >= policy.flap_changes;
  if (flapping && !state.flapping) {
    events.push({ kind: "flapping", at: result.at, changes: next.changes.length, silenced });
  }
  next.flapping = flapping;
  // While flapping, incidents still open and resolve, but only the flapping notice was sent.
  const quiet = silenced || flapping;

  const severity = result.severity ?? policy.severity;
  const was = next.incident?.severity ?? policy.severity;
  if (!next.incident && next.failures >= policy.open_after) {
    next.incident = {
      id: options.assignId(),
      openedAt: result.at,
      lastNotifiedAt: result.at,
      severity,
    };
    events.push({ kind: "open", at: result.at, cause: result.detail, silenced: quiet });
  } else if (next.incident && !result.ok && GRAVITY[severity] > GRAVITY[was]) {
    // The same incident, graver now: told at once, not at the next reminder.
    events.push({
      kind: "escalate",
      at: result.at,
      incidentId: next.incident.id,
      openedAt: next.incident.openedAt,
      from: was,
      to: severity,
      silenced: quiet,
    });
    next.incident = { ...next.incident, lastNotifiedAt: result.at, severity };
  } else if (next.incident && next.successes >= policy.resolve_after) {
    events.push({
      kind: "resolve",
      at: result.at,
      incidentId: next.incident.id,
      openedAt: next.incident.openedAt,
      silenced: quiet,
    });
    next.incident = undefined;
  } else if (
    next.incident &&
    policy.remind_ms > 0 &&
    result.at - next.incident.lastNotifiedAt >= policy.remind_ms
  ) {
    events.push({
      kind: "remind",
      at: result.at,
      incidentId: next.incident.id,
      openedAt: next.incident.openedAt,
      silenced: quiet,
    });
    next.incident = { ...next.incident, lastNotifiedAt: result.at };
  }
  return { state: next, events };
}
