/**
 * The configuration module: slipway.yml in, one typed and resolved model out. Other folders
 * import only from here.
 */
export { type LoadedConfig, type LoadOptions, loadConfig } from "./load.ts";
export { redactedConfig } from "./redact.ts";
export {
  ACME_DIRECTORIES,
  configJsonSchema,
  configSchema,
  type SlipwayConfig,
} from "./schema.ts";
export type { ResolvedSecrets } from "./secrets.ts";
export { parseDuration, parseSize } from "./units.ts";
export { nameProblem, volumeProblem } from "./validators.ts";
