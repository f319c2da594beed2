/**
 * A maintenance window through the agent process: a silence that starts later (starts_at) lets
 * notifications through until it starts, then holds them while incidents are still recorded; a
 * bad start is refused. A real target on loopback fails on demand; a real receiver gets notices.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Incident } from "../../src/agent/index.ts";
import { startAgentProcess } from "../support/agent-process.ts";
import {
  listen,
  type NoticeReceiver,
  type ReceivedNotice,
  startNoticeReceiver,
} from "../support/notice-receiver.ts";

const TOKEN = "agent-token-0123456789";
const LEAD_MS = 4_000;

describe("a maintenance window in the agent process", () => {
  let dir: string;
  let target: Server;
  let receiver: NoticeReceiver;
  let agent: ChildProcess;
  let base = "";
  let status = 200;
  let notices: ReceivedNotice[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, value: (await res.json()) as unknown };
  };
  const until = async (what: string, found: () => boolean | Promise<boolean>, ms = 5_000) => {
    const deadline = Date.now() + ms;
    while (!(await found())) {
      assert.ok(Date.now() < deadline, `${what}; got ${JSON.stringify(notices)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-window-"));
    target = createServer((_req, res) => res.writeHead(status).end());
    receiver = await startNoticeReceiver();
    notices = receiver.notices;
    const targetPort = await listen(target);
    const started = await startAgentProcess(dir, {
      env: { AGENT_TOKEN: TOKEN },
      config: {
        service: "hello",
        host: "h1",
        listen: { address: "127.0.0.1", port: 0 },
        token_env: "AGENT_TOKEN",
        checks: [
          {
            name: "web",
            kind: "http",
            url: `http://127.0.0.1:${targetPort}/`,
            interval_ms: 100,
            alerting: { open_after: 1, resolve_after: 1, remind_ms: 0 },
          },
        ],
        notifiers: [{ name: "hook", kind: "webhook", url: receiver.url }],
      },
    });
    agent = started.child;
    base = started.base;
  });

  after(async () => {
    agent?.kill("SIGKILL");
    target?.close();
    receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("notifies until the window starts, then records incidents without a word", async () => {
    const startsAt = new Date(Date.now() + LEAD_MS).toISOString();
    const made = await api("POST", "/api/silences", {
      check: "web",
      minutes: 10,
      reason: "database upgrade",
      starts_at: startsAt,
    });
    assert.equal(made.status, 201);
    const { id, from } = made.value as { id: number; from: string };
    assert.equal(from, startsAt);
    const listed = (await api("GET", "/api/silences")).value as { id: number; startsAt: number }[];
    assert.deepEqual(
      listed.map((s) => [s.id, s.startsAt]),
      [[id, Date.parse(startsAt)]],
      "a window to come is listed",
    );

    // Before the window: an incident is notified.
    status = 503;
    await until("no open notice before the window", () => notices.length >= 1);
    assert.ok(notices[0] && notices[0].at < Date.parse(startsAt), "notified before the window");
    await until(
      "the window did not start",
      () => Date.now() > Date.parse(startsAt) + 200,
      LEAD_MS + 1_000,
    );

    // In it: resolved and opened again, recorded, nothing sent.
    status = 200;
    const open = async () =>
      ((await api("GET", "/api/incidents?open=1")).value as Incident[]).length;
    await until("not resolved in the window", async () => (await open()) === 0);
    status = 503;
    await until("no new incident in the window", async () => (await open()) === 1);
    await new Promise((r) => setTimeout(r, 500));
    const all = (await api("GET", "/api/incidents")).value as Incident[];
    assert.equal(all.length, 2, "both incidents are recorded");
    assert.deepEqual(
      notices.map((n) => n.event),
      ["open"],
      "nothing sent in the window",
    );

    const refused = await api("POST", "/api/silences", {
      check: "web",
      minutes: 5,
      starts_at: "next tuesday",
    });
    assert.deepEqual(refused, {
      status: 400,
      value: { error: "starts_at must be a time (RFC 3339) within the next 30 days" },
    });
    status = 200;
  });
});
