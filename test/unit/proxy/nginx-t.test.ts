/** The rendered configuration as nginx itself reads it: `nginx -t` of this machine's nginx. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  type ProxyOptions,
  type ProxySite,
  renderSite,
  type UpstreamTarget,
} from "../../../src/proxy/index.ts";
import { skipUnless } from "../../rig/index.ts";
import { issueCert, makeCa } from "../../support/openssl.ts";
import { NGINX, nginxArgs, nginxAvailable, writeProxyTree } from "./nginx-rig.ts";

const SITES: ProxySite[] = [
  {
    site: "hello",
    role: "web",
    domains: ["example.com", "www.example.com"],
    appPort: 3000,
    healthPath: "/up",
    maxBodySize: 10 * 1024 * 1024,
    rateLimit: { requestsPerSecond: 10, burst: 20 },
  },
  {
    site: "hello-staging",
    role: "web",
    domains: ["staging.example.com"],
    appPort: 8000,
    healthPath: "/healthz",
    maxBodySize: 1,
    rateLimit: { requestsPerSecond: 0.5, burst: 0 },
  },
  {
    site: "catchall",
    role: "web",
    domains: [],
    appPort: 3000,
    healthPath: "/",
    maxBodySize: 2 ** 40,
  },
  {
    site: "empty",
    role: "api",
    domains: [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`],
    appPort: 3000,
    healthPath: "/up",
    maxBodySize: 1024,
  },
];

// Upstream targets on 127.0.0.1: nginx -t resolves upstream hosts, and no container names
// resolve on this machine. "empty-api" has no target: the placeholder upstream.
const TARGETS = new Map<string, UpstreamTarget>([
  ["hello-web", { container: "127.0.0.1", port: 3000 }],
  ["hello-staging-web", { container: "127.0.0.1", port: 3001 }],
  ["catchall-web", { container: "localhost", port: 3002 }],
]);

describe("nginx -t", { skip: skipUnless(nginxAvailable()) }, () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-nginx-t-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  function nginxTest(prefix: string) {
    // stdout is not a socket (what Node gives a child by default): nginx opens /dev/stdout for
    // the access log, which works for a file or a pipe (as in a container) but not a socket.
    const r = spawnSync(NGINX, [...nginxArgs(prefix), "-t"], {
      encoding: "utf8",
      timeout: 30_000,
      stdio: ["ignore", "ignore", "pipe"],
    });
    return { code: r.status, output: r.stderr };
  }

  function tree(
    name: string,
    sites: ProxySite[],
    options: ProxyOptions = {},
    certificates?: ReadonlyMap<string, string>,
  ): string {
    const prefix = join(root, name);
    // Temporary files in the prefix too, so the test leaves the system's nginx directories alone.
    writeProxyTree(
      prefix,
      sites,
      TARGETS,
      {
        confDir: prefix,
        tempDir: prefix,
        listenPort: 18080,
        tlsListenPort: 18443,
        certsDir: join(prefix, "certs"),
        webroot: join(prefix, "webroot"),
        ...options,
      },
      certificates,
    );
    return prefix;
  }

  it("accepts nginx.conf with sites (domains, catch-all, rate limits) and upstreams", () => {
    const r = nginxTest(tree("full", SITES));
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /test is successful/);
    assert.doesNotMatch(r.output, /\[warn\]|\[emerg\]/, "no warnings either");
  });

  it("accepts HTTPS sites before their certificate (handshakes refused) and with it (key and chain in one file)", () => {
    const secure = SITES.slice(0, 2).map((site) => ({
      ...site,
      https: {
        acme: true,
        hsts: { maxAgeS: 63_072_000, includeSubdomains: true, preload: true },
      },
      csp: "default-src 'self'; frame-ancestors 'none'",
      realIp: { from: ["173.245.48.0/20", "2400:cb00::/32"], header: "CF-Connecting-IP" },
    }));
    const pending = nginxTest(tree("https-pending", [...secure, ...SITES.slice(2)]));
    assert.equal(pending.code, 0, pending.output);
    assert.doesNotMatch(pending.output, /\[warn\]|\[emerg\]/, "no warnings either");
    const ca = makeCa();
    // With an OCSP responder: stapling, and a resolver to find it.
    const leaf = issueCert(ca, ["example.com", "www.example.com"], 90, {
      ocspUrl: "http://127.0.0.1:9/ocsp",
    });
    const issued = nginxTest(
      tree(
        "https-issued",
        [...secure, ...SITES.slice(2)],
        {},
        new Map([["hello", leaf.key + leaf.cert + ca.cert]]),
      ),
    );
    assert.equal(issued.code, 0, issued.output);
    assert.doesNotMatch(issued.output, /\[warn\]|\[emerg\]/, issued.output);
  });

  it("accepts nginx.conf with no site at all (a fresh proxy)", () => {
    const r = nginxTest(tree("bare", []));
    assert.equal(r.code, 0, r.output);
  });

  it("accepts a configuration listening on a loopback address", () => {
    const r = nginxTest(tree("loopback", SITES, { listenAddress: "127.0.0.1" }));
    assert.equal(r.code, 0, r.output);
  });

  it("refuses a second catch-all site: one that fails never replaces one that works", () => {
    const prefix = tree("two-defaults", SITES);
    const second = { ...SITES[2], site: "other" } as ProxySite;
    writeFileSync(join(prefix, "sites/other.conf"), renderSite(second, { listenPort: 18080 }));
    const r = nginxTest(prefix);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /duplicate default server/);
  });

  it("refuses a site whose upstream is missing (so upstreams are written before sites)", () => {
    const prefix = tree("missing-upstream", SITES);
    rmSync(join(prefix, "upstreams/hello-web.conf"));
    const r = nginxTest(prefix);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /host not found in upstream "hello-web"/);
  });
});
