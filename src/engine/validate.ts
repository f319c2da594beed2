/**
 * Checks on every value the argv builders place on a `docker` command line. Values reach here
 * after the config was validated, so a failure is a bug of ours (BugError), never the user's;
 * the point is that no name, label or image reference can ever be read as an option.
 */
import { isIP } from "node:net";
import { BugError } from "../errors/index.ts";

// Docker's own rule for container and network names (daemon/names: RestrictedNameChars).
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

// The grammar of distribution/reference, which Docker and Podman both parse image references with.
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|-+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const IMAGE_NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const IMAGE_REF = new RegExp(`^${IMAGE_NAME}(?::${TAG})?(?:@${DIGEST})?$`);
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const MAX_IMAGE_NAME = 255;

// Reverse-DNS style keys as Docker recommends; no "=" (the separator) and no ",", which joins
// labels in `docker ps` output.
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LOG_SIZE = /^[1-9][0-9]*[kmg]?$/;
// A duration ("10m") or a timestamp ("2026-01-02T03:04:05Z"), as `docker logs --since` takes.
const SINCE = /^[0-9][0-9A-Za-z:.+-]*$/;

/** Throws the BugError every check throws: what was wrong, the value, and the rule. */
export function fail(what: string, value: unknown, rule: string): never {
  throw new BugError(`invalid ${what} ${JSON.stringify(value)} for a docker command: ${rule}`);
}

/** A container or network name: letters, digits, `_.-`, starting with a letter or digit. */
export function checkName(what: string, value: string): string {
  if (!NAME.test(value) || value.length > 253) {
    fail(what, value, "letters, digits, '_', '.' and '-', starting with a letter or digit");
  }
  return value;
}

/** An image reference (`name[:tag][@digest]`, with an optional registry) or an image ID. */
export function checkImageRef(value: string): string {
  if (IMAGE_ID.test(value)) return value;
  const name = value.replace(/@.*$/, "").replace(/:[\w][\w.-]*$/, "");
  if (!IMAGE_REF.test(value) || name.length > MAX_IMAGE_NAME) {
    fail("image reference", value, "expected [registry/]name[:tag][@digest], lowercase name");
  }
  return value;
}

/** A label key and value; values may hold anything but control characters and ",". */
export function checkLabel(key: string, value: string): void {
  if (!LABEL_KEY.test(key)) fail("label key", key, "letters, digits, '.', '_', '/' and '-'");
  if (CONTROL.test(value) || value.includes(",")) {
    fail(
      "label value",
      value,
      "no control characters and no ',' (docker ps joins labels with ',')",
    );
  }
}

/** An environment variable name. */
export function checkEnvName(name: string): string {
  if (!ENV_NAME.test(name)) fail("environment variable name", name, "letters, digits and '_'");
  return name;
}

/** An absolute path on the host (or in the container), without control characters. */
export function checkAbsolutePath(what: string, value: string): string {
  if (!value.startsWith("/") || CONTROL.test(value)) {
    fail(what, value, "an absolute path without control characters");
  }
  return value;
}

/** A TCP port, 1 to 65535. */
export function checkPort(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) fail(what, value, "1 to 65535");
  return value;
}

/** A whole number at least `min`. */
export function checkInteger(what: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) fail(what, value, `a whole number >= ${min}`);
  return value;
}

/** An IPv4 or IPv6 address (no brackets). */
export function checkIp(what: string, value: string): string {
  if (isIP(value) === 0) fail(what, value, "an IPv4 or IPv6 address");
  return value;
}

/** A json-file log size: a number and an optional unit k, m or g. */
export function checkLogSize(value: string): string {
  if (!LOG_SIZE.test(value)) fail("log max size", value, "a number and k, m or g, e.g. 10m");
  return value;
}

/** A `--since` value: a relative duration or a timestamp. */
export function checkSince(value: string): string {
  if (!SINCE.test(value)) fail("logs since", value, "a duration like 10m or a timestamp");
  return value;
}

/** Every word of a command run in a container (after the image or container, so never an option). */
export function checkCommand(what: string, argv: readonly string[]): readonly string[] {
  if (argv.length === 0) fail(what, argv, "at least one word");
  for (const word of argv) {
    if (word.includes("\0")) fail(what, word, "no NUL bytes");
  }
  return argv;
}
