/**
 * Monitoring from the CLI: installs the agent (src/agent) on the app's hosts with this app's
 * checks and notifiers, and talks to its API over SSH.
 */
export { type ApiMethod, callAgent, callAgentRaw, planApiRequest } from "./api.ts";
export {
  agentBundle,
  agentSettings,
  appHosts,
  hostEngineSocket,
  installAgent,
  placeBackupFolders,
  placeBackups,
  upgradeAgent,
} from "./install.ts";
export {
  AGENT_CONTAINER,
  AGENT_DIR,
  agentContainer,
  apiArgv,
  BUNDLE_DIR,
  CERTIFICATE_JOB,
  ENGINE_SOCKETS,
  fragmentPath,
  notifierSecretName,
  notifierSecretPath,
  pingKeyPath,
  pingUrls,
  planCertificateJobs,
  planFragment,
  planJobs,
} from "./plan.ts";
export { type PrometheusFiles, renderPrometheus } from "./prometheus.ts";
export { recoveryLine } from "./recovery.ts";
export { withRolloutSilence } from "./silence.ts";
export { agentVersion, type UpgradeOutcome } from "./upgrade.ts";
export { LATEST_START_MS, type WindowStart, windowStart } from "./window.ts";
