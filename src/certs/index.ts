/**
 * Certificates on a host: where they live, the nginx includes that change with them. This face
 * stays light (no ACME client): the proxy's renderer and the agent load it; the ACME client is
 * loaded only by the certificate runner (main.ts), on demand.
 */
export { type IncludeFacts, renderHttpInclude, renderTlsInclude } from "./fragments.ts";
export {
  ACCOUNTS_DIR,
  ACME_CHALLENGE_PATH,
  CERTS_DIR,
  certificateFiles,
  checkSite,
  ORDERS_DIR,
  PROXY_CERTS_DIR,
  PROXY_WEBROOT,
  RUNNER_DIR,
  SECRETS_DIR,
  STATE_DIR,
  TLS_DIR,
  WEBROOT_DIR,
} from "./paths.ts";
export {
  CertificateError,
  type CertificateFacts,
  certificateFacts,
  checkCertificateFile,
  covers,
  splitPem,
  uncovered,
} from "./validate.ts";
