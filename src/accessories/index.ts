/**
 * Accessories: databases and caches run beside the app on its hosts, each in one container on the
 * site's private network, with a volume, generated credentials and engine tuning.
 */
export {
  type Credentials,
  ENGINES,
  type EngineDefinition,
  type EngineName,
  INFLUX_WITH_TOKEN,
  mongoLogin,
  mysqlRoot,
  SECRETS_MOUNT,
} from "./engines.ts";
export {
  ACCESSORY_SPEC_LABEL,
  accessoryEnv,
  type BootOutcome,
  bootAccessory,
  ensureCredentials,
  ensureNetwork,
  hostMemory,
  type ResolvedAccessory,
  readCredentials,
  resolveAccessories,
  waitHealthy,
  writeCredentials,
  writeSecretFiles,
} from "./host.ts";
export {
  ensureAccessory,
  imageVersion,
  planUpgrade,
  removeAccessory,
  restartAccessory,
  startAccessory,
  stopAccessory,
  upgradeAccessory,
  withVersion,
} from "./lifecycle.ts";
export {
  type AccessoryPlan,
  type AccessorySettings,
  accessoryContainer,
  accessoryDir,
  accessoryImage,
  accessorySpec,
  accessoryUrl,
  generateCredentials,
  planAccessory,
  privateNetwork,
} from "./plan.ts";
export {
  influxRotation,
  ownerOf,
  planRotation,
  psqlFromStdin,
  type RotationPlan,
} from "./rotate.ts";
export { TUNABLE, type TuningInput, tuneAccessory } from "./tuning.ts";
