/**
 * The local side of a release: the version tag from git, the image built by the engine on this
 * machine, and shipping it to hosts over the transport without a registry.
 */
export {
  type BuildSpec,
  buildArgv,
  detectLocalEngine,
  type LocalEngine,
  localImageInspectArgv,
  type Probe,
  saveArgv,
} from "./engine.ts";
export { readGitVersion } from "./git.ts";
export { type ShipOptions, type ShipProgress, shipImage } from "./ship.ts";
