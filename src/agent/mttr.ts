/**
 * Mean time to recovery from the resolved incidents: per check, and per service (the app), the
 * mean of its incidents' durations (each incident counts once, whichever check it was). Pure.
 */

export interface RecoveryRow {
  incidents: number;
  /** Mean of resolved_at - opened_at, in ms, rounded. */
  mttr_ms: number;
}

export interface RecoveryReport {
  checks: ({ check: string; service: string } & RecoveryRow)[];
  services: ({ service: string } & RecoveryRow)[];
}

export function meanTimeToRecovery(
  incidents: readonly { check: string; openedAt: number; resolvedAt: number | null }[],
  serviceOf: (check: string) => string,
): RecoveryReport {
  const byCheck = new Map<string, { service: string; n: number; sum: number }>();
  const byService = new Map<string, { n: number; sum: number }>();
  for (const incident of incidents) {
    if (incident.resolvedAt === null) continue;
    const took = incident.resolvedAt - incident.openedAt;
    const service = serviceOf(incident.check);
    const check = byCheck.get(incident.check) ?? { service, n: 0, sum: 0 };
    byCheck.set(incident.check, { service, n: check.n + 1, sum: check.sum + took });
    const app = byService.get(service) ?? { n: 0, sum: 0 };
    byService.set(service, { n: app.n + 1, sum: app.sum + took });
  }
  const row = (n: number, sum: number): RecoveryRow => ({
    incidents: n,
    mttr_ms: Math.round(sum / n),
  });
  const sorted = <T>(map: Map<string, T>) =>
    [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    checks: sorted(byCheck).map(([check, r]) => ({
      check,
      service: r.service,
      ...row(r.n, r.sum),
    })),
    services: sorted(byService).map(([service, r]) => ({ service, ...row(r.n, r.sum) })),
  };
}
