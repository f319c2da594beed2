/**
 * The registry way of getting images to hosts, used when slipway.yml has a `registry:` section:
 * this machine pushes, each host pulls. Naming rules (pure), argv builders (pure) and the
 * login/push/pull that run them. Without a registry, src/build ships images over SSH instead.
 */
import type { LoadedConfig } from "../config/index.ts";
import { BugError } from "../errors/index.ts";
import { loginServer } from "./reference.ts";
import type { RegistryLogin } from "./transfer.ts";

export {
  hostDockerConfigArgv,
  hostLoginArgv,
  hostPullArgv,
  hostRemoveDockerConfigArgv,
  localLoginArgv,
  localPushArgv,
} from "./argv.ts";
export {
  DOCKER_HUB,
  loginServer,
  normalizeServer,
  type RegistrySettings,
  referenceDomain,
  registryOf,
  registryRepository,
} from "./reference.ts";
export {
  loginFor,
  loginLocal,
  type PullOptions,
  pullImage,
  pushImage,
  type RegistryLogin,
} from "./transfer.ts";

/** The login of the configured registry, with its password resolved; undefined without one. */
export function registryLogin(loaded: LoadedConfig): RegistryLogin | undefined {
  const registry = loaded.config.registry;
  if (registry === undefined) return undefined;
  const password = loaded.secrets.values.get(registry.password);
  // Loading the config resolves every secret it names, or fails.
  if (password === undefined) throw new BugError(`secret ${registry.password} was not resolved`);
  return {
    server: loginServer(loaded.config.image, registry),
    username: registry.username,
    password,
    secret: registry.password,
    secretsFile: loaded.secrets.sources.get(registry.password) ?? ".slipway/secrets",
  };
}
