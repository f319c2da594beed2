/** What `slipway prune` found (and removed) on each host, as data and as text for people. */
import { isEmptyPrune, type PrunePlan } from "./prune/index.ts";

export interface HostPrune {
  host: string;
  /** Absent when the host could not be read. */
  plan?: PrunePlan;
  error?: string;
}

export interface PruneReport {
  site: string;
  /** Whether the plans were carried out. */
  applied: boolean;
  hosts: HostPrune[];
}

/** Every host failed or not, for the exit code. */
export function pruneOk(report: PruneReport): boolean {
  return report.hosts.every((h) => h.error === undefined);
}

/** Per host: what goes (or went), what is kept; then how to apply it when it was only listed. */
export function renderPrune(report: PruneReport): string {
  const lines: string[] = [];
  let anything = false;
  for (const { host, plan, error } of report.hosts) {
    if (!plan) {
      lines.push(`${host}: could not be read: ${error ?? "no answer"}`);
      continue;
    }
    const kept = plan.kept.map((k) => `${k.role} ${k.versions.join(", ") || "nothing"}`).join("; ");
    if (isEmptyPrune(plan)) {
      lines.push(`${host}: nothing to prune (keeping ${kept})`);
      continue;
    }
    anything = true;
    lines.push(`${host}: ${report.applied ? "removed" : "would remove"}:`);
    const groups: [string, string[]][] = [
      ["stopped containers", plan.containers],
      ["env files", plan.envFiles],
      ["images", plan.images],
      ["dangling images", plan.dangling.map((id) => id.replace(/^sha256:/, "").slice(0, 12))],
    ];
    for (const [what, items] of groups) {
      if (items.length > 0) lines.push(`  ${what}: ${items.join(", ")}`);
    }
    lines.push(`  keeping: ${kept}`);
  }
  if (anything && !report.applied)
    lines.push("", "Nothing was removed: run again with --yes to remove these.");
  return lines.join("\n");
}
