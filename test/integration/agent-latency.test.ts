/**
 * HTTP latency against a real server on loopback: a single answer slower than max_latency fails
 * the run, redirects are followed as many as follow_redirects, every request comes on a new
 * connection; and through the agent process, a
 * p95 over its limit across the last 20 answers opens "<check> latency" (a warning, the check
 * itself staying up) and resolves once the answers are fast again.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { checkSchema, probe } from "../../src/agent/index.ts";
import { startAgentProcess } from "../support/agent-process.ts";
import {
  listen,
  type NoticeReceiver,
  type ReceivedNotice,
  startNoticeReceiver,
} from "../support/notice-receiver.ts";

let delayMs = 0;
let target: Server;
let base = "";
let connections = 0;
let connectionHeaders: (string | undefined)[] = [];

before(async () => {
  target = createServer((req, res) => {
    connectionHeaders.push(req.headers.connection);
    if (req.url === "/a") return void res.writeHead(302, { location: "/b" }).end();
    if (req.url === "/b") return void res.writeHead(302, { location: "/ok" }).end();
    setTimeout(() => res.writeHead(200).end("ok"), delayMs);
  });
  target.on("connection", () => connections++);
  const port = await listen(target);
  base = `http://127.0.0.1:${port}`;
});

after(() => {
  target?.close();
});

const http = (fields: Record<string, unknown>) =>
  probe(checkSchema.parse({ name: "c", kind: "http", status: [200, 299], ...fields }));

describe("HTTP answers: max_latency and follow_redirects", () => {
  it("follows as many redirects as told, no more", async () => {
    const results = await Promise.all(
      [0, 1, 2].map((follow) => http({ url: `${base}/a`, follow_redirects: follow })),
    );
    assert.deepEqual(
      results.map((r) => [r.ok, r.detail]),
      [
        [false, "HTTP 302"],
        [false, "HTTP 302"],
        [true, "HTTP 200"],
      ],
    );
  });

  it("opens a connection of its own for every request, and asks the server to close it", async () => {
    const before = connections;
    connectionHeaders = [];
    for (let i = 0; i < 3; i++) assert.equal((await http({ url: `${base}/ok` })).ok, true);
    // Keep-alive would hide a server that no longer accepts connections.
    assert.equal(connections - before, 3);
    assert.deepEqual(connectionHeaders, ["close", "close", "close"]);
  });

  it("fails one answer slower than max_latency, with its time", async () => {
    delayMs = 300;
    const slow = await http({ url: `${base}/ok`, max_latency_ms: 100 });
    delayMs = 0;
    assert.equal(slow.ok, false);
    assert.match(slow.detail, /^HTTP 200 in (3\d\d|[4-9]\d\d|\d{4,})ms, over 100ms$/);
    const fast = await http({ url: `${base}/ok`, max_latency_ms: 1_000 });
    assert.deepEqual([fast.ok, fast.detail], [true, "HTTP 200"]);
  });
});

describe("the p95 limit in the agent process", () => {
  let dir: string;
  let receiver: NoticeReceiver;
  let agent: ChildProcess;
  let output = () => "";
  let notices: ReceivedNotice[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-latency-"));
    receiver = await startNoticeReceiver();
    notices = receiver.notices;
    delayMs = 0;
    const started = await startAgentProcess(dir, {
      config: {
        service: "hello",
        host: "h1",
        listen: { address: "127.0.0.1", port: 0 },
        checks: [
          {
            name: "web",
            kind: "http",
            url: `${base}/ok`,
            interval_ms: 50,
            p95_ms: 200,
            p95_answers: 20,
            alerting: { remind_ms: 0 },
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
    receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const until = async (what: string, found: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!found()) {
      assert.ok(Date.now() < deadline, `${what}; got ${JSON.stringify(notices)}; ${output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it("opens 'web latency' when the last 20 answers' p95 is over 200ms, and resolves it", async () => {
    // 20 fast answers first: a full window under the limit.
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(notices.length, 0, "fast answers alert nothing");
    delayMs = 400;
    await until("no latency incident", () => notices.length >= 1);
    delayMs = 0;
    assert.deepEqual(
      [notices[0]?.event, notices[0]?.check, notices[0]?.severity],
      ["open", "web latency", "warning"],
    );
    assert.match(
      notices[0]?.message ?? "",
      /^web latency: p95 (4\d\d|[5-9]\d\d|\d{4,})ms over the last 20 answers, over 200ms$/,
    );
    await until("not resolved", () => notices.length >= 2);
    assert.equal(notices[1]?.event, "resolve");
    assert.ok(
      notices.every((n) => n.check === "web latency"),
      "slow is not down: the check itself opened nothing",
    );
  });
});
