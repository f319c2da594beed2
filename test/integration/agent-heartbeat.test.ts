/**
 * Heartbeats through the agent process: no ping within period + grace opens an incident, a ping
 * (without the API token; the key is the secret) resolves it, a fail ping opens one at once with
 * the first line the app sent, an unknown key is refused, and the key shows nowhere: not in the
 * API, the notifications or the agent's output. A real webhook receiver gets each notice.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgentProcess } from "../support/agent-process.ts";
import {
  type NoticeReceiver,
  type ReceivedNotice,
  startNoticeReceiver,
} from "../support/notice-receiver.ts";

const KEY = "Hb_key-0123456789abcdefXYZ";
const TOKEN = "agent-token-0123456789";

describe("heartbeat checks in the agent process", () => {
  let dir: string;
  let receiver: NoticeReceiver;
  let agent: ChildProcess;
  let base = "";
  let output = () => "";
  let notices: ReceivedNotice[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-heartbeat-"));
    receiver = await startNoticeReceiver();
    notices = receiver.notices;
    await writeFile(join(dir, "backup.key"), `${KEY}\n`, { mode: 0o600 });
    const started = await startAgentProcess(dir, {
      env: { AGENT_TOKEN: TOKEN },
      config: {
        service: "hello",
        host: "h1",
        listen: { address: "127.0.0.1", port: 0 },
        token_env: "AGENT_TOKEN",
        checks: [
          {
            name: "backup",
            kind: "heartbeat",
            period_ms: 1_000,
            grace_ms: 1_000,
            interval_ms: 500,
            key_file: join(dir, "backup.key"),
            alerting: { open_after: 1, resolve_after: 1, remind_ms: 0, flap_changes: 20 },
          },
        ],
        notifiers: [{ name: "hook", kind: "webhook", url: receiver.url }],
      },
    });
    agent = started.child;
    base = started.base;
    output = started.output;
  });

  after(async () => {
    agent?.kill("SIGKILL");
    receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function waitFor(what: string, found: () => boolean, ms = 8_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!found()) {
      assert.ok(Date.now() < deadline, `${what}; got ${JSON.stringify(notices)}; ${output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("opens without a ping, resolves on one, opens at once on a fail ping, refuses other keys", async () => {
    const started = Date.now();
    await waitFor("no opening for a missed ping", () => notices.length >= 1);
    assert.ok(Date.now() - started >= 1_500, "not before period + grace");
    assert.deepEqual(
      [notices[0]?.event, notices[0]?.message],
      ["open", "backup is down: no ping yet (every 1s, grace 1s)"],
    );

    const ok = await fetch(`${base}/ping/${KEY}`);
    assert.deepEqual([ok.status, await ok.text()], [200, "OK\n"]);
    await waitFor("no resolve after a ping", () => notices.length >= 2);
    assert.equal(notices[1]?.event, "resolve");

    const failAt = Date.now();
    const fail = await fetch(`${base}/ping/${KEY}/fail`, {
      method: "POST",
      body: "pg_dump: disk full\nthe rest",
    });
    assert.equal(fail.status, 200);
    await waitFor("no opening for a fail ping", () => notices.length >= 3);
    assert.ok(Date.now() - failAt < 1_000, "a fail ping opens at once, not at the deadline");
    assert.deepEqual(
      [notices[2]?.event, notices[2]?.message],
      ["open", "backup is down: fail ping: pg_dump: disk full"],
    );
    await fetch(`${base}/ping/${KEY}`, { method: "POST" });
    await waitFor("no resolve after the fail", () => notices.length >= 4);

    // Quiet again: the deadline counts from that ping, and says so.
    await waitFor("no opening after the pings stopped", () => notices.length >= 5);
    assert.match(
      notices[4]?.message ?? "",
      /^backup is down: no ping since \d{4}-\d\d-\d\dT[\d:.]+Z \(every 1s, grace 1s\)$/,
    );

    for (const path of ["/ping/not-the-key-0123456789", "/ping/x", `/ping/${KEY}x/fail`]) {
      assert.equal((await fetch(`${base}${path}`)).status, 404, path);
    }
    assert.equal((await fetch(`${base}/api/checks`)).status, 401, "the API still needs the token");
    const auth = { authorization: `Bearer ${TOKEN}` };
    const api = await Promise.all(
      ["/api/checks", "/api/incidents", "/api/status", "/metrics"].map(async (p) =>
        (await fetch(`${base}${p}`, { headers: auth })).text(),
      ),
    );
    // Each check and each incident with its severity (the default, critical).
    const checks = JSON.parse(api[0] ?? "[]") as { name: string; kind: string; severity: string }[];
    assert.deepEqual(
      checks.map((c) => [c.name, c.kind, c.severity]),
      [["backup", "heartbeat", "critical"]],
    );
    const incidents = JSON.parse(api[1] ?? "[]") as { check: string; severity: string }[];
    assert.deepEqual(
      incidents.map((i) => [i.check, i.severity]),
      [
        ["backup", "critical"],
        ["backup", "critical"],
        ["backup", "critical"],
      ],
    );
    assert.ok(
      notices.every((n) => n.severity === "critical"),
      "severity in each notice",
    );
    for (const text of [...api, ...notices.map((n) => n.raw), output()]) {
      assert.ok(!text.includes(KEY), `the key in ${text.slice(0, 200)}`);
    }
  });

  it("restarted, counts the deadline from the last ping in its store, not from its start", async () => {
    const pingAt = Date.now();
    assert.equal((await fetch(`${base}/ping/${KEY}`)).status, 200);
    const before = notices.length;
    // Past the agent's one-second write of results, then killed.
    await new Promise((r) => setTimeout(r, 1_300));
    agent.kill("SIGKILL");
    await new Promise((r) => agent.once("exit", r));
    const restarted = await startAgentProcess(dir, { env: { AGENT_TOKEN: TOKEN } });
    agent = restarted.child;
    base = restarted.base;
    output = restarted.output;
    await waitFor("no miss after the restart", () =>
      notices.slice(before).some((n) => n.event === "open"),
    );
    const miss = notices.slice(before).find((n) => n.event === "open");
    const since = /no ping since (\S+) /.exec(miss?.message ?? "")?.[1];
    assert.ok(since, `the stored ping is the last one: ${miss?.message}`);
    assert.ok(Math.abs(Date.parse(since) - pingAt) < 1_000, `${since} is the ping before the kill`);
  });
});
