/**
 * What Slipway does on a host for a site's certificate, as data: the order the runner reads and
 * the secret files beside it, the runner's one-off container, and the switch that puts new
 * certificate files in place behind `nginx -t` (the previous ones back when it refuses). Pure.
 */
import {
  CERTS_DIR,
  certificateFiles,
  checkSite,
  type Order,
  orderFile,
  PROXY_CERTS_DIR,
  RUNNER_DIR,
  SECRETS_DIR,
  shareKeyFile,
  TLS_DIR,
} from "../certs/index.ts";
import { dockerRun } from "../engine/index.ts";
import { run, type Step, upload } from "../plan/index.ts";
import { PROXY_CONTAINER, PROXY_NETWORK, RELOAD_SCRIPT } from "../proxy/index.ts";
import type { Argv } from "../transport/index.ts";

/** What a site's ACME certificate is ordered with, from slipway.yml. */
export interface AcmeSettings {
  site: string;
  domains: string[];
  directory: string;
  email?: string | undefined;
  /** The PEM of the CA of the directory's HTTPS (a private ACME CA). */
  directoryCa?: string | undefined;
  eab?: { kid: string; hmacKey: string } | undefined;
  challenge: "http-01" | "dns-01";
  dns?: { provider: "cloudflare"; token: string; propagationMs: number } | undefined;
  renewBeforeMs: number;
  /** The key the certificate is sealed with for the site's other web hosts (base64url). */
  shareKey?: string | undefined;
}

function secretPath(site: string, name: string): string {
  return `${SECRETS_DIR}/${checkSite(site)}/${name}`;
}

/**
 * The order file and the files it names (EAB key, DNS token, the directory's CA), each 0600:
 * the order holds no secret, only where each one is.
 */
export function planOrder(settings: AcmeSettings): Step[] {
  const { site } = settings;
  const order: Order = {
    site,
    domains: settings.domains,
    directory: settings.directory,
    challenge: settings.challenge,
    renew_before_ms: settings.renewBeforeMs,
    tls_dir: TLS_DIR,
    proxy_certs_dir: PROXY_CERTS_DIR,
    https_port: 443,
    ...(settings.email === undefined ? {} : { email: settings.email }),
    ...(settings.shareKey === undefined ? {} : { share_key_file: shareKeyFile(site) }),
    ...(settings.directoryCa === undefined
      ? {}
      : { ca_file: secretPath(site, "directory-ca.pem") }),
    ...(settings.eab === undefined
      ? {}
      : { eab: { kid: settings.eab.kid, hmac_key_file: secretPath(site, "eab-hmac-key") } }),
    ...(settings.dns === undefined
      ? {}
      : {
          dns: {
            provider: settings.dns.provider,
            token_file: secretPath(site, "dns-token"),
            propagation_ms: settings.dns.propagationMs,
          },
        }),
  };
  return [
    ...(settings.directoryCa === undefined
      ? []
      : [
          upload(
            `${site}: the ACME directory's CA`,
            secretPath(site, "directory-ca.pem"),
            settings.directoryCa,
            0o600,
          ),
        ]),
    ...(settings.eab === undefined
      ? []
      : [
          upload(
            `${site}: the EAB key`,
            secretPath(site, "eab-hmac-key"),
            `${settings.eab.hmacKey}\n`,
            0o600,
          ),
        ]),
    ...(settings.dns === undefined
      ? []
      : [
          upload(
            `${site}: the DNS provider's token`,
            secretPath(site, "dns-token"),
            `${settings.dns.token}\n`,
            0o600,
          ),
        ]),
    ...(settings.shareKey === undefined
      ? []
      : [
          upload(
            `${site}: the key its web hosts share the certificate with`,
            shareKeyFile(site),
            `${settings.shareKey}\n`,
            0o600,
          ),
        ]),
    upload(
      `${site}: the certificate order`,
      orderFile(site),
      `${JSON.stringify(order, null, 2)}\n`,
      0o600,
    ),
  ];
}

/** The runner's container name for a site (one at a time: its lock says so too). */
export function runnerContainer(site: string): string {
  return `slipway-certs-${checkSite(site)}`;
}

/**
 * The runner in a one-off container of `image` (any image with Node 22 or newer: the agent's):
 * on the proxy's network (a CA inside it answers by name), with the certificates' folder
 * mounted, staging what it issues for the switch.
 */
export function runnerArgv(image: string, site: string, options: { force?: boolean } = {}): Argv {
  return dockerRun({
    name: runnerContainer(site),
    image,
    network: PROXY_NETWORK,
    labels: { "slipway.certs": checkSite(site) },
    volumes: [{ source: TLS_DIR, target: TLS_DIR }],
    cmd: [
      "node",
      `${RUNNER_DIR}/certs.mjs`,
      "issue",
      "--order",
      orderFile(site),
      "--stage",
      ...(options.force ? ["--force"] : []),
    ],
    removeOnExit: true,
    detach: false,
  });
}

/**
 * Puts `<name>.next` of a site's certificate, TLS include and HTTP include in place, the
 * current files kept as `<name>.previous`; then `nginx -t` and the graceful reload. When either
 * fails, the previous files are put back (a certificate that fails never replaces one that
 * works) and it exits 1. $1 folder, $2 site's file stem, $3 proxy container, $4 RELOAD_SCRIPT.
 */
export const CERT_SWITCH_SCRIPT = [
  "set -eu",
  'dir="$1"',
  'names="$2.pem $2.tls.conf $2.http.conf"',
  "for f in $names; do",
  '  [ -e "$dir/$f.next" ] || { echo "slipway: $dir/$f.next is missing" >&2; exit 1; }',
  "done",
  "for f in $names; do",
  '  if [ -e "$dir/$f" ]; then cp -p "$dir/$f" "$dir/$f.previous"; else rm -f "$dir/$f.previous"; fi',
  "done",
  'for f in $names; do mv -f "$dir/$f.next" "$dir/$f"; done',
  'restore() { for f in $names; do if [ -e "$dir/$f.previous" ]; then mv -f "$dir/$f.previous" "$dir/$f"; fi; done; }',
  'if ! docker exec "$3" nginx -t; then',
  "  restore",
  '  echo "slipway: nginx refused the new certificate of $2; the previous one is back in place" >&2',
  "  exit 1",
  "fi",
  'if ! docker exec "$3" sh -c "$4"; then',
  "  restore",
  '  echo "slipway: the reload with the new certificate of $2 did not take; the previous one is back" >&2',
  "  exit 1",
  "fi",
].join("\n");

/** The switch of a site's staged certificate files (see CERT_SWITCH_SCRIPT). */
export function planCertificateSwitch(site: string): Step {
  const stem = checkSite(site);
  return run(
    `put the new certificate of ${site} in place`,
    ["sh", "-c", CERT_SWITCH_SCRIPT, "sh", CERTS_DIR, stem, PROXY_CONTAINER, RELOAD_SCRIPT],
    { timeoutMs: 60_000 },
  );
}

/**
 * A certificate's three files (as read from the host that has it, or made from the user's own)
 * staged as `<name>.next` on a host, then switched in.
 */
export function planCertificatePlacement(
  site: string,
  files: { pem: string; tls: string; http: string },
): Step[] {
  const names = certificateFiles(site);
  return [
    upload(`${site}: certificate`, `${CERTS_DIR}/${names.pem}.next`, files.pem, 0o600),
    upload(`${site}: certificate include`, `${CERTS_DIR}/${names.tls}.next`, files.tls, 0o600),
    upload(`${site}: redirect include`, `${CERTS_DIR}/${names.http}.next`, files.http, 0o600),
    planCertificateSwitch(site),
  ];
}
