/**
 * Host key pinning in OpenSSH's known_hosts format, so the files stay readable by `ssh` and
 * `ssh-keygen -R` works on them. Slipway reads the user's ~/.ssh/known_hosts (plain and hashed
 * entries) and its own project file, and writes new pins only to its own file.
 */
import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface KnownHostEntry {
  file: string;
  line: number;
  revoked: boolean;
  keyType: string;
  /** Base64 of the key blob, as written in the file. */
  key: string;
  matches(token: string): boolean;
}

export type HostKeyCheck =
  | { status: "known"; entry: KnownHostEntry }
  | { status: "unknown" }
  | { status: "changed"; entry: KnownHostEntry }
  | { status: "revoked"; entry: KnownHostEntry };

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type written inside an SSH public key blob (e.g. "ssh-ed25519"). */
export function hostKeyType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** The fingerprint `ssh-keygen -l` shows: SHA256 in unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Parses known_hosts text; unreadable lines and @cert-authority lines are skipped. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) return;
    let revoked = false;
    if (fields[0].startsWith("@")) {
      if (fields[0] !== "@revoked") return; // certificate authorities are not supported
      revoked = true;
      fields.shift();
    }
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) return;
    entries.push({
      file,
      line: index + 1,
      revoked,
      keyType,
      key,
      matches: hostMatcher(hosts),
    });
  });
  return entries;
}

function hostMatcher(field: string): (token: string) => boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return () => false;
    const saltBytes = Buffer.from(salt, "base64");
    return (token) => createHmac("sha1", saltBytes).update(token).digest("base64") === hash;
  }
  const patterns = field.split(",");
  return (token) => {
    let matched = false;
    for (const pattern of patterns) {
      const negated = pattern.startsWith("!");
      if (globToRegExp(negated ? pattern.slice(1) : pattern).test(token)) {
        if (negated) return false;
        matched = true;
      }
    }
    return matched;
  };
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** Loads every entry of the given files that exist. */
export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

/**
 * Compares a presented host key with the pinned ones. A different key of the same type for the
 * same host is "changed"; a host pinned only with other key types is "unknown" (as OpenSSH does).
 */
export function checkHostKey(entries: KnownHostEntry[], token: string, blob: Buffer): HostKeyCheck {
  const presented = blob.toString("base64");
  const type = hostKeyType(blob);
  const forHost = entries.filter((entry) => entry.matches(token));
  const revoked = forHost.find((entry) => entry.revoked && entry.key === presented);
  if (revoked) return { status: "revoked", entry: revoked };
  const known = forHost.find((entry) => !entry.revoked && entry.key === presented);
  if (known) return { status: "known", entry: known };
  const changed = forHost.find((entry) => !entry.revoked && entry.keyType === type);
  if (changed) return { status: "changed", entry: changed };
  return { status: "unknown" };
}

/** Appends a pin for the host to a known_hosts file (created 0644, its folder 0755). */
export async function pinHostKey(file: string, token: string, blob: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  await appendFile(file, `${token} ${hostKeyType(blob)} ${blob.toString("base64")}\n`, {
    mode: 0o644,
  });
}
