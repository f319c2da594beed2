export {
  type Argv,
  type Command,
  type Compound,
  chain,
  either,
  isArgv,
  pipe,
  quoteWord,
  renderCommand,
} from "./command.ts";
export { Connections, LOCAL_HOST, type SshSettings } from "./connections.ts";
export {
  checkHostKey,
  fingerprint,
  type KnownHostEntry,
  knownHostsToken,
  parseKnownHosts,
} from "./known-hosts.ts";
export { type LocalResult, type LocalRunOptions, LocalTransport, runLocal } from "./local.ts";
export { type HostOutcome, onHosts, type ParallelOptions } from "./parallel.ts";
export { type SshConnectionInfo, type SshEvents, type SshOptions, SshTransport } from "./ssh.ts";
export { resolveSshTarget, type SshTarget } from "./ssh-target.ts";
export type { RunOptions, RunResult, Transport, TransportEvents, UploadOptions } from "./types.ts";
