/** The agent's mean time to recovery, for people: this app's share of one agent's report. Pure. */
import { formatDuration, type RecoveryReport } from "../agent/index.ts";

/**
 * "mean time to recovery: hello 3m over 4 incidents; web 2m (2), db 30s (1)" for the app whose
 * checks are named "<prefix><check>" (prefix "hello/"); undefined when none has recovered yet.
 */
export function recoveryLine(prefix: string, report: RecoveryReport): string | undefined {
  const app = prefix.slice(0, -1);
  const service = report.services.find((s) => s.service === app);
  if (!service) return undefined;
  const checks = report.checks
    .filter((c) => c.check.startsWith(prefix))
    .sort((a, b) => b.incidents - a.incidents || (a.check < b.check ? -1 : 1))
    .map((c) => `${c.check.slice(prefix.length)} ${formatDuration(c.mttr_ms)} (${c.incidents})`);
  const count = `${service.incidents} incident${service.incidents === 1 ? "" : "s"}`;
  return `mean time to recovery: ${app} ${formatDuration(service.mttr_ms)} over ${count}; ${checks.join(", ")}`;
}
