/**
 * The Slipway agent: one small process per host that runs checks, opens and resolves incidents,
 * notifies people, keeps its state in SQLite and serves /metrics and an API.
 */
export { Agent, type CheckView, formatDuration } from "./agent.ts";
export {
  type AlertEvent,
  type CheckState,
  type CheckStatus,
  initialState,
  type Observation,
  observe,
  type Severity,
} from "./alerts.ts";
export { BURN_WINDOWS, type BurnVerdict, burnVerdict } from "./budget.ts";
export {
  type AgentConfig,
  type AgentFragment,
  type AlertPolicy,
  agentConfigSchema,
  type CheckConfig,
  checkSchema,
  fragmentSchema,
  type JobConfig,
  jobSchema,
  mergeFragments,
  type NotifierConfig,
  notifierSchema,
  parseAgentConfig,
} from "./config.ts";
export {
  JOB_RUN_LABEL,
  jobContainer,
  OWNER_LABEL,
  resultSummary,
  runnerContainer,
} from "./container-job.ts";
export { containerVerdict } from "./container-probe.ts";
export {
  type ContainerCreate,
  type ContainerInspected,
  type ContainerListed,
  demux,
  ENGINE_SOCKET,
  EngineClient,
  EngineError,
  type Streams,
} from "./engine.ts";
export { PING_KEY_PATTERN } from "./heartbeat.ts";
export { type JobRun, JobStore, type RunOutcome } from "./job-store.ts";
export { AGENT_NODE_FLAGS } from "./launch.ts";
export { AgentMetrics } from "./metrics.ts";
export { meanTimeToRecovery, type RecoveryReport, type RecoveryRow } from "./mttr.ts";
export { type Notice, type SendOutcome, send, signature } from "./notify.ts";
export { type ProbeResult, probe } from "./probes.ts";
export {
  MISSED_AFTER_MS,
  type MissedPolicy,
  nextCronTime,
  type PlannedRun,
  planAfter,
  planNext,
  resume,
} from "./schedule.ts";
export {
  JobBusyError,
  type JobResult,
  type JobRunner,
  type JobView,
  lockHeld,
  Scheduler,
  TimeoutError,
} from "./scheduler.ts";
export { createApi } from "./server.ts";
export { renderStatusPage, STATUS_DAYS, type StatusModel, statusModel } from "./status-page.ts";
export { type HourSummary, type Incident, Store } from "./store.ts";
