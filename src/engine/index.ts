/**
 * The container engine on hosts, as data: pure builders of `docker` argv (Podman's CLI takes the
 * same words) and parsers of what those commands print. Nothing here runs anything; planners
 * put these argv in steps and the transport runs them. Every name, label and image reference is
 * checked so that none can be read as an option (BugError otherwise).
 */
export {
  type ContainerSpec,
  DEFAULT_LOG_MAX_FILES,
  DEFAULT_LOG_MAX_SIZE,
  dockerExec,
  dockerInspect,
  dockerListContainers,
  dockerLogs,
  dockerRemove,
  dockerRun,
  dockerStart,
  dockerStop,
  type ExecOptions,
  type ExecParts,
  type HealthSpec,
  type LogsOptions,
  type PortMapping,
  parseDockerExec,
  type VolumeMount,
} from "./container.ts";
export { formatEnvFile } from "./env-file.ts";
export {
  dockerImageId,
  dockerImageInspect,
  dockerLoad,
  dockerNetworkCreate,
  dockerNetworkInspect,
  dockerRemoveImage,
  dockerTag,
} from "./image.ts";
export {
  type ContainerInfo,
  type ContainerState,
  type ContainerSummary,
  containerIp,
  type HealthStatus,
  type ImageInfo,
  type LoadedImages,
  normalizeImageId,
  parseContainerInspect,
  parseContainerList,
  parseImageId,
  parseImageInspect,
  parseInspect,
  parseLoadOutput,
} from "./parse.ts";
export { checkImageRef, checkName } from "./validate.ts";
