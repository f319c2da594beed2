/**
 * The Debian nginx binary of this machine, run against a rendered configuration in a temporary
 * prefix: shared by the `nginx -t` unit tests and the proxy integration test.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import {
  certificateFacts,
  certificateFiles,
  renderHttpInclude,
  renderTlsInclude,
} from "../../../src/certs/index.ts";
import {
  DEFAULT_TLS_SITE,
  DH_PARAMS_FILE,
  FFDHE2048,
  type ProxyOptions,
  type ProxySite,
  renderDefaultTlsSite,
  renderNginxConf,
  renderSite,
  renderUpstream,
  type UpstreamTarget,
  upstreamName,
} from "../../../src/proxy/index.ts";
import type { RigCheck } from "../../rig/index.ts";

/** The nginx binary (Debian's package installs it in /usr/sbin, which a user's PATH may lack). */
export const NGINX =
  ["/usr/sbin/nginx", "/usr/bin/nginx"].find((path) => existsSync(path)) ?? "nginx";

/** Whether nginx is installed here. */
export function nginxAvailable(): RigCheck {
  return existsSync(NGINX)
    ? { ok: true }
    : { ok: false, reason: "nginx is not installed (apt-get install nginx)" };
}

/**
 * The arguments that make nginx use the configuration in `prefix`: its own pid file, errors on
 * stderr, in the foreground. The same for starting, `-t` and `-s reload`.
 */
export function nginxArgs(prefix: string): string[] {
  return [
    "-p",
    prefix,
    "-c",
    `${prefix}/nginx.conf`,
    "-e",
    "stderr",
    "-g",
    `pid ${prefix}/nginx.pid; daemon off;`,
  ];
}

/**
 * Writes nginx.conf, the sites and the upstreams into `prefix` (the test's /etc/nginx). HTTPS
 * sites get their certificate includes in options.certsDir: for a site in `certificates` (its
 * key and chain in one PEM), the certificate's; else "none yet".
 */
export function writeProxyTree(
  prefix: string,
  sites: readonly ProxySite[],
  targets: ReadonlyMap<string, UpstreamTarget>,
  options: ProxyOptions,
  certificates: ReadonlyMap<string, string> = new Map(),
): void {
  mkdirSync(`${prefix}/sites`, { recursive: true });
  mkdirSync(`${prefix}/upstreams`, { recursive: true });
  writeFileSync(`${prefix}/${DH_PARAMS_FILE}`, FFDHE2048);
  writeFileSync(`${prefix}/nginx.conf`, renderNginxConf(options));
  const https = sites.filter((site) => site.https !== undefined);
  if (https.length > 0) {
    const certs = options.certsDir ?? `${prefix}/certs`;
    mkdirSync(certs, { recursive: true });
    writeFileSync(`${prefix}/sites/${DEFAULT_TLS_SITE}.conf`, renderDefaultTlsSite(options));
    for (const site of https) {
      const files = certificateFiles(site.site);
      const pem = certificates.get(site.site);
      const facts = {
        proxyCertsDir: certs,
        httpsPort: options.tlsListenPort ?? 443,
        ...(pem === undefined
          ? {}
          : { certificate: { ocsp: certificateFacts(pem).ocsp, resolver: "127.0.0.1" } }),
      };
      if (pem !== undefined) writeFileSync(`${certs}/${files.pem}`, pem, { mode: 0o600 });
      writeFileSync(`${certs}/${files.tls}`, renderTlsInclude(site.site, facts));
      writeFileSync(`${certs}/${files.http}`, renderHttpInclude(site.site, facts));
    }
  }
  for (const site of sites) {
    const name = upstreamName(site);
    writeFileSync(`${prefix}/sites/${site.site}.conf`, renderSite(site, options));
    writeFileSync(`${prefix}/upstreams/${name}.conf`, renderUpstream(site, targets.get(name)));
  }
}

/**
 * A stand-in for `docker` (no Docker engine runs on this machine outside the VPS box): maps
 * `docker exec slipway-proxy nginx ARGS` to this machine's nginx with the test's prefix, and
 * refuses anything else. Returns the shell script's text.
 */
export function fakeDockerScript(prefix: string): string {
  const quoted = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return [
    "#!/bin/sh",
    'if [ "$#" -ge 3 ] && [ "$1" = exec ] && [ "$2" = slipway-proxy ] && [ "$3" = nginx ]; then',
    "  shift 3",
    // docker exec gives nginx a pipe as stdout, where /dev/stdout (the access log) opens; a test's
    // stdout may be a socket, where it does not. nginx -t and -s print on stderr only.
    `  exec ${[NGINX, ...nginxArgs(prefix)].map(quoted).join(" ")} "$@" >/dev/null`,
    "fi",
    // `docker exec slipway-proxy sh -c SCRIPT [sh ARGS...]` (the reload that waits for new
    // workers): the script runs here with its arguments, its `nginx` being the local one, whose
    // pid file is the prefix's (-g pid).
    'if [ "$#" -ge 5 ] && [ "$1" = exec ] && [ "$2" = slipway-proxy ] && [ "$3" = sh ] && [ "$4" = -c ]; then',
    `  export SLIPWAY_NGINX_PID_FILE=${quoted(`${prefix}/nginx.pid`)}`,
    "  script=$5",
    "  shift 5",
    `  exec sh -c "nginx() { ${[NGINX, ...nginxArgs(prefix)].map(quoted).join(" ").replaceAll('"', '\\"')} "\\$@" >/dev/null; }
$script" "$@"`,
    "fi",
    'echo "fake docker: unexpected arguments: $*" >&2',
    "exit 99",
    "",
  ].join("\n");
}
