/**
 * ACME Renewal Information (ARI, RFC 9773): a CA that offers it says, per certificate, the
 * window to renew in (earlier than 30 days before expiry when it must revoke, say). The runner
 * asks after each issuance and again after the answer's Retry-After; renewal is due at a moment
 * chosen at random in the window (so that a CA's many clients do not come at once), and the new
 * order names the certificate it replaces.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import type { Order } from "./order.ts";
import type { CertState } from "./store.ts";

const DEFAULT_RETRY_AFTER_MS = 6 * 3_600_000;
const MAX_RETRY_AFTER_MS = 7 * 86_400_000;

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** The DER length at `at`: its value and where the content starts. */
function derLength(der: Uint8Array, at: number): { length: number; start: number } {
  const first = der[at] ?? 0;
  if (first < 0x80) return { length: first, start: at + 1 };
  const count = first & 0x7f;
  let length = 0;
  for (let i = 1; i <= count; i++) length = length * 256 + (der[at + i] ?? 0);
  return { length, start: at + 1 + count };
}

/** The Authority Key Identifier's keyIdentifier of a DER certificate, if it has one. */
export function authorityKeyId(der: Uint8Array): Uint8Array | undefined {
  // The extension's OID, 2.5.29.35, as DER: 06 03 55 1D 23.
  const oid = [0x06, 0x03, 0x55, 0x1d, 0x23];
  let at = -1;
  for (let i = 0; i + oid.length <= der.length; i++) {
    if (oid.every((b, j) => der[i + j] === b)) {
      at = i + oid.length;
      break;
    }
  }
  if (at < 0) return undefined;
  if (der[at] === 0x01) at += 3; // critical: BOOLEAN
  if (der[at] !== 0x04) return undefined; // OCTET STRING holding the extension's value
  const octets = derLength(der, at + 1);
  if (der[octets.start] !== 0x30) return undefined; // AuthorityKeyIdentifier ::= SEQUENCE
  const sequence = derLength(der, octets.start + 1);
  if (der[sequence.start] !== 0x80) return undefined; // [0] keyIdentifier
  const id = derLength(der, sequence.start + 1);
  return der.subarray(id.start, id.start + id.length);
}

/** The ARI certificate identifier: keyIdentifier "." serial (its DER content), both base64url. */
export function certIdFromParts(keyIdentifier: Uint8Array, serialHex: string): string {
  const even = serialHex.length % 2 === 1 ? `0${serialHex}` : serialHex;
  let serial = Buffer.from(even, "hex");
  // A DER INTEGER is signed: a first byte with its high bit set gets a 00 before it.
  if ((serial[0] ?? 0) >= 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${base64url(keyIdentifier)}.${base64url(serial)}`;
}

/** The ARI identifier of the leaf of a PEM, or undefined when it has no key identifier. */
export function certId(pem: string): string | undefined {
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (leaf === undefined) return undefined;
  const cert = new X509Certificate(leaf);
  const aki = authorityKeyId(new Uint8Array(cert.raw));
  return aki === undefined ? undefined : certIdFromParts(aki, cert.serialNumber);
}

/** GET a JSON document, trusting the order's CA file when it names one. */
function getJson(
  url: string,
  caFile: string | undefined,
): Promise<{ status: number; body: unknown; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        timeout: 30_000,
        headers: { "user-agent": "slipway-certs", accept: "application/json" },
        ...(caFile === undefined ? {} : { ca: readFileSync(caFile) }),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const header = res.headers["retry-after"];
          resolve({ status: res.statusCode ?? 0, body, retryAfter: header });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

/** The directory's renewalInfo URL, or undefined when the CA offers no ARI. */
export async function renewalInfoUrl(order: Pick<Order, "directory" | "ca_file">) {
  const directory = await getJson(order.directory, order.ca_file);
  const url = (directory.body as { renewalInfo?: unknown } | undefined)?.renewalInfo;
  return typeof url === "string" ? url : undefined;
}

/** Retry-After as milliseconds from now: seconds, or an HTTP date; bounded. */
function retryAfterMs(header: string | undefined, now: number): number {
  if (header === undefined) return DEFAULT_RETRY_AFTER_MS;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms) || ms <= 0) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * The CA's renewal window for a certificate as the state keeps it, renewAt chosen in it; or
 * undefined when the CA offers no ARI or answers nothing usable.
 */
export async function fetchRenewalInfo(
  order: Pick<Order, "directory" | "ca_file">,
  pem: string,
  now: number,
  random: () => number = Math.random,
): Promise<CertState["ari"]> {
  const id = certId(pem);
  if (id === undefined) return undefined;
  const base = await renewalInfoUrl(order);
  if (base === undefined) return undefined;
  const answer = await getJson(`${base.replace(/\/+$/, "")}/${id}`, order.ca_file);
  const body = answer.body as
    | { suggestedWindow?: { start?: string; end?: string }; explanationURL?: string }
    | undefined;
  const start = Date.parse(body?.suggestedWindow?.start ?? "");
  const end = Date.parse(body?.suggestedWindow?.end ?? "");
  if (answer.status !== 200 || !Number.isFinite(start) || !Number.isFinite(end) || end < start) {
    return undefined;
  }
  // A window already over: renew now; else a moment in it (RFC 9773, section 4.2).
  const renewAt = end <= now ? now : Math.max(now, start + Math.floor(random() * (end - start)));
  return {
    renewAt,
    windowStart: start,
    windowEnd: end,
    retryAfterAt: now + retryAfterMs(answer.retryAfter, now),
    ...(typeof body?.explanationURL === "string" ? { explanationUrl: body.explanationURL } : {}),
  };
}
