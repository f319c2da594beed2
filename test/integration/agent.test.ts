/**
 * The agent as a real process against real HTTP servers: a target made to fail and recover, a
 * webhook receiver and an SMTP server that must get the alert (signed, for the webhook) and the
 * resolve notice within interval × the failures that open an incident. Acknowledge, silence and test-notify go through its API with a
 * token; /metrics too. Killed with SIGKILL while an incident is open, the restarted agent carries
 * on with the same incident and its schedule.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SMTPServer } from "smtp-server";
import { type Incident, signature } from "../../src/agent/index.ts";
import { startAgentProcess } from "../support/agent-process.ts";

const TOKEN = "agent-token-0123456789";
const HOOK_KEY = "hook-key-abcdef";
const INTERVAL_MS = 200;

interface Received {
  event: string;
  body: Record<string, unknown>;
  signed: boolean;
  at: number;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

describe("the agent process against a real target and a real webhook receiver", () => {
  let dir: string;
  let target: Server;
  let receiver: Server;
  let targetStatus = 200;
  let receiverStatus = 200;
  const received: Received[] = [];
  let agent: ChildProcess | undefined;
  let agentOutput = "";
  let apiPort = 0;

  async function startAgent(): Promise<void> {
    const started = await startAgentProcess(dir, { env: { AGENT_TOKEN: TOKEN, HOOK_KEY } });
    agent = started.child;
    agentOutput = "";
    started.child.stdout?.on("data", (c) => {
      agentOutput += c;
    });
    apiPort = Number(new URL(started.base).port);
  }

  async function api(method: string, path: string, body?: unknown, token = TOKEN) {
    const response = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, text, json: () => JSON.parse(text) as unknown };
  }

  async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      assert.ok(Date.now() < deadline, `waited ${ms}ms for ${what}; agent said: ${agentOutput}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const events = (kind: string) => received.filter((r) => r.event === kind);
  let smtp: SMTPServer;
  const mails: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-agent-"));
    target = createServer((_req, res) => {
      res
        .writeHead(targetStatus, { "content-type": "text/plain" })
        .end(`status ${targetStatus} ready`);
    });
    receiver = createServer(async (req, res) => {
      const body = await readBody(req);
      const timestamp = String(req.headers["x-slipway-timestamp"]);
      received.push({
        event: String(req.headers["x-slipway-event"]),
        body: JSON.parse(body) as Record<string, unknown>,
        signed: req.headers["x-slipway-signature"] === signature(HOOK_KEY, timestamp, body),
        at: Date.now(),
      });
      res.writeHead(receiverStatus).end();
    });
    smtp = new SMTPServer({
      disabledCommands: ["STARTTLS", "AUTH"],
      onData(stream, _session, done) {
        let data = "";
        stream.on("data", (c: Buffer) => {
          data += c;
        });
        stream.on("end", () => {
          mails.push(data);
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    const targetPort = await listen(target);
    const receiverPort = await listen(receiver);
    await writeFile(
      join(dir, "agent.json"),
      JSON.stringify({
        service: "hello",
        host: "test-host",
        listen: { address: "127.0.0.1", port: 0 },
        token_env: "AGENT_TOKEN",
        notify_attempts: 3,
        notify_backoff_ms: 50,
        checks: [
          {
            name: "web",
            kind: "http",
            url: `http://127.0.0.1:${targetPort}/up`,
            keyword: "ready",
            interval_ms: INTERVAL_MS,
            timeout_ms: 1_000,
            alerting: { open_after: 3, resolve_after: 2, remind_ms: 0 },
          },
          {
            name: "port",
            kind: "tcp",
            host: "127.0.0.1",
            port: targetPort,
            interval_ms: INTERVAL_MS,
          },
        ],
        notifiers: [
          {
            name: "mail",
            kind: "email",
            to: ["ops@example.com"],
            from: "agent@example.com",
            smtp_url: `smtp://127.0.0.1:${smtpPort}`,
          },
          {
            name: "hook",
            kind: "webhook",
            url: `http://127.0.0.1:${receiverPort}/hook`,
            secret_env: "HOOK_KEY",
          },
        ],
      }),
    );
    await startAgent();
  });

  after(async () => {
    agent?.kill("SIGKILL");
    target?.close();
    receiver?.close();
    smtp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("refuses its API without the token, but answers /healthz", async () => {
    assert.equal((await api("GET", "/api/checks", undefined, "wrong")).status, 401);
    assert.equal((await api("GET", "/metrics", undefined, "")).status, 401);
    const health = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
    assert.equal(health.status, 200);
  });

  it("sees both checks up, and says so in /metrics", async () => {
    let checks: { name: string; status: string }[] = [];
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      checks = (await api("GET", "/api/checks")).json() as typeof checks;
      if (checks.every((c) => c.status === "up")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      checks.map((c) => [c.name, c.status]),
      [
        ["web", "up"],
        ["port", "up"],
      ],
    );
    const metrics = await api("GET", "/metrics");
    assert.match(metrics.text, /^slipway_check_up\{check="web"\} 1$/m);
    assert.match(metrics.text, /^slipway_check_runs_total\{check="port",outcome="up"\} \d+$/m);
    assert.match(metrics.text, /^slipway_agent_resident_memory_bytes \d+/m);
  });

  it("opens an incident after 3 failures and notifies once, signed, within interval × 3 (plus one)", async () => {
    const failedAt = Date.now();
    targetStatus = 503;
    await until(() => events("open").length > 0, INTERVAL_MS * 4 + 1_000, "the open notice");
    const [open] = events("open");
    assert.ok(open);
    assert.ok(open.signed, "the signature checks out with the key");
    assert.equal(open.body.check, "web");
    assert.equal(open.body.severity, "critical");
    assert.match(String(open.body.message), /^web is down: HTTP 503$/);
    await until(() => mails.length > 0, 5_000, "the alert by e-mail");
    assert.match(mails[0] ?? "", /^Subject: \[Slipway\] web is down: HTTP 503\r$/m);
    assert.ok(open.at - failedAt >= INTERVAL_MS * 2, "not before the third failure");
    // The TCP check of the same server still connects: no incident for it.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 3));
    assert.equal(events("open").length, 1, "one notice, not one per failure");
    const incidents = (await api("GET", "/api/incidents?open=1")).json() as {
      id: number;
      check: string;
    }[];
    assert.deepEqual(
      incidents.map((i) => i.check),
      ["web"],
    );
  });

  it("acknowledges through the API, once", async () => {
    const [incident] = (await api("GET", "/api/incidents?open=1")).json() as { id: number }[];
    assert.ok(incident);
    const ack = await api("POST", `/api/incidents/${incident.id}/ack`, { by: "ana" });
    assert.equal(ack.status, 200, ack.text);
    assert.equal(
      (await api("POST", `/api/incidents/${incident.id}/ack`, { by: "ana" })).status,
      404,
    );
    const [after] = (await api("GET", "/api/incidents?open=1")).json() as {
      acknowledgedBy: string;
    }[];
    assert.equal(after?.acknowledgedBy, "ana");
  });

  it("killed while the incident is open, the restarted agent resolves that same incident", async () => {
    const [incident] = (await api("GET", "/api/incidents?open=1")).json() as { id: number }[];
    assert.ok(incident);
    agent?.kill("SIGKILL");
    await new Promise((r) => agent?.once("exit", r));
    targetStatus = 200;
    await startAgent();
    await until(() => events("resolve").length > 0, INTERVAL_MS * 3 + 2_000, "the resolve notice");
    const [resolve] = events("resolve");
    assert.ok(resolve?.signed);
    assert.equal((resolve.body.incident as { id: number }).id, incident.id, "the same incident");
    assert.match(String(resolve.body.message), /^web is up again after \d+s$/);
    await until(() => mails.length > 1, 5_000, "the resolve notice by e-mail");
    assert.match(mails[1] ?? "", /^Subject: \[Slipway\] web is up again after \d+s\r$/m);
    assert.equal(events("open").length, 1, "no second incident after the restart");
    const checks = (await api("GET", "/api/checks")).json() as { name: string; mttr_ms: number }[];
    assert.ok((checks.find((c) => c.name === "web")?.mttr_ms ?? 0) > 0, "mean time to recovery");
    // The same from the resolved incidents, per check and per service.
    const resolved = ((await api("GET", "/api/incidents")).json() as Incident[]).filter(
      (i) => i.resolvedAt !== null,
    );
    const took = resolved.map((i) => (i.resolvedAt ?? 0) - i.openedAt);
    const mean = Math.round(took.reduce((a, b) => a + b, 0) / took.length);
    assert.deepEqual((await api("GET", "/api/mttr")).json(), {
      checks: [{ check: "web", service: "hello", incidents: resolved.length, mttr_ms: mean }],
      services: [{ service: "hello", incidents: resolved.length, mttr_ms: mean }],
    });
  });

  it("a silence keeps the incident record but sends nothing", async () => {
    const silence = await api("POST", "/api/silences", {
      check: "web",
      minutes: 5,
      reason: "maintenance",
    });
    assert.equal(silence.status, 201, silence.text);
    const before = received.length;
    targetStatus = 500;
    const deadline = Date.now() + INTERVAL_MS * 6 + 1_000;
    let open: { check: string }[] = [];
    while (Date.now() < deadline && open.length === 0) {
      open = (await api("GET", "/api/incidents?open=1")).json() as { check: string }[];
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      open.map((i) => i.check),
      ["web"],
      "the incident is recorded",
    );
    assert.equal(received.length, before, "no notification while silenced");
    targetStatus = 200;
  });

  it("test-notify reaches the receiver; a receiver that fails is retried and the failure recorded", async () => {
    const sent = await api("POST", "/api/test-notify");
    assert.deepEqual(sent.json(), [
      { notifier: "mail", ok: true },
      { notifier: "hook", ok: true },
    ]);
    assert.equal(events("test").length, 1);
    receiverStatus = 500;
    const before = received.length;
    const failed = await api("POST", "/api/test-notify");
    assert.deepEqual(failed.json(), [
      { notifier: "mail", ok: true },
      { notifier: "hook", ok: false, error: "HTTP 500" },
    ]);
    assert.equal(received.length - before, 3, "three attempts");
    const [last] = (await api("GET", "/api/notifications")).json() as {
      event: string;
      ok: boolean;
      attempts: number;
      error: string;
    }[];
    assert.deepEqual(last, {
      notifier: "hook",
      event: "test",
      ok: false,
      attempts: 3,
      error: "HTTP 500",
    });
    receiverStatus = 200;
  });
});
