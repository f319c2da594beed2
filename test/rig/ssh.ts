/** Reaching rig servers with the system OpenSSH client. */
import { type RunResult, run } from "./proc.ts";

/** Where and as whom to log in, with which private key. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Path of the client's private key. */
  clientKey: string;
}

/** Options for {@link sshArgs}. */
export interface SshArgsOptions {
  /** Check the host key strictly against this known_hosts file (default: no check, nothing saved). */
  knownHostsFile?: string;
}

/**
 * Arguments for the system `ssh` client to run `remote` on target without prompts and without
 * touching ~/.ssh (by default the host key is not checked and nothing is remembered).
 */
export function sshArgs(
  target: SshTarget,
  remote: readonly string[] = [],
  opts: SshArgsOptions = {},
): string[] {
  const hostKeys = opts.knownHostsFile
    ? ["StrictHostKeyChecking=yes", `UserKnownHostsFile=${opts.knownHostsFile}`]
    : ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"];
  return [
    "-i",
    target.clientKey,
    "-p",
    String(target.port),
    ...hostKeys.flatMap((o) => ["-o", o]),
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "LogLevel=ERROR",
    `${target.user}@${target.host}`,
    ...remote,
  ];
}

/** Runs a remote command line through the system `ssh` client and resolves whatever its status. */
export function runSsh(
  target: SshTarget,
  command: string,
  opts: SshArgsOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  return run("ssh", sshArgs(target, [command], opts), { timeoutMs: opts.timeoutMs ?? 60_000 });
}
