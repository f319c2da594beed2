/**
 * The proxy's rendered configuration in a real nginx (this machine's Debian binary, in the
 * foreground on a loopback port, with a temporary prefix) in front of small node:http apps.
 * The files are written by planProxyFiles through the local transport, and the switch is the
 * planProxySwitch script run for real; only `docker` is a stand-in (no Docker engine runs here):
 * a shell script mapping `docker exec slipway-proxy nginx ...` to the local nginx.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import { applySteps, type RunStep } from "../../src/plan/index.ts";
import {
  type ProxyOptions,
  type ProxySite,
  planProxyFiles,
  planProxySwitch,
  SWITCHED_MARK,
  type UpstreamTarget,
} from "../../src/proxy/index.ts";
import { isArgv, LocalTransport } from "../../src/transport/index.ts";
import { freePort, onProcessExit, skipUnless } from "../rig/index.ts";
import { fakeDockerScript, NGINX, nginxArgs, nginxAvailable } from "../unit/proxy/nginx-rig.ts";

const LOCALHOST = "127.0.0.1";
const BIG_TEXT = "All work and no play makes Jack a dull boy.\n".repeat(500);

const hello: ProxySite = {
  site: "hello",
  role: "web",
  domains: ["app.test", "www.app.test"],
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 1024,
};
const limited: ProxySite = {
  site: "limited",
  role: "web",
  domains: ["limited.test"],
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 1024,
  rateLimit: { requestsPerSecond: 1, burst: 2 },
};
const fresh: ProxySite = { ...hello, site: "fresh", domains: ["fresh.test"] };
const uploads: ProxySite = {
  ...hello,
  site: "uploads",
  domains: ["uploads.test"],
  maxBodySize: 1024 * 1024,
};

/** A small app: says who it is and what it received; echoes raw bytes after an upgrade. */
interface Backend {
  id: string;
  port: number;
  server: http.Server;
  /** TCP connections nginx opened to it. */
  connections: number;
  /** Headers of the last upgrade request. */
  upgradeHeaders: http.IncomingHttpHeaders | undefined;
}

async function startBackend(id: string): Promise<Backend> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const slow = /^\/slow\?ms=(\d+)$/.exec(req.url ?? "");
      if (slow) {
        // A request the old workers still hold at a switch: answered after ms.
        setTimeout(() => res.end(`${id} slow\n`), Number(slow[1]));
        return;
      }
      if (req.url === "/big") {
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.end(BIG_TEXT);
        return;
      }
      if (req.url === "/own-headers") {
        res.setHeader("X-Frame-Options", "DENY");
        res.setHeader("X-Powered-By", "Express");
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ backend: id, url: req.url, headers: req.headers }));
    });
  });
  const backend: Backend = { id, port: 0, server, connections: 0, upgradeHeaders: undefined };
  server.on("connection", () => backend.connections++);
  server.on("upgrade", (req: http.IncomingMessage, socket: Socket) => {
    backend.upgradeHeaders = req.headers;
    const key = String(req.headers["sec-websocket-key"]);
    const accept = createHash("sha1")
      .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on("data", (data) => socket.write(Buffer.concat([Buffer.from(`${id}:`), data])));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  const address = server.address();
  backend.port = typeof address === "object" && address ? address.port : 0;
  return backend;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  host: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  agent?: http.Agent | false;
}

// Every socket a request was sent on. Node's own req.reusedSocket is false for a request that
// waited in the agent's queue and then got a kept-alive socket, so reuse is tracked here.
const usedSockets = new WeakSet<object>();

/** A request that failed; `reused` says whether its connection had carried a request before. */
class RequestError extends Error {
  readonly reused: boolean;
  constructor(message: string, reused: boolean) {
    super(message);
    this.reused = reused;
  }
}

/** One HTTP request to nginx (a new connection unless an agent is given). */
function request(port: number, options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let reused = false;
    const req = http.request(
      {
        host: LOCALHOST,
        port,
        method: options.method ?? "GET",
        path: options.path ?? "/",
        headers: { host: options.host, ...options.headers },
        agent: options.agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("socket", (socket) => {
      reused = usedSockets.has(socket);
      usedSockets.add(socket);
    });
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", (error) => reject(new RequestError(error.message, reused)));
    req.end(options.body);
  });
}

function json(reply: Reply): { backend: string; url: string; headers: Record<string, string> } {
  return JSON.parse(reply.body.toString("utf8"));
}

describe("proxy: rendered config in a real nginx", { skip: skipUnless(nginxAvailable()) }, () => {
  let prefix = "";
  let port = 0;
  let options: ProxyOptions = {};
  let nginx: ChildProcess | undefined;
  let nginxStderr = "";
  let backendA: Backend;
  let backendB: Backend;
  let unregister = () => {};

  before(async () => {
    prefix = mkdtempSync(join(tmpdir(), "slipway-proxy-"));
    // nginx's workers run as an unprivileged user and must reach their temporary directories.
    chmodSync(prefix, 0o755);
    port = await freePort();
    backendA = await startBackend("A");
    backendB = await startBackend("B");
    // Everything in the prefix: configuration, temporary files, pid; errors on stderr.
    options = {
      hostDir: prefix,
      confDir: prefix,
      tempDir: prefix,
      listenPort: port,
      listenAddress: LOCALHOST,
    };
    const targets = new Map<string, UpstreamTarget>([
      ["hello-web", { container: LOCALHOST, port: backendA.port }],
      ["limited-web", { container: LOCALHOST, port: backendA.port }],
      ["uploads-web", { container: LOCALHOST, port: backendA.port }],
    ]);
    // The planned files, written by the same applier and transport a deploy uses.
    await applySteps(
      new LocalTransport(),
      planProxyFiles([hello, limited, fresh, uploads], targets, options),
    );

    mkdirSync(join(prefix, "bin"));
    writeFileSync(join(prefix, "bin/docker"), fakeDockerScript(prefix));
    chmodSync(join(prefix, "bin/docker"), 0o755);

    // The access log goes to nginx's stdout (/dev/stdout), here a file; a socket would not do.
    const accessLog = openSync(join(prefix, "access.log"), "a");
    nginx = spawn(NGINX, nginxArgs(prefix), { stdio: ["ignore", accessLog, "pipe"] });
    closeSync(accessLog);
    const child = nginx;
    unregister = onProcessExit(() => child.kill("SIGTERM"));
    nginx.stderr?.setEncoding("utf8").on("data", (d: string) => {
      nginxStderr = `${nginxStderr}${d}`.slice(-20_000);
    });
    for (let attempt = 0; ; attempt++) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxStderr}`);
      try {
        await request(port, { host: "app.test", path: "/up" });
        break;
      } catch (error) {
        if (attempt >= 50)
          throw new Error(`nginx never answered: ${String(error)}\n${nginxStderr}`);
        await sleep(100);
      }
    }
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx?.once("exit", resolve));
      nginx.kill("SIGTERM");
      await Promise.race([exited, sleep(5_000)]);
    }
    unregister();
    for (const backend of [backendA, backendB]) {
      backend?.server.closeAllConnections();
      backend?.server.close();
    }
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  /** Runs the planned switch step for real, with the fake docker first on PATH. */
  function runSwitch(
    site: ProxySite,
    target: UpstreamTarget,
    stdin?: string,
    drainMs?: number,
  ): Promise<{ code: number | null; stderr: string; stdout: string; markedAt?: number }> {
    const step = planProxySwitch(site, target, {
      ...options,
      ...(drainMs === undefined ? {} : { drainMs }),
    })[0] as RunStep;
    assert.equal(step.kind, "run");
    assert.ok(isArgv(step.command));
    const [program, ...args] = step.command;
    return new Promise((resolve, reject) => {
      const child = spawn(program ?? "sh", args, {
        env: { ...process.env, PATH: `${prefix}/bin:${process.env.PATH}` },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stderr = "";
      let stdout = "";
      let markedAt: number | undefined;
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        if (markedAt === undefined && stdout.includes(SWITCHED_MARK)) markedAt = performance.now();
      });
      child.on("error", reject);
      child.on("close", (code) =>
        resolve({ code, stderr, stdout, ...(markedAt === undefined ? {} : { markedAt }) }),
      );
      child.stdin.end(stdin ?? step.stdin);
    });
  }

  /** Switches hello's upstream to `backend`, draining for at most `drainMs`. */
  function drainingSwitch(backend: Backend, drainMs: number) {
    return runSwitch(hello, { container: LOCALHOST, port: backend.port }, undefined, drainMs);
  }

  function upstreamFile(name: string): string {
    return readFileSync(join(prefix, "upstreams", `${name}.conf`), "utf8");
  }

  it("proxies by Host to the site's app, with the headers the app needs", async () => {
    const reply = await request(port, {
      host: "www.app.test",
      path: "/hello?x=1",
      headers: { "x-forwarded-for": "203.0.113.66", "x-real-ip": "203.0.113.66" },
    });
    assert.equal(reply.status, 200);
    const seen = json(reply);
    assert.equal(seen.backend, "A");
    assert.equal(seen.url, "/hello?x=1");
    assert.equal(seen.headers.host, "www.app.test");
    assert.equal(seen.headers["x-real-ip"], LOCALHOST);
    assert.equal(seen.headers["x-forwarded-for"], LOCALHOST, "a client's own value is replaced");
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    assert.equal(seen.headers["x-forwarded-host"], "www.app.test");
    assert.equal(seen.headers.connection, undefined, "no Connection: close to the app (keepalive)");
  });

  it("answers 404 for a host no site claims", async () => {
    const reply = await request(port, { host: "unknown.test" });
    assert.equal(reply.status, 404);
  });

  it("adds the security headers, hides the version, and keeps an app's own header", async () => {
    const reply = await request(port, { host: "app.test" });
    assert.equal(reply.headers["x-content-type-options"], "nosniff");
    assert.equal(reply.headers["x-frame-options"], "SAMEORIGIN");
    assert.equal(reply.headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert.equal(reply.headers["permissions-policy"], "camera=(), microphone=(), geolocation=()");
    assert.equal(reply.headers.server, "nginx", "server_tokens off: no version");
    const own = await request(port, { host: "app.test", path: "/own-headers" });
    assert.equal(own.headers["x-frame-options"], "DENY", "the app's stricter value, not doubled");
    assert.equal(own.headers["x-powered-by"], undefined);
    assert.equal(own.headers["x-content-type-options"], "nosniff");
    // `always`: on nginx's own error responses too.
    const tooBig = await request(port, {
      host: "app.test",
      method: "POST",
      body: Buffer.alloc(4096),
    });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.headers["x-frame-options"], "SAMEORIGIN");
  });

  it("compresses a large text response for a client that accepts gzip", async () => {
    const zipped = await request(port, {
      host: "app.test",
      path: "/big",
      headers: { "accept-encoding": "gzip" },
    });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers["content-encoding"], "gzip");
    assert.match(String(zipped.headers.vary), /Accept-Encoding/);
    assert.ok(zipped.body.length < BIG_TEXT.length / 10, `${zipped.body.length} bytes`);
    assert.equal(gunzipSync(zipped.body).toString("utf8"), BIG_TEXT);
    const plain = await request(port, { host: "app.test", path: "/big" });
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(plain.body.toString("utf8"), BIG_TEXT);
  });

  it("keeps connections to the app open across requests (upstream keepalive)", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = backendA.connections;
    try {
      for (let i = 0; i < 20; i++) {
        assert.equal((await request(port, { host: "app.test", agent })).status, 200);
      }
    } finally {
      agent.destroy();
    }
    assert.ok(backendA.connections - before <= 2, `${backendA.connections - before} connections`);
  });

  it("passes a WebSocket upgrade through to the app", async () => {
    const socket = connect(port, LOCALHOST);
    try {
      socket.write(
        [
          "GET /ws HTTP/1.1",
          "Host: app.test",
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version: 13",
          "",
          "",
        ].join("\r\n"),
      );
      let received = "";
      const readUntil = async (pattern: RegExp) => {
        for (let i = 0; i < 50 && !pattern.test(received); i++) await sleep(50);
        assert.match(received, pattern);
      };
      socket.setEncoding("utf8").on("data", (d: string) => {
        received += d;
      });
      await readUntil(/\r\n\r\n/);
      assert.match(received, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.match(received, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
      assert.equal(backendA.upgradeHeaders?.upgrade, "websocket");
      assert.equal(backendA.upgradeHeaders?.connection, "upgrade");
      socket.write("ping through nginx");
      await readUntil(/A:ping through nginx$/);
    } finally {
      socket.destroy();
    }
  });

  it("refuses a body above max_body_size with 413, and accepts one below", async () => {
    const big = await request(port, {
      host: "app.test",
      method: "POST",
      body: Buffer.alloc(2048, "x"),
    });
    assert.equal(big.status, 413);
    const small = await request(port, {
      host: "app.test",
      method: "POST",
      body: Buffer.alloc(512, "x"),
    });
    assert.equal(small.status, 200);
  });

  it("passes a body larger than nginx keeps in memory (buffered in its temporary directory)", async () => {
    const body = Buffer.alloc(200 * 1024, "y");
    const reply = await request(port, { host: "uploads.test", method: "POST", body });
    assert.equal(reply.status, 200);
    assert.equal(json(reply).headers["content-length"], String(body.length));
  });

  it("rate limits bursts with 429, but never the health path", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await request(port, { host: "limited.test" })).status);
    const ok = statuses.filter((s) => s === 200).length;
    const limitedCount = statuses.filter((s) => s === 429).length;
    assert.equal(ok + limitedCount, 10, statuses.join(" "));
    assert.ok(ok >= 3 && ok <= 4, `1 + burst 2 allowed (one more if a second passed): ${statuses}`);
    for (let i = 0; i < 20; i++) {
      const reply = await request(port, { host: "limited.test", path: "/up" });
      assert.equal(reply.status, 200, `health request ${i}`);
    }
  });

  it("logs upstream timings in the access log", async () => {
    await request(port, { host: "app.test", path: "/logged" });
    await sleep(100);
    const log = readFileSync(join(prefix, "access.log"), "utf8");
    assert.match(
      log,
      /"GET \/logged HTTP\/1\.1" 200 .* host=app\.test request_time=[0-9.]+ upstream=127\.0\.0\.1:[0-9]+ upstream_status=200 upstream_connect_time=[0-9.]+ upstream_header_time=[0-9.]+ upstream_response_time=[0-9.]+/,
    );
  });

  it("answers 502 at once for a site with no container yet, then serves after its first switch", async () => {
    const started = performance.now();
    const none = await request(port, { host: "fresh.test" });
    assert.equal(none.status, 502);
    assert.ok(performance.now() - started < 1000, "no connect timeout");
    assert.match(upstreamFile("fresh-web"), /server 127\.0\.0\.1:1 down;/);
    const result = await runSwitch(fresh, { container: LOCALHOST, port: backendA.port });
    assert.equal(result.code, 0, result.stderr);
    await sleep(300); // `nginx -s reload` returns once the signal is sent
    const served = await request(port, { host: "fresh.test" });
    assert.equal(served.status, 200);
    assert.equal(json(served).backend, "A");
  });

  interface Outcome {
    startedAt: number;
    status?: number;
    backend?: string;
    error?: string;
    /** The first attempt failed on a reused kept-alive connection and was sent again. */
    retried: boolean;
  }

  /**
   * A GET as browsers and curl do it (RFC 9112, 9.3.1): a request that fails on a reused
   * kept-alive connection before any response is sent once more, on a new connection. At a
   * reload nginx's old workers close their idle kept-alive connections, and a request that
   * crosses that close on the wire can only be saved by the client.
   */
  async function getAsBrowsers(agent: http.Agent | false, close: boolean): Promise<Outcome> {
    const startedAt = performance.now();
    const headers: Record<string, string> = close ? { connection: "close" } : {};
    let retried = false;
    for (;;) {
      try {
        const reply = await request(port, {
          host: "app.test",
          agent: retried ? false : agent,
          headers,
        });
        return { startedAt, status: reply.status, backend: json(reply).backend, retried };
      } catch (error) {
        const reused = error instanceof RequestError && error.reused;
        if (reused && !retried) {
          retried = true;
          continue;
        }
        return { startedAt, error: `${(error as Error).message} (reused: ${reused})`, retried };
      }
    }
  }

  it("switches traffic to a new app with no failed request, for Connection: close and keep-alive clients", {
    timeout: 60_000,
  }, async (t) => {
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
    let switchedAt = Number.POSITIVE_INFINITY;
    const loop = async (count: number, agent: http.Agent | false, close: boolean) => {
      // Paced: request i starts 30 ms after request i-1 did (or as soon as it ended, if later).
      const outcomes: Outcome[] = [];
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        await sleep(Math.max(0, start + i * 30 - performance.now()));
        outcomes.push(await getAsBrowsers(agent, close));
      }
      return outcomes;
    };
    const switching = (async () => {
      await sleep(1200);
      const result = await runSwitch(hello, { container: LOCALHOST, port: backendB.port });
      switchedAt = performance.now();
      return result;
    })();

    // 300 requests over about 3 s: one client that closes each connection, two that keep theirs.
    const [closing, kept1, kept2, switched] = await Promise.all([
      loop(100, false, true),
      loop(100, keepAlive, false),
      loop(100, keepAlive, false),
      switching,
    ]);
    keepAlive.destroy();

    assert.equal(switched.code, 0, switched.stderr);
    const retries = [...kept1, ...kept2].filter((o) => o.retried).length;
    t.diagnostic(`requests sent again after their kept-alive connection closed: ${retries}`);
    assert.ok(closing.every((o) => !o.retried));
    for (const [name, outcomes] of [
      ["Connection: close", closing],
      ["keep-alive 1", kept1],
      ["keep-alive 2", kept2],
    ] as const) {
      const failed = outcomes.filter((o) => o.error !== undefined || o.status !== 200);
      assert.deepEqual(failed, [], `${name}: failed requests`);
      assert.equal(outcomes[0]?.backend, "A", `${name}: started on A`);
      const late = outcomes.filter((o) => o.startedAt > switchedAt + 500);
      assert.ok(late.length >= 10, `${name}: ${late.length} requests after the switch`);
      assert.ok(
        late.every((o) => o.backend === "B"),
        `${name}: after the switch, only B: ${late.map((o) => o.backend).join("")}`,
      );
    }
    // Each kept connection can meet the close of its old worker once per reload, no more.
    assert.ok(retries <= 2, `${retries} retries`);
    assert.match(upstreamFile("hello-web"), new RegExp(`server 127\\.0\\.0\\.1:${backendB.port};`));
    assert.match(
      readFileSync(join(prefix, "upstreams/hello-web.conf.previous"), "utf8"),
      new RegExp(`server 127\\.0\\.0\\.1:${backendA.port};`),
    );
  });

  it("under back-to-back traffic across 8 switches, only requests on reused kept-alive connections fail, and once sent again they succeed", {
    timeout: 60_000,
  }, async (t) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const kept: Outcome[] = [];
    const closing: Outcome[] = [];
    let stop = false;
    const client = async (clientAgent: http.Agent | false, close: boolean, into: Outcome[]) => {
      for (let i = 0; i < 5_000 && !stop; i++) into.push(await getAsBrowsers(clientAgent, close));
    };
    const clients = Promise.all([
      client(agent, false, kept),
      client(agent, false, kept),
      client(agent, false, kept),
      client(agent, false, kept),
      client(false, true, closing),
    ]);
    const switches: { code: number | null; stderr: string }[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        await sleep(200);
        const backend = i % 2 === 0 ? backendA : backendB;
        switches.push(await runSwitch(hello, { container: LOCALHOST, port: backend.port }));
      }
      await sleep(200);
    } finally {
      stop = true;
      await clients;
      agent.destroy();
    }

    assert.deepEqual(
      switches.filter((r) => r.code !== 0),
      [],
    );
    const failed = [...kept, ...closing].filter((o) => o.error !== undefined || o.status !== 200);
    assert.deepEqual(failed, []);
    assert.deepEqual(
      closing.filter((o) => o.retried),
      [],
      "a request on a new connection never needs sending again",
    );
    const retried = kept.filter((o) => o.retried).length;
    t.diagnostic(
      `${kept.length} kept-alive requests, ${retried} sent again after a reload closed their connection; ${closing.length} Connection: close requests`,
    );
    assert.ok(kept.length > 500 && closing.length > 100, "the clients kept the proxy busy");
    assert.equal(json(await request(port, { host: "app.test" })).backend, "B");
  });

  it("refuses a broken upstream file: the switch script exits 1 and the working config stays (fake docker → local nginx)", async () => {
    const working = upstreamFile("hello-web");
    const servedBefore = json(await request(port, { host: "app.test" })).backend;

    const broken = await runSwitch(
      hello,
      { container: LOCALHOST, port: backendA.port },
      "upstream hello-web {\n    server 127.0.0.1:1 weight=banana;\n}\n",
    );
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /invalid parameter "weight=banana"/);
    assert.match(
      broken.stderr,
      /nginx refused the new upstream hello-web; the previous one is back/,
    );
    assert.equal(upstreamFile("hello-web"), working);

    // The realistic failure: a container that is not on the network, so its name does not resolve.
    const unknown = await runSwitch(hello, { container: "no-such-container.invalid", port: 3000 });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /host not found in upstream "no-such-container\.invalid:3000"/);
    assert.equal(upstreamFile("hello-web"), working);

    assert.equal(nginx?.exitCode, null, "nginx still runs");
    const after = await request(port, { host: "app.test" });
    assert.equal(after.status, 200);
    assert.equal(json(after).backend, servedBefore);
    // And the configuration on disk is still one nginx accepts, for the next reload.
    const check = await runSwitch(hello, {
      container: LOCALHOST,
      port: servedBefore === "B" ? backendB.port : backendA.port,
    });
    assert.equal(check.code, 0, check.stderr);
  });

  /**
   * Another nginx on this machine, not the proxy's (as the VPS boxes' nginx of other tests are):
   * its own prefix, pid file and port, two workers that stay up. Stopped by `stop`.
   */
  async function startOtherNginx(): Promise<{
    port: number;
    workers: () => number[];
    stop: () => Promise<void>;
  }> {
    const otherPrefix = mkdtempSync(join(tmpdir(), "slipway-other-nginx-"));
    chmodSync(otherPrefix, 0o755);
    const otherPort = await freePort();
    writeFileSync(
      join(otherPrefix, "nginx.conf"),
      [
        "worker_processes 2;",
        "events {}",
        "http {",
        "  access_log off;",
        `  server { listen ${LOCALHOST}:${otherPort}; return 200 "other\\n"; }`,
        "}",
        "",
      ].join("\n"),
    );
    const child = spawn(NGINX, nginxArgs(otherPrefix), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const unregisterOther = onProcessExit(() => child.kill("SIGTERM"));
    const stop = async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(5_000)]);
      }
      unregisterOther();
      rmSync(otherPrefix, { recursive: true, force: true });
    };
    // Its workers: the processes named as the proxy's are, whose parent is this master.
    const workers = () =>
      readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .filter((pid) => {
          try {
            const name = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", "");
            const status = readFileSync(`/proc/${pid}/status`, "utf8");
            return name === "nginx: worker process" && status.includes(`\nPPid:\t${child.pid}\n`);
          } catch {
            return false; // gone in between
          }
        })
        .map(Number);
    for (let attempt = 0; workers().length < 2; attempt++) {
      if (child.exitCode !== null || attempt >= 50) {
        await stop();
        throw new Error(`the other nginx did not start: ${stderr}`);
      }
      await sleep(100);
    }
    return { port: otherPort, workers, stop };
  }

  it("drains: the switch marks when traffic moved, then ends once the old workers answered what they held, long before the drain time", {
    timeout: 30_000,
  }, async () => {
    const current = json(await request(port, { host: "app.test" })).backend;
    const [from, to] = current === "A" ? [backendA, backendB] : [backendB, backendA];
    // A request the old workers hold across the switch: 1.5 s at the old backend.
    let answeredAt = 0;
    const held = request(port, { host: "app.test", path: "/slow?ms=1500" }).then((reply) => {
      answeredAt = performance.now();
      return reply;
    });
    await sleep(300);
    const started = performance.now();
    const result = await drainingSwitch(to, 10_000);
    const ended = performance.now();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${SWITCHED_MARK}\n`);
    const reply = await held;
    assert.equal(reply.status, 200);
    assert.equal(
      reply.body.toString("utf8"),
      `${from.id} slow\n`,
      "the held request ends at the old backend",
    );
    assert.ok(
      result.markedAt !== undefined && result.markedAt < answeredAt,
      "marked before the held request ended",
    );
    // New requests reach the new backend as soon as the mark is printed.
    assert.equal(json(await request(port, { host: "app.test" })).backend, to.id);
    assert.ok(
      ended >= answeredAt - 50,
      `ended ${Math.round(answeredAt - ended)} ms before the held request did`,
    );
    assert.ok(
      ended - started < 5_000,
      `the drain took ${Math.round(ended - started)} ms of its 10 s`,
    );

    // Nothing held: the drain ends at once.
    const quick = performance.now();
    const back = await drainingSwitch(from, 10_000);
    assert.equal(back.code, 0, back.stderr);
    assert.ok(
      performance.now() - quick < 2_000,
      `an idle drain took ${Math.round(performance.now() - quick)} ms`,
    );
  });

  it("drains for the drain time at most: a request held longer does not hold the switch", {
    timeout: 30_000,
  }, async () => {
    const current = json(await request(port, { host: "app.test" })).backend;
    const to = current === "A" ? backendB : backendA;
    const held = request(port, { host: "app.test", path: "/slow?ms=4000" });
    await sleep(300);
    const started = performance.now();
    const result = await drainingSwitch(to, 1_000);
    const took = performance.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      took >= 1_000 && took < 3_500,
      `the switch with a 1 s drain took ${Math.round(took)} ms`,
    );
    assert.equal((await held).status, 200, "nginx still answers the held request");
  });

  it("switches promptly while another nginx's workers run on the machine: only its own master's workers count", async () => {
    const other = await startOtherNginx();
    try {
      const before = other.workers();
      const current = json(await request(port, { host: "app.test" })).backend;
      const next = current === "A" ? backendB : backendA;
      const started = performance.now();
      const result = await runSwitch(hello, { container: LOCALHOST, port: next.port });
      const took = performance.now() - started;
      assert.equal(result.code, 0, result.stderr);
      // The script waits up to 5 s for old workers; the other nginx's would have held it all along.
      assert.ok(took < 3_000, `the switch took ${Math.round(took)} ms`);
      assert.equal(json(await request(port, { host: "app.test" })).backend, next.id);
      // The other nginx was there all along, untouched: the same workers, still serving.
      assert.deepEqual(other.workers(), before);
      const reply = await request(other.port, { host: "other.test" });
      assert.equal(reply.body.toString("utf8"), "other\n");
    } finally {
      await other.stop();
    }
  });

  it("still fails a reload nginx did not carry out (a port another nginx holds), and puts the upstream back", async () => {
    const other = await startOtherNginx();
    try {
      const working = upstreamFile("hello-web");
      const served = json(await request(port, { host: "app.test" })).backend;
      const next = served === "A" ? backendB : backendA;
      // nginx -t does not bind, so it passes; the master cannot bind at the reload and keeps the
      // old workers (and configuration) serving.
      const content = [
        `upstream hello-web {\n    server ${LOCALHOST}:${next.port};\n}`,
        `server {\n    listen ${LOCALHOST}:${other.port};\n    return 204;\n}`,
        "",
      ].join("\n");
      const result = await runSwitch(hello, { container: LOCALHOST, port: next.port }, content);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /nginx did not take the new configuration: its old workers still serve/,
      );
      assert.match(
        result.stderr,
        /the reload of hello-web did not take; the previous upstream is back/,
      );
      assert.equal(upstreamFile("hello-web"), working);
      assert.equal(json(await request(port, { host: "app.test" })).backend, served);
    } finally {
      await other.stop();
    }
  });
});
