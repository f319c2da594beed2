/** proxy.tls, hsts, csp and trusted_proxies: what a valid file resolves to, and each refusal. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brief, issuesOf, load, MINIMAL, yaml } from "./helpers.ts";

describe("proxy.tls", () => {
  it("resolves ACME with its defaults: Let's Encrypt, http-01, renewal 30 days before expiry", async () => {
    const { config } = await load({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
proxy:
  domains: [example.com, www.example.com]
  tls:
    acme: { email: ops@example.com }
`,
    });
    assert.deepEqual(config.proxy.tls, {
      acme: {
        email: "ops@example.com",
        directory: "letsencrypt",
        challenge: "http-01",
        renew_before: 30 * 86_400_000,
      },
    });
    assert.equal(config.proxy.hsts, undefined, "the HSTS defaults apply where it is rendered");
  });

  it("takes a CA by URL with EAB and DNS-01 through Cloudflare (secrets by name), and wildcards", async () => {
    const loaded = await load({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
proxy:
  domains: ["*.example.com", example.com]
  tls:
    acme:
      directory: https://acme.zerossl.com/v2/DV90
      eab: { kid: kid-1, hmac_key: EAB_HMAC_KEY }
      challenge: dns-01
      dns: { provider: cloudflare, api_token: CLOUDFLARE_API_TOKEN, propagation: 5s }
  hsts: { max_age: 365d, include_subdomains: true, preload: true }
  csp: "default-src 'self'; frame-ancestors 'none'"
  trusted_proxies: cloudflare
`,
      ".slipway/secrets": "EAB_HMAC_KEY=hmac-value\nCLOUDFLARE_API_TOKEN=cf-token\n",
      ".gitignore": ".slipway/secrets*\n",
    });
    const acme = loaded.config.proxy.tls?.acme;
    assert.equal(acme?.eab?.hmac_key, "EAB_HMAC_KEY");
    assert.equal(acme?.dns?.propagation, 5_000);
    assert.equal(loaded.secrets.values.get("EAB_HMAC_KEY"), "hmac-value");
    assert.equal(loaded.secrets.values.get("CLOUDFLARE_API_TOKEN"), "cf-token");
    assert.deepEqual(loaded.config.proxy.hsts, {
      max_age: 365 * 86_400_000,
      include_subdomains: true,
      preload: true,
    });
    assert.equal(loaded.config.proxy.trusted_proxies, "cloudflare");
  });

  it("refuses what cannot work, each at its place", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
proxy:
  domains: ["*.example.com"]
  tls:
    acme:
      directory: http://insecure.example/dir
      challenge: dns-01
  hsts: { preload: true }
  csp: 'script-src "x"'
  trusted_proxies: [10.0.0.0/33]
`,
    });
    assert.deepEqual(brief(issues), [
      "slipway.yml:11:7 proxy.tls.acme.dns: dns-01 needs a DNS provider",
      'slipway.yml:11:18 proxy.tls.acme.directory: "http://insecure.example/dir" is neither letsencrypt, letsencrypt-staging nor an https URL',
      "slipway.yml:13:20 proxy.hsts.preload: preload needs include_subdomains: true and a max_age of at least 365d",
      'slipway.yml:14:8 proxy.csp: the CSP must be printable ASCII without ", \\ or $',
      'slipway.yml:15:21 proxy.trusted_proxies[0]: "10.0.0.0/33" is not a network',
    ]);
  });

  it("needs domains, and a wildcard only through dns-01", async () => {
    const none = await issuesOf({
      "slipway.yml": `${MINIMAL}proxy:\n  tls:\n    acme: {}\n`,
    });
    assert.deepEqual(brief(none), [
      "slipway.yml:8:3 proxy.tls: proxy.tls needs proxy.domains: a certificate is for names",
    ]);
    const wildcard = await issuesOf({
      "slipway.yml": `${MINIMAL}proxy:\n  domains: [a.example, "*.example.com"]\n  tls:\n    acme: {}\n`,
    });
    assert.deepEqual(brief(wildcard), [
      'slipway.yml:8:24 proxy.domains[1]: "*.example.com" is a wildcard: ACME issues those only through dns-01',
    ]);
  });

  it("takes exactly one of acme or certificate", async () => {
    const both = await issuesOf({
      "slipway.yml": `${MINIMAL}proxy:\n  domains: [a.example]\n  tls:\n    acme: {}\n    certificate: { cert: c.pem, key: k.pem }\n`,
    });
    assert.deepEqual(
      both.map((i) => [i.path, i.message]),
      [["proxy.tls", "tls needs exactly one of acme or certificate"]],
    );
  });

  it("needs the secrets it names", async () => {
    const issues = await issuesOf({
      "slipway.yml": `${MINIMAL}proxy:\n  domains: [a.example]\n  tls:\n    acme: { eab: { kid: k, hmac_key: EAB_KEY } }\n`,
    });
    assert.deepEqual(
      issues.map((i) => i.path),
      ["proxy.tls.acme.eab.hmac_key"],
    );
  });
});
