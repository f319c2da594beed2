/**
 * The checks every value passes before it is written into nginx configuration. nginx config is a
 * language (`;`, `{`, `}`, quotes, `$variables`, `#` comments), so nothing reaches it unchecked.
 * Config validation should already have refused bad values: one that gets here is a bug.
 */
import { BugError } from "../errors/index.ts";

/** Site, role and container names: what Docker and nginx both accept without quoting. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]*$/;

// One DNS label: letters, digits and inner hyphens, at most 63 characters (RFC 1123).
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

// An absolute URL path made of RFC 3986 path characters, less those nginx or a shell gives a
// meaning to: quotes, `;`, `{}`, `$`, `#`, `\`, `()`, `?` (a query is never part of a location).
const PATH_PATTERN = /^\/[A-Za-z0-9._~%!&*+,=:@/-]*$/;

// An absolute directory path without anything nginx would read as syntax.
const DIR_PATTERN = /^\/[A-Za-z0-9._/-]*$/;

// An image reference as Docker writes it; never starting with "-", so it cannot be read as an option.
const IMAGE_PATTERN = /^[a-z0-9][a-z0-9._/:@-]*$/i;

function refuse(what: string, value: unknown, rule: string): never {
  throw new BugError(`proxy: ${what} ${JSON.stringify(value)} is not allowed (${rule})`);
}

/** A site, role or container name. */
export function checkName(what: string, value: string): string {
  if (!NAME_PATTERN.test(value) || value.length > 200) {
    refuse(what, value, `must match ${NAME_PATTERN.source}, at most 200 characters`);
  }
  return value;
}

/** A domain name, or a wildcard of one ("*.example.com"); never an IP address. */
export function checkDomain(value: string): string {
  const wildcard = value.startsWith("*.");
  const labels = (wildcard ? value.slice(2) : value).split(".");
  if (
    value.length > 253 ||
    (wildcard && labels.length < 2) ||
    !labels.every((label) => LABEL.test(label)) ||
    /^[0-9]+$/.test(labels.at(-1) ?? "")
  ) {
    refuse("domain", value, "must be a hostname like app.example.com");
  }
  return value;
}

/** A URL path for a location block. */
export function checkPath(what: string, value: string): string {
  if (!PATH_PATTERN.test(value)) {
    refuse(what, value, "must start with / and hold only letters, digits and ._~%!&*+,=:@/-");
  }
  return value;
}

/** A TCP port. */
export function checkPort(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    refuse(what, value, "must be a whole number from 1 to 65535");
  }
  return value;
}

/** A whole number of at least `min`. */
export function checkWhole(what: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    refuse(what, value, `must be a whole number of at least ${min}`);
  }
  return value;
}

/** A positive, finite number. */
export function checkPositive(what: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) refuse(what, value, "must be a positive number");
  return value;
}

/** An absolute directory, without a trailing slash. */
export function checkDir(what: string, value: string): string {
  if (!DIR_PATTERN.test(value) || value.includes("//") || (value !== "/" && value.endsWith("/"))) {
    refuse(what, value, "must be an absolute path of letters, digits and ._/- without a final /");
  }
  return value;
}

/** An IPv4 address to listen on (tests use 127.0.0.1). */
export function checkIpv4(what: string, value: string): string {
  const parts = value.split(".");
  if (
    parts.length !== 4 ||
    !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) < 256)
  ) {
    refuse(what, value, "must be an IPv4 address like 127.0.0.1");
  }
  return value;
}

/** A container image reference. */
export function checkImage(value: string): string {
  if (!IMAGE_PATTERN.test(value))
    refuse("image", value, "must be an image like nginx:1.27-bookworm");
  return value;
}

/** An IPv4 or IPv6 network (`203.0.113.0/24`, `2400:cb00::/32`) or a single address. */
export function checkCidr(value: string): string {
  const [address = "", bits, extra] = value.split("/");
  const v4 = /^[0-9.]+$/.test(address);
  const max = v4 ? 32 : 128;
  const addressOk = v4
    ? (() => {
        try {
          checkIpv4("address", address);
          return true;
        } catch {
          return false;
        }
      })()
    : /^[0-9a-fA-F:]+$/.test(address) && address.includes(":") && address.length <= 39;
  const bitsOk = bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= max);
  if (!addressOk || !bitsOk || extra !== undefined) {
    refuse("network", value, "must be an address or ADDRESS/BITS, IPv4 or IPv6");
  }
  return value;
}

/** An HTTP header name. */
export function checkHeaderName(value: string): string {
  if (!/^[A-Za-z0-9-]{1,100}$/.test(value))
    refuse("header", value, "must be letters, digits and -");
  return value;
}

/**
 * A header value written inside double quotes: printable ASCII without `"`, `\` or `$` (nginx
 * would read a variable), at most 4096 characters.
 */
export function checkHeaderValue(what: string, value: string): string {
  if (!/^[\x20-\x7e]{1,4096}$/.test(value) || /["\\$]/.test(value)) {
    refuse(what, value, 'must be printable ASCII without ", \\ or $');
  }
  return value;
}

/** A host to proxy to: a hostname, an IPv4 address or a bracketed IPv6 address, maybe :PORT. */
export function checkUpstreamHost(value: string): string {
  const match = /^(.*?)(?::([0-9]{1,5}))?$/.exec(value);
  const host = match?.[1] ?? "";
  const port = match?.[2];
  const ipv6 = /^\[[0-9a-fA-F:]{2,39}\]$/.test(host);
  if (!ipv6 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) {
    refuse("host", value, "must be a hostname, an IPv4 address or [IPv6], then maybe :PORT");
  }
  if (port !== undefined) checkPort("port", Number(port));
  return value;
}
