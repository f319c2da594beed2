/**
 * Day-to-day operations on a deployed app: status, logs, exec, one-off runs and pruning. Pure
 * parts (status from engine listings, the prune planner, --since) sit beside the few functions
 * that read and act on hosts. Restart is a rollout, so it lives with the deploy.
 */
export {
  type CommandIo,
  type ExecRequest,
  execInRole,
  type LineOutput,
  type LogSource,
  type LogsRequest,
  type RunRequest,
  runOneOff,
  streamLogs,
} from "./containers.ts";
export { pruneHosts } from "./prune-hosts.ts";
export { type HostPrune, type PruneReport, pruneOk, renderPrune } from "./prune-report.ts";
export { readStatus } from "./read-status.ts";
export { DEFAULT_TAIL, logWindow, parseSince, parseTail } from "./since.ts";
export {
  type ContainerStatus,
  containersToInspect,
  containersToShow,
  formatUptime,
  type HostFacts,
  type HostStatus,
  hostStatus,
  type RoleStatus,
  renderStatus,
  type StatusReport,
  statusOk,
  unreachableHost,
} from "./status.ts";
export { chooseHost, chooseRole, chooseTargets, type RoleHosts, type Target } from "./targets.ts";
