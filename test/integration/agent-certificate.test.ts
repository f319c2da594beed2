/**
 * Certificate renewal by the agent as Slipway ships it (dist/agent-bundle), on Podman's real
 * Docker-API socket: the runner (certs.mjs) in a one-off container issues from pebble on loopback
 * by HTTP-01 through an nginx container serving the rendered site, the agent reloads that nginx by
 * SIGHUP and sees the new certificate served; a good certificate is left alone without starting
 * any container; a failing issuance fails the run with the CA's words, opens the job's incident,
 * alerts a real webhook receiver, and later runs wait out the backoff.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineClient, type JobRun } from "../../src/agent/index.ts";
import { readState } from "../../src/certs/index.ts";
import type { ProxySite } from "../../src/proxy/index.ts";
import { freePort, NGINX_IMAGE, NODE_IMAGE, rigAvailable, skipUnless } from "../rig/index.ts";
import { type AgentProcess, agentApi, startAgentProcess } from "../support/agent-process.ts";
import { writeHttpsSite } from "../support/local-nginx.ts";
import { type NoticeReceiver, startNoticeReceiver } from "../support/notice-receiver.ts";
import { type Pebble, pebbleAvailable, startPebble } from "../support/pebble.ts";
import { curlHttp, sClient, served, statusOf } from "../support/tls-probe.ts";
import { nginxArgs } from "../unit/proxy/nginx-rig.ts";

const SOCKET = "/run/podman/podman.sock";
const TOKEN = "agent-token-0123456789";
const RUNNER = new URL("../../dist/agent-bundle/certs.mjs", import.meta.url).pathname;
const JOB = "certificate renewal";
const LOCALHOST = "127.0.0.1";

describe("certificate renewal by the agent, on Podman's socket", {
  skip:
    skipUnless(rigAvailable(NODE_IMAGE)) ||
    skipUnless(rigAvailable(NGINX_IMAGE)) ||
    skipUnless(pebbleAvailable()) ||
    (existsSync(SOCKET) ? false : `${SOCKET} is missing`),
  timeout: 300_000,
}, () => {
  const engine = new EngineClient(SOCKET);
  const proxy = `certtest-proxy-${randomBytes(3).toString("hex")}`;
  let dir = "";
  let tlsDir = "";
  let orderPath = "";
  let httpPort = 0;
  let httpsPort = 0;
  let pebble: Pebble;
  let rootFile = "";
  let backend: Server;
  let receiver: NoticeReceiver;
  let agent: AgentProcess | undefined;

  const api = (method: string, path: string) => {
    assert.ok(agent);
    return agentApi(agent, TOKEN, method, path);
  };

  const runJob = async () =>
    (await api("POST", `/api/jobs/run?job=${encodeURIComponent(JOB)}`)).value as JobRun;

  function writeOrder(domains: string[]): void {
    writeFileSync(
      orderPath,
      JSON.stringify({
        site: "hello",
        domains,
        directory: pebble.directory,
        ca_file: join(tlsDir, "secrets", "directory-ca.pem"),
        challenge: "http-01",
        renew_before_ms: 30 * 86_400_000,
        tls_dir: tlsDir,
        proxy_certs_dir: join(tlsDir, "certs"),
        https_port: httpsPort,
      }),
      { mode: 0o600 },
    );
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-agent-cert-"));
    const prefix = join(dir, "proxy");
    tlsDir = join(dir, "tls");
    mkdirSync(prefix);
    [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    backend = createServer((_req, res) => res.end("hello over the proxy"));
    await new Promise<void>((resolve) => backend.listen(0, LOCALHOST, resolve));
    const site: ProxySite = {
      site: "hello",
      role: "web",
      domains: ["hello.test"],
      appPort: 3000,
      healthPath: "/up",
      maxBodySize: 1024,
      https: { acme: true },
    };
    const app = (backend.address() as AddressInfo).port;
    await writeHttpsSite(prefix, tlsDir, site, { http: httpPort, https: httpsPort, app });
    // The container sees the same paths: the whole folder is open to it.
    chmodSync(dir, 0o755);
    for (const sub of ["orders", "secrets"]) mkdirSync(join(tlsDir, sub), { mode: 0o700 });
    // The proxy: an nginx container on the host's network, its files at the same paths.
    const id = await engine.create(proxy, {
      Image: NGINX_IMAGE,
      Cmd: ["nginx", ...nginxArgs(prefix)],
      Labels: { "slipway.test": "agent-certificate" },
      HostConfig: { Binds: [`${dir}:${dir}`], NetworkMode: "host" },
    });
    await engine.start(id);
    const up = Date.now() + 30_000;
    while (statusOf((await curlHttp("hello.test", httpPort, "/")).stdout) !== 200) {
      assert.ok(Date.now() < up, `the nginx container does not answer:\n${await engine.logs(id)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    pebble = await startPebble({ httpPort });
    rootFile = join(dir, "pebble-root.pem");
    writeFileSync(rootFile, await pebble.root());
    // The runner's container sees only the certificates' folder: the directory's CA goes there.
    copyFileSync(pebble.directoryCaFile, join(tlsDir, "secrets", "directory-ca.pem"));
    orderPath = join(tlsDir, "orders", "hello.json");
    writeOrder(["hello.test"]);

    receiver = await startNoticeReceiver();
    agent = await startAgentProcess(dir, {
      config: {
        service: "hello",
        host: "vps1",
        listen: { address: LOCALHOST, port: 0 },
        token_env: "AGENT_TOKEN",
        engine_socket: SOCKET,
        notifiers: [
          {
            name: "hooks",
            kind: "webhook",
            url: receiver.url,
          },
        ],
        jobs: [
          {
            name: JOB,
            kind: "certificate",
            schedule: "0 3 * * *",
            order: orderPath,
            image: NODE_IMAGE,
            runner: RUNNER,
            proxy,
            network: "host",
            serves: `${LOCALHOST}:${httpsPort}`,
          },
        ],
      },
      env: { AGENT_TOKEN: TOKEN },
    });
  });

  after(async () => {
    agent?.child.kill("SIGKILL");
    for (const c of await engine.list({ "slipway.test": "agent-certificate" }, { all: true })) {
      await engine.remove(c.Id);
    }
    for (const c of await engine.list({ "slipway.certs": "hello" }, { all: true })) {
      await engine.remove(c.Id);
    }
    await pebble?.stop();
    backend?.closeAllConnections();
    backend?.close();
    receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("issues the first certificate in a runner container, reloads nginx by SIGHUP and sees it served", async () => {
    await assert.rejects(served(httpsPort, "hello.test", pebble.directoryCa), "no certificate yet");
    const run = await runJob();
    assert.equal(run.outcome, "ok", `${run.detail}\n${run.output}`);
    assert.match(run.detail, /^renewed \(no certificate yet\): valid until \d{4}-\d\d-\d\d$/);
    const s = await sClient(httpsPort, "hello.test", rootFile, ["-brief"]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /Verification: OK/);
    const redirect = await curlHttp("hello.test", httpPort, "/");
    assert.equal(statusOf(redirect.stdout), 301, "HTTP redirects once the certificate is in");
    assert.deepEqual(
      await engine.list({ "slipway.certs": "hello" }, { all: true }),
      [],
      "runner gone",
    );
  });

  it("leaves a good certificate alone without starting anything", async () => {
    const before = await served(httpsPort, "hello.test", pebble.directoryCa);
    const run = await runJob();
    assert.equal(run.outcome, "ok");
    assert.match(run.detail, /^not due: it expires in \d+ days$/);
    assert.equal(
      (await served(httpsPort, "hello.test", pebble.directoryCa)).fingerprint,
      before.fingerprint,
    );
  });

  it("a failing issuance fails the run with the CA's words, opens the incident and alerts; the next run waits", async () => {
    const before = await served(httpsPort, "hello.test", pebble.directoryCa);
    // A new domain pebble cannot validate: nothing listens on 127.0.0.2.
    await pebble.addA("broken.hello.test", "127.0.0.2");
    writeOrder(["hello.test", "broken.hello.test"]);
    const run = await runJob();
    assert.equal(run.outcome, "failed", run.detail);
    assert.match(run.detail, /^broken\.hello\.test: connection: /);
    const incidents = (await api("GET", "/api/incidents?open=1")).value as {
      check: string;
      cause: string;
    }[];
    assert.deepEqual(
      incidents.map((i) => i.check),
      [`${JOB} job`],
    );
    const deadline = Date.now() + 10_000;
    const notices = receiver.notices;
    while (notices.length < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(notices[0]?.event, "open");
    assert.match(
      notices[0]?.message ?? "",
      /^certificate renewal job failed: broken\.hello\.test: connection: /,
    );
    assert.equal(readState({ tls_dir: tlsDir, site: "hello" }).failures, 1);

    const waiting = await runJob();
    assert.equal(waiting.outcome, "failed");
    assert.match(
      waiting.detail,
      /^the last attempt failed \(broken\.hello\.test: connection: .*\); the next one is at /,
    );
    assert.equal(readState({ tls_dir: tlsDir, site: "hello" }).failures, 1, "the CA was not asked");
    assert.equal(
      (await served(httpsPort, "hello.test", pebble.directoryCa)).fingerprint,
      before.fingerprint,
      "the certificate in place still serves",
    );
  });
});
