/**
 * The schema of slipway.yml: one zod definition gives the typed, resolved model (durations in
 * milliseconds, sizes in bytes, defaults applied) and the JSON Schema editors and the README use.
 */
import { z } from "zod";
import { TUNABLE } from "../accessories/index.ts";
import { splitCommand } from "./command-words.ts";
import { unknownKeyHint } from "./suggest.ts";
import { DURATION_PATTERN, parseDuration, parseSize, SIZE_PATTERN } from "./units.ts";
import {
  ageRecipientProblem,
  backupStoreProblem,
  cidrProblem,
  containerFileProblem,
  cronProblem,
  domainProblem,
  durationProblem,
  ENV_NAME_PATTERN,
  envNameProblem,
  hostProblem,
  httpPathProblem,
  httpUrlProblem,
  IMAGE_PATTERN,
  imageProblem,
  NAME_PATTERN,
  nameProblem,
  type Problem,
  portProblem,
  publishProblem,
  registryServerProblem,
  roleVolumeProblem,
  siteDomainProblem,
  sizeProblem,
  smtpUrlProblem,
  tcpTargetProblem,
  userProblem,
  volumeProblem,
} from "./validators.ts";

/** A string checked by a validator; its Problem becomes the issue's message and hint. */
function checkedString(problem: (s: string) => Problem | undefined) {
  return z.string().superRefine((value, ctx) => {
    const found = problem(value);
    if (found)
      ctx.addIssue({ code: "custom", message: found.message, params: { hint: found.hint } });
  });
}

const duration = checkedString(durationProblem)
  .meta({ title: "duration", pattern: DURATION_PATTERN, examples: ["30s"] })
  .transform(parseDuration);
const size = checkedString(sizeProblem)
  .meta({ title: "size", pattern: SIZE_PATTERN, examples: ["512mb"] })
  .transform(parseSize);
const cron = checkedString(cronProblem).meta({ title: "cron", examples: ["0 3 * * *"] });
const host = checkedString((s) => hostProblem(s)).meta({
  title: "host",
  description: "A hostname or an IPv4/IPv6 address.",
  examples: ["203.0.113.10"],
});
const port = z
  .int()
  .superRefine((value, ctx) => {
    const found = portProblem(value);
    if (found)
      ctx.addIssue({ code: "custom", message: found.message, params: { hint: found.hint } });
  })
  .meta({ title: "port", minimum: 1, maximum: 65535, examples: [22] });
const image = checkedString(imageProblem).meta({
  title: "image",
  pattern: IMAGE_PATTERN,
  examples: ["ghcr.io/acme/hello"],
});
const envName = checkedString((s) => envNameProblem(s)).meta({
  pattern: ENV_NAME_PATTERN,
  description: "An environment variable name.",
});
const secretName = checkedString((s) => envNameProblem(s, "secret")).meta({
  title: "secret name",
  pattern: ENV_NAME_PATTERN,
  description: "The NAME of a secret in .slipway/secrets.",
  examples: ["SESSION_SECRET"],
});

/** A lowercase name (service, role...), titled so the README shows e.g. `servers.<role>`. */
function name(what: string, title: string) {
  return checkedString((s) => nameProblem(s, what)).meta({ title, pattern: NAME_PATTERN });
}

// A string command is split into words the way a shell would (quotes respected), but never run
// by a shell: operators, globs and substitutions are refused, so what runs is what is written.
const command = z
  .union([
    z
      .string()
      .min(1)
      .transform((text, ctx) => {
        const words = splitCommand(text);
        if (typeof words === "string") {
          ctx.addIssue({
            code: "custom",
            message: `command ${JSON.stringify(text)} ${words}`,
            params: {
              hint: 'write it as a list of words, or run a shell explicitly: ["sh", "-c", "a && b"]',
            },
          });
          return z.NEVER;
        }
        return words;
      }),
    z.array(z.string()).min(1),
  ])
  .meta({ title: "command", examples: ["bin/worker", ["python", "-m", "worker"]] });

// Clear env values may be written as YAML numbers or booleans; containers only see strings.
const envValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const env = z
  .strictObject({
    clear: z
      .record(envName, envValue)
      .default({})
      .describe("Plain variables, NAME: value. Visible in the config, so never put secrets here."),
    secret: z
      .array(secretName)
      .superRefine(noDuplicates("secret"))
      .default([])
      .describe(
        "NAMES of variables whose values come from .slipway/secrets (and .slipway/secrets.<env>).",
      ),
  })
  .describe("Environment variables of the app's containers.");

function noDuplicates(what: string) {
  return (items: readonly string[], ctx: z.RefinementCtx) => {
    items.forEach((item, i) => {
      if (items.indexOf(item) !== i) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `${what} ${JSON.stringify(item)} is listed twice`,
          params: { hint: "remove the second entry" },
        });
      }
    });
  };
}

const hosts = z
  .array(host)
  .min(1)
  .superRefine(noDuplicates("host"))
  .describe("Hostnames or IP addresses this role runs on.");

const roleObject = z
  .strictObject({
    hosts,
    cmd: command
      .optional()
      .describe("Command the containers run instead of the image's CMD: a string or an argv list."),
    singleton: z
      .boolean()
      .default(false)
      .describe(
        "Run exactly one container of this role (schedulers, queue consumers that must not run twice).",
      ),
    proxy: z
      .boolean()
      .optional()
      .describe(
        "Whether the role serves HTTP through the proxy, behind the health gate. Absent: true for a role named web, false for others.",
      ),
    stop_timeout: duration
      .prefault("30s")
      .describe("Time a container gets to finish after SIGTERM before it is killed."),
    ready_after: duration
      .prefault("5s")
      .describe(
        "For roles without the proxy: a new container that has no health check of its own counts as healthy when still running after this long.",
      ),
    ready_timeout: duration
      .prefault("60s")
      .describe(
        "For roles without the proxy whose image has a HEALTHCHECK: how long a new container may take to report healthy before the release fails and the old one keeps running.",
      ),
    volumes: z
      .array(checkedString(roleVolumeProblem))
      .default([])
      .describe(
        'Data kept across releases, as "NAME:/path/in/container" (a volume of this app and environment, e.g. "data:/app/data" for a SQLite file) or "/host/path:/path/in/container". The release command and one-off runs of the role get them too.',
      ),
    options: z
      .strictObject({
        memory: size.optional().describe("Memory limit of each container, e.g. 512mb."),
        cpus: z.number().positive().optional().describe("CPU limit of each container, e.g. 0.5."),
      })
      .prefault({})
      .describe("Resource limits of the role's containers."),
  })
  .superRefine((role, ctx) => {
    if (role.singleton && role.hosts.length > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["hosts"],
        message: `a singleton role runs on exactly one host, but ${role.hosts.length} are listed`,
        params: { hint: "list one host, or set singleton: false to run it on every host" },
      });
    }
  });

const role = z
  .union([hosts.transform((list) => ({ hosts: list })).pipe(roleObject), roleObject])
  .describe("A role: a map with hosts, or just the list of hosts.");

const servers = z
  .record(name("role name", "role"), role)
  .superRefine((value, ctx) => {
    if (Object.keys(value).length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "servers lists no roles",
        params: { hint: "add a role, e.g. web: [203.0.113.10]" },
      });
    }
  })
  .describe(
    "Roles of the app (web, worker...) and the hosts each runs on. Role names follow the rules of service.",
  );

const ssh = z
  .strictObject({
    // No defaults here: when absent, ~/.ssh/config (User, Port) decides, then root and 22.
    user: checkedString(userProblem)
      .optional()
      .describe("User to connect as. Absent: User from ~/.ssh/config, else root."),
    port: port
      .optional()
      .describe("SSH port of every host. Absent: Port from ~/.ssh/config, else 22."),
    keys: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Private key files to offer, relative to slipway.yml or absolute. Empty: use ssh-agent and ~/.ssh defaults.",
      ),
    connect_timeout: duration.prefault("10s").describe("How long to wait for a connection."),
    strict_host_keys: z
      .boolean()
      .default(false)
      .describe(
        "Refuse hosts whose key is not yet in known_hosts. Off: trust on first use, then pin the key.",
      ),
    known_hosts: z
      .string()
      .min(1)
      .default(".slipway/known_hosts")
      .describe("Where host keys are pinned, relative to slipway.yml."),
  })
  .prefault({})
  .describe("How to reach the hosts over SSH.");

const healthcheck = z
  .strictObject({
    path: checkedString(httpPathProblem)
      .default("/up")
      .describe("HTTP path that answers 200 when the app is ready."),
    interval: duration.prefault("1s").describe("Time between two checks."),
    timeout: duration.prefault("5s").describe("How long one check may take."),
    successes: z
      .int()
      .min(1)
      .default(2)
      .describe("Consecutive successes needed to call the container healthy."),
    deadline: duration
      .prefault("60s")
      .describe("Give up (and keep the old release serving) when not healthy by then."),
  })
  .prefault({})
  .describe("The health gate a new container must pass before it gets traffic.");

/** The CAs `tls.acme.directory` may name instead of a URL. */
export const ACME_DIRECTORIES = {
  letsencrypt: "https://acme-v02.api.letsencrypt.org/directory",
  "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
} as const;

// A file beside slipway.yml (relative to it) or an absolute path.
const localFile = z.string().min(1).meta({ title: "file" });

const acme = z
  .strictObject({
    email: checkedString((s) =>
      /^[^@\s"\\]+@[^@\s"\\]+\.[^@\s"\\]+$/.test(s)
        ? undefined
        : {
            message: `${JSON.stringify(s)} is not an e-mail address`,
            hint: "e.g. ops@example.com",
          },
    )
      .optional()
      .describe("Contact address of the ACME account (the CA's notices). Absent: none."),
    directory: z
      .union([
        z.enum(Object.keys(ACME_DIRECTORIES) as [keyof typeof ACME_DIRECTORIES]),
        checkedString((s) =>
          URL.parse(s)?.protocol === "https:"
            ? undefined
            : {
                message: `${JSON.stringify(s)} is neither letsencrypt, letsencrypt-staging nor an https URL`,
                hint: "name a known CA, or give its ACME directory URL (https://...)",
              },
        ),
      ])
      .default("letsencrypt")
      .describe(
        "The CA: letsencrypt, letsencrypt-staging, or any ACME CA's directory URL (https).",
      ),
    ca: localFile
      .optional()
      .describe(
        "PEM file of the CA that signed the directory's own HTTPS certificate, for a private ACME CA; relative to slipway.yml. Absent: the system's CAs.",
      ),
    eab: z
      .strictObject({
        kid: z.string().min(1).describe("The key identifier the CA gave you."),
        hmac_key: secretName.describe(
          "NAME of the secret holding the HMAC key the CA gave you (base64url).",
        ),
      })
      .optional()
      .describe("External account binding, for CAs that require one (ZeroSSL, Google, ...)."),
    challenge: z
      .enum(["http-01", "dns-01"])
      .default("http-01")
      .describe(
        "How the CA checks you control the domains: http-01 (a file the proxy serves on port 80) or dns-01 (a TXT record; needed for wildcards).",
      ),
    dns: z
      .strictObject({
        provider: z.enum(["cloudflare"]).describe("Where the domains' DNS is hosted."),
        api_token: secretName.describe(
          "NAME of the secret holding the provider's API token (Cloudflare: Zone.DNS edit for the zones).",
        ),
        propagation: duration
          .prefault("20s")
          .describe("How long to wait after adding the TXT record before the CA looks."),
      })
      .optional()
      .describe("The DNS provider, for dns-01."),
    renew_before: duration
      .prefault("30d")
      .describe(
        "Renew when the certificate expires within this long (sooner when the CA's renewal info, ARI, says so).",
      ),
  })
  .superRefine((value, ctx) => {
    if (value.challenge === "dns-01" && value.dns === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["dns"],
        message: "dns-01 needs a DNS provider",
        params: { hint: "add dns: { provider: cloudflare, api_token: CLOUDFLARE_API_TOKEN }" },
      });
    }
  })
  .describe("Certificates from an ACME CA, issued at deploy and renewed by the agent.");

const tls = z
  .strictObject({
    acme: acme.optional(),
    certificate: z
      .strictObject({
        cert: localFile.describe(
          "PEM file of the certificate and its chain (leaf first), relative to slipway.yml.",
        ),
        key: localFile.describe(
          "PEM file of its private key, relative to slipway.yml; keep it out of git.",
        ),
      })
      .optional()
      .describe(
        "A certificate of your own (a Cloudflare origin certificate, say) instead of ACME; replace the files and deploy to renew it.",
      ),
  })
  .superRefine((value, ctx) => {
    if ((value.acme === undefined) === (value.certificate === undefined)) {
      ctx.addIssue({
        code: "custom",
        message: "tls needs exactly one of acme or certificate",
        params: {
          hint: "acme: { email: you@example.com } for Let's Encrypt, or certificate: { cert: FILE, key: FILE }",
        },
      });
    }
  })
  .describe(
    "HTTPS for proxy.domains: HTTP then redirects to HTTPS (ACME's challenges exempt). Absent: HTTP only.",
  );

const proxy = z
  .strictObject({
    domains: z
      .array(checkedString(siteDomainProblem).meta({ title: "domain" }))
      .default([])
      .describe(
        "Domains served by the web role, all in one certificate with tls (a wildcard like *.example.com needs dns-01). Empty: serve plain HTTP on any name.",
      ),
    app_port: port.default(3000).describe("Port the app listens on inside its container."),
    image: image
      .default("nginx:1.27-bookworm")
      .describe(
        "Image of the proxy container. Shipped from the local engine when it has it, else pulled by the host.",
      ),
    drain_timeout: duration
      .prefault("3s")
      .describe(
        "After the switch, the longest wait for requests already in flight at the old container; the wait ends as soon as the proxy's old workers have answered them. Then the old container stops.",
      ),
    healthcheck,
    max_body_size: size.prefault("10mb").describe("Largest request body accepted."),
    rate_limit: z
      .strictObject({
        requests_per_second: z
          .number()
          .positive()
          .describe("Sustained requests per second allowed per client IP."),
        burst: z
          .int()
          .min(0)
          .default(0)
          .describe("Extra requests allowed in a burst above the rate."),
      })
      .optional()
      .describe("Per-client-IP rate limit. Absent: no limit."),
    tls: tls.optional(),
    hsts: z
      .union([
        z.literal(false),
        z.strictObject({
          max_age: duration
            .prefault("730d")
            .describe("How long browsers keep to HTTPS (two years by default)."),
          include_subdomains: z
            .boolean()
            .default(false)
            .describe("Every subdomain too: only when all of them serve HTTPS."),
          preload: z
            .boolean()
            .default(false)
            .describe(
              "Ask to be in browsers' preload list (needs include_subdomains and a max_age of a year or more; hard to undo).",
            ),
        }),
      ])
      .optional()
      .superRefine((value, ctx) => {
        if (
          value !== undefined &&
          value !== false &&
          value.preload &&
          (!value.include_subdomains || value.max_age < 31_536_000_000)
        ) {
          ctx.addIssue({
            code: "custom",
            path: ["preload"],
            message: "preload needs include_subdomains: true and a max_age of at least 365d",
            params: { hint: "set both, or leave preload off" },
          });
        }
      })
      .describe(
        "Strict-Transport-Security on HTTPS answers. Absent: the defaults below; false: none.",
      ),
    csp: checkedString((s) =>
      /^[\x20-\x7e]{1,4096}$/.test(s) && !/["\\$]/.test(s)
        ? undefined
        : {
            message: 'the CSP must be printable ASCII without ", \\ or $',
            hint: `e.g. "default-src 'self'; frame-ancestors 'none'"`,
          },
    )
      .optional()
      .describe(
        "A Content-Security-Policy for answers whose app sent none. Absent: none (X-Frame-Options SAMEORIGIN still guards framing).",
      ),
    trusted_proxies: z
      .union([
        z.literal("cloudflare"),
        z.array(checkedString(cidrProblem).meta({ title: "network" })).min(1),
      ])
      .optional()
      .describe(
        "Proxies in front (a CDN, a load balancer) whose word on the client's address is taken: cloudflare (its published ranges, CF-Connecting-IP), or a list of networks (X-Forwarded-For). Absent: the connecting address is the client's.",
      ),
  })
  .prefault({})
  .describe("The reverse proxy in front of the web role: domains, TLS, health gate, limits.");

const ENGINE_NAMES = ["postgres", "mysql", "mariadb", "mongodb", "redis", "influxdb"] as const;

const accessory = z
  .strictObject({
    engine: z
      .enum([...ENGINE_NAMES, "generic"])
      .describe("What it is; decides the image, data path, credentials, health check and tuning."),
    version: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Version of the official image (its tag), quoted so YAML keeps it text, e.g. "16" or "8.4". Absent: the engine\'s current major version.',
      ),
    image: image
      .optional()
      .describe("Image to run instead of the engine's official one. Required for generic."),
    host: host
      .optional()
      .describe(
        "Host it runs on. Absent: the first host of the first role. App containers reach it by name on that host's private network.",
      ),
    volume: checkedString(volumeProblem)
      .optional()
      .describe(
        'Where its data lives: a volume name or an absolute host path, kept across upgrades and removals. Absent: a volume named after the app and accessory. Generic accessories add ":/path/in/container".',
      ),
    publish: z
      .union([port, checkedString(publishProblem)])
      .optional()
      .describe(
        'Also reachable from outside the private network: a port (on 127.0.0.1, for SSH tunnels), or "ADDRESS:PORT". Absent: private network only.',
      ),
    port: port
      .optional()
      .describe(
        "Port it listens on inside its container; generic accessories only (engines know theirs).",
      ),
    url_env: z
      .union([envName, z.literal(false)])
      .optional()
      .describe(
        "Variable of the app's env that gets its connection URL (credentials included). Absent: DATABASE_URL, REDIS_URL, MONGODB_URL or INFLUXDB_URL; false: none.",
      ),
    user: name("user name", "user")
      .optional()
      .describe("Database user the app logs in as. Absent: the service name."),
    database: name("database name", "database")
      .optional()
      .describe("Database created at first boot. Absent: the service name."),
    memory: size
      .optional()
      .describe(
        "Memory limit of its container; tuning is sized from it. Absent: no limit, tuning is sized from a share of the host's memory.",
      ),
    tuning: z
      .record(z.string(), z.union([z.string(), z.number()]).transform(String))
      .default({})
      .describe(
        "Engine settings that replace the computed ones, by the engine's names: shared_buffers, work_mem, max_connections (postgres); maxmemory, maxmemory-policy, appendonly (redis); innodb_buffer_pool_size (mysql, mariadb); wiredTigerCacheSizeGB (mongodb).",
      ),
    cmd: command.optional().describe("Command of a generic accessory's container."),
    healthcheck: command
      .optional()
      .describe(
        "Command run in a generic accessory's container that exits 0 once it serves; boot and deploys wait for it. Absent: the image's own HEALTHCHECK, else running is enough.",
      ),
    env: env.optional().describe("Environment variables of the accessory's container."),
  })
  .superRefine((value, ctx) => {
    const problem = (path: string, message: string, hint: string) =>
      ctx.addIssue({ code: "custom", path: [path], message, params: { hint } });
    if (value.engine === "generic") {
      if (value.image === undefined) {
        problem(
          "engine",
          "a generic accessory needs an image",
          'add image: with the image to run, e.g. image: "nats:2"',
        );
      }
      if (value.url_env !== undefined && value.url_env !== false) {
        problem(
          "url_env",
          "a generic accessory has no connection URL",
          "put its address in env.clear of the app instead",
        );
      }
      if (Object.keys(value.tuning).length > 0) {
        problem("tuning", "a generic accessory has no tuning", "pass settings through cmd or env");
      }
      if (value.volume !== undefined && !value.volume.includes(":")) {
        problem(
          "volume",
          "a generic accessory's volume needs its path in the container",
          'write "NAME:/path/in/container"',
        );
      }
      if (value.publish !== undefined && value.port === undefined) {
        problem(
          "publish",
          "a published generic accessory needs the port it listens on",
          "add port: with the port inside its container, e.g. port: 4222",
        );
      }
      return;
    }
    if (value.healthcheck !== undefined) {
      problem(
        "healthcheck",
        `${value.engine} has its own health check`,
        "remove healthcheck; it is for generic accessories",
      );
    }
    if (value.port !== undefined) {
      problem(
        "port",
        `${value.engine} listens on its own port`,
        "remove port; use publish to reach it from outside",
      );
    }
    if (value.cmd !== undefined) {
      problem(
        "cmd",
        `${value.engine}'s command is Slipway's (it carries the tuning)`,
        "use tuning for its settings",
      );
    }
    if (value.volume?.includes(":")) {
      problem(
        "volume",
        `${value.engine} keeps its data in a known place`,
        "write only the volume name or host path",
      );
    }
    const known = TUNABLE[value.engine];
    for (const key of Object.keys(value.tuning)) {
      if (!known.includes(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["tuning", key],
          message: `${value.engine} has no tuning setting ${JSON.stringify(key)}`,
          params: { hint: unknownKeyHint(key, known) },
        });
      }
    }
  })
  .describe("An accessory: a database, cache or other service of its own.");

const keep = z
  .strictObject({
    last: z.int().min(1).default(7).describe("The newest N good backups."),
    daily: z
      .int()
      .min(0)
      .default(7)
      .describe("The newest backup of each of the last N days that have one."),
    weekly: z.int().min(0).default(4).describe("The newest of each of the last N ISO weeks."),
    monthly: z.int().min(0).default(6).describe("The newest of each of the last N months."),
    yearly: z.int().min(0).default(0).describe("The newest of each of the last N years."),
  })
  .prefault({})
  .describe(
    "Which backups stay: applied after each successful backup only, never removing the newest good one; days, weeks, months and years counted in UTC, as backup ids are.",
  );

const TARGET_KINDS = ["accessory", "volume", "sqlite", "config"] as const;

/**
 * The accessory a backup target dumps: the one it names, or, when it names no kind at all, the
 * accessory named like the target. Undefined for a volume, SQLite or config target.
 */
export function backupTargetAccessory(
  target: string,
  spec: Partial<Record<(typeof TARGET_KINDS)[number], unknown>>,
): string | undefined {
  if (typeof spec.accessory === "string") return spec.accessory;
  return TARGET_KINDS.some((kind) => spec[kind] !== undefined) ? undefined : target;
}

const backupTarget = z
  .strictObject({
    accessory: name("accessory name", "accessory")
      .optional()
      .describe(
        "An accessory to dump with its engine's own tools (postgres, mysql, mariadb, mongodb, redis). Absent, and no volume, sqlite or config: the accessory named like the target.",
      ),
    volume: checkedString(volumeProblem)
      .optional()
      .describe(
        "A volume of the app (its NAME in servers.<role>.volumes) or an absolute folder on the host, archived with tar. Files being written meanwhile are archived as they are: for a database, use accessory or sqlite.",
      ),
    sqlite: checkedString(containerFileProblem)
      .optional()
      .describe(
        'A SQLite database, by its path in the role\'s containers on one of its volumes (e.g. "/app/data/hello.db"), copied consistently with VACUUM INTO while the app runs.',
      ),
    config: z
      .literal(true)
      .optional()
      .describe(
        "The app's state on its host for disaster recovery: /var/lib/slipway/<site> (release records and their env files, which hold the app's secrets; the accessories' credentials). Always encrypted, like every backup.",
      ),
    role: name("role name", "role")
      .optional()
      .describe(
        "For volume and sqlite: the role whose volume it is. Default: the first role that declares the volume.",
      ),
    host: host
      .optional()
      .describe(
        "For volume, sqlite and config: the host whose data it is. Default: the role's first host (config: the app's first host). An accessory's backup runs on the accessory's host.",
      ),
    schedule: cron
      .default("0 3 * * *")
      .describe(
        "When the agent of the target's host backs it up (cron, in the host's time zone); never during a deploy. A failure opens the incident 'backup.<target> job'.",
      ),
    keep,
    verify: z
      .union([cron, z.literal(false)])
      .default("0 4 * * 0")
      .describe(
        "When the agent verifies the newest backup (cron; false: never on its own). On the host it checks every part's size and SHA-256 in the store; with backups.verify_identity it also restores into a throwaway container and compares rows. A failure opens the incident 'verify.<target> job'.",
      ),
    grace: duration
      .prefault("1h")
      .describe(
        "No good backup within the schedule's longest gap plus this opens the incident 'backup.<target> stale', even when no run failed (the agent was down, the job was removed).",
      ),
    timeout: duration
      .prefault("6h")
      .describe("A backup or verification still running after this long is stopped and fails."),
  })
  .superRefine((value, ctx) => {
    const kinds = TARGET_KINDS.filter((kind) => value[kind] !== undefined);
    if (kinds.length > 1) {
      ctx.addIssue({
        code: "custom",
        path: [kinds[1] ?? "accessory"],
        message: `a backup target is one of ${TARGET_KINDS.join(", ")}, not ${kinds.join(" and ")}`,
        params: { hint: "make one target for each" },
      });
    }
    const fileKind = value.volume !== undefined || value.sqlite !== undefined;
    if (value.role !== undefined && !fileKind) {
      ctx.addIssue({
        code: "custom",
        path: ["role"],
        message: "role is for volume and sqlite targets",
        params: { hint: "remove it" },
      });
    }
    if (value.host !== undefined && kinds.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["host"],
        message: "an accessory's backup runs on the accessory's host",
        params: { hint: "remove host here; set it on the accessory" },
      });
    }
  })
  .describe(
    "One thing to back up, on its own schedule: an accessory, a volume or folder, a SQLite file, or the app's state on its host.",
  );

const S3_HINT =
  "add s3: { endpoint: https://..., access_key_id: S3_ACCESS_KEY_ID, secret_access_key: S3_SECRET_ACCESS_KEY } with the keys in .slipway/secrets";

const backups = z
  .strictObject({
    store: checkedString(backupStoreProblem).describe(
      'Where backups go: "s3://BUCKET/PREFIX" (AWS or any S3-compatible store: B2, R2, MinIO...; see s3), or an absolute folder on each target\'s host (a mounted disk, NFS). Each app keeps its backups under <site>/<target>/<id>/.',
    ),
    s3: z
      .strictObject({
        endpoint: checkedString(httpUrlProblem)
          .optional()
          .describe(
            'The store\'s URL for anything but AWS, e.g. "https://s3.eu-central-003.backblazeb2.com".',
          ),
        region: z.string().min(1).default("us-east-1").describe("The bucket's region."),
        path_style: z
          .boolean()
          .optional()
          .describe(
            "Address the bucket as ENDPOINT/BUCKET (MinIO and most others) rather than BUCKET.ENDPOINT. Absent: true when endpoint is set.",
          ),
        access_key_id: secretName.describe("NAME of the secret holding the access key id."),
        secret_access_key: secretName.describe("NAME of the secret holding the secret access key."),
      })
      .optional()
      .describe(
        "The S3 store's endpoint and credentials (secret names). Kept on each target's host in a 0600 file.",
      ),
    recipients: z
      .array(checkedString(ageRecipientProblem).meta({ title: "age recipient" }))
      .min(1)
      .superRefine(noDuplicates("recipient"))
      .optional()
      .describe(
        "age public keys (age1...) every backup is encrypted to: the hosts that write backups hold no key that reads them.",
      ),
    passphrase: secretName
      .optional()
      .describe(
        "Instead of recipients: NAME of the secret holding a passphrase (12 characters or more). The hosts then keep it, so they can read the backups too.",
      ),
    identity: secretName
      .optional()
      .describe(
        "NAME of the secret holding an age identity (AGE-SECRET-KEY-1...) of one recipient, for slipway backup verify and restore (or --identity FILE). It goes to the host on stdin for that run only.",
      ),
    verify_identity: secretName
      .optional()
      .describe(
        "NAME of the secret holding an age identity kept on the targets' hosts (0600) so scheduled verification restores each backup into a throwaway container. Those hosts can then read the backups: give it a recipient of its own. Absent: scheduled verification checks sizes and SHA-256 only.",
      ),
    compression: z
      .enum(["zstd", "gzip"])
      .default("zstd")
      .describe("How archives are compressed before encryption (zstd level 1, or gzip)."),
    targets: z
      .record(name("target name", "target"), backupTarget)
      .superRefine((value, ctx) => {
        if (Object.keys(value).length === 0) {
          ctx.addIssue({
            code: "custom",
            message: "backups lists no targets",
            params: { hint: "add one, e.g. db: {} for the accessory db" },
          });
        }
      })
      .transform((targets) =>
        Object.fromEntries(
          Object.entries(targets).map(([key, target]) => [
            key,
            target.accessory === undefined && backupTargetAccessory(key, target) !== undefined
              ? { ...target, accessory: key }
              : target,
          ]),
        ),
      )
      .describe("What is backed up, by name (slipway backup run NAME)."),
  })
  .superRefine((value, ctx) => {
    const problem = (path: string, message: string, hint: string) =>
      ctx.addIssue({ code: "custom", path: [path], message, params: { hint } });
    const s3 = value.store.startsWith("s3://");
    if (s3 && value.s3 === undefined)
      problem("store", "an s3:// store needs backups.s3 (its credentials)", S3_HINT);
    if (!s3 && value.s3 !== undefined)
      problem("s3", "s3 is for an s3:// store", "remove it, or make store an s3:// URL");
    if ((value.recipients === undefined) === (value.passphrase === undefined))
      problem(
        "recipients",
        "backups are encrypted to recipients or with a passphrase: give exactly one",
        "make a key pair with age-keygen -o backup.key and list its public key: recipients: [age1...]",
      );
    if (value.verify_identity !== undefined && value.recipients === undefined)
      problem(
        "verify_identity",
        "verify_identity is an identity of one of the recipients",
        "with a passphrase, the hosts verify with the passphrase already",
      );
  })
  .describe(
    "Backups, run on each target's host by the agent (slipway agent install), encrypted before they leave it, verified by restoring (slipway backup).",
  );

const monitorCheck = z
  .strictObject({
    name: name("check name", "check").describe("Name shown in alerts and on the status page."),
    url: checkedString(httpUrlProblem)
      .optional()
      .describe(
        "An HTTP(S) check: the URL must answer with a 2xx or 3xx status. The agent runs in a container on the proxy's network and the app's private network: \"http://slipway-proxy/up\" goes through the proxy as visitors do (a site without domains), accessories answer by name.",
      ),
    tcp: checkedString(tcpTargetProblem)
      .optional()
      .describe('A TCP check: "HOST:PORT" must accept a connection, e.g. "hello-db:5432".'),
    tls: checkedString(tcpTargetProblem)
      .optional()
      .describe(
        'A certificate check: "HOST:PORT" must present a valid certificate for HOST that expires in more than min_days, e.g. "example.com:443".',
      ),
    min_days: z
      .int()
      .min(0)
      .default(14)
      .describe("For tls checks: fewer days of validity left than this fails."),
    dns: checkedString(domainProblem)
      .optional()
      .describe("A DNS check: the name must resolve (to every value of expect, when given)."),
    record: z
      .enum(["A", "AAAA", "CNAME", "MX", "TXT", "NS"])
      .default("A")
      .describe("For dns checks: the record type."),
    expect: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "For dns checks: answers that must be among the records (an address, a name, or TXT's text).",
      ),
    max_latency: duration
      .optional()
      .describe("For HTTP checks: a single answer slower than this counts as a failure."),
    p95: duration
      .optional()
      .describe(
        'For HTTP checks: the 95th percentile of the last p95_answers answers must stay within this (the runbooks\' "p95: 500ms"); over it, an incident "<check> latency" (warning).',
      ),
    p95_answers: z
      .int()
      .min(2)
      .max(1000)
      .default(20)
      .describe("For HTTP checks with p95: how many of the last answers it is taken over."),
    follow_redirects: z
      .int()
      .min(0)
      .max(10)
      .default(0)
      .describe("For HTTP checks: redirects to follow (0: a 3xx answer is the answer)."),
    heartbeat: duration
      .optional()
      .describe(
        "A push check (a cron job, a worker): the app calls the check's ping URL (slipway monitor ping-url) at least this often, its /fail URL when a run fails; no ping within heartbeat + grace is a failure. Kept by the agent of the app's first host.",
      ),
    grace: duration
      .prefault("5m")
      .describe("For heartbeat checks: how late a ping may be before it counts as missed."),
    key: secretName
      .optional()
      .describe(
        "For heartbeat checks: NAME of the secret that is the ping URL's key (16 to 200 letters, digits, - or _); absent: the host makes one at install and keeps it.",
      ),
    keyword: z
      .string()
      .min(1)
      .optional()
      .describe("Text the HTTP answer's body must contain (its first 64 KiB)."),
    interval: duration.prefault("1m").describe("Time between two checks."),
    timeout: duration.prefault("10s").describe("How long one check may take."),
    open_after: z
      .int()
      .min(1)
      .optional()
      .describe(
        "Consecutive failures that open an incident (and notify); default 3, for heartbeat checks 1.",
      ),
    resolve_after: z
      .int()
      .min(1)
      .optional()
      .describe(
        "Consecutive successes that resolve it (and notify); default 2, for heartbeat checks 1.",
      ),
    remind: duration
      .prefault("1h")
      .describe('While an incident is open, a reminder this often ("0s": none).'),
    severity: z
      .enum(["critical", "warning", "info"])
      .default("critical")
      .describe("Carried in every notification of the check, for routing on the receiving side."),
    slo: z
      .number()
      .gt(0)
      .lt(100)
      .optional()
      .describe(
        "Objective in percent of successful runs (e.g. 99.9): also alerts on error-budget burn, 14.4x over 1h and 5m (critical) or 6x over 6h and 30m (warning).",
      ),
  })
  .superRefine((value, ctx) => {
    const kinds = [value.url, value.tcp, value.tls, value.dns, value.heartbeat].filter(
      (k) => k !== undefined,
    ).length;
    if (kinds !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["url"],
        message:
          "a check needs exactly one of url (HTTP), tcp or tls (HOST:PORT), dns (a name), heartbeat (a period)",
        params: {
          hint: 'write url: "http://slipway-proxy/up", tcp: "hello-db:5432", tls: "example.com:443", dns: "example.com" or heartbeat: 1h',
        },
      });
    }
    const LONGEST = 864_000_000; // 10 days: within the agent's timers
    for (const [key, ms, least] of [
      ["heartbeat", value.heartbeat, 1_000],
      ["grace", value.grace, 0],
    ] as const) {
      if (ms !== undefined && (ms < least || ms > LONGEST)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `${key} must be from ${least === 0 ? "0s" : "1s"} to 10d`,
          params: { hint: "e.g. heartbeat: 1h with grace: 5m" },
        });
      }
    }
    if (value.key !== undefined && value.heartbeat === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["key"],
        message: "key is for heartbeat checks",
        params: { hint: "remove key, or make it a heartbeat check" },
      });
    }
    const httpOnly = {
      keyword: value.keyword !== undefined,
      max_latency: value.max_latency !== undefined,
      p95: value.p95 !== undefined,
      follow_redirects: value.follow_redirects !== 0,
    };
    for (const [key, given] of Object.entries(httpOnly)) {
      if (given && value.url === undefined) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `${key} is for HTTP checks`,
          params: { hint: `remove ${key}, or make it a url check` },
        });
      }
    }
    if (value.p95_answers !== 20 && value.p95 === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["p95_answers"],
        message: "p95_answers is for checks with p95",
        params: { hint: "add p95: 500ms, or remove p95_answers" },
      });
    }
    if (value.max_latency !== undefined && value.max_latency >= value.timeout) {
      ctx.addIssue({
        code: "custom",
        path: ["max_latency"],
        message: "max_latency must be shorter than timeout",
        params: { hint: "a slower answer already fails by the timeout: lower max_latency" },
      });
    }
  });

const NOTIFIER_KINDS = ["webhook", "slack", "discord", "telegram", "email"] as const;

const notifier = z
  .strictObject({
    name: name("notifier name", "notifier").describe("Name in the agent's records."),
    webhook: checkedString(httpUrlProblem)
      .optional()
      .describe(
        "URL that gets each alert as JSON (POST), with X-Slipway-Signature when secret is set.",
      ),
    secret: secretName
      .optional()
      .describe("For webhook: NAME of the secret that signs each request (HMAC-SHA256)."),
    slack: secretName
      .optional()
      .describe("NAME of the secret holding a Slack incoming webhook's URL."),
    discord: secretName.optional().describe("NAME of the secret holding a Discord webhook's URL."),
    telegram: z
      .strictObject({
        chat_id: z
          .union([z.string().min(1), z.int()])
          .transform(String)
          .describe("The chat (or channel) the bot writes to."),
        token: secretName.describe("NAME of the secret holding the bot's token."),
      })
      .optional()
      .describe("A Telegram bot's messages to a chat."),
    email: z
      .strictObject({
        to: z
          .union([z.string().min(3), z.array(z.string().min(3)).min(1)])
          .transform((v) => (Array.isArray(v) ? v : [v]))
          .describe("Address, or list of addresses, that get each alert."),
        from: z.string().min(3).describe("Sender address."),
        smtp: checkedString(smtpUrlProblem).describe(
          'The SMTP server, as "smtp://USER@HOST:587" (STARTTLS when offered) or "smtps://USER@HOST:465"; no password here.',
        ),
        password: secretName.optional().describe("NAME of the secret holding the SMTP password."),
      })
      .optional()
      .describe("E-mail over SMTP."),
  })
  .superRefine((value, ctx) => {
    const kinds = NOTIFIER_KINDS.filter((kind) => value[kind] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["name"],
        message: `a notifier is exactly one of ${NOTIFIER_KINDS.join(", ")}${kinds.length > 1 ? `, not ${kinds.join(" and ")}` : ""}`,
        params: { hint: "write one notifier per entry of the list" },
      });
    }
    if (value.secret !== undefined && value.webhook === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["secret"],
        message: "secret signs webhook requests",
        params: { hint: "remove secret, or make it a webhook notifier" },
      });
    }
  })
  .describe("Where alerts go: one of webhook, slack, discord, telegram or email.");

const hostThresholds = z
  .strictObject({
    cpu: z.number().gt(0).max(100).default(80).describe("CPU busy, in percent."),
    memory: z.number().gt(0).max(100).default(85).describe("Memory used, in percent."),
    disk: z
      .number()
      .gt(0)
      .max(100)
      .default(80)
      .describe("Disk used of the filesystem holding /var/lib/slipway, in percent (20% free)."),
    load: z.number().gt(0).default(2).describe("1-minute load average per core."),
    for: duration
      .prefault("5m")
      .describe("How long a value must stay above its limit before an incident opens."),
    interval: duration.prefault("30s").describe("Time between two readings."),
  })
  .describe(
    "Limits of the host's own resources; an incident opens when one is exceeded for `for`.",
  );

const monitoring = z
  .strictObject({
    host: z
      .union([hostThresholds, z.literal(false)])
      .prefault({})
      .describe(
        "The host's CPU, memory, disk and load, checked on every host with the runbooks' limits unless changed; false: not checked.",
      ),
    public_status: z
      .boolean()
      .default(false)
      .describe(
        "Serve the status page (/status on the agent, port 9465 on the private networks) without the token. The host's agent is shared by its apps: the last install sets it.",
      ),
    status_domain: checkedString(domainProblem)
      .meta({ title: "domain" })
      .optional()
      .describe(
        "A domain for the status page through the Slipway proxy on the web role's hosts (agent install adds its server block): /status, /api/status, /healthz and /ping/... reach the agent, anything else is 404. Needs the token unless public_status.",
      ),
    containers: z
      .boolean()
      .default(true)
      .describe(
        "Check each role's container on each of its hosts (container-<role>): running, not unhealthy, not restarted since the last look.",
      ),
    image: image
      .default("node:24-bookworm-slim")
      .describe(
        "Image the agent runs in (Node 22 or newer), and the certificate runner of proxy.tls; Slipway ships the agent itself.",
      ),
    checks: z.array(monitorCheck).default([]).describe("Checks the agent runs."),
    notify: z.array(notifier).default([]).describe("Where alerts go."),
  })
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.checks.forEach((check, i) => {
      const problem = seen.has(check.name)
        ? `two checks are named ${check.name}`
        : value.host !== false && check.name.startsWith("host-")
          ? `${check.name} is a name of the host checks (host-cpu, host-memory, host-disk, host-load)`
          : check.name.startsWith("peer-")
            ? `${check.name}: peer-<host> names the checks agents make of the app's other hosts`
            : value.containers && check.name.startsWith("container-")
              ? `${check.name} is a name of the container checks (container-<role>)`
              : undefined;
      seen.add(check.name);
      if (problem) {
        ctx.addIssue({
          code: "custom",
          path: ["checks", i, "name"],
          message: problem,
          params: { hint: "give each check its own name" },
        });
      }
    });
  })
  .describe(
    "The agent on each host: checks, incidents and notifications (slipway agent install, slipway monitor).",
  );

const cronJob = z
  .strictObject({
    schedule: cron.describe(
      "When to run (cron, in the host's time zone): five fields, or @hourly, @daily, @weekly, @monthly, @yearly.",
    ),
    command: command.describe(
      "Command to run in a one-off container made like the role's newest running container (its image, env, network and volumes).",
    ),
    role: name("role name", "role")
      .optional()
      .describe(
        "Role whose container the job is made like; it runs on the agent of the role's first host. Default: the first role.",
      ),
    timeout: duration
      .prefault("1h")
      .describe("A run still going after this long is stopped and counts as failed."),
    jitter: duration
      .prefault("0s")
      .describe(
        "Each run starts up to this much after its time, at random, so many jobs do not start at once.",
      ),
    missed: z
      .enum(["skip", "run_once"])
      .default("skip")
      .describe(
        "A run missed while the agent was down: skip it, or run it once when the agent is back.",
      ),
  })
  .describe(
    "A scheduled job: run once per app by the agent (slipway agent install gives it the jobs), never during a deploy; a failure opens an incident '<job> job'.",
  );

// Hooks run on the machine that runs slipway, in the project's folder, like Kamal's. An
// executable at .slipway/hooks/<pre-build|pre-deploy|post-deploy|post-rollback> works too.
const hookCommand = (when: string) => command.optional().describe(when);
const hooks = z
  .strictObject({
    pre_build: hookCommand("Runs before the image is built; a failure aborts the deploy."),
    pre_deploy: hookCommand(
      "Runs after the build, before anything changes on a host; a failure aborts the deploy.",
    ),
    post_deploy: hookCommand(
      "Runs after a successful deploy; a failure is reported but the deploy stands.",
    ),
    post_rollback: hookCommand(
      "Runs after a successful rollback; a failure is reported but the rollback stands.",
    ),
    timeout: duration
      .prefault("10m")
      .describe("A hook still running after this long is stopped and counts as failed."),
  })
  .describe(
    "Local commands around a deploy, run in the project's folder with SLIPWAY_* variables (service, environment, version, hosts, command, performer...).",
  );

/** The resolved configuration: what slipway.yml and its overlays describe once merged. */
export const configSchema = z.strictObject({
  service: name("service name", "name").describe(
    "Name of the app: lowercase letters, digits and dashes, starting with a letter, at most 40 characters. It becomes part of container names.",
  ),
  image: image.describe(
    'Image name of the app, e.g. "hello" or "ghcr.io/acme/hello"; each release is a tag of it.',
  ),
  build: z
    .strictObject({
      context: z.string().min(1).default(".").describe("Build context, relative to slipway.yml."),
      dockerfile: z
        .string()
        .min(1)
        .default("Dockerfile")
        .describe("Dockerfile, relative to the context."),
      args: z.record(envName, envValue).default({}).describe("Build arguments, NAME: value."),
      target: z.string().min(1).optional().describe("Stage of a multi-stage Dockerfile to build."),
    })
    .optional()
    .describe("How the image is built."),
  registry: z
    .strictObject({
      server: checkedString(registryServerProblem)
        .optional()
        .describe(
          'Registry host with an optional port, e.g. ghcr.io. Images are pushed as SERVER/IMAGE:VERSION (IMAGE:VERSION when the image already starts with the server). Absent: the registry the image names ("ghcr.io/acme/hello" → ghcr.io), else Docker Hub, where an image without a namespace goes under the user\'s: "hello" → docker.io/USERNAME/hello.',
        ),
      username: z.string().min(1).describe("User to log in as."),
      password: secretName.describe(
        "NAME of the secret holding the password or token, never the password itself.",
      ),
    })
    .optional()
    .describe(
      "Container registry for the images: a deploy logs this machine in and pushes, then each host logs in and pulls (skipped when it has the image), with the login kept in a throwaway folder removed after the pull. A proxy image this machine lacks is pulled by the hosts too. Absent: images are shipped to the hosts over SSH.",
    ),
  servers,
  ssh,
  proxy,
  env: env.prefault({}),
  deploy: z
    .strictObject({
      release_command: command
        .optional()
        .describe(
          "Run once per deploy in a one-off container of the new release, before any traffic moves (migrations). Failure aborts the deploy.",
        ),
    })
    .prefault({})
    .describe("The deploy itself."),
  releases: z
    .strictObject({
      keep: z
        .int()
        .min(1)
        .default(5)
        .describe("Releases (images and env) kept on each host for rollback."),
    })
    .prefault({})
    .describe("Release history kept on the hosts."),
  rolling: z
    .strictObject({
      limit: z
        .union([
          z.int().min(1),
          z
            .string()
            .regex(/^([1-9][0-9]?|100)%$/, { message: "a percentage from 1% to 100%" })
            .meta({ examples: ["25%"] }),
        ])
        .default(1)
        .describe(
          'Hosts of a role deployed at the same time: a number, or a percentage of the role\'s hosts such as "25%" (at least one).',
        ),
    })
    .prefault({})
    .describe("How many hosts change at once during a deploy."),
  accessories: z
    .record(name("accessory name", "accessory"), accessory)
    .optional()
    .describe(
      "Databases, caches and other services run beside the app, each in its own container on the site's private network.",
    ),
  backups: backups.optional(),
  monitoring: monitoring.optional(),
  cron: z
    .record(name("job name", "job"), cronJob)
    .optional()
    .describe("Scheduled jobs of the app, by name (slipway cron)."),
  hooks: hooks.prefault({}),
});

/** The file itself: the resolved shape plus per-environment overlays. */
export const fileSchema = configSchema.extend({
  environments: z
    .record(name("environment name", "env"), z.record(z.string(), z.unknown()))
    .optional()
    .describe(
      "Overlays by environment name, applied with -d ENV: any key above except environments. Maps merge key by key; lists and scalars replace. slipway.<env>.yml beside this file is applied after.",
    ),
});

/** The resolved configuration: durations in milliseconds, sizes in bytes, defaults applied. */
export type SlipwayConfig = z.output<typeof configSchema>;

type JsonSchema = Record<string, unknown>;
let cachedJsonSchema: JsonSchema | undefined;

/** JSON Schema (draft 2020-12) of the input file, with a description on every key. */
export function configJsonSchema(): object {
  cachedJsonSchema ??= buildJsonSchema();
  return structuredClone(cachedJsonSchema);
}

function buildJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(fileSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  typeListsAsAnyOf(generated);
  const properties = generated.properties as Record<string, JsonSchema>;
  const { environments, ...overlayProperties } = properties;
  if (environments === undefined) throw new Error("schema lost its environments key");
  // zod sees an overlay as an open map (it is checked once merged); editors get the real shape.
  environments.additionalProperties = {
    $ref: "#/$defs/overlay",
    description: "The keys this environment changes.",
  };
  const overlay = withoutRequiredOrDefaults({
    type: "object",
    properties: overlayProperties,
    additionalProperties: false,
  });
  return {
    $schema: generated.$schema,
    title: "slipway.yml",
    description: "Configuration of an app deployed with Slipway.",
    ...generated,
    $defs: {
      overlay: {
        ...overlay,
        description:
          "An environment overlay: any top-level key except environments; every key optional.",
      },
    },
  };
}

// `type: [string, number]` is valid, but strict validators (ajv) refuse it: spell it as anyOf.
function typeListsAsAnyOf(node: unknown): void {
  if (typeof node !== "object" || node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) typeListsAsAnyOf(item);
    return;
  }
  const schema = node as JsonSchema;
  if (Array.isArray(schema.type) && schema.anyOf === undefined) {
    schema.anyOf = schema.type.map((type) => ({ type }));
    delete schema.type;
  }
  for (const [key, value] of Object.entries(schema))
    if (key !== "examples" && key !== "default") typeListsAsAnyOf(value);
}

// An overlay only names what changes, so nothing in it is required and no default applies.
function withoutRequiredOrDefaults(node: unknown): JsonSchema {
  if (Array.isArray(node)) return node.map(withoutRequiredOrDefaults) as unknown as JsonSchema;
  if (typeof node !== "object" || node === null) return node as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "required" || key === "default") continue;
    const isSchemaMap = key === "properties" || key === "$defs";
    out[key] = isSchemaMap
      ? Object.fromEntries(
          Object.entries(value as JsonSchema).map(([k, v]) => [k, withoutRequiredOrDefaults(v)]),
        )
      : typeof value === "object" && value !== null && key !== "examples" && key !== "enum"
        ? withoutRequiredOrDefaults(value)
        : value;
  }
  return out;
}
