/**
 * Monitoring from the CLI: installs the agent (src/agent) on the app's hosts with this app's
 * checks and notifiers, and talks to its API over SSH.
 */
export { callAgent, callAgentRaw } from "./api.ts";
export { agentBundle, appHosts, installAgent } from "./install.ts";
export {
  AGENT_CONTAINER,
  AGENT_DIR,
  agentContainer,
  apiArgv,
  BUNDLE_DIR,
  fragmentPath,
  notifierSecretName,
  notifierSecretPath,
  planFragment,
  planJobs,
} from "./plan.ts";
export { type PrometheusFiles, renderPrometheus } from "./prometheus.ts";
export { withRolloutSilence } from "./silence.ts";
