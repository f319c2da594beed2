import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ProxySite,
  renderNginxConf,
  renderSite,
  renderUpstream,
  upstreamName,
} from "../../../src/proxy/index.ts";

const hello: ProxySite = {
  site: "hello",
  role: "web",
  domains: ["example.com", "www.example.com"],
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 10 * 1024 * 1024,
};

/** The trimmed lines of a rendered file, comments left out. */
function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The lines of the block that starts with `opening` (e.g. `location / {`), braces included. */
function block(text: string, opening: string): string[] {
  const all = lines(text);
  const start = all.indexOf(opening);
  assert.notEqual(start, -1, `no "${opening}" in:\n${text}`);
  let depth = 0;
  for (let i = start; i < all.length; i++) {
    const line = all[i] ?? "";
    if (line.endsWith("{")) depth++;
    if (line === "}") depth--;
    if (depth === 0) return all.slice(start, i + 1);
  }
  throw new Error(`"${opening}" is never closed`);
}

describe("renderNginxConf", () => {
  const conf = renderNginxConf();

  it("sets the global limits: worker shutdown bounded, version hidden, errors on stderr", () => {
    for (const line of [
      "worker_processes auto;",
      "worker_shutdown_timeout 30s;",
      "error_log stderr warn;",
      "server_tokens off;",
      "sendfile on;",
      "keepalive_timeout 65s;",
      "server_names_hash_bucket_size 512;",
    ]) {
      assert.ok(lines(conf).includes(line), `missing "${line}"`);
    }
    assert.deepEqual(block(conf, "events {"), ["events {", "worker_connections 4096;", "}"]);
  });

  it("leaves pid and daemon to the command line (the image's CMD sets daemon off)", () => {
    assert.doesNotMatch(conf, /^\s*(pid|daemon|user) /m);
  });

  it("logs upstream timings to stdout", () => {
    assert.match(conf, /log_format slipway '\$remote_addr - /);
    for (const variable of [
      "$upstream_addr",
      "$upstream_status",
      "$upstream_connect_time",
      "$upstream_header_time",
      "$upstream_response_time",
      "$request_time",
      "$host",
    ]) {
      assert.ok(conf.includes(variable), `log format lacks ${variable}`);
    }
    assert.ok(lines(conf).includes("access_log /dev/stdout slipway;"));
  });

  it("compresses text types for proxied responses, without repeating text/html", () => {
    for (const line of [
      "gzip on;",
      "gzip_vary on;",
      "gzip_proxied any;",
      "gzip_min_length 1024;",
      "gzip_types text/plain text/css text/xml text/javascript application/javascript application/json application/ld+json application/manifest+json application/xml application/rss+xml application/atom+xml image/svg+xml;",
    ]) {
      assert.ok(lines(conf).includes(line), `missing "${line}"`);
    }
  });

  it("maps Upgrade to Connection: upgrade for WebSockets and an empty value for keepalive", () => {
    assert.deepEqual(block(conf, "map $http_upgrade $connection_upgrade {"), [
      "map $http_upgrade $connection_upgrade {",
      "default upgrade;",
      '"" "";',
      "}",
    ]);
  });

  it("maps each security header to its default unless the app sent one", () => {
    assert.deepEqual(block(conf, "map $upstream_http_x_frame_options $slipway_x_frame_options {"), [
      "map $upstream_http_x_frame_options $slipway_x_frame_options {",
      '"" "SAMEORIGIN";',
      'default "";',
      "}",
    ]);
    assert.ok(conf.includes('"" "nosniff";'));
    assert.ok(conf.includes('"" "strict-origin-when-cross-origin";'));
    assert.ok(conf.includes('"" "camera=(), microphone=(), geolocation=()";'));
  });

  it("answers 404 to unknown hosts from the first server, then includes upstreams and sites", () => {
    assert.deepEqual(block(conf, "server {"), [
      "server {",
      "listen 80;",
      "server_name _;",
      "return 404;",
      "}",
    ]);
    const all = lines(conf);
    const server = all.indexOf("server {");
    const upstreams = all.indexOf("include /etc/nginx/upstreams/*.conf;");
    const sites = all.indexOf("include /etc/nginx/sites/*.conf;");
    assert.ok(
      server >= 0 && server < upstreams && upstreams < sites,
      "order: 404 server, upstreams, sites",
    );
    assert.equal(
      all.filter((l) => l.startsWith("limit_req_zone")).length,
      0,
      "zones live in the sites",
    );
  });

  it("leaves temporary files to the image unless told where", () => {
    assert.doesNotMatch(conf, /_temp_path/);
    const test = lines(renderNginxConf({ tempDir: "/tmp/x" }));
    for (const kind of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
      assert.ok(test.includes(`${kind}_temp_path /tmp/x/${kind}_temp;`), kind);
    }
  });

  it("takes another configuration directory and listen address for tests", () => {
    const test = renderNginxConf({
      confDir: "/tmp/x",
      listenPort: 18080,
      listenAddress: "127.0.0.1",
    });
    assert.ok(lines(test).includes("include /tmp/x/upstreams/*.conf;"));
    assert.ok(lines(test).includes("include /tmp/x/sites/*.conf;"));
    assert.ok(lines(test).includes("listen 127.0.0.1:18080;"));
  });
});

describe("renderSite", () => {
  it("serves the domains with the body limit, security headers and proxy headers", () => {
    assert.deepEqual(lines(renderSite(hello)), [
      "server {",
      "listen 80;",
      "server_name example.com www.example.com;",
      "client_max_body_size 10485760;",
      "add_header X-Content-Type-Options $slipway_x_content_type_options always;",
      "add_header X-Frame-Options $slipway_x_frame_options always;",
      "add_header Referrer-Policy $slipway_referrer_policy always;",
      "add_header Permissions-Policy $slipway_permissions_policy always;",
      "proxy_hide_header X-Powered-By;",
      "proxy_http_version 1.1;",
      "proxy_set_header Host $host;",
      "proxy_set_header X-Real-IP $remote_addr;",
      "proxy_set_header X-Forwarded-For $remote_addr;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
      "proxy_set_header X-Forwarded-Host $host;",
      "proxy_set_header Upgrade $http_upgrade;",
      "proxy_set_header Connection $connection_upgrade;",
      "proxy_connect_timeout 5s;",
      "proxy_send_timeout 60s;",
      "proxy_read_timeout 60s;",
      "proxy_next_upstream error timeout;",
      "proxy_next_upstream_tries 2;",
      "proxy_next_upstream_timeout 10s;",
      "location / {",
      "proxy_pass http://hello-web;",
      "}",
      "}",
    ]);
  });

  it("is the catch-all default server when it has no domains", () => {
    const site = lines(renderSite({ ...hello, domains: [] }));
    assert.ok(site.includes("listen 80 default_server;"));
    assert.ok(site.includes('server_name "";'));
  });

  it("rate limits per client address, except the health path", () => {
    const text = renderSite({ ...hello, rateLimit: { requestsPerSecond: 10, burst: 20 } });
    assert.equal(lines(text)[0], "limit_req_zone $binary_remote_addr zone=hello:10m rate=10r/s;");
    assert.ok(lines(text).includes("limit_req_status 429;"));
    assert.deepEqual(block(text, "location = /up {"), [
      "location = /up {",
      "proxy_pass http://hello-web;",
      "}",
    ]);
    assert.deepEqual(block(text, "location / {"), [
      "location / {",
      "limit_req zone=hello burst=20 nodelay;",
      "proxy_pass http://hello-web;",
      "}",
    ]);
  });

  it("writes fractional rates per minute and omits a zero burst", () => {
    const text = renderSite({ ...hello, rateLimit: { requestsPerSecond: 0.5, burst: 0 } });
    assert.match(text, /^limit_req_zone \$binary_remote_addr zone=hello:10m rate=30r\/m;$/m);
    assert.match(text, /^ {8}limit_req zone=hello;$/m);
  });

  it("has no rate limit at all when none is configured", () => {
    assert.doesNotMatch(renderSite(hello), /limit_req/);
  });

  it("listens where the options say", () => {
    const text = renderSite(
      { ...hello, domains: [] },
      { listenPort: 8080, listenAddress: "127.0.0.1" },
    );
    assert.ok(lines(text).includes("listen 127.0.0.1:8080 default_server;"));
  });
});

describe("renderUpstream", () => {
  it("points the upstream at the container by name, with keepalive", () => {
    assert.equal(upstreamName(hello), "hello-web");
    assert.deepEqual(
      lines(renderUpstream(hello, { container: "hello-web-3f2a9c1d0e4b-k3x9", port: 3000 })),
      [
        "upstream hello-web {",
        "server hello-web-3f2a9c1d0e4b-k3x9:3000;",
        "keepalive 16;",
        "keepalive_timeout 1s;",
        "}",
      ],
    );
  });

  it("without a container, has one server marked down (nginx answers 502 at once)", () => {
    assert.deepEqual(lines(renderUpstream(hello, undefined)), [
      "upstream hello-web {",
      "server 127.0.0.1:1 down;",
      "}",
    ]);
  });

  it("names the upstream after site and role", () => {
    assert.equal(
      upstreamName({ ...hello, site: "hello-staging", role: "api" }),
      "hello-staging-api",
    );
  });
});
