/**
 * ACME for real: pebble (Let's Encrypt's test CA) with pebble-challtestsrv as its DNS on
 * loopback, this machine's nginx serving the rendered HTTPS site (its HTTP-01 challenges from
 * the webroot, on the port pebble validates), and the runner's own code issuing. Then the
 * served certificate is looked at with openssl s_client and curl --cacert (pebble's root, from
 * its management API).
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { certId, fetchRenewalInfo } from "../../src/certs/ari.ts";
import { certificateFiles } from "../../src/certs/index.ts";
import type { Order } from "../../src/certs/order.ts";
import { runOrder } from "../../src/certs/run.ts";
import { readState } from "../../src/certs/store.ts";
import type { ProxySite } from "../../src/proxy/index.ts";
import { freePort, skipUnless } from "../rig/index.ts";
import { type LocalNginx, startLocalNginx, writeHttpsSite } from "../support/local-nginx.ts";
import { issueCert, makeCa } from "../support/openssl.ts";
import { type Pebble, pebbleAvailable, startPebble } from "../support/pebble.ts";
import { curlHttp, curlHttps, headerOf, sClient, served, statusOf } from "../support/tls-probe.ts";
import { nginxAvailable } from "../unit/proxy/nginx-rig.ts";

const LOCALHOST = "127.0.0.1";
const DAY_MS = 86_400_000;
const DOMAINS = ["hello.test", "www.hello.test"];

const site: ProxySite = {
  site: "hello",
  role: "web",
  domains: DOMAINS,
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 1024,
  https: { acme: true, hsts: { maxAgeS: 63_072_000, includeSubdomains: false, preload: false } },
};

const ready = skipUnless(nginxAvailable()) || skipUnless(pebbleAvailable());

describe("ACME issuance with pebble, served by nginx", { skip: ready }, () => {
  let prefix = "";
  let tlsDir = "";
  let httpPort = 0;
  let httpsPort = 0;
  let backend: http.Server;
  let nginx: LocalNginx;
  let pebble: Pebble;
  let rootFile = "";
  let order: Order;

  before(async () => {
    prefix = mkdtempSync(join(tmpdir(), "slipway-acme-"));
    tlsDir = join(prefix, "tls");
    [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
    backend = http.createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ app: "hello" }));
    });
    await new Promise<void>((resolve) => backend.listen(0, LOCALHOST, resolve));
    const address = backend.address();
    const app = typeof address === "object" && address ? address.port : 0;
    await writeHttpsSite(prefix, tlsDir, site, { http: httpPort, https: httpsPort, app });
    nginx = await startLocalNginx(prefix, async () => {
      const r = await curlHttp("hello.test", httpPort, "/");
      if (statusOf(r.stdout) !== 200) throw new Error(r.stderr || r.stdout);
    });
    pebble = await startPebble({ httpPort });
    rootFile = join(prefix, "pebble-root.pem");
    writeFileSync(rootFile, await pebble.root());
    order = {
      site: "hello",
      domains: DOMAINS,
      directory: pebble.directory,
      ca_file: pebble.directoryCaFile,
      challenge: "http-01",
      renew_before_ms: 30 * DAY_MS,
      tls_dir: tlsDir,
      proxy_certs_dir: join(tlsDir, "certs"),
      https_port: httpsPort,
    };
  });

  after(async () => {
    await nginx?.stop();
    await pebble?.stop();
    backend?.closeAllConnections();
    backend?.close();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  /** Reloads nginx and waits until it serves the certificate with this fingerprint. */
  async function reloadUntilServed(fingerprint: string): Promise<void> {
    await nginx.reload();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const now = await served(httpsPort, "hello.test", pebble.directoryCa).catch(() => undefined);
      if (now?.fingerprint === fingerprint) return;
      if (Date.now() > deadline)
        throw new Error(`nginx does not serve ${fingerprint}:\n${nginx.stderr()}`);
      await sleep(100);
    }
  }

  it("before any certificate: HTTP serves the app and HTTPS handshakes are refused", async () => {
    const plain = await curlHttp("hello.test", httpPort, "/");
    assert.equal(statusOf(plain.stdout), 200, plain.stdout);
    await assert.rejects(served(httpsPort, "hello.test", pebble.directoryCa));
  });

  it("issues for every domain by HTTP-01 through the webroot; nginx serves it over TLS 1.3 and HTTP redirects", async () => {
    const result = await runOrder(order);
    assert.equal(result.outcome, "issued", JSON.stringify(result));
    assert.ok(result.outcome === "issued");
    assert.deepEqual(result.facts.names.sort(), [...DOMAINS].sort());
    const files = certificateFiles("hello");
    assert.equal(
      statSync(join(tlsDir, "certs", files.pem)).mode & 0o777,
      0o600,
      "certificate 0600",
    );
    const accounts = join(tlsDir, "accounts");
    for (const name of await import("node:fs").then((fs) => fs.readdirSync(accounts))) {
      assert.equal(statSync(join(accounts, name)).mode & 0o777, 0o600, `account key ${name} 0600`);
    }
    assert.equal(readState(order).ari, undefined, "pebble 2.4 offers no renewal information");
    await reloadUntilServed(result.facts.fingerprint);

    const s = await sClient(httpsPort, "hello.test", rootFile, ["-brief"]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /Protocol version: TLSv1\.3/);
    assert.match(s.stderr, /Verification: OK/);
    const page = await curlHttps("www.hello.test", httpsPort, "/", rootFile);
    assert.equal(page.code, 0, page.stderr);
    assert.equal(statusOf(page.stdout), 200);
    assert.match(page.stdout, /\{"app":"hello"\}/);
    assert.equal(headerOf(page.stdout, "strict-transport-security"), "max-age=63072000");
    assert.equal(headerOf(page.stdout, "x-content-type-options"), "nosniff");

    const redirect = await curlHttp("hello.test", httpPort, "/some/page?q=1");
    assert.equal(statusOf(redirect.stdout), 301);
    assert.equal(
      headerOf(redirect.stdout, "location"),
      `https://hello.test:${httpsPort}/some/page?q=1`,
    );
    const challenge = await curlHttp("hello.test", httpPort, "/.well-known/acme-challenge/none");
    assert.equal(statusOf(challenge.stdout), 404, "the challenge path is never redirected");

    const unknown = await sClient(httpsPort, "other.test", rootFile, ["-brief"]);
    assert.notEqual(unknown.code, 0, "a name no site serves gets no certificate");
    assert.match(unknown.stderr, /unrecognized name|alert/);
  });

  it("leaves a good certificate alone; forced, replaces it and keeps the previous one", async () => {
    const before = await served(httpsPort, "hello.test", pebble.directoryCa);
    const again = await runOrder(order);
    assert.equal(again.outcome, "not-due");
    assert.match(again.detail, /expires in \d+ days/);
    const forced = await runOrder(order, { force: true });
    assert.ok(forced.outcome === "issued", JSON.stringify(forced));
    assert.notEqual(forced.facts.fingerprint, before.fingerprint);
    await reloadUntilServed(forced.facts.fingerprint);
    const previous = readFileSync(join(tlsDir, "certs", "hello.pem.previous"), "utf8");
    assert.match(previous, /BEGIN CERTIFICATE/);
  });

  it("a failing issuance keeps the certificate in place, records the CA's error and backs off", async () => {
    const before = await served(httpsPort, "hello.test", pebble.directoryCa);
    // Nothing listens on 127.0.0.2: pebble's validation cannot connect.
    await pebble.addA("hello.test", "127.0.0.2");
    const failed = await runOrder(order, { force: true });
    assert.equal(failed.outcome, "failed");
    assert.ok(failed.outcome === "failed");
    assert.match(failed.error, /^hello\.test: connection: .*127\.0\.0\.2/);
    const state = readState(order);
    assert.equal(state.failures, 1);
    assert.equal(state.lastError, failed.error);
    assert.ok((state.nextAttemptAt ?? 0) > Date.now() + 10 * 60_000, "retried in 15 minutes");
    const waiting = await runOrder(order, { force: true, scheduled: true });
    assert.equal(waiting.outcome, "waiting", "a scheduled run waits out the backoff");
    await nginx.reload();
    await sleep(300);
    const after = await served(httpsPort, "hello.test", pebble.directoryCa);
    assert.equal(after.fingerprint, before.fingerprint, "the old certificate still serves");
    await pebble.addA("hello.test", LOCALHOST);
  });
});

describe("ACME with external account binding (pebble requiring EAB)", { skip: ready }, () => {
  let dir = "";
  let pebble: Pebble;
  const KID = "kid-1";
  const HMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-eab-"));
    // The account is all this test is about: challenges pass without a look.
    pebble = await startPebble({
      httpPort: await freePort(),
      eab: { [KID]: HMAC },
      alwaysValid: true,
    });
  });
  after(async () => {
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const base = (): Order => ({
    site: "eab",
    domains: ["eab.test"],
    directory: pebble.directory,
    ca_file: pebble.directoryCaFile,
    challenge: "http-01",
    renew_before_ms: 30 * DAY_MS,
    tls_dir: dir,
    proxy_certs_dir: "/etc/slipway/certs",
    https_port: 443,
  });

  it("is refused without a binding, and registers and issues with one (the key read from its file)", async () => {
    const refused = await runOrder({ ...base(), email: "no-eab@example.com" });
    assert.equal(refused.outcome, "failed");
    assert.ok(refused.outcome === "failed");
    assert.match(refused.error, /externalAccountBinding/);
    writeFileSync(join(dir, "hmac"), `${HMAC}\n`, { mode: 0o600 });
    const issued = await runOrder({
      ...base(),
      eab: { kid: KID, hmac_key_file: join(dir, "hmac") },
    });
    assert.equal(issued.outcome, "issued", JSON.stringify(issued));
  });
});

describe("HTTP-01 through a web host that lacks the token: it asks the issuing host's proxy", {
  skip: ready,
}, () => {
  let root = "";
  let pebble: Pebble;
  const nginxes: LocalNginx[] = [];
  let backend: http.Server;

  after(async () => {
    for (const nginx of nginxes) await nginx.stop();
    await pebble?.stop();
    backend?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("issues while pebble validates only through the other host", async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-acme-fallback-"));
    chmodSync(root, 0o755);
    backend = http.createServer((_req, res) => res.end("app"));
    await new Promise<void>((resolve) => backend.listen(0, LOCALHOST, resolve));
    const app = (backend.address() as { port: number }).port;
    const start = async (name: string, acmeFallback?: string) => {
      const prefix = join(root, name);
      mkdirSync(prefix);
      const ports = { http: await freePort(), https: await freePort(), app };
      const secure = { ...site, https: { acme: true, ...(acmeFallback ? { acmeFallback } : {}) } };
      await writeHttpsSite(prefix, join(prefix, "tls"), secure, ports);
      nginxes.push(
        await startLocalNginx(prefix, async () => {
          const r = await curlHttp("hello.test", ports.http, "/");
          if (statusOf(r.stdout) !== 200) throw new Error(r.stderr || r.stdout);
        }),
      );
      return { tlsDir: join(prefix, "tls"), ports };
    };
    const primary = await start("primary");
    const other = await start("other", `127.0.0.1:${primary.ports.http}`);
    // The CA sees only the other host; the runner writes the token on the primary.
    pebble = await startPebble({ httpPort: other.ports.http });
    const result = await runOrder({
      site: "hello",
      domains: DOMAINS,
      directory: pebble.directory,
      ca_file: pebble.directoryCaFile,
      challenge: "http-01",
      renew_before_ms: 30 * DAY_MS,
      tls_dir: primary.tlsDir,
      proxy_certs_dir: join(primary.tlsDir, "certs"),
      https_port: primary.ports.https,
    });
    assert.equal(result.outcome, "issued", JSON.stringify(result));
    assert.deepEqual(
      readdirSync(join(other.tlsDir, "webroot/.well-known/acme-challenge")),
      [],
      "no token was ever on the other host",
    );
  });
});

describe("DNS-01 through Cloudflare's API (a mock of it on loopback, feeding pebble's DNS)", {
  skip: ready,
}, () => {
  let dir = "";
  let pebble: Pebble;
  let api: http.Server;
  const calls: { method: string; url: string; auth: string | undefined; body: unknown }[] = [];
  const TOKEN = "cf-token-0123456789";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-dns01-"));
    pebble = await startPebble({ httpPort: await freePort() });
    // A stand-in for api.cloudflare.com/client/v4 (it cannot be reached here): the calls are
    // recorded, and a TXT record added or removed through it is set in pebble's DNS for real.
    const records = new Map<string, string>();
    api = http.createServer((req, res) => {
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", async () => {
        const body = text ? (JSON.parse(text) as { name: string; content: string }) : undefined;
        calls.push({
          method: req.method ?? "",
          url: req.url ?? "",
          auth: req.headers.authorization,
          body,
        });
        const reply = (status: number, result: unknown) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify({ success: status < 400, errors: [], result }));
        };
        if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply(403, null);
        const url = new URL(req.url ?? "/", "http://x");
        if (req.method === "GET" && url.pathname === "/client/v4/zones") {
          const name = url.searchParams.get("name");
          return reply(200, name === "example.test" ? [{ id: "zone-1", name }] : []);
        }
        if (
          req.method === "POST" &&
          url.pathname === "/client/v4/zones/zone-1/dns_records" &&
          body
        ) {
          const id = `rec-${records.size + 1}`;
          records.set(id, body.name);
          await pebble.setTxt(body.name, body.content);
          return reply(200, { id });
        }
        const removed = /^\/client\/v4\/zones\/zone-1\/dns_records\/(rec-\d+)$/.exec(url.pathname);
        if (req.method === "DELETE" && removed?.[1] && records.has(removed[1])) {
          await pebble.clearTxt(records.get(removed[1]) ?? "");
          records.delete(removed[1]);
          return reply(200, { id: removed[1] });
        }
        reply(404, null);
      });
    });
    await new Promise<void>((resolve) => api.listen(0, LOCALHOST, resolve));
  });

  after(async () => {
    await pebble?.stop();
    api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** An order by DNS-01 through the stand-in, the token read from dir/cf-token. */
  const dnsOrder = (domains: string[]): Order => ({
    site: "wild",
    domains,
    directory: pebble.directory,
    ca_file: pebble.directoryCaFile,
    challenge: "dns-01",
    dns: {
      provider: "cloudflare",
      token_file: join(dir, "cf-token"),
      propagation_ms: 0,
      api_url: `http://127.0.0.1:${(api.address() as { port: number }).port}/client/v4`,
    },
    renew_before_ms: 30 * DAY_MS,
    tls_dir: dir,
    proxy_certs_dir: "/etc/slipway/certs",
    https_port: 443,
  });

  it("issues a wildcard with its apex: one TXT per authorization, with the token as a bearer, removed after", async () => {
    writeFileSync(join(dir, "cf-token"), `${TOKEN}\n`, { mode: 0o600 });
    const result = await runOrder(dnsOrder(["example.test", "*.example.test"]));
    assert.equal(result.outcome, "issued", JSON.stringify(result));
    assert.ok(result.outcome === "issued");
    assert.deepEqual(result.facts.names.sort(), ["*.example.test", "example.test"]);
    assert.ok(
      calls.every((c) => c.auth === `Bearer ${TOKEN}`),
      "the token as a bearer",
    );
    const shape = calls.map((c) => `${c.method} ${c.url.replace(/rec-\d/, "rec-N")}`);
    assert.deepEqual(shape, [
      "GET /client/v4/zones?name=example.test&status=active",
      "POST /client/v4/zones/zone-1/dns_records",
      "POST /client/v4/zones/zone-1/dns_records",
      "DELETE /client/v4/zones/zone-1/dns_records/rec-N",
      "DELETE /client/v4/zones/zone-1/dns_records/rec-N",
    ]);
    for (const post of calls.filter((c) => c.method === "POST")) {
      const body = post.body as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ["content", "name", "ttl", "type"]);
      assert.deepEqual(
        [body.type, body.name, body.ttl],
        ["TXT", "_acme-challenge.example.test", 60],
      );
      assert.match(String(body.content), /^[A-Za-z0-9_-]{43}$/, "the key authorization's digest");
    }
  });

  it("reports a refused token in Cloudflare's words, and never the token", async () => {
    writeFileSync(join(dir, "cf-token"), "wrong-token\n", { mode: 0o600 });
    const result = await runOrder(dnsOrder(["other.example.test"]), { force: true });
    assert.equal(result.outcome, "failed");
    assert.ok(result.outcome === "failed");
    assert.match(result.error, /^Cloudflare: GET \/zones: 403/);
    assert.doesNotMatch(result.error, /wrong-token/);
  });
});

describe("ARI: the CA's renewal window, from a stand-in (Debian's pebble 2.4 predates ARI)", () => {
  let server: https.Server;
  let dir = "";
  const asked: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-ari-"));
    const ca = makeCa("Slipway test: ARI stand-in");
    const leaf = issueCert(ca, ["127.0.0.1"]);
    writeFileSync(join(dir, "ca.pem"), ca.cert);
    server = https.createServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
      asked.push(req.url ?? "");
      const base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
      if (req.url === "/dir") {
        res.end(
          JSON.stringify({ newOrder: `${base}/new-order`, renewalInfo: `${base}/renewal-info` }),
        );
        return;
      }
      res.setHeader("retry-after", "3600");
      res.end(
        JSON.stringify({
          suggestedWindow: { start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z" },
          explanationURL: "https://ca.example/incident",
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  });
  after(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("asks by the certificate's identifier and renews at once when the window is over", async () => {
    const pem = issueCert(makeCa(), ["example.com"]).cert;
    const now = Date.parse("2026-03-01T00:00:00Z");
    const directory = `https://127.0.0.1:${(server.address() as { port: number }).port}/dir`;
    const ari = await fetchRenewalInfo({ directory, ca_file: join(dir, "ca.pem") }, pem, now);
    assert.deepEqual(asked, ["/dir", `/renewal-info/${certId(pem)}`]);
    assert.deepEqual(ari, {
      renewAt: now,
      windowStart: Date.parse("2026-01-01T00:00:00Z"),
      windowEnd: Date.parse("2026-01-02T00:00:00Z"),
      retryAfterAt: now + 3_600_000,
      explanationUrl: "https://ca.example/incident",
    });
    const during = await fetchRenewalInfo(
      { directory, ca_file: join(dir, "ca.pem") },
      pem,
      Date.parse("2025-12-01T00:00:00Z"),
      () => 0.5,
    );
    assert.equal(during?.renewAt, Date.parse("2026-01-01T12:00:00Z"), "halfway through the window");
  });
});
