/**
 * Where and as whom to connect: the host as named in slipway.yml, refined by ~/.ssh/config
 * (Host, HostName, User, Port, IdentityFile) the way `ssh` would, with explicit slipway.yml
 * settings winning, as command-line options win in OpenSSH.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import SSHConfig from "ssh-config";

export interface SshTargetInput {
  /** The host as the user named it (an address, a name, or a ~/.ssh/config alias). */
  host: string;
  user?: string | undefined;
  port?: number | undefined;
  /** Private key files from slipway.yml; these come before any from ~/.ssh/config. */
  keys?: readonly string[] | undefined;
  /** ~/.ssh/config by default; null to ignore any ssh config. */
  sshConfigFile?: string | null | undefined;
}

export interface SshTarget {
  /** The name used in output (the host as the user wrote it). */
  name: string;
  /** The address connected to (HostName from ssh config, or the host itself). */
  hostname: string;
  port: number;
  user: string;
  /** Key files to offer, in order; only files that exist. */
  keyFiles: string[];
}

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];

/** Resolves the connection target for one host. */
export function resolveSshTarget(input: SshTargetInput): SshTarget {
  const fromConfig = readSshConfig(input.host, input.sshConfigFile);
  const hostname = fromConfig.hostname ?? input.host;
  const user = input.user ?? fromConfig.user ?? "root";
  const port = input.port ?? fromConfig.port ?? 22;
  const listed = [...(input.keys ?? []), ...fromConfig.identityFiles].map(expandHome);
  const candidates =
    listed.length > 0 ? listed : DEFAULT_KEYS.map((name) => join(homedir(), ".ssh", name));
  const keyFiles = [...new Set(candidates.map((file) => resolve(file)))].filter((file) =>
    existsSync(file),
  );
  return { name: input.host, hostname, port, user, keyFiles };
}

interface SshConfigValues {
  hostname?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
}

function readSshConfig(host: string, file: string | null | undefined): SshConfigValues {
  if (file === null) return { identityFiles: [] };
  const path = file ?? join(homedir(), ".ssh", "config");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { identityFiles: [] };
  }
  // Match exec would run commands from the file; Slipway never does that.
  const computed = SSHConfig.parse(text).compute(host, { ignoreCase: true, matchExec: false });
  const value = (key: string): string | undefined => {
    const found = computed[key];
    return Array.isArray(found) ? found[0] : found;
  };
  const identity = computed.identityfile;
  const port = value("port");
  const result: SshConfigValues = {
    identityFiles: identity === undefined ? [] : Array.isArray(identity) ? identity : [identity],
  };
  const hostname = value("hostname");
  if (hostname !== undefined) result.hostname = hostname.replaceAll("%h", host);
  const user = value("user");
  if (user !== undefined) result.user = user;
  if (port !== undefined && /^\d+$/.test(port)) result.port = Number(port);
  return result;
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}
