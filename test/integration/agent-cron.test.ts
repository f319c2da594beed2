/**
 * Cron jobs through the agent as Slipway ships it (dist/agent-bundle), with the real Podman
 * Docker-API socket: a job runs in a one-off container made like the role's running container
 * (its image, env, volume), is recorded with its output and exit code, opens "<job> job" on
 * failure (a real webhook receiver gets it) and resolves it on success, shows on /metrics; and a
 * run container left behind by a killed agent is removed when it comes back, the run recorded as
 * interrupted.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineClient, type JobRun, type JobView } from "../../src/agent/index.ts";
import { NODE_IMAGE, rigAvailable, skipUnless } from "../rig/index.ts";
import { run } from "../rig/proc.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent-process.ts";

const SOCKET = "/run/podman/podman.sock";
const TOKEN = "agent-token-0123456789";

describe("cron jobs in the agent, on Podman's socket", {
  skip:
    skipUnless(rigAvailable(NODE_IMAGE)) || (existsSync(SOCKET) ? false : `${SOCKET} is missing`),
  timeout: 180_000,
}, () => {
  const engine = new EngineClient(SOCKET);
  const app = `crontest-${randomBytes(3).toString("hex")}`;
  const labels = { "slipway.service": app, "slipway.environment": "", "slipway.role": "web" };
  let dir: string;
  let agent: AgentProcess | undefined;
  let receiver: Server;
  const notices: { event: string; check: string; message: string }[] = [];
  let role = "";

  const config = () => ({
    service: app,
    host: "vps1",
    listen: { address: "127.0.0.1", port: 0 },
    token_env: "AGENT_TOKEN",
    engine_socket: SOCKET,
    notifiers: [
      {
        name: "hooks",
        kind: "webhook",
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
      },
    ],
    jobs: [
      {
        name: "report",
        kind: "container",
        schedule: "0 3 * * *",
        role: "web",
        labels,
        command: ["sh", "-c", 'echo "greeting=$GREETING"; ls /data; test -f /data/ok || exit 3'],
      },
      {
        name: "slow",
        kind: "container",
        schedule: "0 4 * * *",
        role: "web",
        labels,
        command: ["sleep", "120"],
      },
    ],
  });

  async function api(method: string, path: string) {
    assert.ok(agent);
    const res = await fetch(`${agent.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return { status: res.status, value: JSON.parse(await res.text()) as unknown };
  }

  const start = async () => {
    agent = await startAgentProcess(dir, { config: config(), env: { AGENT_TOKEN: TOKEN } });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-agent-cron-"));
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        notices.push(JSON.parse(body) as (typeof notices)[number]);
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    // The role's running container: what a job's container is made like.
    role = await engine.create(`${app}-web-v1`, {
      Image: NODE_IMAGE,
      Cmd: ["sleep", "600"],
      Env: ["GREETING=hello from the role"],
      Labels: { ...labels, "slipway.version": "v1" },
      HostConfig: { Binds: [`${app}-data:/data`] },
    });
    await engine.start(role);
    await start();
  });

  after(async () => {
    agent?.child.kill("SIGKILL");
    for (const c of await engine.list({ "slipway.service": app }, { all: true })) {
      await engine.remove(c.Id);
    }
    await run("podman", ["volume", "rm", "--force", `${app}-data`]);
    receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a job like the role's container, records it, opens '<job> job' on failure and resolves it on success", async () => {
    const failed = await api("POST", "/api/jobs/run?job=report");
    assert.equal(failed.status, 200);
    const first = failed.value as JobRun;
    assert.deepEqual([first.outcome, first.exitCode, first.trigger], ["failed", 3, "manual"]);
    assert.equal(first.output, "greeting=hello from the role\n", "the role's env and volume");

    const incidents = (await api("GET", "/api/incidents?open=1")).value as {
      check: string;
      cause: string;
    }[];
    assert.deepEqual(
      incidents.map((i) => [i.check, i.cause]),
      [["report job", "exit 3"]],
    );
    // The run's container is gone; the role's container still runs.
    assert.deepEqual(
      (await engine.list({ "slipway.service": app }, { all: true })).map((c) => c.Id),
      [role],
    );

    const exec = await run("podman", ["exec", role, "touch", "/data/ok"]);
    assert.equal(exec.code, 0, exec.stderr);
    const second = (await api("POST", "/api/jobs/run?job=report")).value as JobRun;
    assert.deepEqual([second.outcome, second.exitCode], ["ok", 0]);
    assert.deepEqual((await api("GET", "/api/incidents?open=1")).value, []);

    const deadline = Date.now() + 10_000;
    while (notices.length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      notices.map((n) => [n.event, n.check, n.message.replace(/after \d+s$/, "after Ns")]),
      [
        ["open", "report job", "report job failed: exit 3"],
        ["resolve", "report job", "report job is up again after Ns"],
      ],
    );

    const [report] = (await api("GET", "/api/jobs")).value as JobView[];
    assert.equal(report?.name, "report");
    assert.equal(report?.last?.outcome, "ok");
    assert.ok((report?.nextAt ?? 0) > Date.now(), "its next run is planned");
    const runs = (await api("GET", "/api/jobs/runs?job=report")).value as JobRun[];
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ["ok", "failed"],
    );
    const metrics = await fetch(`${agent?.base}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    }).then((r) => r.text());
    assert.match(metrics, /^slipway_job_runs_total\{job="report",outcome="failed"\} 1$/m);
    assert.match(metrics, /^slipway_job_runs_total\{job="report",outcome="ok"\} 1$/m);
    assert.match(metrics, /^slipway_job_last_duration_seconds\{job="report"\} \d/m);
  });

  it("refuses a second run of a running job; a killed agent's run container is removed when it is back", async () => {
    assert.ok(agent);
    const running = fetch(`${agent.base}/api/jobs/run?job=slow`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    }).catch(() => undefined);
    let left: string[] = [];
    const deadline = Date.now() + 30_000;
    while (left.length === 0) {
      assert.ok(Date.now() < deadline, "no run container appeared");
      await new Promise((r) => setTimeout(r, 200));
      left = (await engine.list({ "slipway.job": "slow" })).map((c) => c.Id);
    }
    const busy = await api("POST", "/api/jobs/run?job=slow");
    assert.deepEqual(busy, { status: 409, value: { error: "slow is running already" } });

    agent.child.kill("SIGKILL");
    await running;
    assert.equal((await engine.list({ "slipway.job": "slow" })).length, 1, "left behind");
    await start();
    const gone = Date.now() + 20_000;
    while ((await engine.list({ "slipway.job": "slow" }, { all: true })).length > 0) {
      assert.ok(Date.now() < gone, "the leftover run container is still there");
      await new Promise((r) => setTimeout(r, 200));
    }
    const [interrupted] = (await api("GET", "/api/jobs/runs?job=slow")).value as JobRun[];
    assert.deepEqual(
      [interrupted?.outcome, interrupted?.detail],
      ["interrupted", "the agent stopped during the run"],
    );
    assert.deepEqual((await api("GET", "/api/incidents?open=1")).value, [], "no incident for it");
  });
});
