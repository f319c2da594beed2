/**
 * Certificates on a host: where they live, the nginx includes that change with them. This face
 * stays light (no ACME client): the proxy's renderer and the agent load it; the ACME client is
 * loaded only by the certificate runner (main.ts), on demand.
 */
export {
  firstNameserver,
  type IncludeFacts,
  renderHttpInclude,
  renderTlsInclude,
} from "./fragments.ts";
export { type Order, orderSchema, parseOrder } from "./order.ts";
export {
  ACCOUNTS_DIR,
  ACME_CHALLENGE_PATH,
  CERTS_DIR,
  certificateFiles,
  checkSite,
  ORDERS_DIR,
  orderFile,
  PROXY_CERTS_DIR,
  PROXY_WEBROOT,
  RUNNER_DIR,
  SECRETS_DIR,
  STATE_DIR,
  shareKeyFile,
  TLS_DIR,
  WEBROOT_DIR,
} from "./paths.ts";
export { type Due, renewalDue, retryDelay } from "./renewal.ts";
// A type only: run.ts (and the ACME client behind it) stays out of light importers.
export type { RunResult } from "./run.ts";
export {
  openCertificate,
  parseSharingKey,
  sealCertificate,
  sharedFileName,
  sharedPath,
} from "./share.ts";
export {
  activateCertificate,
  type CertState,
  currentFacts,
  readState,
  restorePrevious,
} from "./store.ts";
export {
  CertificateError,
  type CertificateFacts,
  certificateFacts,
  checkCertificateFile,
  covers,
  splitPem,
  uncovered,
} from "./validate.ts";
