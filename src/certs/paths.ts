/**
 * Where certificates live on a host and where the proxy sees them. Shared by the CLI (which
 * places files over SSH), the certificate runner on the host and the agent.
 */

/** On the host: account keys, certificates, orders, state, secrets and the ACME webroot. */
export const TLS_DIR = "/var/lib/slipway/tls";
/**
 * `<site>.pem` (the private key, then the chain; 0600), `<site>.tls.conf` and `<site>.http.conf`
 * (the nginx lines that change with the certificate): mounted read-only into the proxy.
 */
export const CERTS_DIR = `${TLS_DIR}/certs`;
/** `.well-known/acme-challenge/<token>` (0644) while a challenge is open: mounted into the proxy. */
export const WEBROOT_DIR = `${TLS_DIR}/webroot`;
/** ACME account keys (0600), one per directory URL and e-mail. */
export const ACCOUNTS_DIR = `${TLS_DIR}/accounts`;
/** `<site>.json`: what to issue for a site (its domains, CA, challenge), written by the CLI. */
export const ORDERS_DIR = `${TLS_DIR}/orders`;
/** `<site>.json`: the certificate's facts, the last attempt and its error, the next retry. */
export const STATE_DIR = `${TLS_DIR}/state`;
/** `<site>/<name>` (0600): an EAB HMAC key, a DNS provider's token. */
export const SECRETS_DIR = `${TLS_DIR}/secrets`;
/** The certificate runner (certs.mjs and its chunks) as the CLI ships it for issuance. */
export const RUNNER_DIR = `${TLS_DIR}/runner`;

/** Where the proxy container sees CERTS_DIR. */
export const PROXY_CERTS_DIR = "/etc/slipway/certs";
/** Where the proxy container sees WEBROOT_DIR. */
export const PROXY_WEBROOT = "/var/www/slipway-acme";
/** The path HTTP-01 challenges are fetched under. */
export const ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/";

// A site's name ("hello", "hello-staging"): nothing that could leave its directory.
const SITE_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

/** The site name, refused unless it is a plain file name part. */
export function checkSite(site: string): string {
  if (!SITE_PATTERN.test(site) || site.length > 200) {
    throw new Error(`certs: site ${JSON.stringify(site)} is not a plain name`);
  }
  return site;
}

/** The file names of a site's certificate and its two nginx includes, in CERTS_DIR. */
export function certificateFiles(site: string): { pem: string; tls: string; http: string } {
  const name = checkSite(site);
  return { pem: `${name}.pem`, tls: `${name}.tls.conf`, http: `${name}.http.conf` };
}

/** A site's order file (written by the CLI, read by the runner and the agent). */
export function orderFile(site: string): string {
  return `${ORDERS_DIR}/${checkSite(site)}.json`;
}

/** The key a site's certificate is sealed with for its other web hosts (share.ts), 0600. */
export function shareKeyFile(site: string): string {
  return `${SECRETS_DIR}/${checkSite(site)}/share-key`;
}
