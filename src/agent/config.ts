/**
 * The agent's own configuration: a JSON file Slipway writes on each host from slipway.yml. Times
 * are milliseconds. Secrets (the API token, webhook signing keys) are not in it: they arrive in
 * the agent's environment, named here, so the file can be read without revealing them.
 */
// zod/mini, not zod: the same validation at a tenth of the memory (the agent's budget is 64 MB).
import { Cron } from "croner";
import * as z from "zod/mini";

const whole = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().check(z.gte(min), z.lte(max));
const ms = whole(1);
const envName = z.string().check(z.regex(/^[A-Z_][A-Z0-9_]*$/));
const httpUrl = z.url({ protocol: /^https?$/ });
const text = (max = 1_000) => z.string().check(z.minLength(1), z.maxLength(max));

/** How a check's results become incidents: the runbooks' "3 failures open, 2 successes resolve". */
const alerting = z.strictObject({
  /** Consecutive failures that open an incident. */
  open_after: z._default(whole(1), 3),
  /** Consecutive successes that resolve it. */
  resolve_after: z._default(whole(1), 2),
  /** While open, a reminder this often; 0: none. */
  remind_ms: z._default(whole(0), 3_600_000),
  /** More status changes than flap_changes within flap_window_ms: flapping, notified once. */
  flap_changes: z._default(whole(2), 6),
  flap_window_ms: z._default(ms, 1_800_000),
  severity: z._default(z.enum(["critical", "warning", "info"]), "critical"),
});

const common = {
  name: text(200),
  /** The app it belongs to, in notifications; absent: the agent's service. */
  service: z.optional(text()),
  /** Names of the notifiers it alerts; absent: every notifier. */
  notify: z.optional(z.array(text(200))),
  /** An objective in percent of successful runs (99.9): alerts on error-budget burn too. */
  slo: z.optional(z.number().check(z.gt(0), z.lt(100))),
  interval_ms: z._default(ms, 60_000),
  timeout_ms: z._default(ms, 10_000),
  alerting: z.prefault(alerting, {}),
  /** Not run while true (set through the API: PATCH /api/checks/NAME). */
  paused: z.optional(z.boolean()),
};

const httpCheck = z.strictObject({
  ...common,
  kind: z.literal("http"),
  url: httpUrl,
  /** Statuses that count as up, as [lowest, highest]. */
  status: z._default(z.tuple([z.int(), z.int()]), [200, 399]),
  /** Text the body must contain (the first 64 KiB are read). */
  keyword: z.optional(text()),
  /** Slower than this counts as a failure; absent: only the timeout. */
  max_latency_ms: z.optional(ms),
  /** Redirects followed (0: a 3xx is the answer). */
  follow_redirects: z._default(whole(0, 10), 0),
  /** The p95 of the last p95_answers times over this: an incident "<check> latency" (latency.ts). */
  p95_ms: z.optional(ms),
  p95_answers: z._default(whole(2, 1_000), 20),
});

const tcpCheck = z.strictObject({
  ...common,
  kind: z.literal("tcp"),
  host: text(),
  port: whole(1, 65_535),
});

/**
 * The host itself, as the runbooks watch it: CPU busy, memory used, disk used (of the folder's
 * filesystem) in percent, or the 1-minute load per core; failing above `above`.
 */
const hostCheck = z.strictObject({
  ...common,
  kind: z.literal("host"),
  metric: z.enum(["cpu", "memory", "disk", "load"]),
  above: z.number().check(z.gt(0)),
  /** For disk: a folder on the filesystem to watch. */
  path: z._default(text(), "/"),
});

/** A TLS certificate that must stay valid for more than `min_days` (and verify, unless told). */
const tlsCheck = z.strictObject({
  ...common,
  kind: z.literal("tls"),
  host: text(),
  port: z._default(whole(1, 65_535), 443),
  /** The name the certificate must be for (SNI); default: host. */
  servername: z.optional(text()),
  min_days: z._default(whole(0), 14),
  /** Check expiry only, not the chain (a private CA the agent does not know). */
  verify: z._default(z.boolean(), true),
});

/** A DNS name that must resolve, to the expected records when given. */
const dnsCheck = z.strictObject({
  ...common,
  kind: z.literal("dns"),
  /** The name to resolve (no scheme, no port). */
  host: text(),
  record: z._default(z.enum(["A", "AAAA", "CNAME", "MX", "TXT", "NS"]), "A"),
  /** Each of these must be among the answers (MX: the exchange; TXT: the joined text). */
  expect: z._default(z.array(text()), []),
  /** "ADDRESS[:PORT]" of the server to ask; default: the system's resolvers. */
  server: z.optional(text()),
});

/**
 * A push check: the app calls /ping/<key> at least every period_ms (see heartbeat.ts); later than
 * period_ms + grace_ms, or a call to /ping/<key>/fail, is a failure. interval_ms: how often a
 * missing ping counts again while it stays missing.
 */
const heartbeatCheck = z.strictObject({
  ...common,
  kind: z.literal("heartbeat"),
  // Both within a timer's reach (24.8 days together).
  period_ms: whole(1_000, 1_000_000_000),
  grace_ms: z._default(whole(0, 1_000_000_000), 300_000),
  /** A file holding the ping key, the secret part of the URL; read at start. */
  key_file: text(),
});

/** A role's newest running container (by its labels) runs, is not unhealthy, did not restart. */
const containerCheck = z.strictObject({
  ...common,
  kind: z.literal("container"),
  /** The role, for people ("no running container of web"). */
  role: text(200),
  /** Labels that select the role's containers. */
  labels: z.record(text(200), z.string().check(z.maxLength(1_000))),
});

export const checkSchema = z.discriminatedUnion("kind", [
  httpCheck,
  tcpCheck,
  hostCheck,
  tlsCheck,
  dnsCheck,
  heartbeatCheck,
  containerCheck,
]);

const cronExpression = z.string().check(
  z.minLength(1),
  z.refine((s) => {
    try {
      new Cron(s, { paused: true });
      return true;
    } catch {
      return false;
    }
  }, "not a cron expression croner reads"),
);

/** What every job has, whatever it runs: when, how late at most, and what a missed run does. */
const jobCommon = {
  name: text(200),
  /** The app it belongs to, in notifications; absent: the agent's service. */
  service: z.optional(text()),
  /** Names of the notifiers a failure alerts; absent: every notifier. */
  notify: z.optional(z.array(text(200))),
  schedule: cronExpression,
  /** Each run starts up to this much later than its time, at random. */
  jitter_ms: z._default(whole(0), 0),
  /** A run missed while the agent was down: skipped, or run once when it is back. */
  missed: z._default(z.enum(["skip", "run_once"]), "skip"),
  /** A run still going after this long is stopped and fails. */
  timeout_ms: z._default(ms, 3_600_000),
  /** A deploy lock folder: a due run waits while it is held, so it never runs during a deploy. */
  lock_path: z.optional(text()),
  /**
   * No successful run within this long (since the last one, or the agent's start) opens the
   * incident "<job> stale", even when no run failed: a backup that silently stopped happening.
   */
  stale_ms: z.optional(ms),
};

/**
 * A command in a one-off container made like the role's newest running container (its image,
 * env, network and volumes), removed when it ends.
 */
const containerJob = z.strictObject({
  ...jobCommon,
  kind: z.literal("container"),
  role: text(200),
  /** Labels that select the role's containers. */
  labels: z.record(text(200), z.string().check(z.maxLength(1_000))),
  command: z.array(z.string()).check(z.minLength(1)),
});

/**
 * A one-off container of Slipway's own (the backup runner): its image, command, mounts, env and
 * labels as given, removed when it ends. A line of its output starting with `result_prefix` holds
 * JSON whose `summary` becomes the run's detail.
 */
const runnerJob = z.strictObject({
  ...jobCommon,
  kind: z.literal("runner"),
  image: text(),
  command: z.array(z.string()).check(z.minLength(1)),
  mounts: z._default(
    z.array(
      z.strictObject({
        source: text(),
        target: text(),
        read_only: z._default(z.boolean(), false),
      }),
    ),
    [],
  ),
  env: z._default(z.array(z.string()), []),
  labels: z._default(z.record(text(200), z.string().check(z.maxLength(1_000))), {}),
  result_prefix: z.optional(text(200)),
});

/**
 * A site's certificate renewal (src/certs): when due, or when the CA's renewal information says,
 * the certificate runner in a one-off container of `image`, then the proxy reloaded (SIGHUP) and
 * seen to serve the new certificate.
 */
const certificateJob = z.strictObject({
  ...jobCommon,
  kind: z.literal("certificate"),
  /** The site's order file (src/certs), also read here for the due date. */
  order: text(4_096),
  /** The image the runner runs in (Node 22 or newer: the agent's). */
  image: text(),
  /** The runner, certs.mjs, on the host (its folder is mounted read-only into its container). */
  runner: text(4_096),
  /** The proxy container that reloads (SIGHUP) once the new certificate is in place. */
  proxy: z._default(text(200), "slipway-proxy"),
  /** The network the runner joins (an ACME CA inside it answers by name). */
  network: z._default(text(200), "slipway"),
  /** Where the proxy serves HTTPS to the agent, "HOST:PORT", to see the new certificate served. */
  serves: z._default(text(), "slipway-proxy:443"),
  /**
   * On a web host that does not issue: the certificate is fetched, sealed, from the one that
   * does (src/certs/share.ts), rather than from the CA.
   */
  from: z.optional(
    z.strictObject({
      /** http://ISSUER/.well-known/acme-challenge/slipway-<site>.certificate */
      url: httpUrl,
      /** The Host the issuing host's proxy serves the site under (one of its domains). */
      host: text(),
      /** The site's sharing key (base64url, 32 bytes). */
      key_file: text(4_096),
    }),
  ),
});

/**
 * Jobs by kind: the app's commands (container), Slipway's own one-off work such as backups
 * (runner), certificate renewal (certificate).
 */
export const jobSchema = z.discriminatedUnion("kind", [containerJob, runnerJob, certificateJob]);

const webhook = z.strictObject({
  name: text(200),
  kind: z.literal("webhook"),
  url: httpUrl,
  /** Environment variable holding the HMAC-SHA256 signing key; absent: unsigned. */
  secret_env: z.optional(envName),
  /** Or a file holding it (read at each send, so a new key needs no restart). */
  secret_file: z.optional(text()),
});

/** Slack or Discord incoming webhooks: the URL is the secret, so it comes from a file. */
const chatWebhook = (kind: "slack" | "discord") =>
  z.strictObject({
    name: text(200),
    kind: z.literal(kind),
    url_file: text(),
  });

/** Telegram's Bot API: sendMessage to a chat, the bot's token from a file. */
const telegram = z.strictObject({
  name: text(200),
  kind: z.literal("telegram"),
  chat_id: text(),
  token_file: text(),
  /** The Bot API's address (another only for a self-hosted Bot API server). */
  api_url: z._default(httpUrl, "https://api.telegram.org"),
});

/** E-mail over SMTP (STARTTLS when the server offers it; TLS from the start on port 465). */
const email = z.strictObject({
  name: text(200),
  kind: z.literal("email"),
  to: z.array(text()).check(z.minLength(1)),
  from: text(),
  /** smtp://user@host:port (no password: that comes from password_file). */
  smtp_url: z.url({ protocol: /^smtps?$/ }),
  password_file: z.optional(text()),
});

export const notifierSchema = z.discriminatedUnion("kind", [
  webhook,
  chatWebhook("slack"),
  chatWebhook("discord"),
  telegram,
  email,
]);

export const agentConfigSchema = z.strictObject({
  /** The app (or host) this agent watches, in notifications. */
  service: text(),
  host: text(),
  checks: z._default(z.array(checkSchema), []),
  notifiers: z._default(z.array(notifierSchema), []),
  jobs: z._default(z.array(jobSchema), []),
  listen: z.prefault(
    z.strictObject({
      address: z._default(z.string(), "127.0.0.1"),
      port: whole(0, 65_535),
    }),
    { port: 9465 },
  ),
  /** Environment variable holding the API token; absent: the API answers only /healthz. */
  token_env: z.optional(envName),
  /** Or a file holding it. */
  token_file: z.optional(text()),
  /** The host's container engine (Docker's API), for container checks and jobs. */
  engine_socket: z._default(text(), "/var/run/docker.sock"),
  /** The status page (/status) without the token; the API still needs it. */
  public_status: z._default(z.boolean(), false),
  /** Raw results are kept this long; hourly summaries for 90 days. */
  raw_retention_ms: z._default(ms, 2 * 86_400_000),
  /** Notification attempts and the first delay between them (doubling). */
  notify_attempts: z._default(whole(1, 10), 4),
  notify_backoff_ms: z._default(ms, 2_000),
});

/**
 * One app's part of a host's agent, as `slipway agent install` writes it (one file per app and
 * environment in the agent's config folder): its checks and notifiers.
 */
export const fragmentSchema = z.strictObject({
  service: text(),
  checks: z._default(z.array(checkSchema), []),
  notifiers: z._default(z.array(notifierSchema), []),
  jobs: z._default(z.array(jobSchema), []),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentFragment = z.infer<typeof fragmentSchema>;
export type CheckConfig = z.infer<typeof checkSchema>;
export type JobConfig = z.infer<typeof jobSchema>;
export type NotifierConfig = z.infer<typeof notifierSchema>;
export type AlertPolicy = z.infer<typeof alerting>;

/** Parses the agent's config file; the error names each bad key by its path. */
export function parseAgentConfig(text: string, file: string): AgentConfig {
  const config = parseWith(agentConfigSchema, text, file);
  uniqueNames(config.checks, file);
  uniqueNames(config.jobs, file, "jobs");
  return config;
}

/**
 * The agent's configuration from its folder of app fragments: each app's checks and notifiers
 * named "<service>/<name>", so apps sharing a host never collide, and each check alerts only its
 * own app's notifiers.
 */
export function mergeFragments(
  files: readonly { file: string; text: string }[],
  host: Pick<AgentConfig, "host" | "listen" | "token_env" | "token_file"> &
    Partial<Pick<AgentConfig, "public_status" | "engine_socket">>,
): AgentConfig {
  const checks: CheckConfig[] = [];
  const notifiers: NotifierConfig[] = [];
  const jobs: JobConfig[] = [];
  for (const { file, text } of files) {
    const fragment = parseWith(fragmentSchema, text, file);
    const named = (name: string) => `${fragment.service}/${name}`;
    const own = fragment.notifiers.map((n) => ({ ...n, name: named(n.name) }));
    notifiers.push(...own);
    for (const check of fragment.checks) {
      checks.push({
        ...check,
        name: named(check.name),
        service: fragment.service,
        notify: own.map((n) => n.name),
      });
    }
    for (const job of fragment.jobs) {
      jobs.push({
        ...job,
        name: named(job.name),
        service: fragment.service,
        notify: own.map((n) => n.name),
      });
    }
  }
  const config = agentConfigSchema.parse({
    service: host.host,
    ...host,
    checks,
    notifiers,
    jobs,
  });
  uniqueNames(config.checks, "the agent's configuration folder");
  uniqueNames(config.jobs, "the agent's configuration folder", "jobs");
  return config;
}

function parseWith<T extends z.ZodMiniType>(schema: T, text: string, file: string): z.infer<T> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".") || "(top)"}: ${issue.message}`,
    );
    throw new Error(`${file}: not a valid agent configuration:\n${lines.join("\n")}`);
  }
  return parsed.data as z.infer<T>;
}

function uniqueNames(
  items: readonly { name: string }[],
  where: string,
  what: "checks" | "jobs" = "checks",
): void {
  const names = new Set<string>();
  for (const check of items) {
    if (names.has(check.name)) throw new Error(`${where}: two ${what} are named ${check.name}`);
    names.add(check.name);
  }
}
