/**
 * monitoring.status_domain in a real nginx (this machine's, on a loopback port) in front of a real
 * agent process: placeStatusSite writes the server block through the local transport and the
 * proxy's switch script (nginx -t first). Only the status page, its JSON and /healthz reach the
 * agent; its API and /metrics are 404; a block nginx refuses never replaces the working one.
 * `docker` is a stand-in mapping `docker exec slipway-proxy nginx ...` to the local nginx.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { placeStatusSite } from "../../src/monitor/status-domain.ts";
import type { RunStep } from "../../src/plan/index.ts";
import { type ProxyOptions, planStatusSite, renderNginxConf } from "../../src/proxy/index.ts";
import { isArgv, LocalTransport } from "../../src/transport/index.ts";
import { freePort, onProcessExit, skipUnless } from "../rig/index.ts";
import { startAgentProcess } from "../support/agent-process.ts";
import { fakeDockerScript, NGINX, nginxArgs, nginxAvailable } from "../unit/proxy/nginx-rig.ts";

const TOKEN = "status-domain-token-0123456789";

function request(
  port: number,
  host: string,
  path: string,
  options: { method?: string; token?: string } = {},
): Promise<{ status: number; type: string; body: string; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        agent: false,
        headers: {
          host,
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          body += d;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            body,
            location: res.headers.location,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("a status domain through the real nginx proxy", {
  skip: skipUnless(nginxAvailable()),
}, () => {
  let prefix: string;
  let port: number;
  let options: ProxyOptions;
  let nginx: ChildProcess | undefined;
  let nginxStderr = "";
  const agents: ChildProcess[] = [];
  const agentPorts: number[] = [];
  let unregister = () => {};
  const transport = new LocalTransport();
  let path = "";

  async function agent(publicStatus: boolean): Promise<number> {
    const dir = mkdtempSync(join(prefix, "agent-"));
    const started = await startAgentProcess(dir, {
      config: {
        service: "hello",
        host: "box",
        listen: { port: 0 },
        token_env: "AGENT_TOKEN",
        public_status: publicStatus,
        checks: [{ name: "hello/web", kind: "tcp", host: "127.0.0.1", port: 1 }],
      },
      env: { AGENT_TOKEN: TOKEN },
    });
    agents.push(started.child);
    return Number(new URL(started.base).port);
  }

  const place = (domain: string | undefined, agentPort: number) =>
    placeStatusSite(transport, "hello", domain, {
      ...options,
      agent: { host: "127.0.0.1", port: agentPort },
      resolver: "127.0.0.1",
    });

  before(async () => {
    prefix = mkdtempSync(join(tmpdir(), "slipway-status-domain-"));
    chmodSync(prefix, 0o755);
    port = await freePort();
    options = {
      hostDir: prefix,
      confDir: prefix,
      tempDir: prefix,
      listenPort: port,
      listenAddress: "127.0.0.1",
    };
    mkdirSync(join(prefix, "sites"));
    mkdirSync(join(prefix, "upstreams"));
    writeFileSync(join(prefix, "nginx.conf"), renderNginxConf(options));
    mkdirSync(join(prefix, "bin"));
    writeFileSync(join(prefix, "bin/docker"), fakeDockerScript(prefix));
    chmodSync(join(prefix, "bin/docker"), 0o755);
    // The local transport runs `docker` from PATH: the stand-in.
    process.env.PATH = `${prefix}/bin:${process.env.PATH}`;
    path = join(prefix, "sites", "status.hello.conf");
    agentPorts.push(await agent(true), await agent(false));

    nginx = spawn(NGINX, nginxArgs(prefix), { stdio: ["ignore", "ignore", "pipe"] });
    const child = nginx;
    unregister = onProcessExit(() => child.kill("SIGTERM"));
    nginx.stderr?.setEncoding("utf8").on("data", (d: string) => {
      nginxStderr = `${nginxStderr}${d}`.slice(-20_000);
    });
    for (let attempt = 0; ; attempt++) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxStderr}`);
      try {
        await request(port, "none.test", "/");
        break;
      } catch (error) {
        if (attempt >= 50) throw new Error(`nginx never answered: ${String(error)}`);
        await sleep(100);
      }
    }
  });

  after(async () => {
    for (const child of [nginx, ...agents]) {
      if (!child || child.exitCode !== null) continue;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5_000)]);
    }
    unregister();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  it("passes the page, its JSON and /healthz to the agent, nothing else", async () => {
    assert.equal(await place("status.test", agentPorts[0] ?? 0), "added");
    const page = await request(port, "status.test", "/status");
    assert.equal(page.status, 200, page.body);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /hello\/web/);
    const model = await request(port, "status.test", "/api/status");
    assert.equal(model.status, 200);
    assert.equal((JSON.parse(model.body) as { host: string }).host, "box");
    assert.equal((await request(port, "status.test", "/healthz")).body, "ok\n");
    const root = await request(port, "status.test", "/");
    assert.deepEqual([root.status, root.location], [302, `http://status.test:${port}/status`]);
    for (const hidden of ["/metrics", "/api/checks", "/api/settings", "/api/incidents", "/x"]) {
      const reply = await request(port, "status.test", hidden, { token: TOKEN });
      assert.equal(reply.status, 404, `${hidden} must not reach the agent`);
    }
    const post = await request(port, "status.test", "/status", { method: "POST" });
    assert.equal(post.status, 403);
    assert.equal((await request(port, "other.test", "/status")).status, 404, "another name");
    assert.equal(await place("status.test", agentPorts[0] ?? 0), "unchanged");
  });

  it("a private status page needs the token through the proxy too", async () => {
    assert.equal(await place("status.test", agentPorts[1] ?? 0), "updated");
    assert.equal((await request(port, "status.test", "/status")).status, 401);
    assert.equal((await request(port, "status.test", "/api/status")).status, 401);
    const page = await request(port, "status.test", "/status", { token: TOKEN });
    assert.equal(page.status, 200);
  });

  it("a block nginx refuses never replaces the working one", async () => {
    const before = readFileSync(path, "utf8");
    const step = planStatusSite(
      "hello",
      { domain: "status.test", agent: { host: "127.0.0.1", port: 1 } },
      options,
    )[0] as RunStep;
    assert.ok(isArgv(step.command));
    const [program, ...args] = step.command;
    const child = spawn(program ?? "sh", args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.stdin.end("server { this is not nginx }\n");
    const [code] = (await once(child, "close")) as [number];
    assert.equal(code, 1, stderr);
    assert.match(stderr, /the previous one is back in place/);
    assert.equal(readFileSync(path, "utf8"), before);
    const page = await request(port, "status.test", "/status", { token: TOKEN });
    assert.equal(page.status, 200, "still served by the working configuration");
  });

  it("removed from slipway.yml, the block goes", async () => {
    assert.equal(await place(undefined, 0), "removed");
    assert.equal((await request(port, "status.test", "/status")).status, 404);
    assert.equal(await place(undefined, 0), "none");
  });
});
