/**
 * The agent's own configuration: a JSON file Slipway writes on each host from slipway.yml. Times
 * are milliseconds. Secrets (the API token, webhook signing keys) are not in it: they arrive in
 * the agent's environment, named here, so the file can be read without revealing them.
 */
import { z } from "zod";

const ms = z.int().min(1);

/** How a check's results become incidents: the runbooks' "3 failures open, 2 successes resolve". */
const alerting = z.strictObject({
  /** Consecutive failures that open an incident. */
  open_after: z.int().min(1).default(3),
  /** Consecutive successes that resolve it. */
  resolve_after: z.int().min(1).default(2),
  /** While open, a reminder this often; 0: none. */
  remind_ms: z.int().min(0).default(3_600_000),
  /** More status changes than flap_changes within flap_window_ms: flapping, notified once. */
  flap_changes: z.int().min(2).default(6),
  flap_window_ms: ms.default(1_800_000),
  severity: z.enum(["critical", "warning", "info"]).default("critical"),
});

const common = {
  name: z.string().min(1).max(100),
  interval_ms: ms.default(60_000),
  timeout_ms: ms.default(10_000),
  alerting: alerting.prefault({}),
};

const httpCheck = z.strictObject({
  ...common,
  kind: z.literal("http"),
  url: z.url({ protocol: /^https?$/ }),
  /** Statuses that count as up, as [lowest, highest]. */
  status: z.tuple([z.int(), z.int()]).default([200, 399]),
  /** Text the body must contain (the first 64 KiB are read). */
  keyword: z.string().min(1).optional(),
  /** Slower than this counts as a failure; absent: only the timeout. */
  max_latency_ms: ms.optional(),
  /** Redirects followed (0: a 3xx is the answer). */
  follow_redirects: z.int().min(0).max(10).default(0),
});

const tcpCheck = z.strictObject({
  ...common,
  kind: z.literal("tcp"),
  host: z.string().min(1),
  port: z.int().min(1).max(65_535),
});

export const checkSchema = z.discriminatedUnion("kind", [httpCheck, tcpCheck]);

const webhook = z.strictObject({
  name: z.string().min(1),
  kind: z.literal("webhook"),
  url: z.url({ protocol: /^https?$/ }),
  /** Environment variable holding the HMAC-SHA256 signing key; absent: unsigned. */
  secret_env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
});

export const notifierSchema = z.discriminatedUnion("kind", [webhook]);

export const agentConfigSchema = z.strictObject({
  /** The app (or host) this agent watches, in notifications. */
  service: z.string().min(1),
  host: z.string().min(1),
  checks: z.array(checkSchema).default([]),
  notifiers: z.array(notifierSchema).default([]),
  listen: z
    .strictObject({ address: z.string().default("127.0.0.1"), port: z.int().min(0).max(65_535) })
    .prefault({ port: 9465 }),
  /** Environment variable holding the API token; absent: the API answers only /healthz. */
  token_env: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
  /** Raw results are kept this long; hourly summaries for 90 days. */
  raw_retention_ms: ms.default(2 * 86_400_000),
  /** Notification attempts and the first delay between them (doubling). */
  notify_attempts: z.int().min(1).max(10).default(4),
  notify_backoff_ms: ms.default(2_000),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type CheckConfig = z.infer<typeof checkSchema>;
export type NotifierConfig = z.infer<typeof notifierSchema>;
export type AlertPolicy = z.infer<typeof alerting>;

/** Parses the agent's config file; the error names each bad key by its path. */
export function parseAgentConfig(text: string, file: string): AgentConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON: ${(error as Error).message}`);
  }
  const parsed = agentConfigSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".") || "(top)"}: ${issue.message}`,
    );
    throw new Error(`${file}: not a valid agent configuration:\n${lines.join("\n")}`);
  }
  const names = new Set<string>();
  for (const check of parsed.data.checks) {
    if (names.has(check.name)) throw new Error(`${file}: two checks are named ${check.name}`);
    names.add(check.name);
  }
  return parsed.data;
}
