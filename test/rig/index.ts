/** The test rig: real sshd servers and "VPS in a box" containers for integration tests. */
export { imagesAvailable, NGINX_IMAGE, NODE_IMAGE } from "./images.ts";
export { type KeyPair, makeKeyPair } from "./keys.ts";
export { freePort, readBanner, waitForSshBanner } from "./net.ts";
export {
  onProcessExit,
  pidAlive,
  type RigCheck,
  type RunOptions,
  type RunResult,
  run,
  runOk,
  skipUnless,
} from "./proc.ts";
export {
  type RegistryOptions,
  type RegistryRequest,
  registryAvailable,
  startRegistry,
  type TestRegistry,
} from "./registry.ts";
export { runSsh, type SshArgsOptions, type SshTarget, sshArgs } from "./ssh.ts";
export { type Sshd, type SshdOptions, sshdAvailable, startSshd } from "./sshd.ts";
export { rigAvailable, startVpsBox, VPS_IMAGE, type VpsBox, type VpsBoxOptions } from "./vps.ts";
