/**
 * The local side of a release: the version tag from git, the image built by the engine on this
 * machine, and shipping it to hosts over the transport without a registry (src/registry is the
 * other way).
 */
export {
  type BuildSpec,
  buildArgv,
  detectLocalEngine,
  type LocalEngine,
  localImageInspectArgv,
  localTagArgv,
  type Probe,
  saveArgv,
} from "./engine.ts";
export { readGitVersion } from "./git.ts";
export {
  inspectLocal,
  inspectRemote,
  type ShipOptions,
  type ShipProgress,
  sameImage,
  shipImage,
} from "./ship.ts";
