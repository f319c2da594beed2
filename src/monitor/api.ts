/** The agent's API from the CLI: one request per call, through `docker exec` on the host. */
import { UserError } from "../errors/index.ts";
import type { Transport } from "../transport/index.ts";
import { apiArgv } from "./plan.ts";

export type ApiMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * `slipway monitor api METHOD PATH [--data JSON]` checked before anything is sent: a method the
 * agent knows, a path of its API, a body that is JSON. The body goes on stdin, never in argv.
 */
export function planApiRequest(
  method: string,
  path: string,
  data: string | undefined,
): { method: ApiMethod; path: string; body: unknown } {
  const upper = method.toUpperCase();
  if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(upper)) {
    throw new UserError({
      code: "monitor.api_method",
      message: `${method} is not a method of the agent's API`,
      hint: "GET, POST, PUT, PATCH or DELETE, e.g. slipway monitor api GET /api/settings",
    });
  }
  if (!/^\/[\x21-\x7e]*$/.test(path)) {
    throw new UserError({
      code: "monitor.api_path",
      message: `${JSON.stringify(path)} is not a path of the agent's API`,
      hint: "a path from /, e.g. /api/settings or /api/checks/hello/web",
    });
  }
  let body: unknown;
  if (data !== undefined && data.trim() !== "") {
    try {
      body = JSON.parse(data);
    } catch (error) {
      throw new UserError({
        code: "monitor.api_data",
        message: `--data is not JSON: ${(error as Error).message}`,
        hint: `e.g. --data '{"interval_ms": 30000}', or --data - to read it from stdin`,
      });
    }
  }
  return { method: upper as ApiMethod, path, body };
}

/** One request; the answer's status and body as text (a page, /metrics, JSON). */
export async function callAgentRaw(
  transport: Transport,
  method: ApiMethod,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const result = await transport.run(apiArgv(method, path), {
    check: false,
    stdin: body === undefined ? "" : JSON.stringify(body),
  });
  if (result.code !== 0) {
    throw new UserError({
      code: "agent.unreachable",
      message: `${transport.host}: the agent did not answer (${(result.stderr || result.stdout).trim().split("\n").at(-1) ?? `exit ${result.code}`})`,
      hint: "is it installed and running? slipway agent install; slipway agent logs",
    });
  }
  const newline = result.stdout.indexOf("\n");
  return {
    status: Number(result.stdout.slice(0, newline)),
    body: result.stdout.slice(newline + 1),
  };
}

/** One request; the answer's status and its JSON (or text, when it is not JSON). */
export async function callAgent(
  transport: Transport,
  method: ApiMethod,
  path: string,
  body?: unknown,
): Promise<{ status: number; value: unknown }> {
  const { status, body: text } = await callAgentRaw(transport, method, path, body);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // plain text (e.g. /metrics)
  }
  return { status, value };
}
