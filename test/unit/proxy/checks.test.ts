import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HOSTILE_VALUES } from "../../../src/doctor/hostile-values.ts";
import { BugError } from "../../../src/errors/index.ts";
import {
  type ProxyOptions,
  type ProxySite,
  planProxyBoot,
  planProxyFiles,
  planProxySwitch,
  renderNginxConf,
  renderSite,
  renderUpstream,
  upstreamName,
} from "../../../src/proxy/index.ts";

const site: ProxySite = {
  site: "hello",
  role: "web",
  domains: ["example.com"],
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 1024,
  rateLimit: { requestsPerSecond: 5, burst: 10 },
};
const target = { container: "hello-web-1", port: 3000 };

/** Asserts that fn throws a BugError naming the bad value. */
function refuses(fn: () => unknown, what: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BugError, `not a BugError: ${String(error)}`);
    assert.match(error.message, what);
    assert.equal(error.code, "bug");
    return true;
  });
}

/** Every way a site reaches nginx config; each must refuse the same bad site. */
function everyUse(bad: ProxySite): (() => unknown)[] {
  return [
    () => renderSite(bad),
    () => renderUpstream(bad, target),
    () => planProxyFiles([bad], new Map()),
    () => planProxySwitch(bad, target),
  ];
}

const NAME_RULE = /^[a-z0-9][a-z0-9_.-]*$/;
// Characters with a meaning in nginx config (or a shell): none may ever reach a rendered file.
const NGINX_SYNTAX = /[\s;{}"'$#\\`?()<>|]/;

describe("values written into nginx config are checked", () => {
  it("accepts what config validation lets through", () => {
    assert.doesNotThrow(() => renderSite({ ...site, domains: ["A.Example.COM", "x-1.io"] }));
    assert.doesNotThrow(() => renderSite({ ...site, healthPath: "/health/ready" }));
    assert.doesNotThrow(() => renderUpstream(site, { container: "a_b.c-1", port: 65535 }));
  });

  for (const bad of ["Hello", "-x", "_x", "a b", "a;b", "a{b", "a}b", "a$b", "a/b", "", "é"]) {
    it(`refuses site ${JSON.stringify(bad)} and role ${JSON.stringify(bad)}`, () => {
      for (const use of everyUse({ ...site, site: bad })) refuses(use, /site/);
      for (const use of everyUse({ ...site, role: bad })) refuses(use, /role/);
      refuses(() => upstreamName({ ...site, site: bad }), /site/);
    });
  }

  it("refuses every hostile value as a name, unless it is a plain name", () => {
    for (const value of HOSTILE_VALUES) {
      if (NAME_RULE.test(value)) continue;
      refuses(() => renderSite({ ...site, site: value }), /site/);
      refuses(() => renderUpstream(site, { container: value, port: 3000 }), /container/);
      refuses(() => planProxySwitch(site, { container: value, port: 3000 }), /container/);
    }
  });

  it("refuses every hostile value holding a character nginx or a shell reads as syntax", () => {
    let checked = 0;
    for (const value of HOSTILE_VALUES) {
      if (!NGINX_SYNTAX.test(value)) continue;
      checked++;
      refuses(() => renderSite({ ...site, domains: [value] }), /domain/);
      refuses(() => renderSite({ ...site, healthPath: `/${value}` }), /health path/);
      refuses(() => renderSite({ ...site, role: value }), /role/);
      refuses(() => renderNginxConf({ confDir: `/${value}` }), /configuration directory/);
    }
    assert.ok(checked > 20, `only ${checked} hostile values were tried`);
  });

  it("takes a wildcard of one level, as nginx's server_name does", () => {
    assert.match(
      renderSite({ ...site, domains: ["*.example.com"] }),
      /server_name \*\.example\.com;/,
    );
  });

  for (const bad of [
    "*.com",
    "a.*.example.com",
    "**.example.com",
    "example.com;",
    "ex ample.com",
    "example.com}",
    "203.0.113.10",
    "a..b",
    "-a.example.com",
    "a-.example.com",
    `${"a".repeat(64)}.com`,
    "example.com.",
    "under_score.com",
    "",
  ]) {
    it(`refuses domain ${JSON.stringify(bad)}`, () => {
      refuses(() => renderSite({ ...site, domains: ["ok.example.com", bad] }), /domain/);
    });
  }

  for (const bad of [
    "up",
    "/a b",
    "/a;b",
    '/a"b',
    "/a'b",
    "/a{b",
    "/a}b",
    "/$uri",
    "/a#b",
    "/a?b=1",
    "/a\\b",
    "/a\nb",
  ]) {
    it(`refuses health path ${JSON.stringify(bad)}`, () => {
      refuses(() => renderSite({ ...site, healthPath: bad }), /health path/);
    });
  }

  it("refuses ports out of range", () => {
    for (const port of [0, -1, 65536, 1.5, Number.NaN]) {
      refuses(() => renderUpstream(site, { container: "x", port }), /port/);
      refuses(() => renderNginxConf({ listenPort: port }), /listen port/);
    }
  });

  it("refuses a body limit nginx would read as unlimited (0) or cannot read", () => {
    for (const size of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      refuses(() => renderSite({ ...site, maxBodySize: size }), /max_body_size/);
    }
  });

  it("refuses rates and bursts nginx cannot express", () => {
    for (const rps of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      refuses(
        () => renderSite({ ...site, rateLimit: { requestsPerSecond: rps, burst: 0 } }),
        /requests_per_second/,
      );
    }
    for (const burst of [-1, 1.5, Number.NaN]) {
      refuses(() => renderSite({ ...site, rateLimit: { requestsPerSecond: 1, burst } }), /burst/);
    }
  });

  it("refuses directories and listen addresses that are not plain", () => {
    const bad: ProxyOptions[] = [
      { confDir: "etc/nginx" },
      { confDir: "/etc/nginx/" },
      { confDir: "/etc/ng inx" },
      { confDir: "/etc/nginx;" },
      { confDir: "/etc/$x" },
      { listenAddress: "localhost" },
      { listenAddress: "::1" },
      { listenAddress: "127.0.0.256" },
      { listenAddress: "127.0.0.1;" },
      { tempDir: "/tmp/a b" },
    ];
    for (const options of bad) {
      refuses(() => renderNginxConf(options), /configuration directory|listen address|temporary/);
    }
    refuses(
      () => planProxyFiles([site], new Map(), { hostDir: "/var/lib/a b" }),
      /proxy directory/,
    );
    refuses(() => planProxySwitch(site, target, { hostDir: "relative" }), /proxy directory/);
  });

  it("refuses an image that docker would read as an option or that holds a space", () => {
    for (const image of ["-v", "--privileged", "a b", "", "nginx;rm"]) {
      refuses(() => planProxyBoot(image), /image/);
    }
  });
});
