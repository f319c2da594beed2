/**
 * What the agent as shipped (dist/agent-bundle) does for backups, on Podman's socket, with a real
 * webhook receiver: a runner job (Slipway's own one-off container, as backups are) runs with its
 * mounts and env, takes its detail from its result line, and alerts on failure; a job that must
 * succeed every few seconds and has not opens "<job> stale" though no run failed, and its first
 * good run resolves it; a verification run elsewhere and recorded through the API alerts like
 * the job's own runs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineClient, type JobRun } from "../../src/agent/index.ts";
import { NODE_IMAGE, rigAvailable, skipUnless } from "../rig/index.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent-process.ts";
import { type NoticeReceiver, startNoticeReceiver } from "../support/notice-receiver.ts";

const SOCKET = "/run/podman/podman.sock";
const TOKEN = "agent-token-backup-0123";
const PREFIX = "slipway-backup-result ";

describe("backup jobs in the agent, on Podman's socket", {
  skip:
    skipUnless(rigAvailable(NODE_IMAGE)) || (existsSync(SOCKET) ? false : `${SOCKET} is missing`),
  timeout: 180_000,
}, () => {
  const engine = new EngineClient(SOCKET);
  const label = `slipway-test-jobs-${randomBytes(3).toString("hex")}`;
  let dir: string;
  let agent: AgentProcess | undefined;
  let receiver: NoticeReceiver;

  /** A runner that prints what it sees (its env, a mounted file) and its result line. */
  const script = (ok: boolean, summary: string) =>
    [
      "const fs = require('node:fs');",
      "console.error('progress: ' + process.env.TMPDIR + ' ' + fs.readFileSync('/in/request.json', 'utf8'));",
      `console.log(${JSON.stringify(PREFIX)} + JSON.stringify({ ok: ${ok}, summary: ${JSON.stringify(summary)} }));`,
      `process.exit(${ok ? 0 : 1});`,
    ].join(" ");
  const runner = (name: string, ok: boolean, summary: string, extra: object = {}) => ({
    name,
    kind: "runner",
    schedule: "0 0 1 1 *",
    image: NODE_IMAGE,
    command: ["node", "-e", script(ok, summary)],
    mounts: [{ source: dir, target: "/in", read_only: true }],
    env: ["TMPDIR=/work/here"],
    labels: { "slipway.test": label },
    result_prefix: PREFIX,
    ...extra,
  });

  async function api(method: string, path: string, body?: unknown) {
    assert.ok(agent);
    const res = await fetch(`${agent.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, value: JSON.parse(await res.text()) as unknown };
  }

  const open = async () =>
    ((await api("GET", "/api/incidents?open=1")).value as { check: string; cause: string }[])
      .map((i) => [i.check, i.cause])
      .sort();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-agent-jobs-"));
    await writeFile(join(dir, "request.json"), '{"action":"backup"}');
    receiver = await startNoticeReceiver();
    agent = await startAgentProcess(dir, {
      env: { AGENT_TOKEN: TOKEN },
      config: {
        service: "hello",
        host: "vps1",
        listen: { address: "127.0.0.1", port: 0 },
        token_env: "AGENT_TOKEN",
        engine_socket: SOCKET,
        notifiers: [{ name: "hooks", kind: "webhook", url: receiver.url }],
        jobs: [
          runner("hello/backup.db", true, "db 20260101T030000Z: 1.0 MiB dumped", {
            stale_ms: 4_000,
          }),
          runner("hello/backup.files", false, "files: the store refused the upload"),
          // A monthly verification's staleness: further than one timer can wait (24.8 days).
          runner("hello/verify.db", true, "db: intact", { stale_ms: 40 * 86_400_000 }),
        ],
      },
    });
  });

  after(async () => {
    agent?.child.kill("SIGKILL");
    for (const c of await engine.list({ "slipway.test": label }, { all: true }))
      await engine.remove(c.Id);
    receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a job that has not succeeded within its staleness opens '<job> stale'; a good run resolves it", async () => {
    const deadline = Date.now() + 20_000;
    while (!(await open()).some(([check]) => check === "hello/backup.db stale")) {
      assert.ok(Date.now() < deadline, "no stale incident");
      await new Promise((r) => setTimeout(r, 250));
    }
    const cause = (await open())[0]?.[1];
    assert.match(cause ?? "", /^no successful run since \S+Z \(expected within 4s\)$/);

    const run = (await api("POST", "/api/jobs/run?job=hello/backup.db")).value as JobRun;
    assert.deepEqual([run.outcome, run.detail], ["ok", "db 20260101T030000Z: 1.0 MiB dumped"]);
    assert.match(run.output, /progress: \/work\/here \{"action":"backup"\}/, "its env and mount");
    assert.deepEqual(await open(), []);
    assert.deepEqual(
      (await engine.list({ "slipway.test": label }, { all: true })).length,
      0,
      "its container is gone",
    );
    // Node fires a setTimeout past 2^31 - 1 ms at once, with this warning: a staleness that far
    // ahead must be waited for in steps, not looked at again and again.
    assert.doesNotMatch(agent?.output() ?? "", /TimeoutOverflowWarning/);
  });

  it("a failed runner job opens '<job> job' with its summary; a recorded verification alerts too", async () => {
    const failed = (await api("POST", "/api/jobs/run?job=hello/backup.files")).value as JobRun;
    assert.deepEqual([failed.outcome, failed.exitCode], ["failed", 1]);
    const recorded = await api("POST", "/api/jobs/record?job=hello/verify.db", {
      outcome: "failed",
      detail: "db 20260101T030000Z: FAILED restore: rows in public.t: expected 3, got 2",
    });
    assert.equal(recorded.status, 200);
    assert.equal((recorded.value as JobRun).trigger, "manual");
    assert.deepEqual(await open(), [
      ["hello/backup.files job", "files: the store refused the upload"],
      [
        "hello/verify.db job",
        "db 20260101T030000Z: FAILED restore: rows in public.t: expected 3, got 2",
      ],
    ]);
    const bad = await api("POST", "/api/jobs/record?job=hello/verify.db", { outcome: "maybe" });
    assert.equal(bad.status, 400);
    const none = await api("POST", "/api/jobs/record?job=hello/none", {
      outcome: "ok",
      detail: "x",
    });
    assert.equal(none.status, 404);

    const deadline = Date.now() + 10_000;
    const sent = () => receiver.notices.filter((n) => !n.check.endsWith(" stale"));
    while (sent().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // backup.db goes stale again 4 s after its good run: that notice may come in between.
    assert.deepEqual(
      receiver.notices.slice(0, 2).map((n) => [n.event, n.check]),
      [
        ["open", "hello/backup.db stale"],
        ["resolve", "hello/backup.db stale"],
      ],
    );
    assert.deepEqual(
      sent().map((n) => [n.event, n.check]),
      [
        ["open", "hello/backup.files job"],
        ["open", "hello/verify.db job"],
      ],
    );
    assert.equal(
      sent()[0]?.message,
      "hello/backup.files job failed: files: the store refused the upload",
    );
  });
});
