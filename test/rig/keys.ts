/** SSH key helpers for the test rig. */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { runOk } from "./proc.ts";

/** Paths of an ed25519 key pair, and the public key line itself. */
export interface KeyPair {
  /** Private key file (mode 0600, no passphrase). */
  privateKey: string;
  /** Public key file (`privateKey` + ".pub"). */
  publicKey: string;
  /** The public key line, e.g. "ssh-ed25519 AAAA... comment" (no trailing newline). */
  publicKeyLine: string;
}

/** Makes an ed25519 key pair without passphrase with ssh-keygen in dir (replacing one of the same name). */
export async function makeKeyPair(
  dir: string,
  name = "id_ed25519",
  comment = "slipway-rig",
): Promise<KeyPair> {
  const privateKey = join(dir, name);
  const publicKey = `${privateKey}.pub`;
  await rm(privateKey, { force: true });
  await rm(publicKey, { force: true });
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", privateKey]);
  const publicKeyLine = (await readFile(publicKey, "utf8")).trim();
  return { privateKey, publicKey, publicKeyLine };
}
