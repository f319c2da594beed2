/**
 * The agent's write API through the real agent process: a check added with PUT runs at once, a
 * PATCH of a file's check is an override that survives a restart (SIGTERM, then a new process on
 * the same state), and deleting the override brings the file's version back. Bad requests get
 * 400 with each bad key; the API needs the token.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgentProcess } from "../support/agent-process.ts";

const TOKEN = "settings-token-0123456789";

describe("the agent's write API, through the agent process", () => {
  let dir: string;
  let target: Server;
  let port = 0;
  let agent: ChildProcess | undefined;
  let base = "";

  async function start(config?: unknown): Promise<void> {
    const started = await startAgentProcess(dir, { config, env: { AGENT_TOKEN: TOKEN } });
    agent = started.child;
    base = started.base;
  }

  async function stop(): Promise<void> {
    if (!agent || agent.exitCode !== null) return;
    const exited = once(agent, "exit");
    agent.kill("SIGTERM");
    await exited;
  }

  async function api(method: string, path: string, body?: unknown, token = TOKEN) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined
        ? {}
        : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function checks(): Promise<Record<string, unknown>[]> {
    const response = await fetch(`${base}/api/checks`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return (await response.json()) as Record<string, unknown>[];
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-agent-settings-"));
    target = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    port = (target.address() as { port: number }).port;
    await start({
      service: "box",
      host: "box",
      listen: { port: 0 },
      token_env: "AGENT_TOKEN",
      checks: [{ name: "web", kind: "tcp", host: "127.0.0.1", port, interval_ms: 60_000 }],
    });
  });

  after(async () => {
    await stop();
    target.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses without the token", async () => {
    assert.equal((await api("GET", "/api/settings", undefined, "wrong")).status, 401);
    assert.equal((await api("PUT", "/api/checks/x", {}, "wrong")).status, 401);
  });

  it("adds a check that runs at once, and refuses bad ones with each bad key", async () => {
    const bad = await api("PUT", "/api/checks/db", { kind: "tcp", host: "127.0.0.1", port: 0 });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, {
      error: "check db is not valid",
      issues: ["port: must be at least 1"],
    });
    const notJson = await api("PUT", "/api/checks/db", "{nope");
    assert.equal(notJson.status, 400);
    assert.match(String(notJson.json.error), /^the body is not JSON/);

    const put = await api("PUT", "/api/checks/db", {
      kind: "tcp",
      host: "127.0.0.1",
      port,
      interval_ms: 100,
    });
    assert.equal(put.status, 201);
    const deadline = Date.now() + 5_000;
    let db: Record<string, unknown> | undefined;
    while (Date.now() < deadline) {
      db = (await checks()).find((c) => c.name === "db");
      if (db?.lastAt !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(db?.status, "up", JSON.stringify(db));
    assert.equal(
      (
        await api("PUT", "/api/checks/db", {
          kind: "tcp",
          host: "127.0.0.1",
          port,
          interval_ms: 100,
        })
      ).status,
      200,
      "a replacement",
    );
  });

  it("a PATCH of a file's check is an override, kept across a restart, shown in settings", async () => {
    const patched = await api("PATCH", "/api/checks/web", { interval_ms: 5_000, paused: true });
    assert.equal(patched.status, 200);
    assert.equal((await api("PATCH", "/api/checks/nope", { paused: true })).status, 404);
    assert.deepEqual(
      (await api("PATCH", "/api/checks/web", { alerting: { open_after: 0 } })).json,
      {
        error: "check web is not valid",
        issues: ["alerting.open_after: must be at least 1"],
      },
    );

    await stop();
    await start();
    const settings = (await api("GET", "/api/settings")).json as {
      checks: {
        name: string;
        source: string;
        interval_ms: number;
        paused: boolean;
        file?: { interval_ms: number };
      }[];
    };
    const web = settings.checks.find((c) => c.name === "web");
    assert.equal(web?.source, "override");
    assert.equal(web?.interval_ms, 5_000);
    assert.equal(web?.paused, true);
    assert.equal(web?.file?.interval_ms, 60_000);
    assert.equal(settings.checks.find((c) => c.name === "db")?.source, "api");
    const running = await checks();
    assert.equal(running.find((c) => c.name === "web")?.paused, true);
  });

  it("deleting an override brings the file's check back; a file-only check is not deleted", async () => {
    const restored = await api("DELETE", "/api/checks/web");
    assert.equal(restored.status, 200);
    assert.equal((restored.json.check as { interval_ms: number }).interval_ms, 60_000);
    const again = await api("DELETE", "/api/checks/web");
    assert.equal(again.status, 409);
    assert.equal(again.json.error, "web comes from the configuration files, not the API");
    assert.deepEqual((await api("DELETE", "/api/checks/db")).json, { deleted: "db" });
    assert.equal((await api("DELETE", "/api/checks/db")).status, 404);
    const settings = (await api("GET", "/api/settings")).json as {
      checks: { name: string; source: string; paused: boolean }[];
    };
    assert.deepEqual(
      settings.checks.map((c) => [c.name, c.source, c.paused]),
      [["web", "file", false]],
    );
    assert.deepEqual(
      (await checks()).map((c) => c.name),
      ["web"],
    );
  });
});
