/**
 * Checks for the scalar values of slipway.yml that a type alone cannot express. Each returns a
 * Problem (message and hint) or undefined, so the schema and the tests share one wording.
 */
import { isIP } from "node:net";
import { CronPattern } from "croner";
import { DURATION_FORMS, parseDuration, parseSize, SIZE_FORMS } from "./units.ts";

export interface Problem {
  message: string;
  hint: string;
}

const quote = (s: string): string => JSON.stringify(s);

/** A duration like "30s"; see parseDuration. */
export function durationProblem(s: string): Problem | undefined {
  try {
    parseDuration(s);
    return undefined;
  } catch (error) {
    return {
      message: (error as Error).message,
      hint: `units: ms (milliseconds), s (seconds), m (minutes), h (hours), d (days), e.g. ${DURATION_FORMS}`,
    };
  }
}

/** A size like "512mb"; see parseSize. */
export function sizeProblem(s: string): Problem | undefined {
  try {
    parseSize(s);
    return undefined;
  } catch (error) {
    return {
      message: (error as Error).message,
      hint: `units (any case, powers of 1024): b, k or kb, m or mb, g or gb, t or tb, e.g. ${SIZE_FORMS}`,
    };
  }
}

// Characters a shell would interpret: a host holding one is an injection attempt or a typo.
const SHELL_METACHARACTERS = new Set(";&|$`\\\"'<>(){}*?[]!#~");

function nameOfCharacter(c: string): string {
  if (c === " ") return "a space";
  if (c === "\t") return "a tab";
  if (c === "\n" || c === "\r") return "a newline";
  if (/\s/.test(c)) return "whitespace";
  return quote(c);
}

function hostCharacterProblem(s: string, what: string): Problem | undefined {
  for (const c of s) {
    if (SHELL_METACHARACTERS.has(c) || /\s/.test(c)) {
      return {
        message: `${what} ${quote(s)} contains ${nameOfCharacter(c)}, which is not allowed in a hostname`,
        hint: "hosts end up in ssh and proxy configuration; write a plain hostname (app1.example.com) or an IP address (203.0.113.10)",
      };
    }
  }
  return undefined;
}

const HOST_HINT = "write a hostname like app1.example.com or an IP address like 203.0.113.10";

/** An RFC 1123 hostname, or (unless ipAllowed is false) an IPv4 or IPv6 address. */
export function hostProblem(s: string, what = "host", ipAllowed = true): Problem | undefined {
  if (ipAllowed && isIP(s) !== 0) return undefined;
  const metacharacter = hostCharacterProblem(s, what);
  if (metacharacter) return metacharacter;
  if (s === "") return { message: `${what} is empty`, hint: HOST_HINT };
  const other = /[^A-Za-z0-9.-]/.exec(s)?.[0];
  if (other !== undefined) {
    const hint =
      other === "@"
        ? "put the SSH user in ssh.user, not in the host"
        : other === ":" && isIP(s) === 0
          ? "put the SSH port in ssh.port, not in the host"
          : other === "/"
            ? "write the bare hostname, without a scheme or path"
            : HOST_HINT;
    return {
      message: `${what} ${quote(s)} contains ${quote(other)}, which is not allowed in a hostname`,
      hint,
    };
  }
  if (s.length > 253) return { message: `${what} is longer than 253 characters`, hint: HOST_HINT };
  const labels = s.split(".");
  for (const label of labels) {
    if (label === "") {
      return {
        message: `${what} ${quote(s)} has an empty label (two dots in a row, or a dot at an end)`,
        hint: HOST_HINT,
      };
    }
    if (label.length > 63) {
      return {
        message: `${what} ${quote(s)} has a label longer than 63 characters`,
        hint: HOST_HINT,
      };
    }
    if (label.startsWith("-") || label.endsWith("-")) {
      return {
        message: `${what} ${quote(s)} has a label that starts or ends with "-"`,
        hint: HOST_HINT,
      };
    }
  }
  // An all-numeric last label is an IP address gone wrong, not a hostname (RFC 1123 2.1).
  if (/^[0-9]+$/.test(labels.at(-1) ?? "")) {
    return {
      message: ipAllowed
        ? `${what} ${quote(s)} is not a valid IP address`
        : `${what} ${quote(s)} must be a domain name, not an IP address`,
      hint: ipAllowed
        ? "an IPv4 address has four numbers from 0 to 255, like 203.0.113.10"
        : HOST_HINT,
    };
  }
  return undefined;
}

/** A domain name for the proxy and its certificates: a hostname, never an IP address. */
export function domainProblem(s: string): Problem | undefined {
  if (s.startsWith("*.")) {
    return {
      message: `domain ${quote(s)} is a wildcard, which is not supported`,
      hint: "list each domain (www.example.com, api.example.com) so each gets its own certificate",
    };
  }
  return hostProblem(s, "domain", false);
}

/**
 * A domain a site serves: a hostname, or a wildcard of one level ("*.example.com"), which nginx
 * serves as it is and only DNS-01 can get a certificate for (see cross-checks).
 */
export function siteDomainProblem(s: string): Problem | undefined {
  if (!s.startsWith("*.")) return domainProblem(s);
  const base = s.slice(2);
  if (!base.includes(".")) {
    return {
      message: `domain ${quote(s)} is a wildcard of a top-level domain`,
      hint: 'a wildcard covers one level of your own domain, like "*.example.com"',
    };
  }
  return domainProblem(base);
}

/** A network as ADDRESS/BITS (IPv4 or IPv6), or one address. */
export function cidrProblem(s: string): Problem | undefined {
  const [address = "", bits, extra] = s.split("/");
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  if (
    family === 0 ||
    extra !== undefined ||
    (bits !== undefined && (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > max))
  ) {
    return {
      message: `${quote(s)} is not a network`,
      hint: 'write ADDRESS/BITS, like "10.0.0.0/8" or "2400:cb00::/32", or one address',
    };
  }
  return undefined;
}

/** A registry server: hostname or IP, with an optional :port. */
export function registryServerProblem(s: string): Problem | undefined {
  const match = /^(.*?)(?::([0-9]+))?$/.exec(s);
  const host = match?.[1] ?? s;
  const port = match?.[2];
  const problem = hostProblem(host, "registry server");
  if (problem)
    return {
      ...problem,
      hint: 'write the registry host, like "ghcr.io" or "registry.example.com:5000"',
    };
  if (port !== undefined) return portProblem(Number(port));
  return undefined;
}

/** A TCP port: an integer from 1 to 65535. */
export function portProblem(n: number): Problem | undefined {
  if (Number.isInteger(n) && n >= 1 && n <= 65535) return undefined;
  return {
    message: `port ${n} is out of range: ports are whole numbers from 1 to 65535`,
    hint: "common ports: 22 (ssh), 80 (http), 443 (https), 3000 or 8000 (apps)",
  };
}

const NAME_MAX = 40;

/** A service, role, accessory, job or environment name: it ends up in container names. */
export function nameProblem(s: string, what: string): Problem | undefined {
  if (/^[a-z][a-z0-9-]*$/.test(s) && s.length <= NAME_MAX) return undefined;
  const hint = `it becomes part of container and file names; e.g. "web", "worker-2", "hello"`;
  if (s.length > NAME_MAX) {
    return { message: `${what} ${quote(s)} is longer than ${NAME_MAX} characters`, hint };
  }
  return {
    message: `${what} ${quote(s)} must be lowercase letters, digits and dashes, starting with a letter`,
    hint,
  };
}

/** The regex source behind nameProblem, for the JSON Schema. */
export const NAME_PATTERN = `^[a-z][a-z0-9-]{0,${NAME_MAX - 1}}$`;

/** An environment variable (or build argument) name. */
export function envNameProblem(s: string, what = "environment variable"): Problem | undefined {
  if (ENV_NAME_REGEX.test(s)) return undefined;
  return {
    message: `${quote(s)} is not a valid ${what} name: use letters, digits and "_", not starting with a digit`,
    hint: 'e.g. "DATABASE_URL", "SESSION_SECRET"',
  };
}

const ENV_NAME_REGEX = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The regex source behind envNameProblem, for the JSON Schema. */
export const ENV_NAME_PATTERN = ENV_NAME_REGEX.source;

/** A Unix user name for SSH. */
export function userProblem(s: string): Problem | undefined {
  if (/^[a-z_][a-z0-9_-]{0,31}$/.test(s)) return undefined;
  return {
    message: `ssh user ${quote(s)} must be up to 32 lowercase letters, digits, "_" and "-", starting with a letter or "_"`,
    hint: 'e.g. "root" for the first setup, or "deploy" once the server is hardened',
  };
}

const IMAGE_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_DOMAIN =
  "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?";
/** The regex source of an image reference (Docker's reference grammar, simplified). */
export const IMAGE_PATTERN = `^(?:${IMAGE_DOMAIN}/)?${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`;
const IMAGE_REGEX = new RegExp(IMAGE_PATTERN);

/** An image reference like "hello", "ghcr.io/acme/hello:1.2" or "registry:5000/app@sha256:...". */
export function imageProblem(s: string): Problem | undefined {
  if (IMAGE_REGEX.test(s) && s.length <= 255) return undefined;
  return {
    message: `invalid image reference ${quote(s)}: use lowercase names separated by "/", with an optional :tag`,
    hint: 'e.g. "hello", "ghcr.io/acme/hello" or "registry.example.com:5000/team/app:1.2"',
  };
}

/** An HTTP path for health checks. */
export function httpPathProblem(s: string): Problem | undefined {
  if (s.startsWith("/") && !/\s/.test(s)) return undefined;
  return {
    message: `path ${quote(s)} must start with "/" and contain no spaces`,
    hint: 'e.g. "/up" or "/healthz"',
  };
}

/** An http(s) URL, for monitoring checks. */
export function httpUrlProblem(s: string): Problem | undefined {
  const url = URL.parse(s);
  if (url && (url.protocol === "http:" || url.protocol === "https:")) return undefined;
  return {
    message: `${quote(s)} is not an http or https URL`,
    hint: 'e.g. "https://example.com/up"',
  };
}

/** An SMTP server: smtp:// or smtps://, a host, no password (that is a secret). */
export function smtpUrlProblem(s: string): Problem | undefined {
  const hint = 'e.g. "smtp://alerts@smtp.example.com:587", the password in a secret';
  const url = URL.parse(s);
  if (!url || (url.protocol !== "smtp:" && url.protocol !== "smtps:") || !url.hostname) {
    return { message: `${quote(s)} is not an smtp:// or smtps:// URL`, hint };
  }
  if (url.password) return { message: "the SMTP URL holds a password", hint };
  return undefined;
}

/** A TCP check's target: "HOST:PORT" (a host name, container name or IPv4 address). */
export function tcpTargetProblem(s: string): Problem | undefined {
  const hint = 'e.g. "hello-db:5432"';
  const match = /^([a-zA-Z0-9][a-zA-Z0-9.-]*):(\d{1,5})$/.exec(s);
  if (!match) return { message: `${quote(s)} is not HOST:PORT`, hint };
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return { message: `port ${port} is outside 1-65535`, hint };
  return undefined;
}

const CRON_NICKNAMES = [
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@midnight",
  "@hourly",
];
const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day-of-week", min: 0, max: 7 },
] as const;
const CRON_HINT =
  'five fields "minute hour day-of-month month day-of-week", e.g. "0 3 * * *" (daily at 03:00), or @hourly, @daily, @weekly, @monthly, @yearly';

/** A 5-field cron expression or a nickname like @daily, checked with croner. */
export function cronProblem(s: string): Problem | undefined {
  const expression = s.trim();
  if (expression.startsWith("@")) {
    if (CRON_NICKNAMES.includes(expression.toLowerCase())) return undefined;
    return { message: `unknown cron nickname ${quote(expression)}`, hint: CRON_HINT };
  }
  const fields = expression === "" ? [] : expression.split(/\s+/);
  if (fields.length !== CRON_FIELDS.length) {
    return {
      message: `cron expression ${quote(s)} has ${fields.length} field${fields.length === 1 ? "" : "s"}, it needs 5`,
      hint: CRON_HINT,
    };
  }
  // croner reports some ranges off by one ("day: 31" for 32), so plain numbers are checked here.
  for (const [i, field] of fields.entries()) {
    const spec = CRON_FIELDS[i];
    if (spec === undefined) continue;
    for (const part of field.split(",")) {
      for (const token of part.replace(/\/[0-9]+$/, "").split("-")) {
        if (/^[0-9]+$/.test(token) && (Number(token) < spec.min || Number(token) > spec.max)) {
          return {
            message: `cron expression ${quote(s)}: ${spec.name} ${token} is out of range ${spec.min}-${spec.max}`,
            hint: CRON_HINT,
          };
        }
      }
    }
  }
  try {
    new CronPattern(expression);
    return undefined;
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern:\s*/, "");
    return { message: `invalid cron expression ${quote(s)}: ${reason}`, hint: CRON_HINT };
  }
}

/** Where an accessory's port is published: "ADDRESS:PORT" ("[v6]:PORT" for IPv6). */
export function publishProblem(s: string): Problem | undefined {
  const hint =
    'write a port (published on 127.0.0.1), or "ADDRESS:PORT" like "10.0.0.5:5432" for a private network';
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!match) return { message: `${quote(s)} is not ADDRESS:PORT`, hint };
  const address = match[1] ?? match[2] ?? "";
  if (isIP(address) === 0) return { message: `${quote(address)} is not an IP address`, hint };
  const portNumber = Number(match[3]);
  if (portNumber < 1 || portNumber > 65535) {
    return { message: `port ${portNumber} is outside 1-65535`, hint };
  }
  return undefined;
}

/**
 * An accessory's data: a volume NAME or an absolute host /path, optionally followed by
 * ":/path/in/container" (needed for generic accessories; engines know their data path).
 */
export function volumeProblem(s: string): Problem | undefined {
  const hint = 'write a volume name like "db-data", or an absolute host path like "/srv/db"';
  const [source = "", target, extra] = s.split(":");
  if (extra !== undefined) return { message: `${quote(s)} has more than one ":"`, hint };
  if (source.startsWith("/")) {
    if (/[\0\n]/.test(source) || source.includes("/../") || source.endsWith("/..")) {
      return { message: `${quote(source)} is not a plain absolute path`, hint };
    }
  } else if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) {
    return {
      message: `${quote(source)} is neither a volume name nor an absolute path`,
      hint,
    };
  }
  if (target !== undefined && !/^\/[^\0\n]*$/.test(target)) {
    return { message: `container path ${quote(target)} is not absolute`, hint };
  }
  return undefined;
}

/** A role's volume: "NAME:/path/in/container" (a named volume of the app) or "/host/path:/path". */
export function roleVolumeProblem(s: string): Problem | undefined {
  const problem = volumeProblem(s);
  if (problem) return problem;
  if (!s.includes(":")) {
    return {
      message: `${quote(s)} does not say where it goes in the container`,
      hint: 'write "NAME:/path/in/container", e.g. "data:/app/data" for a SQLite file',
    };
  }
  return undefined;
}

/** Where backups go: "s3://BUCKET[/PREFIX]" or an absolute folder on the host. */
export function backupStoreProblem(s: string): Problem | undefined {
  const hint =
    'write "s3://BUCKET/PREFIX" (with backups.s3 for its endpoint and keys) or an absolute folder on the host, like "/var/backups/slipway"';
  if (s.startsWith("s3://")) {
    if (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9!_.*'()/-]*)?$/.test(s))
      return undefined;
    return { message: `${quote(s)} is not an S3 URL with a valid bucket name`, hint };
  }
  if (!s.startsWith("/")) return { message: `${quote(s)} is neither s3:// nor absolute`, hint };
  if (/[\0\n:]/.test(s) || s.split("/").some((p) => p === ".." || p === ".")) {
    return { message: `${quote(s)} is not a plain absolute path`, hint };
  }
  if (s === "/") return { message: "the root folder cannot be the backup store", hint };
  return undefined;
}

/** An age recipient: a public key made by age-keygen. */
export function ageRecipientProblem(s: string): Problem | undefined {
  if (/^age1[02-9ac-hj-np-z]{58}$/.test(s)) return undefined;
  return {
    message: s.startsWith("AGE-SECRET-KEY-")
      ? "this is an age identity (a SECRET key), not a recipient"
      : `${quote(s.slice(0, 80))} is not an age public key (age1...)`,
    hint: "give the public key: age-keygen -y key.txt prints it; the secret key never goes in slipway.yml",
  };
}

/** An absolute path in a container (a SQLite file on a role's volume). */
export function containerFileProblem(s: string): Problem | undefined {
  if (/^\/[^\0\n:]*[^/]$/.test(s) && !s.split("/").some((p) => p === ".." || p === "."))
    return undefined;
  return {
    message: `${quote(s)} is not an absolute path to a file`,
    hint: 'the database file as the app sees it, e.g. "/app/data/hello.db"',
  };
}
