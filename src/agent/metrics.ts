/**
 * Prometheus metrics of the agent (prom-client), on its own registry: each check's last result
 * and latency, runs by outcome, open incidents, notifications, and the agent process's own memory
 * and CPU, so a Prometheus that outgrows the agent scrapes the same facts it alerts on.
 */
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import Histogram from "prom-client/lib/histogram.js";
import Registry from "prom-client/lib/registry.js";

export class AgentMetrics {
  readonly registry = new Registry();
  readonly up = new Gauge({
    name: "slipway_check_up",
    help: "1 when the check's last run succeeded, 0 when it failed.",
    labelNames: ["check"],
    registers: [this.registry],
  });
  readonly lastDuration = new Gauge({
    name: "slipway_check_last_duration_seconds",
    help: "How long the check's last run took.",
    labelNames: ["check"],
    registers: [this.registry],
  });
  // One histogram for all checks: per-check buckets would cost memory for little (per-check
  // latency is in the gauge above and in the agent's own summaries).
  readonly latency = new Histogram({
    name: "slipway_check_duration_seconds",
    help: "How long check runs took, over all checks.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly runs = new Counter({
    name: "slipway_check_runs_total",
    help: "Check runs by outcome.",
    labelNames: ["check", "outcome"],
    registers: [this.registry],
  });
  readonly skipped = new Counter({
    name: "slipway_check_skipped_total",
    help: "Runs skipped because the previous one had not finished.",
    labelNames: ["check"],
    registers: [this.registry],
  });
  readonly openIncidents = new Gauge({
    name: "slipway_incidents_open",
    help: "Incidents open now.",
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: "slipway_notifications_total",
    help: "Notifications by notifier and outcome.",
    labelNames: ["notifier", "outcome"],
    registers: [this.registry],
  });

  readonly jobRuns = new Counter({
    name: "slipway_job_runs_total",
    help: "Job runs by outcome (ok, failed, timeout, interrupted, missed).",
    labelNames: ["job", "outcome"],
    registers: [this.registry],
  });
  readonly jobDuration = new Gauge({
    name: "slipway_job_last_duration_seconds",
    help: "How long the job's last run took.",
    labelNames: ["job"],
    registers: [this.registry],
  });
  readonly jobLastSuccess = new Gauge({
    name: "slipway_job_last_success_timestamp_seconds",
    help: "When the job's last successful run ended (Unix time).",
    labelNames: ["job"],
    registers: [this.registry],
  });

  constructor() {
    new Gauge({
      name: "slipway_agent_resident_memory_bytes",
      help: "The agent's resident memory.",
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    new Counter({
      name: "slipway_agent_cpu_seconds_total",
      help: "CPU time the agent has used (user and system).",
      registers: [this.registry],
      collect() {
        const { user, system } = process.cpuUsage();
        this.reset();
        this.inc((user + system) / 1e6);
      },
    });
  }

  /** One finished job run. */
  observeJob(job: string, outcome: string, startedAt: number, endedAt: number): void {
    this.jobRuns.inc({ job, outcome });
    this.jobDuration.set({ job }, (endedAt - startedAt) / 1000);
    if (outcome === "ok") this.jobLastSuccess.set({ job }, Math.round(endedAt / 1000));
  }

  /** One check run. */
  observe(check: string, ok: boolean, ms: number): void {
    this.up.set({ check }, ok ? 1 : 0);
    this.lastDuration.set({ check }, ms / 1000);
    this.latency.observe(ms / 1000);
    this.runs.inc({ check, outcome: ok ? "up" : "down" });
  }
}
