/**
 * The agent's status page in a real browser (headless Chromium through playwright-core): 90 days
 * of uptime bars from the agent's own SQLite history, a response-time chart, the open incident,
 * and the token it needs unless public. A screenshot is kept in test-artifacts/.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { Store } from "../../src/agent/index.ts";
import { startAgentProcess } from "../support/agent-process.ts";

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "status-token-0123456789";
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing (rig/install.sh installs Debian's chromium)`;
if (skip) console.log(`# skipped: ${skip}`);

describe("the status page in headless Chromium", { skip }, () => {
  let dir: string;
  let target: Server;
  let agent: ChildProcess;
  let browser: Browser;
  let base = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-status-"));
    target = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    const port = (target.address() as AddressInfo).port;

    // History, as the agent would have written it: 30 days of hourly runs of "web", one bad day
    // 10 days ago, and an open incident of "db".
    const now = Date.now();
    // Whole UTC days, as the bars are: the runs of "day N" fall on the bar N days before today.
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const store = new Store(join(dir, "agent.db"));
    for (let day = 30; day >= 1; day--) {
      for (let hour = 0; hour < 24; hour++) {
        const at = today - day * DAY_MS + hour * HOUR_MS + 60_000;
        const ok = !(day === 10 && hour % 2 === 0);
        store.addResult({
          check: "web",
          at,
          ok,
          ms: 20 + hour,
          detail: ok ? "HTTP 200" : "HTTP 503",
        });
      }
    }
    for (let hour = 23; hour >= 0; hour--) {
      store.addResult({
        check: "web",
        at: now - hour * HOUR_MS,
        ok: true,
        ms: 40 + hour * 3,
        detail: "HTTP 200",
      });
    }
    store.flush();
    const incident = store.openIncident(
      "db",
      "critical",
      "ECONNREFUSED <script>",
      now - 30 * 60_000,
    );
    store.saveState("db", {
      status: "down",
      failures: 3,
      successes: 0,
      incident: { id: incident, openedAt: now - 30 * 60_000, lastNotifiedAt: now },
      changes: [],
      flapping: false,
    });
    store.close();

    const started = await startAgentProcess(dir, {
      config: {
        service: "hello",
        host: "test-host",
        listen: { address: "127.0.0.1", port: 0 },
        token_env: "AGENT_TOKEN",
        checks: [
          { name: "web", kind: "http", url: `http://127.0.0.1:${port}/`, interval_ms: 60_000 },
          { name: "db", kind: "tcp", host: "127.0.0.1", port: 1, interval_ms: 60_000 },
        ],
      },
      env: { AGENT_TOKEN: TOKEN },
    });
    agent = started.child;
    base = started.base;
    // Root may not use Chromium's sandbox; the page is our own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });

  after(async () => {
    await browser?.close();
    agent?.kill("SIGKILL");
    target?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("needs the token unless public", async () => {
    const response = await fetch(`${base}/status`);
    assert.equal(response.status, 401);
  });

  it("shows 90 days of bars with the bad day, the latency chart and the open incident; kept as a screenshot", async () => {
    const context = await browser.newContext({
      extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` },
      viewport: { width: 900, height: 900 },
    });
    const page = await context.newPage();
    const response = await page.goto(`${base}/status`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), "Status · test-host");

    const web = page.locator('section[data-check="web"]');
    assert.equal(await web.locator(".day").count(), 90);
    const classes = await web.locator(".day").evaluateAll((bars) => bars.map((b) => b.className));
    // Oldest first: today is the last bar, 10 days ago the 11th from the end.
    assert.equal(classes[89], "day good", "today");
    assert.equal(classes[79], "day bad", "the day with half of its runs failed");
    assert.equal(classes[70], "day good");
    assert.equal(classes[0], "day none", "before any history");
    // 12 of 744 runs failed.
    assert.match((await web.locator(".uptime").textContent()) ?? "", /^98\.39% up over 90 days/);
    const points = await web.locator(".latency polyline").getAttribute("points");
    assert.equal(points?.split(" ").length, 24, "a point for each of the last 24 hours");

    const incident = page.locator(".incident");
    assert.equal(await incident.count(), 1);
    // Escaped: the cause is text, not markup.
    assert.match(
      (await incident.textContent()) ?? "",
      /^db \(critical\): ECONNREFUSED <script>, since /,
    );
    assert.equal(
      await page.locator('section[data-check="db"]').getAttribute("data-status"),
      "down",
    );

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "status-page.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    console.log(`# screenshot: ${shot}`);
    await context.close();
  });

  it("serves the same facts as JSON", async () => {
    const response = await fetch(`${base}/api/status`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const model = (await response.json()) as {
      checks: { name: string; days: (number | null)[] }[];
    };
    const web = model.checks.find((c) => c.name === "web");
    assert.equal(web?.days.length, 90);
    assert.equal(web?.days[79], 50);
  });
});
