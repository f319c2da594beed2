/**
 * HTTPS end to end on a fresh VPS box, with pebble inside the box as its ACME CA (a container on
 * the box's `slipway` network, its DNS answering every name with the proxy's address, as the
 * internet would): a deploy whose certificate the CA refuses still serves HTTP, warns with the
 * CA's error, and the agent's renewal job alerts; once the name resolves, `certs issue` gets a
 * certificate that the proxy serves (openssl s_client, curl --cacert with pebble's root) with
 * HTTP redirected; a forced renewal under bounded load loses no request; and the agent renews on
 * its own when due, reloading the proxy by SIGHUP.
 */
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  NGINX_IMAGE,
  NODE_IMAGE,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { boxHookWithin, startBoxHooks } from "../support/box-hooks.ts";
import { type HelloProject, helloProject } from "../support/hello-project.ts";
import { startLoad } from "../support/load.ts";
import { issueCert, makeCa } from "../support/openssl.ts";
import { pebbleAvailable } from "../support/pebble.ts";
import { type BoxPebble, pebbleCaPath, startPebbleInBox } from "../support/pebble-box.ts";
import { curlHttp, curlHttps, headerOf, sClient, served, statusOf } from "../support/tls-probe.ts";

const JOB = "hello/certificate renewal";

describe("HTTPS with ACME on a VPS box", {
  skip:
    skipUnless(rigAvailable()) || skipUnless(imagesAvailable()) || skipUnless(pebbleAvailable()),
  timeout: 1_200_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;
  let pebble: BoxPebble;
  let root = "";
  let rootFile = "";
  let httpPort = 0;
  let httpsPort = 0;
  // Under proxy:, rewritten by configure(); renew_before changes in the last test.
  const proxyYaml: string[] = [];
  const tlsLines = (renewBefore: string) => [
    "  domains: [hello.test, www.hello.test]",
    "  tls:",
    "    acme:",
    "      email: ops@hello.test",
    "      directory: https://pebble:14000/dir",
    "      ca: pebble-ca.pem",
    `      renew_before: ${renewBefore}`,
    `  csp: "default-src 'self'; frame-ancestors 'none'"`,
  ];

  const ok = (args: string[]) => hello.ok(args);
  const jobRun = async () => {
    const run = await hello.slipway([
      "monitor",
      "api",
      "POST",
      `/api/jobs/run?job=${encodeURIComponent(JOB)}`,
    ]);
    const body = run.stdout.slice(run.stdout.indexOf("{"));
    return JSON.parse(body) as { outcome: string; detail: string };
  };

  before(async () => {
    box = await startVpsBox({ publish: [80, 443] });
    httpPort = box.ports[80] as number;
    httpsPort = box.ports[443] as number;
    proxyYaml.push(...tlsLines("30d"));
    hello = await helloProject(box, {
      proxyYaml,
      extraYaml: [
        "monitoring:",
        `  image: ${NODE_IMAGE}`,
        "  host: false",
        "  containers: false",
        "  notify:",
        "    - { name: hooks, webhook: http://hooks:8080/ }",
      ],
    });
    await hello.configure("over https");
    await ok(["server", "bootstrap"]);
    pebble = await startPebbleInBox(box, NGINX_IMAGE);
    await writeFile(pebbleCaPath(hello.dir), pebble.directoryCa);
    root = await pebble.root();
    rootFile = join(hello.dir, "pebble-root.pem");
    await writeFile(rootFile, root);
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("a deploy whose certificate the CA refuses serves HTTP, warns with the CA's error, and status says so", async () => {
    // Inside pebble's container nothing listens on port 80 of 127.0.0.1: validation fails.
    await pebble.setA("hello.test", "127.0.0.1");
    const deploy = await ok(["deploy", "--version", "v1"]);
    const said = deploy.stdout + deploy.stderr;
    assert.match(said, /no certificate for hello: hello\.test: connection: /);
    const page = await curlHttp("hello.test", httpPort, "/");
    assert.equal(statusOf(page.stdout), 200, "HTTP serves the app");
    await assert.rejects(served(httpsPort, "hello.test", root), "no certificate, no handshake");
    const status = await hello.slipway(["certs", "status"]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /127\.0\.0\.1 +hello +- +- +- .*no certificate/);
    assert.match(status.stdout, /^127\.0\.0\.1: last error: hello\.test: connection: /m);
  });

  it("the agent's renewal job fails with that error and alerts", async () => {
    // A webhook receiver on the proxy's network, where the agent's notices go (the node image
    // is on the box since the deploy).
    await startBoxHooks(box);
    const install = await ok(["agent", "install"]);
    assert.match(install.stdout + install.stderr, /agent started/);
    const run = await jobRun();
    assert.equal(run.outcome, "failed");
    assert.match(run.detail, /hello\.test: connection: /);
    const hook = await boxHookWithin(
      box,
      (h) => /certificate renewal job failed/.test(h.body),
      20_000,
      "renewal failure notice",
    );
    assert.match(
      hook.body,
      /"message":"hello\/certificate renewal job failed: [^"]*hello\.test: connection: /,
    );
  });

  it("once the name resolves, certs issue gets a certificate the proxy serves over TLS 1.3, HTTP redirecting", async () => {
    await pebble.setA("hello.test", pebble.proxyAddress);
    const issue = await ok(["certs", "issue"]);
    assert.match(issue.stdout + issue.stderr, /127\.0\.0\.1: certificate of hello issued: /);
    const s = await sClient(httpsPort, "hello.test", rootFile, ["-brief"]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /Protocol version: TLSv1\.3/);
    assert.match(s.stderr, /Verification: OK/);
    const page = await curlHttps("www.hello.test", httpsPort, "/", rootFile, ["--http2"]);
    assert.equal(page.code, 0, page.stderr);
    assert.match(page.stdout, /^HTTP\/2 200/m, "HTTP/2");
    assert.equal(headerOf(page.stdout, "strict-transport-security"), "max-age=63072000");
    assert.equal(
      headerOf(page.stdout, "content-security-policy"),
      "default-src 'self'; frame-ancestors 'none'",
    );
    assert.equal(headerOf(page.stdout, "server"), "nginx", "no version (server_tokens off)");
    const redirect = await curlHttp("hello.test", httpPort, "/up");
    assert.equal(statusOf(redirect.stdout), 301);
    assert.equal(headerOf(redirect.stdout, "location"), "https://hello.test/up");
    const challenge = await curlHttp("hello.test", httpPort, "/.well-known/acme-challenge/none");
    assert.equal(statusOf(challenge.stdout), 404, "ACME's path is not redirected");
    const status = await ok(["certs", "status"]);
    assert.match(status.stdout, /hello\.test,www\.hello\.test +Pebble Intermediate CA/);
    for (const file of ["certs/hello.pem", "accounts"]) {
      const modes = await box.exec([
        "sh",
        "-c",
        `find /var/lib/slipway/tls/${file} -type f -printf '%m\\n'`,
      ]);
      assert.match(modes.trim(), /^(600\n?)+$/, `${file}: 0600`);
    }
    // The agent sees it done: its incident resolves.
    const run = await jobRun();
    assert.deepEqual(
      [run.outcome, /^not due: it expires in \d+ days$/.test(run.detail)],
      ["ok", true],
    );
  });

  it("a forced renewal under bounded load loses no request and serves the new certificate", async () => {
    const before = await served(httpsPort, "hello.test", root);
    const load = startLoad(`https://127.0.0.1:${httpsPort}/`, {
      concurrency: 4,
      maxMs: 120_000,
      tls: { ca: root, servername: "hello.test" },
    });
    await new Promise((r) => setTimeout(r, 1_000));
    await ok(["certs", "renew", "--force"]);
    await new Promise((r) => setTimeout(r, 1_000));
    const report = await load.stop();
    assert.equal(report.failed, 0, report.failures.join("\n"));
    assert.ok(report.requests > 20, `only ${report.requests} requests`);
    const after = await served(httpsPort, "hello.test", root);
    assert.ok(after.authorized, after.authorizationError);
    assert.notEqual(after.fingerprint, before.fingerprint);
  });

  it("the agent renews on its own when due, and the proxy serves the new certificate after SIGHUP", async () => {
    // renew_before longer than the certificate's life: every run finds it due.
    proxyYaml.splice(0, proxyYaml.length, ...tlsLines("36500d"));
    await hello.configure("over https");
    await ok(["certs", "issue"]);
    const before = await served(httpsPort, "hello.test", root);
    const run = await jobRun();
    assert.equal(run.outcome, "ok", run.detail);
    assert.match(run.detail, /^renewed \(it expires in \d+ days\): valid until /);
    const after = await served(httpsPort, "hello.test", root);
    assert.ok(after.authorized, after.authorizationError);
    assert.notEqual(after.fingerprint, before.fingerprint);
  });

  it("a certificate of one's own: checked on this machine, placed by a deploy and served; a bad one changes nothing", async () => {
    const ca = makeCa("Slipway e2e: an origin CA");
    const own = issueCert(ca, ["hello.test", "www.hello.test"]);
    await mkdir(join(hello.dir, "certs"));
    await writeFile(join(hello.dir, "certs/origin.pem"), own.cert + ca.cert);
    await writeFile(join(hello.dir, "certs/origin.key"), own.key, { mode: 0o600 });
    proxyYaml.splice(
      0,
      proxyYaml.length,
      "  domains: [hello.test, www.hello.test]",
      "  tls:",
      "    certificate: { cert: certs/origin.pem, key: certs/origin.key }",
    );
    await hello.configure("over https");
    const deploy = await ok(["deploy", "--version", "v2"]);
    assert.match(deploy.stdout + deploy.stderr, /127\.0\.0\.1: certificate of hello placed: /);
    const now = await served(httpsPort, "hello.test", ca.cert);
    assert.ok(now.authorized, now.authorizationError);
    assert.match(now.names, /DNS:www\.hello\.test/);
    const redirect = await curlHttp("hello.test", httpPort, "/");
    assert.equal(statusOf(redirect.stdout), 301);

    // Another key than the certificate's: refused here, before any host changes.
    await writeFile(join(hello.dir, "certs/origin.key"), issueCert(ca, ["x.test"]).key);
    const bad = await hello.slipway(["certs", "issue"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot be used: the private key is not the certificate's/);
    assert.equal((await served(httpsPort, "hello.test", ca.cert)).fingerprint, now.fingerprint);
  });
});
