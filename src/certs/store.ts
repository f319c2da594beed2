/**
 * A site's certificate files on the host, as the runner and the agent keep them: the account
 * key, the certificate with its two nginx includes (swapped in together, the previous ones kept
 * for a restore), ACME challenge files, the state of the last attempt, and a lock so that the
 * CLI and the agent never issue for one site at once. Every write goes to a temporary file in
 * the same folder, then is renamed into place: a reader sees the old file or the new one.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { firstNameserver, renderHttpInclude, renderTlsInclude } from "./fragments.ts";
import type { Order } from "./order.ts";
import { certificateFiles } from "./paths.ts";
import { parseSharingKey, sealCertificate, sharedFileName } from "./share.ts";
import { type CertificateFacts, certificateFacts } from "./validate.ts";

/** What the runner remembers of a site between attempts (`state/<site>.json`). */
export interface CertState {
  /** When the last attempt to issue started, and how it ended. */
  lastAttemptAt?: number;
  lastSuccessAt?: number;
  /** The last attempt's error (the CA's words), until an attempt succeeds. */
  lastError?: string;
  /** Failed attempts in a row. */
  failures: number;
  /** Scheduled attempts wait until then after a failure (backoff). */
  nextAttemptAt?: number;
  /** The CA's renewal information (ARI) for the certificate in place, when it offers it. */
  ari?: {
    /** When this certificate should be renewed: a moment chosen in the CA's window. */
    renewAt: number;
    windowStart: number;
    windowEnd: number;
    /** Ask again after this (the answer's Retry-After). */
    retryAfterAt: number;
    explanationUrl?: string;
  };
}

/** The folders of an order's host tree. */
export function orderPaths(order: Pick<Order, "tls_dir" | "site">) {
  const root = order.tls_dir;
  return {
    certs: join(root, "certs"),
    webroot: join(root, "webroot"),
    challenges: join(root, "webroot", ".well-known", "acme-challenge"),
    accounts: join(root, "accounts"),
    state: join(root, "state", `${order.site}.json`),
    lock: join(root, "state", `${order.site}.lock`),
  };
}

/** Writes `content` at `path` with `mode`, atomically. */
export function writeAtomic(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, path);
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export function readState(order: Pick<Order, "tls_dir" | "site">): CertState {
  const text = readIfExists(orderPaths(order).state);
  if (text === undefined) return { failures: 0 };
  try {
    return { failures: 0, ...(JSON.parse(text) as Partial<CertState>) };
  } catch {
    return { failures: 0 };
  }
}

export function writeState(order: Pick<Order, "tls_dir" | "site">, state: CertState): void {
  writeAtomic(orderPaths(order).state, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/** The certificate file in place (key and chain), or undefined. */
export function readCertificate(order: Pick<Order, "tls_dir" | "site">): string | undefined {
  return readIfExists(join(orderPaths(order).certs, certificateFiles(order.site).pem));
}

/** The facts of the certificate in place, if there is one that parses. */
export function currentFacts(order: Pick<Order, "tls_dir" | "site">): CertificateFacts | undefined {
  const pem = readCertificate(order);
  if (pem === undefined) return undefined;
  try {
    return certificateFacts(pem);
  } catch {
    return undefined;
  }
}

// Another attempt holding the lock longer than this died without letting go.
const LOCK_STALE_MS = 15 * 60_000;

/** Another attempt for the site is running (the CLI's, or the agent's). */
export class LockedError extends Error {}

/** Runs `work` holding the site's lock (a file made with O_EXCL); a stale one is taken over. */
export async function withLock<T>(
  order: Pick<Order, "tls_dir" | "site">,
  work: () => Promise<T>,
  now = Date.now,
): Promise<T> {
  const { lock } = orderPaths(order);
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(lock, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    if (now() - statSync(lock).mtimeMs < LOCK_STALE_MS) {
      throw new LockedError(
        `another attempt for ${order.site} is running (${readIfExists(lock)?.trim() || "unknown"})`,
      );
    }
    rmSync(lock, { force: true });
    fd = openSync(lock, "wx", 0o600);
  }
  writeFileSync(fd, `pid ${process.pid} since ${new Date(now()).toISOString()}\n`);
  closeSync(fd);
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * The ACME account key for this directory and contact (ECDSA P-256, PKCS#8), made once and kept
 * at mode 0600.
 */
export function accountKey(order: Pick<Order, "tls_dir" | "site" | "directory" | "email">): string {
  const id = createHash("sha256")
    .update(`${order.directory}\n${order.email ?? ""}`)
    .digest("hex")
    .slice(0, 16);
  const path = join(orderPaths(order).accounts, `${id}.pem`);
  const existing = readIfExists(path);
  if (existing !== undefined) return existing;
  const { privateKey } = generateKeyPairSync("ec", {
    namedCurve: "P-256",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  writeAtomic(path, privateKey, 0o600);
  return privateKey;
}

/** A fresh private key for a certificate (ECDSA P-256, PKCS#8 PEM). */
export function certificateKey(): string {
  return generateKeyPairSync("ec", {
    namedCurve: "P-256",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
}

/** Puts an HTTP-01 challenge's answer where the proxy serves it (readable by nginx's workers). */
export function writeChallenge(order: Order, token: string, content: string): void {
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) throw new Error(`a bad challenge token: ${token}`);
  const dir = orderPaths(order).challenges;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeAtomic(join(dir, token), content, 0o644);
}

export function removeChallenge(order: Order, token: string): void {
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(token)) return;
  rmSync(join(orderPaths(order).challenges, token), { force: true });
}

/** The three files of a site's certificate, by their names in the certificates folder. */
function certificateContents(order: Order, pem: string, facts: CertificateFacts) {
  const files = certificateFiles(order.site);
  // Whoever writes these (the runner, the agent) is on the proxy's network: same DNS server.
  const resolver = facts.ocsp ? firstNameserver(readIfExists("/etc/resolv.conf") ?? "") : undefined;
  const include = {
    certificate: { ocsp: facts.ocsp, resolver },
    proxyCertsDir: order.proxy_certs_dir,
    httpsPort: order.https_port,
  };
  return [
    [files.pem, pem],
    [files.tls, renderTlsInclude(order.site, include)],
    [files.http, renderHttpInclude(order.site, include)],
  ] as const;
}

/**
 * Writes a checked certificate and its includes beside the current ones as `<name>.next`, for
 * whoever puts them in place (the CLI: nginx -t first, and the previous files back if refused).
 */
export function stageCertificate(order: Order, pem: string, facts: CertificateFacts): void {
  const dir = orderPaths(order).certs;
  for (const [name, content] of certificateContents(order, pem, facts)) {
    writeAtomic(join(dir, `${name}.next`), content, 0o600);
  }
}

/**
 * Puts a checked certificate and its includes in place, the current ones kept as
 * `<name>.previous` (restorePrevious puts them back).
 */
export function activateCertificate(order: Order, pem: string, facts: CertificateFacts): void {
  const dir = orderPaths(order).certs;
  const contents = certificateContents(order, pem, facts);
  for (const [name] of contents) {
    const current = readIfExists(join(dir, name));
    if (current === undefined) rmSync(join(dir, `${name}.previous`), { force: true });
    else writeAtomic(join(dir, `${name}.previous`), current, 0o600);
  }
  for (const [name, content] of contents) writeAtomic(join(dir, name), content, 0o600);
}

/** Puts the previous certificate and includes back (after nginx did not take the new ones). */
export function restorePrevious(order: Pick<Order, "tls_dir" | "site">): boolean {
  const dir = orderPaths(order).certs;
  const files = certificateFiles(order.site);
  const names = [files.pem, files.tls, files.http];
  if (!names.some((name) => existsSync(join(dir, `${name}.previous`)))) return false;
  for (const name of names) {
    const previous = join(dir, `${name}.previous`);
    if (existsSync(previous)) renameSync(previous, join(dir, name));
  }
  return true;
}

/** Seals the certificate for the site's other web hosts beside the challenges (share.ts). */
export function shareCertificate(order: Order, pem: string): void {
  if (order.share_key_file === undefined) return;
  const key = parseSharingKey(readFileSync(order.share_key_file, "utf8"));
  const dir = orderPaths(order).challenges;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const sealed = sealCertificate(pem, key, order.site).toString("base64");
  writeAtomic(join(dir, sharedFileName(order.site)), sealed, 0o644);
}
