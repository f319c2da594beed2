/**
 * Notifications that reach people: a JSON webhook, signed with HMAC-SHA256 when it has a key (the
 * receiver checks `X-Slipway-Signature: sha256=<hex>` over "<timestamp>.<body>" and refuses old
 * timestamps, so a captured request cannot be replayed); Slack and Discord incoming webhooks;
 * Telegram's Bot API; e-mail over SMTP. Failed sends are retried with doubling delays; every
 * outcome is returned for the store, so a failed notification is never silent. Secrets (keys,
 * webhook URLs, tokens, passwords) are read from files at each send and never appear in errors.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { requestFor } from "./builtins.ts";
import type { NotifierConfig } from "./config.ts";

export interface Notice {
  event: "open" | "resolve" | "remind" | "flapping" | "escalate" | "test";
  service: string;
  host: string;
  check: string;
  severity: string;
  /** One line for people: "hello-web is down: HTTP 503". */
  message: string;
  incident?: { id: number; opened_at: string; resolved_at?: string; duration_s?: number };
  at: string;
}

export interface SendOutcome {
  ok: boolean;
  attempts: number;
  error: string | undefined;
}

const SEND_TIMEOUT_MS = 10_000;

/** Signature header value of a body sent at `timestamp` (seconds), for receivers to recompute. */
export function signature(key: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** One try: sent, or why not and whether another try may help. */
type Attempt = () => Promise<{ ok: true } | { ok: false; error: string; retry: boolean }>;

export async function send(
  notifier: NotifierConfig,
  notice: Notice,
  options: {
    attempts: number;
    backoffMs: number;
    env: Readonly<Record<string, string | undefined>>;
  },
): Promise<SendOutcome> {
  let attempt: Attempt;
  try {
    attempt = await prepare(notifier, notice, options.env);
  } catch (error) {
    return { ok: false, attempts: 0, error: (error as Error).message };
  }
  let error = "";
  for (let n = 1; n <= options.attempts; n++) {
    const outcome = await attempt().catch((e: NodeJS.ErrnoException) => ({
      ok: false as const,
      error: e.code ?? e.message,
      retry: true,
    }));
    if (outcome.ok) return { ok: true, attempts: n, error: undefined };
    error = outcome.error;
    if (!outcome.retry) return { ok: false, attempts: n, error };
    if (n < options.attempts) {
      await new Promise((r) => setTimeout(r, options.backoffMs * 2 ** (n - 1)));
    }
  }
  return { ok: false, attempts: options.attempts, error };
}

/** A secret kept in a file on the host, read at each send (a new one needs no restart). */
function secretFile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
}

/** One line for chats: what happened, to what, where. */
function chatText(notice: Notice): string {
  const mark = {
    open: "🔴",
    remind: "🔴",
    escalate: "🔴",
    resolve: "✅",
    flapping: "🟠",
    test: "ℹ️",
  }[notice.event];
  return `${mark} ${notice.message} (${notice.service} on ${notice.host}, ${notice.severity})`;
}

async function prepare(
  notifier: NotifierConfig,
  notice: Notice,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Attempt> {
  switch (notifier.kind) {
    case "webhook": {
      let key: string | undefined;
      if (notifier.secret_env !== undefined) {
        key = env[notifier.secret_env];
        if (!key) throw new Error(`${notifier.secret_env} is not set in the agent's environment`);
      } else if (notifier.secret_file !== undefined) {
        key = secretFile(notifier.secret_file);
      }
      const body = JSON.stringify(notice);
      return () => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        return postJson(notifier.url, body, {
          "x-slipway-event": notice.event,
          "x-slipway-timestamp": timestamp,
          ...(key ? { "x-slipway-signature": signature(key, timestamp, body) } : {}),
        });
      };
    }
    case "slack":
      return postOnce(secretFile(notifier.url_file), { text: chatText(notice) });
    case "discord":
      return postOnce(secretFile(notifier.url_file), { content: chatText(notice) });
    case "telegram": {
      const token = secretFile(notifier.token_file);
      const url = `${notifier.api_url.replace(/\/$/, "")}/bot${token}/sendMessage`;
      return postOnce(url, { chat_id: notifier.chat_id, text: chatText(notice) });
    }
    case "email":
      return emailAttempt(notifier, notice);
  }
}

function postOnce(url: string, value: unknown): Attempt {
  const body = JSON.stringify(value);
  return () => postJson(url, body, {});
}

/** POSTs JSON; a 4xx other than 408 and 429 will not change by retrying. */
async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
): ReturnType<Attempt> {
  const status = await post(
    url,
    { "content-type": "application/json", "user-agent": "slipway-agent", ...headers },
    body,
  );
  if (status >= 200 && status < 300) return { ok: true };
  const retry = !(status >= 400 && status < 500 && status !== 408 && status !== 429);
  return { ok: false, error: `HTTP ${status}`, retry };
}

type EmailNotifier = Extract<NotifierConfig, { kind: "email" }>;

/** nodemailer is loaded on the first e-mail only: most agents never send one. */
async function emailAttempt(notifier: EmailNotifier, notice: Notice): Promise<Attempt> {
  const { createTransport } = await import("nodemailer");
  const url = new URL(notifier.smtp_url);
  const secure = url.protocol === "smtps:" || url.port === "465";
  const user = decodeURIComponent(url.username);
  const pass =
    notifier.password_file === undefined ? undefined : secretFile(notifier.password_file);
  const transport = createTransport({
    host: url.hostname,
    port: Number(url.port || (secure ? 465 : 587)),
    secure,
    ...(user ? { auth: { user, pass: pass ?? "" } } : {}),
    connectionTimeout: SEND_TIMEOUT_MS,
    greetingTimeout: SEND_TIMEOUT_MS,
    socketTimeout: SEND_TIMEOUT_MS,
  });
  const lines = [
    notice.message,
    "",
    `App: ${notice.service}`,
    `Host: ${notice.host}`,
    `Check: ${notice.check}`,
    `Severity: ${notice.severity}`,
    `At: ${notice.at}`,
    ...(notice.incident
      ? [`Incident: #${notice.incident.id}, opened ${notice.incident.opened_at}`]
      : []),
    ...(notice.incident?.duration_s !== undefined
      ? [`Duration: ${notice.incident.duration_s}s`]
      : []),
  ];
  return async () => {
    try {
      await transport.sendMail({
        from: notifier.from,
        to: notifier.to,
        subject: `[Slipway] ${notice.message}`,
        text: `${lines.join("\n")}\n`,
        headers: { "X-Slipway-Event": notice.event },
      });
      return { ok: true };
    } catch (error) {
      const e = error as { responseCode?: number; code?: string; message: string };
      // A permanent SMTP refusal (5xx: bad address, bad login) will not change by retrying.
      const retry = !(e.responseCode !== undefined && e.responseCode >= 500);
      return {
        ok: false,
        error: e.responseCode ? `SMTP ${e.responseCode}` : (e.code ?? e.message),
        retry,
      };
    }
  };
}

function post(url: string, headers: Record<string, string>, body: string): Promise<number> {
  const target = new URL(url);
  const request = requestFor(target);
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method: "POST",
      agent: false,
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      timeout: SEND_TIMEOUT_MS,
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${SEND_TIMEOUT_MS}ms`)));
    req.on("error", reject);
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.end(body);
  });
}
