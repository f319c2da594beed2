/**
 * For teams who outgrow the agent's own alerting: a Prometheus scrape job for the agents and
 * alert rules that say what the agent says, from the metrics it exports. A check is down for
 * the same time the agent waits before opening an incident (open_after × interval); a check with
 * an slo gets the same two burn-rate pairs (budget.ts), one with a p95 limit its latency rule.
 * `promtool check` accepts both. Pure.
 */
import { stringify } from "yaml";
import { type AgentFragment, BURN_WINDOWS } from "../agent/index.ts";
import { AGENT_CONTAINER, AGENT_DIR, AGENT_PORT } from "./plan.ts";

export interface PrometheusFiles {
  /** prometheus.yml: the scrape job and the rules file. */
  config: string;
  /** The alert rules, one group per app. */
  rules: string;
}

/** Prometheus durations: whole seconds, minutes or hours. */
function promDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

const quote = (value: string) => JSON.stringify(value);

export function renderPrometheus(
  fragment: AgentFragment,
  options: { rulesFile?: string; tokenFile?: string } = {},
): PrometheusFiles {
  const rulesFile = options.rulesFile ?? "slipway-rules.yml";
  const config = {
    global: { scrape_interval: "30s", evaluation_interval: "30s" },
    rule_files: [rulesFile],
    scrape_configs: [
      {
        job_name: "slipway-agent",
        // A Prometheus in a container on the proxy's network reaches each host's agent by name;
        // the token is the one Slipway keeps on the host.
        authorization: { credentials_file: options.tokenFile ?? `${AGENT_DIR}/token` },
        static_configs: [{ targets: [`${AGENT_CONTAINER}:${AGENT_PORT}`] }],
      },
    ],
  };
  const rules = fragment.checks.flatMap((check) => {
    const name = `${fragment.service}/${check.name}`;
    const selector = `check=${quote(name)}`;
    // The check's name as a label too: rules differ by it, for routing and for promtool's lint.
    const labels = { severity: check.alerting.severity, service: fragment.service, check: name };
    const down = {
      alert: "SlipwayCheckDown",
      expr: `slipway_check_up{${selector}} == 0`,
      for: promDuration(check.alerting.open_after * check.interval_ms),
      labels,
      annotations: { summary: `${name} is down` },
    };
    // The agent takes the p95 of the last answers; Prometheus has the last answer's time at each
    // scrape: over the same span, close to the same.
    const slow =
      check.kind === "http" && check.p95_ms !== undefined
        ? [
            {
              alert: "SlipwayLatencyP95",
              expr: `quantile_over_time(0.95, slipway_check_last_duration_seconds{${selector}}[${promDuration(check.p95_answers * check.interval_ms)}]) > ${check.p95_ms / 1000}`,
              labels: { ...labels, severity: "warning" },
              annotations: { summary: `${name} answers slower than ${check.p95_ms}ms (p95)` },
            },
          ]
        : [];
    if (check.slo === undefined) return [down, ...slow];
    const budget = 1 - check.slo / 100;
    const ratio = (windowMs: number) => {
      const w = promDuration(windowMs);
      return `(sum(rate(slipway_check_runs_total{${selector},outcome="down"}[${w}])) / sum(rate(slipway_check_runs_total{${selector}}[${w}])))`;
    };
    const burns = BURN_WINDOWS.map((window) => ({
      alert: "SlipwayErrorBudgetBurn",
      expr: `${ratio(window.long)} > ${window.rate} * ${budget.toPrecision(6)} and ${ratio(window.short)} > ${window.rate} * ${budget.toPrecision(6)}`,
      labels: { ...labels, severity: window.level === "page" ? "critical" : "warning" },
      annotations: {
        summary: `${name} burns its ${check.slo}% error budget ${window.rate}x too fast over ${promDuration(window.long)} and ${promDuration(window.short)}`,
      },
    }));
    return [down, ...slow, ...burns];
  });
  return {
    config: stringify(config),
    rules: stringify({ groups: [{ name: `slipway-${fragment.service}`, rules }] }),
  };
}
