/**
 * Prometheus metrics of the agent (prom-client), on its own registry: each check's last result
 * and latency, runs by outcome, open incidents, notifications, and the agent process itself, so
 * a Prometheus that outgrows the agent scrapes the same facts it alerts on.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class AgentMetrics {
  readonly registry = new Registry();
  readonly up = new Gauge({
    name: "slipway_check_up",
    help: "1 when the check's last run succeeded, 0 when it failed.",
    labelNames: ["check"],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "slipway_check_duration_seconds",
    help: "How long each check run took.",
    labelNames: ["check"],
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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "slipway_agent_" });
  }
}
