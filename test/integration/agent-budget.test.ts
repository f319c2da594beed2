/**
 * Error-budget burn through the agent process: with an hour of good history in its store, a
 * target that starts failing opens the check's incident after 3 failures, and the budget's alert
 * only once the 6 hours and the 30 minutes both burn 6 times the 99.9% budget (the 5th failure
 * against 720 good runs): a ticket, "<check> error budget", to the webhook; once the hour and 5
 * minutes burn 14.4x (the 11th failure), the same incident becomes critical, notified at once.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Store } from "../../src/agent/index.ts";
import { startAgentProcess } from "../support/agent-process.ts";
import {
  listen,
  type NoticeReceiver,
  type ReceivedNotice,
  startNoticeReceiver,
} from "../support/notice-receiver.ts";

describe("error-budget burn alerts in the agent process", () => {
  let dir: string;
  let target: Server;
  let receiver: NoticeReceiver;
  let agent: ChildProcess;
  let output = () => "";
  let notices: ReceivedNotice[] = [];
  const failures: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-budget-"));
    target = createServer((_req, res) => {
      failures.push(Date.now());
      res.writeHead(503).end();
    });
    receiver = await startNoticeReceiver();
    notices = receiver.notices;
    const targetPort = await listen(target);

    // The last hour: a good run every 5 seconds.
    const store = new Store(join(dir, "agent.db"));
    const now = Date.now();
    for (let i = 1; i <= 720; i++) {
      store.addResult({ check: "web", at: now - i * 5_000, ok: true, ms: 10, detail: "HTTP 200" });
    }
    store.close();

    const started = await startAgentProcess(dir, {
      config: {
        service: "hello",
        host: "h1",
        listen: { address: "127.0.0.1", port: 0 },
        checks: [
          {
            name: "web",
            kind: "http",
            url: `http://127.0.0.1:${targetPort}/`,
            interval_ms: 100,
            slo: 99.9,
            alerting: { open_after: 3, resolve_after: 2, remind_ms: 0 },
          },
        ],
        notifiers: [{ name: "hook", kind: "webhook", url: receiver.url }],
      },
    });
    agent = started.child;
    output = started.output;
  });

  after(async () => {
    agent?.kill("SIGKILL");
    target?.close();
    receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("alerts on the budget only once both windows burn 6x, after the check's own incident", async () => {
    const deadline = Date.now() + 15_000;
    while (!notices.some((n) => n.check === "web error budget")) {
      assert.ok(
        Date.now() < deadline,
        `no budget alert; agent said: ${output()}; got ${JSON.stringify(notices)}`,
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    const down = notices.find((n) => n.check === "web");
    const budget = notices.find((n) => n.check === "web error budget");
    assert.ok(down && budget);
    assert.ok(down.at <= budget.at, "the check's incident comes first");
    const failedBefore = failures.filter((t) => t <= budget.at).length;
    // 5 of 725 runs is 0.69%: 6.9x the budget over 6 hours; 4 would be 5.5x.
    assert.ok(failedBefore >= 5, `alerted after ${failedBefore} failures`);
    assert.equal(budget.severity, "warning", "a ticket, not yet a page");
    assert.match(
      budget.message,
      /^web error budget: burning the 99\.9% error budget \d+\.\dx over 6h \(and \d+\.\dx over 30m\)$/,
    );
  });

  it("escalates the same incident to critical once the hour and 5 minutes burn 14.4x", async () => {
    const deadline = Date.now() + 15_000;
    const budget = () => notices.filter((n) => n.check === "web error budget");
    while (!budget().some((n) => n.event === "escalate")) {
      assert.ok(Date.now() < deadline, `no escalation; got ${JSON.stringify(notices)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [opened, escalated] = budget();
    assert.deepEqual(
      [opened?.event, opened?.severity, escalated?.event, escalated?.severity],
      ["open", "warning", "escalate", "critical"],
    );
    assert.equal(escalated?.incident?.id, opened?.incident?.id, "the same incident");
    assert.match(
      escalated?.message ?? "",
      /^web error budget is now critical \(was warning\): burning the 99\.9% error budget \d+\.\dx over 1h \(and \d+\.\dx over 5m\)$/,
    );
    // 11 of 731 runs is 1.5%, 15x the budget over the hour; 10 would be 13.9x.
    const failedBefore = failures.filter((t) => t <= (escalated?.at ?? 0)).length;
    assert.ok(failedBefore >= 11, `escalated after ${failedBefore} failures`);
    // The store holds one budget incident, critical now (a reader beside the running agent).
    const store = new Store(join(dir, "agent.db"));
    const incidents = store.incidents().filter((i) => i.check === "web error budget");
    store.close();
    assert.deepEqual(
      incidents.map((i) => [i.id, i.severity, i.resolvedAt]),
      [[opened?.incident?.id, "critical", null]],
    );
  });
});
