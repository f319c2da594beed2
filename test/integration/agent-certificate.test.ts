/**
 * Certificate renewal by the agent as Slipway ships it (dist/agent-bundle), on Podman's real
 * Docker-API socket: the runner (certs.mjs) in a one-off container issues from pebble on loopback
 * by HTTP-01 through an nginx container serving the rendered site, the agent reloads that nginx by
 * SIGHUP and sees the new certificate served; a good certificate is left alone without starting
 * any container; a failing issuance fails the run with the CA's words, opens the job's incident,
 * alerts a real webhook receiver, and later runs wait out the backoff. A second web host (its own
 * nginx container and certificates' folder) takes the issuing host's certificate, sealed, from
 * that host's proxy, and refuses one that does not open with the site's key.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineClient, type JobRun } from "../../src/agent/index.ts";
import { readState, sharedFileName, sharedPath } from "../../src/certs/index.ts";
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
const SHARED_JOB = "certificate from the issuing host";
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
  const tag = randomBytes(3).toString("hex");
  let dir = "";
  let pebble: Pebble;
  let rootFile = "";
  let backend: Server;
  let receiver: NoticeReceiver;
  let agent: AgentProcess | undefined;
  /** The host that issues, and the other web host. */
  let issuing: WebHost;
  let other: WebHost;
  const SHARE_KEY = randomBytes(32).toString("base64url");
  const site: ProxySite = {
    site: "hello",
    role: "web",
    domains: ["hello.test"],
    appPort: 3000,
    healthPath: "/up",
    maxBodySize: 1024,
    https: { acme: true },
  };

  /** A web host: its proxy (an nginx container on the host's network), folders and ports. */
  interface WebHost {
    name: string;
    proxy: string;
    tlsDir: string;
    orderPath: string;
    httpPort: number;
    httpsPort: number;
  }

  async function startWebHost(name: string): Promise<WebHost> {
    const prefix = join(dir, name, "proxy");
    const tlsDir = join(dir, name, "tls");
    mkdirSync(prefix, { recursive: true });
    chmodSync(join(dir, name), 0o755);
    const [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    const app = (backend.address() as AddressInfo).port;
    await writeHttpsSite(prefix, tlsDir, site, { http: httpPort, https: httpsPort, app });
    for (const sub of ["orders", "secrets"]) mkdirSync(join(tlsDir, sub), { mode: 0o700 });
    writeFileSync(join(tlsDir, "secrets", "share-key"), `${SHARE_KEY}\n`, { mode: 0o600 });
    const proxy = `certtest-${name}-${tag}`;
    // The container sees the same paths as this machine.
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
    return {
      name,
      proxy,
      tlsDir,
      orderPath: join(tlsDir, "orders", "hello.json"),
      httpPort,
      httpsPort,
    };
  }

  const api = (method: string, path: string) => {
    assert.ok(agent);
    return agentApi(agent, TOKEN, method, path);
  };

  const runJob = async (job = JOB) =>
    (await api("POST", `/api/jobs/run?job=${encodeURIComponent(job)}`)).value as JobRun;

  function writeOrder(host: WebHost, domains: string[]): void {
    writeFileSync(
      host.orderPath,
      JSON.stringify({
        site: "hello",
        domains,
        directory: pebble.directory,
        ca_file: join(host.tlsDir, "secrets", "directory-ca.pem"),
        challenge: "http-01",
        renew_before_ms: 30 * 86_400_000,
        tls_dir: host.tlsDir,
        proxy_certs_dir: join(host.tlsDir, "certs"),
        https_port: host.httpsPort,
        share_key_file: join(host.tlsDir, "secrets", "share-key"),
      }),
      { mode: 0o600 },
    );
  }

  const certificateJob = (host: WebHost, name: string, extra: Record<string, unknown> = {}) => ({
    name,
    kind: "certificate",
    schedule: "0 3 * * *",
    order: host.orderPath,
    image: NODE_IMAGE,
    runner: RUNNER,
    proxy: host.proxy,
    network: "host",
    serves: `${LOCALHOST}:${host.httpsPort}`,
    ...extra,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-agent-cert-"));
    chmodSync(dir, 0o755);
    backend = createServer((_req, res) => res.end("hello over the proxy"));
    await new Promise<void>((resolve) => backend.listen(0, LOCALHOST, resolve));
    issuing = await startWebHost("issuing");
    other = await startWebHost("other");
    pebble = await startPebble({ httpPort: issuing.httpPort });
    rootFile = join(dir, "pebble-root.pem");
    writeFileSync(rootFile, await pebble.root());
    // The runner's container sees only the certificates' folder: the directory's CA goes there.
    copyFileSync(pebble.directoryCaFile, join(issuing.tlsDir, "secrets", "directory-ca.pem"));
    writeOrder(issuing, ["hello.test"]);
    writeOrder(other, ["hello.test"]);

    receiver = await startNoticeReceiver();
    agent = await startAgentProcess(dir, {
      config: {
        service: "hello",
        host: "vps1",
        listen: { address: LOCALHOST, port: 0 },
        token_env: "AGENT_TOKEN",
        engine_socket: SOCKET,
        notifiers: [{ name: "hooks", kind: "webhook", url: receiver.url }],
        jobs: [
          certificateJob(issuing, JOB),
          certificateJob(other, SHARED_JOB, {
            from: {
              url: `http://${LOCALHOST}:${issuing.httpPort}${sharedPath("hello")}`,
              host: "hello.test",
              key_file: join(other.tlsDir, "secrets", "share-key"),
            },
          }),
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
    await assert.rejects(
      served(issuing.httpsPort, "hello.test", pebble.directoryCa),
      "no certificate yet",
    );
    const run = await runJob();
    assert.equal(run.outcome, "ok", `${run.detail}\n${run.output}`);
    assert.match(run.detail, /^renewed \(no certificate yet\): valid until \d{4}-\d\d-\d\d$/);
    const s = await sClient(issuing.httpsPort, "hello.test", rootFile, ["-brief"]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /Verification: OK/);
    const redirect = await curlHttp("hello.test", issuing.httpPort, "/");
    assert.equal(statusOf(redirect.stdout), 301, "HTTP redirects once the certificate is in");
    assert.deepEqual(
      await engine.list({ "slipway.certs": "hello" }, { all: true }),
      [],
      "runner gone",
    );
  });

  it("leaves a good certificate alone without starting anything", async () => {
    const before = await served(issuing.httpsPort, "hello.test", pebble.directoryCa);
    const run = await runJob();
    assert.equal(run.outcome, "ok");
    assert.match(run.detail, /^not due: it expires in \d+ days$/);
    assert.equal(
      (await served(issuing.httpsPort, "hello.test", pebble.directoryCa)).fingerprint,
      before.fingerprint,
    );
  });

  it("another web host takes the issuing host's certificate, sealed, from its proxy; a bad seal is refused", async () => {
    const issued = await served(issuing.httpsPort, "hello.test", pebble.directoryCa);
    await assert.rejects(served(other.httpsPort, "hello.test", pebble.directoryCa));
    const took = await runJob(SHARED_JOB);
    assert.equal(took.outcome, "ok", took.detail);
    assert.match(took.detail, /^took the issuing host's certificate: valid until /);
    const there = await served(other.httpsPort, "hello.test", pebble.directoryCa);
    assert.equal(there.fingerprint, issued.fingerprint, "one certificate for both hosts");
    const again = await runJob(SHARED_JOB);
    assert.match(again.detail, /^in step with the issuing host/);

    const sealed = join(
      issuing.tlsDir,
      "webroot/.well-known/acme-challenge",
      sharedFileName("hello"),
    );
    const good = readFileSync(sealed, "utf8");
    writeFileSync(sealed, Buffer.from("x".repeat(200)).toString("base64"));
    const refused = await runJob(SHARED_JOB);
    assert.equal(refused.outcome, "failed");
    assert.match(
      refused.detail,
      /^the issuing host's certificate is not usable: the sealed certificate does not open with this site's key$/,
    );
    writeFileSync(sealed, good);
    assert.equal((await runJob(SHARED_JOB)).outcome, "ok", "its incident resolves");
    assert.equal(
      (await served(other.httpsPort, "hello.test", pebble.directoryCa)).fingerprint,
      issued.fingerprint,
    );
  });

  it("a failing issuance fails the run with the CA's words, opens the incident and alerts; the next run waits", async () => {
    const before = await served(issuing.httpsPort, "hello.test", pebble.directoryCa);
    // A new domain pebble cannot validate: nothing listens on 127.0.0.2.
    await pebble.addA("broken.hello.test", "127.0.0.2");
    writeOrder(issuing, ["hello.test", "broken.hello.test"]);
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
    const opened = () =>
      receiver.notices.find((n) => n.check === `${JOB} job` && n.event === "open");
    while (opened() === undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(
      opened()?.message ?? "",
      /^certificate renewal job failed: broken\.hello\.test: connection: /,
    );
    assert.equal(readState({ tls_dir: issuing.tlsDir, site: "hello" }).failures, 1);

    const waiting = await runJob();
    assert.equal(waiting.outcome, "failed");
    assert.match(
      waiting.detail,
      /^the last attempt failed \(broken\.hello\.test: connection: .*\); the next one is at /,
    );
    assert.equal(
      readState({ tls_dir: issuing.tlsDir, site: "hello" }).failures,
      1,
      "the CA was not asked",
    );
    assert.equal(
      (await served(issuing.httpsPort, "hello.test", pebble.directoryCa)).fingerprint,
      before.fingerprint,
      "the certificate in place still serves",
    );
  });
});
