import { type SshOptions, SshTransport } from "../../src/transport/index.ts";

export interface SshTestTarget {
  host: string;
  port: number;
  user: string;
  clientKey: string;
}

/**
 * An SSH transport that sees only what the test gives it: its key, its known_hosts file, no
 * ssh-agent, no ~/.ssh/config or ~/.ssh/known_hosts of whoever runs the tests.
 */
export function isolatedSshTransport(
  target: SshTestTarget,
  knownHostsFile: string,
  extra: Partial<SshOptions> = {},
): SshTransport {
  return new SshTransport({
    host: target.host,
    port: target.port,
    user: target.user,
    keys: [target.clientKey],
    knownHostsFile,
    userKnownHostsFiles: [],
    sshConfigFile: null,
    agentSocket: "",
    connectTimeoutMs: 5000,
    ...extra,
  });
}
