/**
 * What the agent runs, and changes to it through the API: checks added, replaced, changed or
 * removed at run time. A change is an override kept in the store: of a check from the config
 * files (deleting the override brings the file's version back) or of a check the API added. Pure:
 * the server stores what these functions return.
 */
import { type AgentConfig, type CheckConfig, checkSchema, type NotifierConfig } from "./config.ts";

/** Where a running check comes from. */
export type CheckSource = "file" | "override" | "api";

/** The checks the agent runs: the files' checks with their overrides, then the API's own. */
export function effectiveChecks(
  base: readonly CheckConfig[],
  overrides: ReadonlyMap<string, CheckConfig>,
): CheckConfig[] {
  const names = new Set(base.map((c) => c.name));
  const added = [...overrides.values()].filter((c) => !names.has(c.name));
  return [...base.map((c) => overrides.get(c.name) ?? c), ...added];
}

/** A bad request: a message and, for a bad check, each bad key. */
export class SettingsError extends Error {
  readonly status: number;
  readonly issues: string[];
  constructor(status: number, message: string, issues: string[] = []) {
    super(message);
    this.status = status;
    this.issues = issues;
  }
}

/**
 * A check from a PUT body, named by its path. Without service and notify, a check named
 * "<app>/..." belongs to that app and alerts its notifiers, as the app's own checks do.
 */
export function checkFromBody(
  name: string,
  body: Record<string, unknown>,
  notifiers: readonly NotifierConfig[],
): CheckConfig {
  if (body.name !== undefined && body.name !== name) {
    throw new SettingsError(400, `the body names ${JSON.stringify(body.name)}, the path ${name}`);
  }
  const app = appOf(name, notifiers);
  const defaults =
    app === undefined
      ? {}
      : {
          service: app,
          notify: notifiers.filter((n) => n.name.startsWith(`${app}/`)).map((n) => n.name),
        };
  return validCheck(name, { ...defaults, ...body, name });
}

/**
 * A check with some fields changed: alerting's fields merge into the current ones, null removes
 * an optional field; name and kind stay (a new kind is a PUT).
 */
export function patchCheck(current: CheckConfig, patch: Record<string, unknown>): CheckConfig {
  for (const key of ["name", "kind"]) {
    if (patch[key] !== undefined && patch[key] !== (current as Record<string, unknown>)[key]) {
      throw new SettingsError(400, `${key} cannot be changed by PATCH`, [
        `${key}: replace the check with PUT instead`,
      ]);
    }
  }
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else if (key === "alerting" && typeof value === "object" && !Array.isArray(value)) {
      next.alerting = { ...current.alerting, ...value };
    } else next[key] = value;
  }
  return validCheck(current.name, next);
}

function validCheck(name: string, data: Record<string, unknown>): CheckConfig {
  const parsed = checkSchema.safeParse(data);
  if (!parsed.success) {
    throw new SettingsError(
      400,
      `check ${name} is not valid`,
      parsed.error.issues.map((issue) => describeIssue(issue as unknown as Issue)),
    );
  }
  return parsed.data;
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  expected?: string;
  keys?: string[];
  options?: unknown[];
  note?: string;
  format?: string;
  values?: unknown[];
}

/** One bad key in words (zod/mini's own messages are all "Invalid input"). */
export function describeIssue(issue: Issue): string {
  const where = issue.path.map(String).join(".") || "(body)";
  switch (issue.code) {
    case "unrecognized_keys":
      return `${where}: unknown key${issue.keys?.length === 1 ? "" : "s"} ${issue.keys?.join(", ")}`;
    case "too_small":
      return `${where}: must be at least ${issue.minimum}`;
    case "too_big":
      return `${where}: must be at most ${issue.maximum}`;
    case "invalid_type":
      return `${where}: expected ${issue.expected}`;
    case "invalid_format":
      return `${where}: not a valid ${issue.format === "url" ? "http(s) URL" : issue.format}`;
    case "invalid_union":
      return issue.options
        ? `${where}: must be one of ${issue.options.join(", ")}`
        : `${where}: not valid`;
    case "invalid_value":
      return `${where}: must be one of ${issue.values?.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${where}: ${issue.note ?? issue.message}`;
  }
}

/** The app a check's name says it belongs to ("hello/web": hello), when the agent has that app. */
function appOf(name: string, notifiers: readonly NotifierConfig[]): string | undefined {
  const slash = name.indexOf("/");
  if (slash <= 0) return undefined;
  const app = name.slice(0, slash);
  return notifiers.some((n) => n.name.startsWith(`${app}/`)) ? app : undefined;
}

/** A notifier as settings show it: where it sends, never a secret nor where one is kept. */
export function notifierView(n: NotifierConfig): Record<string, unknown> {
  switch (n.kind) {
    case "webhook":
      return {
        name: n.name,
        kind: n.kind,
        url: n.url,
        signed: n.secret_env !== undefined || n.secret_file !== undefined,
      };
    case "slack":
    case "discord":
      return { name: n.name, kind: n.kind };
    case "telegram":
      return { name: n.name, kind: n.kind, chat_id: n.chat_id, api_url: n.api_url };
    case "email":
      return { name: n.name, kind: n.kind, to: n.to, from: n.from, smtp_url: n.smtp_url };
  }
}

/** GET /api/settings: each running check with its source (and the file's version it overrides). */
export function settingsView(
  config: AgentConfig,
  overrides: ReadonlyMap<string, CheckConfig>,
): Record<string, unknown> {
  const files = new Map(config.checks.map((c) => [c.name, c]));
  return {
    host: config.host,
    service: config.service,
    public_status: config.public_status,
    raw_retention_ms: config.raw_retention_ms,
    notify_attempts: config.notify_attempts,
    notify_backoff_ms: config.notify_backoff_ms,
    checks: effectiveChecks(config.checks, overrides).map((check) => {
      const file = files.get(check.name);
      const source: CheckSource =
        file === undefined ? "api" : overrides.has(check.name) ? "override" : "file";
      return {
        ...check,
        paused: check.paused ?? false,
        source,
        ...(source === "override" ? { file } : {}),
      };
    }),
    notifiers: config.notifiers.map(notifierView),
  };
}
