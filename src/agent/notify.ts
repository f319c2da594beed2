/**
 * Notifications that reach people: a JSON webhook, signed with HMAC-SHA256 when it has a key (the
 * receiver checks `X-Slipway-Signature: sha256=<hex>` over "<timestamp>.<body>" and refuses old
 * timestamps, so a captured request cannot be replayed). Failed sends are retried with doubling
 * delays; every outcome is returned for the store, so a failed notification is never silent.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { requestFor } from "./builtins.ts";
import type { NotifierConfig } from "./config.ts";

export interface Notice {
  event: "open" | "resolve" | "remind" | "flapping" | "test";
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

export async function send(
  notifier: NotifierConfig,
  notice: Notice,
  options: {
    attempts: number;
    backoffMs: number;
    env: Readonly<Record<string, string | undefined>>;
  },
): Promise<SendOutcome> {
  let key: string | undefined;
  if (notifier.secret_env !== undefined) {
    key = options.env[notifier.secret_env];
    if (!key) {
      const error = `${notifier.secret_env} is not set in the agent's environment`;
      return { ok: false, attempts: 0, error };
    }
  } else if (notifier.secret_file !== undefined) {
    try {
      key = readFileSync(notifier.secret_file, "utf8").trim();
    } catch (e) {
      const error = `${notifier.secret_file}: ${(e as NodeJS.ErrnoException).code}`;
      return { ok: false, attempts: 0, error };
    }
  }
  const body = JSON.stringify(notice);
  let error = "";
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "slipway-agent",
      "x-slipway-event": notice.event,
      "x-slipway-timestamp": timestamp,
      ...(key ? { "x-slipway-signature": signature(key, timestamp, body) } : {}),
    };
    try {
      const status = await post(notifier.url, headers, body);
      if (status >= 200 && status < 300) return { ok: true, attempts: attempt, error: undefined };
      error = `HTTP ${status}`;
      // A client error will not change by retrying (a wrong URL or a refused signature).
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        return { ok: false, attempts: attempt, error };
      }
    } catch (e) {
      error = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
    if (attempt < options.attempts) {
      await new Promise((r) => setTimeout(r, options.backoffMs * 2 ** (attempt - 1)));
    }
  }
  return { ok: false, attempts: options.attempts, error };
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
