/**
 * nginx configuration as text: the main file, one file per site and one per upstream. Every
 * value is checked (checks.ts) before it is written, because nginx config is a language.
 */

import {
  ACME_CHALLENGE_PATH,
  certificateFiles,
  PROXY_CERTS_DIR,
  PROXY_WEBROOT,
} from "../certs/index.ts";
import { BugError } from "../errors/index.ts";
import {
  checkCidr,
  checkDir,
  checkDomain,
  checkHeaderName,
  checkHeaderValue,
  checkIpv4,
  checkName,
  checkPath,
  checkPort,
  checkPositive,
  checkUpstreamHost,
  checkWhole,
} from "./checks.ts";
import type { ProxyOptions, ProxySite, SiteHttps, UpstreamTarget } from "./model.ts";

const DEFAULT_CONF_DIR = "/etc/nginx";
const DEFAULT_LISTEN_PORT = 80;
const DEFAULT_TLS_LISTEN_PORT = 443;
/** Beside nginx.conf: the DH group of RFC 7919 that Mozilla's intermediate profile names. */
export const DH_PARAMS_FILE = "ffdhe2048.pem";
/** RFC 7919's ffdhe2048 group, as https://ssl-config.mozilla.org/ffdhe2048.txt has it. */
export const FFDHE2048 = [
  "-----BEGIN DH PARAMETERS-----",
  "MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz",
  "+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a",
  "87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7",
  "YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi",
  "7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD",
  "ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==",
  "-----END DH PARAMETERS-----",
  "",
].join("\n");

/**
 * Mozilla's "intermediate" server-side TLS profile (guidelines 5.7) for nginx: TLS 1.2 and 1.3,
 * its cipher list (forward secrecy and AEAD only) and curves, and its session settings. In the
 * http block, so every HTTPS server (and the default one, whose settings a handshake starts
 * with before SNI picks a site) has the same.
 */
export const MOZILLA_INTERMEDIATE = {
  protocols: "TLSv1.2 TLSv1.3",
  ciphers:
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
  curves: "X25519:prime256v1:secp384r1",
} as const;

/** The upstream block's name and file name: `<site>-<role>`, e.g. `hello-web`. */
export function upstreamName(site: ProxySite): string {
  return `${checkName("site", site.site)}-${checkName("role", site.role)}`;
}

function confDir(options: ProxyOptions): string {
  return checkDir("configuration directory", options.confDir ?? DEFAULT_CONF_DIR);
}

function listenLine(options: ProxyOptions, defaultServer: boolean, tls = false): string {
  const port = tls
    ? checkPort("TLS listen port", options.tlsListenPort ?? DEFAULT_TLS_LISTEN_PORT)
    : checkPort("listen port", options.listenPort ?? DEFAULT_LISTEN_PORT);
  const address =
    options.listenAddress === undefined
      ? ""
      : `${checkIpv4("listen address", options.listenAddress)}:`;
  // `listen ... http2` rather than nginx 1.25's `http2 on;`, which Debian 12's nginx 1.22 lacks.
  return `listen ${address}${port}${tls ? " ssl http2" : ""}${defaultServer ? " default_server" : ""};`;
}

// Security headers: each site adds these defaults unless the app sent the header itself (an empty
// value makes add_header add nothing), so an app's stricter policy is never doubled or overridden.
const SECURITY_HEADERS: readonly { header: string; variable: string; value: string }[] = [
  { header: "X-Content-Type-Options", variable: "x_content_type_options", value: "nosniff" },
  { header: "X-Frame-Options", variable: "x_frame_options", value: "SAMEORIGIN" },
  {
    header: "Referrer-Policy",
    variable: "referrer_policy",
    value: "strict-origin-when-cross-origin",
  },
  {
    header: "Permissions-Policy",
    variable: "permissions_policy",
    value: "camera=(), microphone=(), geolocation=()",
  },
];

// Compressible text types; text/html is always compressed and must not be listed again.
const GZIP_TYPES = [
  "text/plain",
  "text/css",
  "text/xml",
  "text/javascript",
  "application/javascript",
  "application/json",
  "application/ld+json",
  "application/manifest+json",
  "application/xml",
  "application/rss+xml",
  "application/atom+xml",
  "image/svg+xml",
];

// Every kind of temporary file nginx keeps (it creates each directory, even for unused modules).
const TEMP_PATHS = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"];

/**
 * The main nginx.conf: global settings, the maps sites rely on, the includes of every upstream
 * and site, and a server that answers 404 to unknown hosts. The pid file and `daemon` are left
 * to the command line (`nginx -g ...`), as the container image's own command sets them.
 */
export function renderNginxConf(options: ProxyOptions = {}): string {
  const dir = confDir(options);
  const tempDir =
    options.tempDir === undefined ? undefined : checkDir("temporary directory", options.tempDir);
  const temp =
    tempDir === undefined
      ? []
      : ["", ...TEMP_PATHS.map((kind) => `    ${kind}_temp_path ${tempDir}/${kind}_temp;`)];
  const lines = [
    "# The Slipway proxy's main configuration: written by Slipway, do not edit.",
    "worker_processes auto;",
    "# After a reload, old workers finish their open connections (WebSockets, slow downloads);",
    "# past this they are closed, so a reload never hangs.",
    "worker_shutdown_timeout 30s;",
    "error_log stderr warn;",
    "",
    "events {",
    "    worker_connections 4096;",
    "}",
    "",
    "http {",
    "    default_type application/octet-stream;",
    "    server_tokens off;",
    "    sendfile on;",
    "    tcp_nopush on;",
    "    tcp_nodelay on;",
    "    keepalive_timeout 65s;",
    "    keepalive_requests 1000;",
    "    client_header_timeout 15s;",
    "    client_body_timeout 60s;",
    "    send_timeout 60s;",
    "    # The longest domain name (253 characters) needs buckets of 512 bytes.",
    "    server_names_hash_bucket_size 512;",
    ...temp,
    "",
    "    log_format slipway '$remote_addr - $remote_user [$time_local] \"$request\" $status '",
    '                       \'$body_bytes_sent "$http_referer" "$http_user_agent" host=$host \'',
    "                       'request_time=$request_time upstream=$upstream_addr '",
    "                       'upstream_status=$upstream_status upstream_connect_time=$upstream_connect_time '",
    "                       'upstream_header_time=$upstream_header_time '",
    "                       'upstream_response_time=$upstream_response_time';",
    "    access_log /dev/stdout slipway;",
    "",
    "    # TLS for every HTTPS server: Mozilla's intermediate profile.",
    `    ssl_protocols ${MOZILLA_INTERMEDIATE.protocols};`,
    `    ssl_ciphers ${MOZILLA_INTERMEDIATE.ciphers};`,
    `    ssl_ecdh_curve ${MOZILLA_INTERMEDIATE.curves};`,
    "    ssl_prefer_server_ciphers off;",
    `    ssl_dhparam ${dir}/${DH_PARAMS_FILE};`,
    "    ssl_session_timeout 1d;",
    "    ssl_session_cache shared:MozSSL:10m;",
    "    ssl_session_tickets off;",
    "",
    "    gzip on;",
    "    gzip_vary on;",
    "    gzip_proxied any;",
    "    gzip_comp_level 5;",
    "    gzip_min_length 1024;",
    `    gzip_types ${GZIP_TYPES.join(" ")};`,
    "",
    "    # Upgrade requests (WebSockets) pass Connection: upgrade; all others an empty Connection",
    "    # header, so connections to the apps stay open for the next request (keepalive).",
    "    map $http_upgrade $connection_upgrade {",
    "        default upgrade;",
    '        "" "";',
    "    }",
    "",
    "    # Security headers the sites add, each unless the app sent its own.",
    ...SECURITY_HEADERS.flatMap(({ variable, value }) => [
      `    map $upstream_http_${variable} $slipway_${variable} {`,
      `        "" "${value}";`,
      '        default "";',
      "    }",
    ]),
    "",
    "    # The first server for the address is the default one: unknown hosts get 404, unless a",
    "    # site without domains claims them with default_server.",
    "    server {",
    `        ${listenLine(options, false)}`,
    "        server_name _;",
    "        return 404;",
    "    }",
    "",
    `    include ${dir}/upstreams/*.conf;`,
    `    include ${dir}/sites/*.conf;`,
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

/** `10r/s`, or requests per minute for fractions (nginx takes whole numbers only). */
function rate(requestsPerSecond: number): string {
  checkPositive("rate_limit.requests_per_second", requestsPerSecond);
  if (Number.isInteger(requestsPerSecond)) return `${requestsPerSecond}r/s`;
  return `${Math.max(1, Math.round(requestsPerSecond * 60))}r/m`;
}

/**
 * The server blocks of one site: its domains (or the catch-all), limits, security headers, the
 * headers the app sees, and the upstream it proxies to. With HTTPS, the same server on the TLS
 * port with the certificate's include and HSTS, and an HTTP server that answers ACME challenges
 * and, once the site has its certificate, redirects everything else (its include says which).
 */
export function renderSite(site: ProxySite, options: ProxyOptions = {}): string {
  const zone = checkName("site", site.site);
  const domains = site.domains.map(checkDomain);
  const catchAll = domains.length === 0;
  const limit = site.rateLimit;
  const zoneLine =
    limit === undefined
      ? []
      : [
          "# One bucket per client address.",
          `limit_req_zone $binary_remote_addr zone=${zone}:10m rate=${rate(limit.requestsPerSecond)};`,
          "",
        ];
  const csp = site.csp === undefined ? undefined : checkHeaderValue("csp", site.csp);
  const cspMap =
    csp === undefined
      ? []
      : [
          "# The Content-Security-Policy, unless the app sent its own.",
          `map $upstream_http_content_security_policy ${cspVariable(zone)} {`,
          `    "" "${csp}";`,
          '    default "";',
          "}",
          "",
        ];
  const serverName = catchAll ? '    server_name "";' : `    server_name ${domains.join(" ")};`;
  const body = siteBody(site);
  const head = [
    `# Site ${site.site}, role ${site.role}: written by Slipway, do not edit.`,
    ...zoneLine,
    ...cspMap,
  ];
  const https = site.https;
  if (https === undefined) {
    const lines = [
      ...head,
      "server {",
      `    ${listenLine(options, catchAll)}`,
      serverName,
      "",
      ...body,
      "}",
    ];
    return `${lines.join("\n")}\n`;
  }
  if (catchAll) throw new BugError(`proxy: site ${site.site} has HTTPS but no domains`);
  const certs = checkDir("certificates directory", options.certsDir ?? PROXY_CERTS_DIR);
  const files = certificateFiles(zone);
  const lines = [
    ...head,
    "server {",
    `    ${listenLine(options, false)}`,
    serverName,
    "",
    ...acmeLocations(https, options),
    "    # Redirects to HTTPS once the site has its certificate; empty until then.",
    `    include ${certs}/${files.http};`,
    "",
    ...body,
    "}",
    "",
    "server {",
    `    ${listenLine(options, false, true)}`,
    serverName,
    "",
    "    # The certificate (and OCSP stapling when it names a responder), or a refused handshake.",
    `    include ${certs}/${files.tls};`,
    ...hstsLines(https),
    "",
    ...body,
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

/** The directives a site's servers share: limits, headers, the app's headers, its locations. */
function siteBody(site: ProxySite): string[] {
  const upstream = upstreamName(site);
  const zone = checkName("site", site.site);
  const healthPath = checkPath("health path", site.healthPath);
  const maxBody = checkWhole("max_body_size", site.maxBodySize, 1);
  const limit = site.rateLimit;
  const burst = limit === undefined ? 0 : checkWhole("rate_limit.burst", limit.burst, 0);
  const proxyPass = `proxy_pass http://${upstream};`;
  const locations =
    limit === undefined
      ? ["    location / {", `        ${proxyPass}`, "    }"]
      : [
          "    limit_req_status 429;",
          "    limit_req_log_level warn;",
          "",
          "    # The health path is never rate limited: monitors must not see 429.",
          `    location = ${healthPath} {`,
          `        ${proxyPass}`,
          "    }",
          "",
          "    location / {",
          `        limit_req zone=${zone}${burst > 0 ? ` burst=${burst} nodelay` : ""};`,
          `        ${proxyPass}`,
          "    }",
        ];
  return [
    ...realIpLines(site.realIp),
    `    client_max_body_size ${maxBody};`,
    "",
    ...SECURITY_HEADERS.map(
      ({ header, variable }) => `    add_header ${header} $slipway_${variable} always;`,
    ),
    ...(site.csp === undefined
      ? []
      : [`    add_header Content-Security-Policy ${cspVariable(zone)} always;`]),
    "    proxy_hide_header X-Powered-By;",
    "",
    "    proxy_http_version 1.1;",
    "    proxy_set_header Host $host;",
    "    proxy_set_header X-Real-IP $remote_addr;",
    site.realIp === undefined
      ? "    # This proxy is the edge: a client's own X-Forwarded-For is replaced, never trusted."
      : "    # The client's address as the trusted proxies in front said it (set_real_ip_from).",
    "    proxy_set_header X-Forwarded-For $remote_addr;",
    "    proxy_set_header X-Forwarded-Proto $scheme;",
    "    proxy_set_header X-Forwarded-Host $host;",
    "    proxy_set_header Upgrade $http_upgrade;",
    "    proxy_set_header Connection $connection_upgrade;",
    "",
    "    proxy_connect_timeout 5s;",
    "    proxy_send_timeout 60s;",
    "    proxy_read_timeout 60s;",
    "    # A request is retried on a new connection only when it failed to connect or met a kept-alive",
    "    # connection the app had just closed; a POST that reached the app is never sent twice.",
    "    proxy_next_upstream error timeout;",
    "    proxy_next_upstream_tries 2;",
    "    proxy_next_upstream_timeout 10s;",
    "",
    ...locations,
  ];
}

/** The variable of a site's CSP map (site names may hold - and ., variables may not). */
function cspVariable(site: string): string {
  return `$slipway_csp_${site.replace(/[^a-z0-9]/g, "_")}`;
}

/** The real client address from trusted proxies in front: their networks and their header. */
function realIpLines(realIp: ProxySite["realIp"]): string[] {
  if (realIp === undefined) return [];
  if (realIp.from.length === 0) throw new BugError("proxy: trusted proxies without networks");
  return [
    "    # Only these proxies' word on the client's address is taken.",
    ...realIp.from.map((cidr) => `    set_real_ip_from ${checkCidr(cidr)};`),
    `    real_ip_header ${checkHeaderName(realIp.header)};`,
    "    real_ip_recursive on;",
    "",
  ];
}

/** ACME's HTTP-01 challenges from the webroot, before any redirect and never rate limited. */
function acmeLocations(https: SiteHttps, options: ProxyOptions): string[] {
  if (!https.acme) return [];
  const webroot = checkDir("ACME webroot", options.webroot ?? PROXY_WEBROOT);
  const fallback =
    https.acmeFallback === undefined ? undefined : checkUpstreamHost(https.acmeFallback);
  return [
    "    # ACME's HTTP-01 challenges: answered from the webroot, never redirected or limited.",
    `    location ^~ ${ACME_CHALLENGE_PATH} {`,
    `        root ${webroot};`,
    "        default_type text/plain;",
    `        try_files $uri ${fallback === undefined ? "=404" : "@slipway_acme"};`,
    "    }",
    ...(fallback === undefined
      ? []
      : [
          "    # A token this host does not have: the host that issues for the site has it.",
          "    location @slipway_acme {",
          `        proxy_pass http://${fallback};`,
          "        proxy_set_header Host $host;",
          "        proxy_connect_timeout 5s;",
          "        proxy_read_timeout 10s;",
          "    }",
        ]),
    "",
  ];
}

/** Strict-Transport-Security, the edge's alone: an app's own header is dropped. */
function hstsLines(https: SiteHttps): string[] {
  const hsts = https.hsts;
  if (hsts === undefined) return [];
  const maxAge = checkWhole("hsts.max_age", hsts.maxAgeS, 0);
  if (hsts.preload && (!hsts.includeSubdomains || maxAge < 31_536_000)) {
    throw new BugError("proxy: HSTS preload needs includeSubDomains and a max-age of a year");
  }
  const value = [
    `max-age=${maxAge}`,
    ...(hsts.includeSubdomains ? ["includeSubDomains"] : []),
    ...(hsts.preload ? ["preload"] : []),
  ].join("; ");
  return [
    "    proxy_hide_header Strict-Transport-Security;",
    `    add_header Strict-Transport-Security "${value}" always;`,
  ];
}

/**
 * The default HTTPS server: a handshake for a name no site serves is refused, so no site's
 * certificate is shown for it. A file of its own in sites/ (DEFAULT_TLS_SITE), written once some
 * site has HTTPS, so a proxy without any listens on no TLS port.
 */
export function renderDefaultTlsSite(options: ProxyOptions = {}): string {
  return [
    "# The default HTTPS server: written by Slipway, do not edit.",
    "# A name no site serves gets no certificate: the handshake is refused.",
    "server {",
    `    ${listenLine(options, true, true)}`,
    "    server_name _;",
    "    ssl_reject_handshake on;",
    "}",
    "",
  ].join("\n");
}

/** The file name of the default HTTPS server in sites/ (no site name starts with "_"). */
export const DEFAULT_TLS_SITE = "_default-tls";

/**
 * The upstream block a deploy switches. Without a target (no container yet), its only server is
 * marked down, so nginx answers 502 at once ("no live upstreams") and never connects anywhere;
 * `nginx -t` accepts it.
 */
export function renderUpstream(site: ProxySite, target: UpstreamTarget | undefined): string {
  const name = upstreamName(site);
  const header = `# Upstream of site ${site.site}, role ${site.role}: switched by each deploy, do not edit.`;
  if (target === undefined) {
    return [
      header,
      "# No container yet: the server below is marked down, so requests get 502 at once.",
      `upstream ${name} {`,
      "    server 127.0.0.1:1 down;",
      "}",
      "",
    ].join("\n");
  }
  const server = `${checkName("container", target.container)}:${checkPort("port", target.port)}`;
  return [
    header,
    `upstream ${name} {`,
    `    server ${server};`,
    "    keepalive 16;",
    "    # Shorter than any common app server's idle timeout (gunicorn 2s, Node and uvicorn 5s),",
    "    # so nginx never sends a request on a connection the app is closing.",
    "    keepalive_timeout 1s;",
    "}",
    "",
  ].join("\n");
}

/** The agent's status page on a domain of its own (monitoring.status_domain). */
export interface StatusSite {
  domain: string;
  /** The agent, by container name (or address) and port, as nginx reaches it. */
  agent: { host: string; port: number };
  /** The resolver of the agent's name; default Docker's embedded DNS. */
  resolver?: string;
}

/**
 * The server block of a status domain: only the status page, its JSON, /healthz and heartbeats
 * (/ping/...) reach the agent; anything else is 404 here. The agent's name is resolved per
 * request (a variable), so a proxy reload never fails because the agent is down.
 */
export function renderStatusSite(status: StatusSite, options: ProxyOptions = {}): string {
  const domain = checkDomain(status.domain);
  const host = status.agent.host;
  const agentHost = /^[0-9.]+$/.test(host) ? checkIpv4("agent", host) : checkName("agent", host);
  const agent = `http://${agentHost}:${checkPort("agent port", status.agent.port)}`;
  const pass = (path: string, methods: string) => [
    `    location ${path} {`,
    `        limit_except ${methods} { deny all; }`,
    `        proxy_pass ${"$slipway_agent"};`,
    "    }",
  ];
  const lines = [
    `# The status page on ${domain}: written by Slipway, do not edit.`,
    "server {",
    `    ${listenLine(options, false)}`,
    `    server_name ${domain};`,
    "",
    `    resolver ${checkIpv4("resolver", status.resolver ?? "127.0.0.11")} valid=10s;`,
    `    set $slipway_agent ${agent};`,
    "    client_max_body_size 64k;",
    ...SECURITY_HEADERS.map(({ header, value }) => `    add_header ${header} "${value}" always;`),
    "    proxy_http_version 1.1;",
    "    proxy_set_header Host $host;",
    "    proxy_set_header X-Forwarded-For $remote_addr;",
    "    proxy_connect_timeout 5s;",
    "    proxy_read_timeout 30s;",
    "",
    "    location = / {",
    "        return 302 /status;",
    "    }",
    ...pass("= /status", "GET"),
    ...pass("= /api/status", "GET"),
    ...pass("= /healthz", "GET"),
    // Heartbeats: a job's ping, by GET or POST.
    ...pass("/ping/", "GET POST"),
    "    location / {",
    "        return 404;",
    "    }",
    "}",
  ];
  return `${lines.join("\n")}\n`;
}
