/**
 * One certificate for all of a site's web hosts, renewed on the first one only: that host seals
 * each new certificate (its key included) with AES-256-GCM under a key only the site's web hosts
 * hold, and leaves it beside the ACME challenges, which every web host's proxy serves on port 80.
 * The other hosts' agents fetch it from there, open it (which proves it came from a holder of the
 * key and is whole) and, once checked, put it in place. Nothing readable travels in the clear.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ACME_CHALLENGE_PATH, checkSite } from "./paths.ts";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The sealed certificate's file name beside the challenges (no ACME token has a dot). */
export function sharedFileName(site: string): string {
  return `slipway-${checkSite(site)}.certificate`;
}

/** Where a web host's proxy serves the sealed certificate. */
export function sharedPath(site: string): string {
  return `${ACME_CHALLENGE_PATH}${sharedFileName(site)}`;
}

/** nonce | ciphertext | tag, the site's name bound in as associated data. */
export function sealCertificate(pem: string, key: Buffer, site: string): Buffer {
  if (key.length !== 32) throw new Error("the sharing key must be 32 bytes");
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(checkSite(site)));
  const sealed = Buffer.concat([cipher.update(pem, "utf8"), cipher.final()]);
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()]);
}

/** The certificate file a sealed one holds; throws when it was not sealed for `site` by `key`. */
export function openCertificate(sealed: Buffer, key: Buffer, site: string): string {
  if (sealed.length <= NONCE_BYTES + TAG_BYTES) throw new Error("the sealed certificate is cut");
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(Buffer.from(checkSite(site)));
  decipher.setAuthTag(tag);
  try {
    const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    throw new Error("the sealed certificate does not open with this site's key");
  }
}

/** A sharing key file's 32 bytes (written base64url by the CLI). */
export function parseSharingKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64url");
  if (key.length !== 32) throw new Error("the sharing key file does not hold 32 bytes");
  return key;
}
