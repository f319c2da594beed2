/**
 * The agent: runs every check on its interval (spread by a random phase, checks due together
 * under one timer, never two runs of one check at once: cadence.ts), turns results into incidents, notifies, and keeps everything in the store.
 * Restarted, it reloads each check's alert state and open incident, so a kill loses at most the
 * last second of raw results (the batch not yet written), never an incident.
 */
import type { AlertEvent, CheckState, Observation, Severity } from "./alerts.ts";
import { initialState, observe } from "./alerts.ts";
import { burnVerdict } from "./budget.ts";
import { firstRunAt, nextRunAt } from "./cadence.ts";
import { CertificateJobRunner } from "./certificate-job.ts";
import type { AgentConfig, CheckConfig, JobConfig } from "./config.ts";
import { ContainerJobRunner } from "./container-job.ts";
import { EngineClient } from "./engine.ts";
import {
  type HeartbeatCheck,
  isMiss,
  keyDigest,
  loadPingKeys,
  missedDetail,
  pingDeadline,
} from "./heartbeat.ts";
import { type JobRun, JobStore } from "./job-store.ts";
import { latencyVerdict } from "./latency.ts";
import type { AgentMetrics } from "./metrics.ts";
import { type Notice, send } from "./notify.ts";
import { probe } from "./probes.ts";
import { Scheduler } from "./scheduler.ts";
import type { Store } from "./store.ts";

const FLUSH_MS = 1_000;
/** The longest wait one setTimeout holds (about 24.8 days); longer ones fire at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;
const PRUNE_MS = 3_600_000;

/** A check as the API shows it (null, not absent, where there is nothing yet: it is JSON). */
export interface CheckView {
  name: string;
  kind: string;
  /** Its open incident's severity (escalated, perhaps), else the one its incidents open with. */
  severity: Severity;
  status: CheckState["status"];
  flapping: boolean;
  lastAt: number | null;
  lastMs: number | null;
  lastDetail: string | null;
  incidentId: number | null;
  paused: boolean;
}

/** What alerting needs of a check (a job's "<job> job" is one too). */
type Alerted = Pick<CheckConfig, "name" | "service" | "notify" | "alerting">;

export class Agent {
  private readonly states = new Map<string, CheckState>();
  private readonly last = new Map<string, { at: number; ms: number; detail: string }>();
  private readonly running = new Set<string>();
  /** The checks that run, by name; a timer of a check no longer here (replaced, removed) ends. */
  private readonly active = new Map<string, CheckConfig>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The check runs due at each instant (cadence.ts), under one timer per instant. */
  private readonly instants = new Map<number, (() => void)[]>();
  private readonly sending = new Set<Promise<void>>();
  private stopped = false;
  private pingKeys = new Map<string, HeartbeatCheck>();
  /** The last answers' times of each check with a p95 limit, newest last. */
  private readonly latencies = new Map<string, number[]>();
  /** Each heartbeat's last ping (or the agent's start, before the first). */
  private readonly lastPing = new Map<string, { at: number; pinged: boolean }>();

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
    const containers = new ContainerJobRunner(this.engine);
    this.scheduler = new Scheduler({
      jobs: config.jobs,
      store: new JobStore(store.database),
      runners: {
        container: containers,
        runner: containers,
        certificate: new CertificateJobRunner(this.engine),
      },
      onResult: (job, run) => this.jobResult(job, run),
      random: this.random,
    });
  }

  start(): void {
    this.pingKeys = loadPingKeys(this.config.checks);
    const saved = this.store.loadStates();
    const open = new Map(
      this.store.incidents({ openOnly: true, limit: 10_000 }).map((i) => [i.check, i]),
    );
    const restore = (name: string) => {
      const state = saved.get(name) ?? initialState();
      // An incident opened just before a kill may be in the store, not yet in the saved state.
      const incident = open.get(name);
      if (incident && !state.incident) {
        state.incident = {
          id: incident.id,
          openedAt: incident.openedAt,
          lastNotifiedAt: incident.openedAt,
          severity: incident.severity as Severity,
        };
      }
      this.states.set(name, state);
    };
    for (const job of this.config.jobs) {
      restore(jobCheckName(job));
      if (job.stale_ms !== undefined) restore(staleName(job));
    }
    for (const check of this.config.checks) {
      this.active.set(check.name, check);
      const names = [
        check.name,
        ...(check.slo === undefined ? [] : [`${check.name} error budget`]),
        ...(check.kind === "http" && check.p95_ms !== undefined ? [`${check.name} latency`] : []),
      ];
      if (check.kind === "http" && check.p95_ms !== undefined) {
        // The window's answers survive a restart: the store has them.
        const recent = this.store.recentResults(check.name, check.p95_answers);
        this.latencies.set(check.name, recent.map((r) => r.ms).reverse());
      }
      for (const name of names) restore(name);
      this.schedule(check);
    }
    this.scheduler.start().catch((error: Error) => {
      process.stderr.write(`slipway-agent: the scheduler did not start: ${error.message}\n`);
    });
    const startedAt = Date.now();
    for (const job of this.config.jobs) {
      if (job.stale_ms !== undefined) this.watchStale(job, job.stale_ms, startedAt);
    }
    this.metrics.openIncidents.set(open.size);
    this.every(FLUSH_MS, () => this.store.flush());
    this.every(PRUNE_MS, () => this.store.prune(Date.now(), this.config.raw_retention_ms));
  }

  /** Stops scheduling, waits for running checks and notifications (bounded), writes the rest. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.instants.clear();
    const deadline = Date.now() + graceMs;
    await this.scheduler.stop(graceMs);
    while ((this.running.size > 0 || this.sending.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    this.store.flush();
  }

  /** Runs `check` from now on instead of the check of its name, or as a new one. */
  setCheck(check: CheckConfig): void {
    // A heartbeat's key file is read first: a bad one refuses the change before anything moves.
    const others = [...this.active.values()].filter((c) => c.name !== check.name);
    this.pingKeys = loadPingKeys([...others, check]);
    if (!this.active.has(check.name)) this.states.set(check.name, initialState());
    this.active.set(check.name, check);
    this.schedule(check);
  }

  /** Stops running a check; its open incidents are resolved (no notice: nobody watches it now). */
  removeCheck(name: string): void {
    this.active.delete(name);
    this.pingKeys = loadPingKeys([...this.active.values()]);
    this.last.delete(name);
    for (const state of [name, `${name} error budget`, `${name} latency`]) {
      const incident = this.states.get(state)?.incident;
      if (incident) this.store.resolveIncident(incident.id, Date.now());
      this.states.delete(state);
    }
    this.metrics.openIncidents.set(this.store.incidents({ openOnly: true, limit: 10_000 }).length);
  }

  private schedule(check: CheckConfig): void {
    if (check.paused) return;
    if (check.kind === "heartbeat") {
      this.watchHeartbeat(check, Date.now());
      return;
    }
    // A random first phase spreads a thousand checks over their interval instead of a burst.
    const dueAt = firstRunAt(performance.now(), check.interval_ms, this.random);
    this.at(dueAt, () => this.tick(check, dueAt));
  }

  checks(): CheckView[] {
    return [...this.active.values()].map((check) => {
      const state = this.states.get(check.name) ?? initialState();
      const last = this.last.get(check.name);
      return {
        name: check.name,
        kind: check.kind,
        severity: state.incident?.severity ?? check.alerting.severity,
        status: state.status,
        flapping: state.flapping,
        lastAt: last?.at ?? null,
        lastMs: last?.ms ?? null,
        lastDetail: last?.detail ?? null,
        incidentId: state.incident?.id ?? null,
        paused: check.paused ?? false,
      };
    });
  }

  /**
   * The service (app) a check's incidents belong to: its own, or its budget's check's; for a
   * check no longer configured, the app its "<app>/<name>" says, else the agent's.
   */
  serviceOf(checkName: string): string {
    const base = checkName.replace(/ (error budget|latency)$/, "");
    const check = this.config.checks.find((c) => c.name === base);
    if (check) return check.service ?? this.config.service;
    const slash = base.indexOf("/");
    return slash > 0 ? base.slice(0, slash) : this.config.service;
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

  private tick(check: CheckConfig, dueAt: number): void {
    if (this.stopped || this.active.get(check.name) !== check) return;
    // Fixed rate: the next run is planned now, from this one's due time.
    const next = nextRunAt(dueAt, check.interval_ms, performance.now());
    this.at(next, () => this.tick(check, next));
    if (this.running.has(check.name)) {
      this.metrics.skipped.inc({ check: check.name });
      return;
    }
    this.running.add(check.name);
    void this.run(check).finally(() => this.running.delete(check.name));
  }

  /**
   * A ping of the heartbeat whose key this is (ok: /ping/<key>, else /ping/<key>/fail); its
   * check's name, or undefined for a key of no check.
   */
  ping(key: string, ok: boolean, detail: string): string | undefined {
    const check = this.pingKeys.get(keyDigest(key));
    if (!check || this.stopped) return undefined;
    const at = Date.now();
    this.lastPing.set(check.name, { at, pinged: true });
    this.record(check, { ok, ms: 0, detail }, at);
    return check.name;
  }

  /**
   * Watches a heartbeat's deadline: its last ping (from the store after a restart) plus period
   * and grace. Past it, a failure, counted again every interval while no ping comes.
   */
  private watchHeartbeat(check: HeartbeatCheck, startedAt: number): void {
    // After a restart: the last ping and the last miss from the store (a miss is not a ping).
    const recent = this.store.recentResults(check.name, 100);
    const pinged = recent.find((r) => !isMiss(r.detail));
    this.lastPing.set(
      check.name,
      pinged ? { at: pinged.at, pinged: true } : { at: startedAt, pinged: false },
    );
    let missedAt = recent[0] && isMiss(recent[0].detail) ? recent[0].at : undefined;
    const look = () => {
      // A check replaced or removed through the API stops its old watch.
      if (this.stopped || this.active.get(check.name) !== check) return;
      const now = Date.now();
      const last = this.lastPing.get(check.name) ?? { at: startedAt, pinged: false };
      const due = Math.max(pingDeadline(check, last.at), (missedAt ?? 0) + check.interval_ms);
      if (now < due) {
        this.after(due - now, look);
        return;
      }
      missedAt = now;
      this.record(
        check,
        { ok: false, ms: 0, detail: missedDetail(check, last.at, last.pinged) },
        now,
      );
      this.after(check.interval_ms, look);
    };
    look();
  }

  private async run(check: CheckConfig): Promise<void> {
    const result = await probe(check, this.engine);
    this.record(check, result, Date.now());
  }

  /** One result of a check: kept, measured, and through its alert state (and its budget's). */
  private record(
    check: CheckConfig,
    result: { ok: boolean; ms: number; detail: string },
    at: number,
  ): void {
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
    if (check.kind === "http" && check.p95_ms !== undefined) {
      this.watchLatency(check, check.p95_ms, result.ms, at);
    }
  }

  /** The p95 of the check's last answers as a check of its own ("web latency", latency.ts). */
  private watchLatency(
    check: Extract<CheckConfig, { kind: "http" }>,
    limitMs: number,
    ms: number,
    at: number,
  ): void {
    const answers = check.p95_answers;
    const times = [...(this.latencies.get(check.name) ?? []), ms].slice(-answers);
    this.latencies.set(check.name, times);
    const verdict = latencyVerdict(times, limitMs, answers);
    if (verdict) this.advanceDerived(check, "latency", { ...verdict, at });
  }

  /**
   * An alert derived from a check's results (its budget, its latency), "<check> <what>": opened
   * and resolved by one observation each, a warning unless the observation says otherwise, and
   * silenced with the check it belongs to.
   */
  private advanceDerived(check: CheckConfig, what: string, observation: Observation): void {
    const derived: CheckConfig = {
      ...check,
      name: `${check.name} ${what}`,
      alerting: { ...check.alerting, open_after: 1, resolve_after: 1, severity: "warning" },
    };
    // Not down: "web latency: p95 620ms ...", "web error budget: burning the 99.9% ...".
    this.advance(derived, observation, check.name, ": ");
  }

  /** A finished job run: metrics, and its "<job> job" incident opened on failure, resolved on success. */
  private jobResult(job: JobConfig, run: JobRun): void {
    const at = run.endedAt ?? Date.now();
    this.metrics.observeJob(job.name, run.outcome, run.startedAt, at);
    const ok = run.outcome === "ok";
    this.advance(
      jobAlerted(job, jobCheckName(job)),
      { ok, at, detail: run.detail },
      job.name,
      " failed: ",
    );
    // A success ends staleness at once; the watch then measures from it.
    if (ok && job.stale_ms !== undefined)
      this.advance(jobAlerted(job, staleName(job)), { ok, at, detail: run.detail }, job.name, ": ");
  }

  /**
   * A job that must succeed at least every `staleMs` (a backup): its last good run (or the
   * agent's start, for a job that never ran) plus that much, passed without a new one, opens
   * "<job> stale", and counts again every hour while it stays so; the next good run resolves it.
   */
  private watchStale(job: JobConfig, staleMs: number, startedAt: number): void {
    const look = () => {
      if (this.stopped) return;
      const now = Date.now();
      const last = this.scheduler.lastGood(job.name) ?? startedAt;
      const due = last + staleMs;
      if (now < due) {
        this.after(due - now, look);
        return;
      }
      const detail = `no successful run since ${new Date(last).toISOString()} (expected within ${formatDuration(staleMs)})`;
      this.advance(jobAlerted(job, staleName(job)), { ok: false, at: now, detail }, job.name, ": ");
      this.after(Math.min(staleMs, 3_600_000), look);
    };
    look();
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
    // A ticket that starts to page escalates its incident to critical (alerts.ts).
    this.advanceDerived(check, "error budget", {
      ok: verdict.level === undefined,
      at,
      detail: verdict.detail,
      severity: verdict.level === "page" ? "critical" : "warning",
    });
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
          observation.severity ?? check.alerting.severity,
          observation.detail,
          observation.at,
        ),
    });
    this.states.set(check.name, state);
    this.store.saveState(check.name, state);
    // Each notice carries its incident's severity (an escalated one's new one).
    const severity =
      (state.incident ?? before.incident)?.severity ??
      observation.severity ??
      check.alerting.severity;
    for (const event of events) this.handle(check, event, observation.detail, opening, severity);
  }

  private handle(
    check: Alerted,
    event: AlertEvent,
    detail: string,
    opening: string,
    severity: string,
  ): void {
    if (event.kind === "resolve") this.store.resolveIncident(event.incidentId, event.at);
    if (event.kind === "escalate") this.store.setIncidentSeverity(event.incidentId, event.to);
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
      severity,
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

  /** Runs `work` in `ms`; a wait past what one timer holds (24.8 days) is taken in steps. */
  private after(ms: number, work: () => void): void {
    const step = Math.min(ms, LONGEST_TIMER_MS);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (ms > step) this.after(ms - step, work);
      else work();
    }, step);
    this.timers.add(timer);
  }

  /** Runs `work` at `dueAt` (performance.now()) with all else due then, under one timer. */
  private at(dueAt: number, work: () => void): void {
    const due = this.instants.get(dueAt);
    if (due) {
      due.push(work);
      return;
    }
    const works = [work];
    this.instants.set(dueAt, works);
    this.after(Math.max(0, Math.ceil(dueAt - performance.now())), () => {
      this.instants.delete(dueAt);
      for (const w of works) w();
    });
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

/** The incident a job's lack of success opens: "<job> stale". */
function staleName(job: JobConfig): string {
  return `${job.name} stale`;
}

/** A job's incident as alerting sees it: opened by one observation, resolved by one. */
function jobAlerted(job: JobConfig, name: string): Alerted {
  return {
    name,
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
    case "escalate":
      return `${check.name} is now ${event.to} (was ${event.from}): ${detail}`;
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
  const openedAt = event.kind === "remind" || event.kind === "escalate" ? event.openedAt : event.at;
  return { id, opened_at: new Date(openedAt).toISOString() };
}

/** A duration for people: "45s", "12m", "3h5m". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h${m % 60}m`;
}
