/**
 * The status page: one server-rendered HTML page, no script. For each check, its state, 90 days
 * of uptime as bars (one a day, from the hourly summaries), a response-time chart of the last 24
 * hours as an inline SVG, and the open incidents. The model is also the JSON of /api/status.
 */
import type { CheckView } from "./agent.ts";
import type { HourSummary, Incident } from "./store.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
export const STATUS_DAYS = 90;

export interface StatusModel {
  host: string;
  generatedAt: number;
  checks: {
    name: string;
    status: CheckView["status"];
    lastDetail: string | null;
    /** Percent of successful runs over the 90 days (null: no runs). */
    uptime: number | null;
    /** Oldest first: each day's uptime percent, null for a day without runs. */
    days: (number | null)[];
    /** Oldest first: each of the last 24 hours' average latency in ms, null without runs. */
    latency: (number | null)[];
  }[];
  incidents: Incident[];
}

/** The model from the agent's checks and the store's summaries, at `now`. */
export function statusModel(
  host: string,
  checks: readonly CheckView[],
  summaries: (check: string, since: number) => HourSummary[],
  incidents: Incident[],
  now: number,
): StatusModel {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const firstDay = today - (STATUS_DAYS - 1) * DAY_MS;
  const thisHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const firstHour = thisHour - 23 * HOUR_MS;
  return {
    host,
    generatedAt: now,
    checks: checks.map((check) => {
      const hours = summaries(check.name, firstDay);
      const days = Array.from({ length: STATUS_DAYS }, () => ({ total: 0, ok: 0 }));
      const latency = Array.from({ length: 24 }, () => ({ total: 0, msSum: 0 }));
      for (const h of hours) {
        const day = days[Math.floor((h.hour - firstDay) / DAY_MS)];
        if (day) {
          day.total += h.total;
          day.ok += h.ok;
        }
        const slot = latency[Math.floor((h.hour - firstHour) / HOUR_MS)];
        if (slot && h.hour >= firstHour) {
          slot.total += h.total;
          slot.msSum += h.msSum;
        }
      }
      const total = days.reduce((n, d) => n + d.total, 0);
      const ok = days.reduce((n, d) => n + d.ok, 0);
      return {
        name: check.name,
        status: check.status,
        lastDetail: check.lastDetail,
        uptime: total === 0 ? null : (ok / total) * 100,
        days: days.map((d) => (d.total === 0 ? null : (d.ok / d.total) * 100)),
        latency: latency.map((l) => (l.total === 0 ? null : l.msSum / l.total)),
      };
    }),
    incidents,
  };
}

const html = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

function dayClass(uptime: number | null): string {
  if (uptime === null) return "none";
  if (uptime >= 99.9) return "good";
  return uptime >= 99 ? "fair" : "bad";
}

/** A polyline of the hours that had runs, scaled to the slowest; empty without data. */
function latencyChart(latency: readonly (number | null)[]): string {
  const points = latency.flatMap((ms, hour) => (ms === null ? [] : [{ hour, ms }]));
  if (points.length === 0) return '<p class="empty">No response times yet.</p>';
  const max = Math.max(...points.map((p) => p.ms), 1);
  const coords = points
    .map((p) => `${(p.hour * 300) / 23},${(60 - (p.ms / max) * 56).toFixed(1)}`)
    .join(" ");
  return `<svg class="latency" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="Response time over the last 24 hours, up to ${Math.round(max)} ms"><polyline points="${coords}" /></svg>`;
}

export function renderStatusPage(model: StatusModel): string {
  const down = model.checks.filter((c) => c.status === "down");
  const summary =
    down.length === 0
      ? "All checks are up"
      : `${down.length} ${down.length === 1 ? "check is" : "checks are"} down`;
  const checks = model.checks
    .map((c) => {
      const bars = c.days
        .map((u, i) => {
          const day = new Date(model.generatedAt - (STATUS_DAYS - 1 - i) * DAY_MS)
            .toISOString()
            .slice(0, 10);
          const title = u === null ? `${day}: no data` : `${day}: ${u.toFixed(2)}% up`;
          return `<span class="day ${dayClass(u)}" title="${title}"></span>`;
        })
        .join("");
      const uptime = c.uptime === null ? "no data" : `${c.uptime.toFixed(2)}% up over 90 days`;
      return `<section class="check" data-check="${html(c.name)}" data-status="${c.status}">
<h2><span class="pill ${c.status}">${c.status}</span> ${html(c.name)}</h2>
<p class="uptime">${uptime}${c.lastDetail ? ` · last: ${html(c.lastDetail)}` : ""}</p>
<div class="days" aria-label="Uptime, one bar a day, oldest first">${bars}</div>
${latencyChart(c.latency)}
</section>`;
    })
    .join("\n");
  const incidents =
    model.incidents.length === 0
      ? '<p class="empty">No open incidents.</p>'
      : `<ul>${model.incidents
          .map(
            (i) =>
              `<li class="incident" data-id="${i.id}"><strong>${html(i.check)}</strong> (${html(i.severity)}): ${html(i.cause)}, since ${new Date(i.openedAt).toISOString()}${i.acknowledgedBy ? `, acknowledged by ${html(i.acknowledgedBy)}` : ""}</li>`,
          )
          .join("")}</ul>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Status · ${html(model.host)}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #1b1f24; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.05rem; margin: 0; }
.summary { padding: .6rem .9rem; border-radius: .4rem; background: #e7f6ec; }
.summary.down { background: #fdecec; }
.check { border-top: 1px solid #e3e6ea; padding: .8rem 0; }
.pill { display: inline-block; min-width: 4.5em; text-align: center; border-radius: 1em; font-size: .8rem; color: #fff; background: #8a939d; }
.pill.up { background: #1f8b4c; } .pill.down { background: #c8322b; }
.uptime { margin: .2rem 0; color: #57606a; font-size: .9rem; }
.days { display: flex; gap: 1px; height: 2rem; }
.day { flex: 1; border-radius: 1px; background: #d0d5da; }
.day.good { background: #2da44e; } .day.fair { background: #d4a72c; } .day.bad { background: #cf222e; }
.latency { width: 100%; height: 60px; } .latency polyline { fill: none; stroke: #0969da; stroke-width: 1.5; }
.empty { color: #57606a; }
</style>
</head>
<body>
<h1>Status · ${html(model.host)}</h1>
<p class="summary${down.length > 0 ? " down" : ""}">${summary}</p>
<h2>Open incidents</h2>
${incidents}
${checks}
<p class="empty">Updated ${new Date(model.generatedAt).toISOString()}</p>
</body>
</html>
`;
}
