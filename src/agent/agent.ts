/**
 * The agent: runs every check on its interval (spread by a random offset, never two runs of one
 * check at once), turns results into incidents, notifies, and keeps everything in the store.
 * Restarted, it reloads each check's alert state and open incident, so a kill loses at most the
 * last second of raw results (the batch not yet written), never an incident.
 */
import type { AlertEvent, CheckState, Observation } from "./alerts.ts";
import { initialState, observe } from "./alerts.ts";
import { burnVerdict } from "./budget.ts";
import type { AgentConfig, CheckConfig, JobConfig } from "./config.ts";
import { ContainerJobRunner } from "./container-job.ts";
import { EngineClient } from "./engine.ts";
import { type JobRun, JobStore } from "./job-store.ts";
import type { AgentMetrics } from "./metrics.ts";
import { type Notice, send } from "./notify.ts";
import { probe } from "./probes.ts";
import { Scheduler } from "./scheduler.ts";
import type { Store } from "./store.ts";

const FLUSH_MS = 1_000;
const PRUNE_MS = 3_600_000;

/** A check as the API shows it (null, not absent, where there is nothing yet: it is JSON). */
export interface CheckView {
  name: string;
  kind: string;
  status: CheckState["status"];
  flapping: boolean;
  lastAt: number | null;
  lastMs: number | null;
  lastDetail: string | null;
  incidentId: number | null;
}

/** What alerting needs of a check (a job's "<job> job" is one too). */
type Alerted = Pick<CheckConfig, "name" | "service" | "notify" | "alerting">;

export class Agent {
  private readonly states = new Map<string, CheckState>();
  private readonly last = new Map<string, { at: number; ms: number; detail: string }>();
  private readonly running = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sending = new Set<Promise<void>>();
  private stopped = false;

  private readonly config: AgentConfig;
  private readonly store: Store;
  private readonly metrics: AgentMetrics;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly random: () => number;
  private readonly engine: EngineClient;
  /** The app's jobs (cron), run by the agent's scheduler. */
  readonly scheduler: Scheduler;

  constructor(
    config: AgentConfig,
    store: Store,
    metrics: AgentMetrics,
    options: { env?: Readonly<Record<string, string | undefined>>; random?: () => number } = {},
  ) {
    this.config = config;
    this.store = store;
    this.metrics = metrics;
    this.env = options.env ?? process.env;
    this.random = options.random ?? Math.random;
    this.engine = new EngineClient(config.engine_socket);
    this.scheduler = new Scheduler({
      jobs: config.jobs,
      store: new JobStore(store.database),
      runners: { container: new ContainerJobRunner(this.engine) },
      onResult: (job, run) => this.jobResult(job, run),
      random: this.random,
    });
  }

  start(): void {
    const saved = this.store.loadStates();
    const open = new Map(
      this.store.incidents({ openOnly: true, limit: 10_000 }).map((i) => [i.check, i]),
    );
    const alerted = [
      ...this.config.checks.flatMap((check) => [
        check.name,
        ...(check.slo === undefined ? [] : [`${check.name} error budget`]),
      ]),
      ...this.config.jobs.map(jobCheckName),
    ];
    for (const name of alerted) {
      const state = saved.get(name) ?? initialState();
      // An incident opened just before a kill may be in the store, not yet in the saved state.
      const incident = open.get(name);
      if (incident && !state.incident) {
        state.incident = {
          id: incident.id,
          openedAt: incident.openedAt,
          lastNotifiedAt: incident.openedAt,
        };
      }
      this.states.set(name, state);
    }
    for (const check of this.config.checks) {
      // A random first offset spreads a thousand checks over their interval instead of a burst.
      this.after(Math.floor(this.random() * check.interval_ms), () => this.tick(check));
    }
    this.scheduler.start().catch((error: Error) => {
      process.stderr.write(`slipway-agent: the scheduler did not start: ${error.message}\n`);
    });
    this.metrics.openIncidents.set(open.size);
    this.every(FLUSH_MS, () => this.store.flush());
    this.every(PRUNE_MS, () => this.store.prune(Date.now(), this.config.raw_retention_ms));
  }

  /** Stops scheduling, waits for running checks and notifications (bounded), writes the rest. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const deadline = Date.now() + graceMs;
    await this.scheduler.stop(graceMs);
    while ((this.running.size > 0 || this.sending.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.store.flush();
  }

  checks(): CheckView[] {
    return this.config.checks.map((check) => {
      const state = this.states.get(check.name) ?? initialState();
      const last = this.last.get(check.name);
      return {
        name: check.name,
        kind: check.kind,
        status: state.status,
        flapping: state.flapping,
        lastAt: last?.at ?? null,
        lastMs: last?.ms ?? null,
        lastDetail: last?.detail ?? null,
        incidentId: state.incident?.id ?? null,
      };
    });
  }

  /** Sends a test notice through every notifier; resolves with each one's outcome. */
  async testNotify(): Promise<{ notifier: string; ok: boolean; error: string | undefined }[]> {
    const notice: Notice = {
      event: "test",
      service: this.config.service,
      host: this.config.host,
      check: "(test)",
      severity: "info",
      message: `A test notification from the Slipway agent on ${this.config.host}`,
      at: new Date().toISOString(),
    };
    return Promise.all(
      this.config.notifiers.map(async (notifier) => {
        const outcome = await this.deliver(notifier.name, notice, undefined);
        return { notifier: notifier.name, ok: outcome.ok, error: outcome.error };
      }),
    );
  }

  private tick(check: CheckConfig): void {
    if (this.stopped) return;
    // Fixed rate: the next run is planned now, so a slow check does not drift the schedule.
    this.after(check.interval_ms, () => this.tick(check));
    if (this.running.has(check.name)) {
      this.metrics.skipped.inc({ check: check.name });
      return;
    }
    this.running.add(check.name);
    void this.run(check).finally(() => this.running.delete(check.name));
  }

  private async run(check: CheckConfig): Promise<void> {
    const result = await probe(check, this.engine);
    const at = Date.now();
    this.last.set(check.name, { at, ms: result.ms, detail: result.detail });
    this.store.addResult({
      check: check.name,
      at,
      ok: result.ok,
      ms: result.ms,
      detail: result.detail,
    });
    this.metrics.observe(check.name, result.ok, result.ms);

    this.advance(check, { ok: result.ok, at, detail: result.detail }, check.name, " is down: ");
    if (check.slo !== undefined) this.watchBudget(check, check.slo, at);
  }

  /** A finished job run: metrics, and its "<job> job" incident opened on failure, resolved on success. */
  private jobResult(job: JobConfig, run: JobRun): void {
    const at = run.endedAt ?? Date.now();
    this.metrics.observeJob(job.name, run.outcome, run.startedAt, at);
    const alerted: Alerted = {
      name: jobCheckName(job),
      ...(job.service === undefined ? {} : { service: job.service }),
      ...(job.notify === undefined ? {} : { notify: job.notify }),
      alerting: {
        open_after: 1,
        resolve_after: 1,
        remind_ms: 0,
        flap_changes: 6,
        flap_window_ms: 1_800_000,
        severity: "critical",
      },
    };
    this.advance(
      alerted,
      { ok: run.outcome === "ok", at, detail: run.detail },
      job.name,
      " failed: ",
    );
  }

  /**
   * The check's error budget as a check of its own ("web error budget"): an incident while it
   * burns too fast (see budget.ts), critical for a page, warning for a ticket. Silenced with the
   * check it belongs to.
   */
  private watchBudget(check: CheckConfig, objective: number, at: number): void {
    const verdict = burnVerdict(objective, (windowMs) =>
      this.store.errorRatio(check.name, at - windowMs),
    );
    const severity = verdict.level === "ticket" ? "warning" : "critical";
    const budgetCheck: CheckConfig = {
      ...check,
      name: `${check.name} error budget`,
      alerting: { ...check.alerting, open_after: 1, resolve_after: 1, severity },
    };
    // A budget is not down, it burns: "web error budget: burning the 99.9% error budget ...".
    const observation = { ok: verdict.level === undefined, at, detail: verdict.detail };
    this.advance(budgetCheck, observation, check.name, ": ");
  }

  /**
   * One observation of a check through its alert state: the silence of `silencedAs` applies, a
   * new incident is stored, the state is kept, and what happened is notified (an opening as
   * "<check><opening><detail>").
   */
  private advance(
    check: Alerted,
    observation: Observation,
    silencedAs: string,
    opening: string,
  ): void {
    const before = this.states.get(check.name) ?? initialState();
    const silencedUntil = this.store.silencedUntil(silencedAs, observation.at);
    const { state, events } = observe(before, observation, check.alerting, {
      ...(silencedUntil === undefined ? {} : { silencedUntil }),
      assignId: () =>
        this.store.openIncident(
          check.name,
          check.alerting.severity,
          observation.detail,
          observation.at,
        ),
    });
    this.states.set(check.name, state);
    this.store.saveState(check.name, state);
    for (const event of events) this.handle(check, event, observation.detail, opening);
  }

  private handle(check: Alerted, event: AlertEvent, detail: string, opening: string): void {
    if (event.kind === "resolve") this.store.resolveIncident(event.incidentId, event.at);
    if (event.kind === "open" || event.kind === "resolve") {
      this.metrics.openIncidents.set(
        this.store.incidents({ openOnly: true, limit: 10_000 }).length,
      );
    }
    if (event.silenced) return;
    const incidentId =
      event.kind === "open"
        ? this.states.get(check.name)?.incident?.id
        : "incidentId" in event
          ? event.incidentId
          : undefined;
    const notice: Notice = {
      event: event.kind,
      service: check.service ?? this.config.service,
      host: this.config.host,
      check: check.name,
      severity: check.alerting.severity,
      message: message(check, event, detail, opening),
      at: new Date(event.at).toISOString(),
      ...(incidentId === undefined ? {} : { incident: incidentFields(incidentId, event) }),
    };
    const targets = this.config.notifiers.filter((n) => check.notify?.includes(n.name) ?? true);
    for (const notifier of targets) {
      const sending = this.deliver(notifier.name, notice, incidentId).then(() => undefined);
      this.sending.add(sending);
      void sending.finally(() => this.sending.delete(sending));
    }
  }

  private async deliver(name: string, notice: Notice, incidentId: number | undefined) {
    const notifier = this.config.notifiers.find((n) => n.name === name);
    if (!notifier) throw new Error(`no notifier ${name}`);
    const outcome = await send(notifier, notice, {
      attempts: this.config.notify_attempts,
      backoffMs: this.config.notify_backoff_ms,
      env: this.env,
    });
    this.store.recordNotification({
      incidentId,
      notifier: name,
      event: notice.event,
      at: Date.now(),
      attempts: outcome.attempts,
      ok: outcome.ok,
      error: outcome.error,
    });
    this.metrics.notifications.inc({ notifier: name, outcome: outcome.ok ? "sent" : "failed" });
    return outcome;
  }

  private after(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }

  private every(ms: number, work: () => void): void {
    this.after(ms, () => {
      work();
      if (!this.stopped) this.every(ms, work);
    });
  }
}

/** The incident a job's failures open: "<job> job". */
function jobCheckName(job: JobConfig): string {
  return `${job.name} job`;
}

function message(check: Alerted, event: AlertEvent, detail: string, opening: string): string {
  switch (event.kind) {
    case "open":
      return `${check.name}${opening}${detail}`;
    case "remind":
      return `${check.name} is still down (since ${new Date(event.openedAt).toISOString()}): ${detail}`;
    case "resolve":
      return `${check.name} is up again after ${formatDuration(event.at - event.openedAt)}`;
    case "flapping":
      return `${check.name} is flapping (${event.changes} changes); quiet until it settles`;
  }
}

function incidentFields(id: number, event: AlertEvent): NonNullable<Notice["incident"]> {
  if (event.kind === "resolve") {
    return {
      id,
      opened_at: new Date(event.openedAt).toISOString(),
      resolved_at: new Date(event.at).toISOString(),
      duration_s: Math.round((event.at - event.openedAt) / 1000),
    };
  }
  const openedAt = event.kind === "remind" ? event.openedAt : event.at;
  return { id, opened_at: new Date(openedAt).toISOString() };
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h${m % 60}m`;
}
