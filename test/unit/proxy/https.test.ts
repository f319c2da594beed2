/** The proxy's HTTPS edge as rendered: TLS profile, redirects, challenges, HSTS, CSP, real IPs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderHttpInclude, renderTlsInclude } from "../../../src/certs/index.ts";
import { BugError } from "../../../src/errors/index.ts";
import {
  type ProxySite,
  renderDefaultTlsSite,
  renderNginxConf,
  renderSite,
} from "../../../src/proxy/index.ts";

const hello: ProxySite = {
  site: "hello",
  role: "web",
  domains: ["example.com", "www.example.com"],
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 1024,
  https: {
    acme: true,
    hsts: { maxAgeS: 63_072_000, includeSubdomains: false, preload: false },
  },
};

/** The trimmed lines of a rendered file, comments left out. */
function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The server blocks of a site file, each as its lines (braces of nested blocks included). */
function servers(text: string): string[][] {
  const all = lines(text);
  const found: string[][] = [];
  let current: string[] | undefined;
  let depth = 0;
  for (const line of all) {
    if (depth === 0 && line === "server {") current = [];
    if (current) current.push(line);
    if (line.endsWith("{")) depth++;
    if (line === "}") depth--;
    if (depth === 0 && current) {
      found.push(current);
      current = undefined;
    }
  }
  return found;
}

describe("nginx.conf: Mozilla's intermediate TLS profile for every HTTPS server", () => {
  it("allows TLS 1.2 and 1.3 with the profile's ciphers, curves, DH group and session settings", () => {
    const conf = lines(renderNginxConf());
    for (const line of [
      "ssl_protocols TLSv1.2 TLSv1.3;",
      "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305;",
      "ssl_ecdh_curve X25519:prime256v1:secp384r1;",
      "ssl_prefer_server_ciphers off;",
      "ssl_dhparam /etc/nginx/ffdhe2048.pem;",
      "ssl_session_timeout 1d;",
      "ssl_session_cache shared:MozSSL:10m;",
      "ssl_session_tickets off;",
      "server_tokens off;",
    ]) {
      assert.ok(conf.includes(line), `missing "${line}"`);
    }
    assert.ok(!conf.some((l) => l.startsWith("listen") && l.includes("ssl")), "no TLS port here");
  });
});

describe("renderSite with HTTPS", () => {
  const [http, tls] = servers(renderSite(hello));

  it("has an HTTP server that answers ACME challenges from the webroot, then includes the redirect", () => {
    assert.deepEqual(http?.slice(0, 10), [
      "server {",
      "listen 80;",
      "server_name example.com www.example.com;",
      "location ^~ /.well-known/acme-challenge/ {",
      "root /var/www/slipway-acme;",
      "default_type text/plain;",
      "try_files $uri =404;",
      "}",
      "include /etc/slipway/certs/hello.http.conf;",
      "client_max_body_size 1024;",
    ]);
    assert.ok(http?.includes("proxy_pass http://hello-web;"), "serves the app until redirected");
  });

  it("has an HTTPS server with HTTP/2, the certificate's include and HSTS (two years, no preload)", () => {
    assert.deepEqual(tls?.slice(0, 7), [
      "server {",
      "listen 443 ssl http2;",
      "server_name example.com www.example.com;",
      "include /etc/slipway/certs/hello.tls.conf;",
      "proxy_hide_header Strict-Transport-Security;",
      'add_header Strict-Transport-Security "max-age=63072000" always;',
      "client_max_body_size 1024;",
    ]);
    for (const header of [
      "add_header X-Content-Type-Options $slipway_x_content_type_options always;",
      "add_header X-Frame-Options $slipway_x_frame_options always;",
      "add_header Referrer-Policy $slipway_referrer_policy always;",
      "add_header Permissions-Policy $slipway_permissions_policy always;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
      "proxy_pass http://hello-web;",
    ]) {
      assert.ok(tls?.includes(header), `HTTPS server lacks "${header}"`);
    }
  });

  it("sends includeSubDomains and preload only when asked, and refuses a preload browsers would not take", () => {
    const text = renderSite({
      ...hello,
      https: { acme: true, hsts: { maxAgeS: 31_536_000, includeSubdomains: true, preload: true } },
    });
    assert.match(
      text,
      /^ {4}add_header Strict-Transport-Security "max-age=31536000; includeSubDomains; preload" always;$/m,
    );
    assert.throws(
      () =>
        renderSite({
          ...hello,
          https: { acme: true, hsts: { maxAgeS: 600, includeSubdomains: true, preload: true } },
        }),
      BugError,
    );
    assert.doesNotMatch(renderSite({ ...hello, https: { acme: true } }), /Strict-Transport/);
  });

  it("asks the issuing host's proxy for a token it lacks, when told which", () => {
    const text = renderSite({ ...hello, https: { acme: true, acmeFallback: "10.0.0.5" } });
    assert.match(text, /^ {8}try_files \$uri @slipway_acme;$/m);
    const all = lines(text);
    const at = all.indexOf("location @slipway_acme {");
    assert.deepEqual(all.slice(at, at + 6), [
      "location @slipway_acme {",
      "proxy_pass http://10.0.0.5;",
      "proxy_set_header Host $host;",
      "proxy_connect_timeout 5s;",
      "proxy_read_timeout 10s;",
      "}",
    ]);
  });

  it("with a certificate of the user's own, answers no challenges", () => {
    const text = renderSite({ ...hello, https: { acme: false } });
    assert.doesNotMatch(text, /acme-challenge/);
    assert.match(text, /include \/etc\/slipway\/certs\/hello\.http\.conf;/);
  });

  it("listens and reads where the options say (tests)", () => {
    const text = renderSite(hello, {
      listenAddress: "127.0.0.1",
      listenPort: 18080,
      tlsListenPort: 18443,
      certsDir: "/tmp/c",
      webroot: "/tmp/w",
    });
    const all = lines(text);
    for (const line of [
      "listen 127.0.0.1:18080;",
      "listen 127.0.0.1:18443 ssl http2;",
      "include /tmp/c/hello.tls.conf;",
      "include /tmp/c/hello.http.conf;",
      "root /tmp/w;",
    ]) {
      assert.ok(all.includes(line), `missing "${line}"`);
    }
  });

  it("refuses HTTPS for the catch-all site (no name to certify)", () => {
    assert.throws(() => renderSite({ ...hello, domains: [] }), BugError);
  });
});

describe("renderSite: CSP and client addresses from trusted proxies", () => {
  it("adds the configured Content-Security-Policy unless the app sent one", () => {
    const text = renderSite({ ...hello, site: "hello-staging", csp: "default-src 'self'" });
    const all = lines(text);
    const at = all.indexOf(
      "map $upstream_http_content_security_policy $slipway_csp_hello_staging {",
    );
    assert.deepEqual(all.slice(at, at + 4), [
      "map $upstream_http_content_security_policy $slipway_csp_hello_staging {",
      `"" "default-src 'self'";`,
      'default "";',
      "}",
    ]);
    assert.equal(
      all.filter(
        (l) => l === "add_header Content-Security-Policy $slipway_csp_hello_staging always;",
      ).length,
      2,
      "in the HTTP and the HTTPS server",
    );
    assert.throws(() => renderSite({ ...hello, csp: 'default-src "x"' }), BugError);
    assert.throws(() => renderSite({ ...hello, csp: "script-src $evil" }), BugError);
  });

  it("takes the client's address only from the trusted networks, by their header", () => {
    const text = renderSite({
      ...hello,
      https: undefined,
      realIp: { from: ["173.245.48.0/20", "2400:cb00::/32"], header: "CF-Connecting-IP" },
    });
    const all = lines(text);
    const at = all.indexOf("set_real_ip_from 173.245.48.0/20;");
    assert.deepEqual(all.slice(at, at + 4), [
      "set_real_ip_from 173.245.48.0/20;",
      "set_real_ip_from 2400:cb00::/32;",
      "real_ip_header CF-Connecting-IP;",
      "real_ip_recursive on;",
    ]);
    assert.throws(
      () => renderSite({ ...hello, realIp: { from: ["10.0.0.0/33"], header: "X-Real-IP" } }),
      BugError,
    );
    assert.throws(
      () => renderSite({ ...hello, realIp: { from: ["0.0.0.0/0;"], header: "X-Real-IP" } }),
      BugError,
    );
  });
});

describe("the default HTTPS server and the certificate's includes", () => {
  it("refuses handshakes for names no site serves", () => {
    assert.deepEqual(lines(renderDefaultTlsSite()), [
      "server {",
      "listen 443 ssl http2 default_server;",
      "server_name _;",
      "ssl_reject_handshake on;",
      "}",
    ]);
  });

  const facts = { proxyCertsDir: "/etc/slipway/certs", httpsPort: 443 };

  it("without a certificate: refuse HTTPS handshakes, do not redirect", () => {
    assert.deepEqual(lines(renderTlsInclude("hello", facts)), ["ssl_reject_handshake on;"]);
    assert.deepEqual(lines(renderHttpInclude("hello", facts)), []);
  });

  it("with one: the key and chain from one file, stapling only with an OCSP responder, the redirect", () => {
    assert.deepEqual(lines(renderTlsInclude("hello", { ...facts, certificate: { ocsp: false } })), [
      "ssl_certificate /etc/slipway/certs/hello.pem;",
      "ssl_certificate_key /etc/slipway/certs/hello.pem;",
    ]);
    assert.deepEqual(
      lines(renderTlsInclude("hello", { ...facts, certificate: { ocsp: true } })).slice(2),
      ["ssl_stapling on;", "ssl_stapling_verify on;"],
    );
    assert.deepEqual(
      lines(
        renderTlsInclude("hello", {
          ...facts,
          certificate: { ocsp: true, resolver: "127.0.0.11" },
        }),
      ).slice(4),
      ["resolver 127.0.0.11 valid=300s;", "resolver_timeout 5s;"],
      "the proxy's network's DNS server finds the responder",
    );
    assert.throws(() =>
      renderTlsInclude("hello", { ...facts, certificate: { ocsp: true, resolver: "1.2.3.4;" } }),
    );
    assert.deepEqual(
      lines(renderHttpInclude("hello", { ...facts, certificate: { ocsp: false } })),
      [
        'if ($uri !~ "^/\\.well-known/acme-challenge/") {',
        "return 301 https://$host$request_uri;",
        "}",
      ],
    );
    assert.match(
      renderHttpInclude("hello", { ...facts, httpsPort: 18443, certificate: { ocsp: false } }),
      /return 301 https:\/\/\$host:18443\$request_uri;/,
    );
  });

  it("refuse site names and directories that would escape or inject", () => {
    assert.throws(() => renderTlsInclude("../x", facts));
    assert.throws(() => renderTlsInclude("hello", { ...facts, proxyCertsDir: "/etc/x; evil" }));
  });
});
