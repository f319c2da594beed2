/** The agent's API from the CLI: one request per call, through `docker exec` on the host. */
import { UserError } from "../errors/index.ts";
import type { Transport } from "../transport/index.ts";
import { apiArgv } from "./plan.ts";

/** One request; the answer's status and body as text (a page, /metrics, JSON). */
export async function callAgentRaw(
  transport: Transport,
  method: "GET" | "POST" | "DELETE",
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
  method: "GET" | "POST" | "DELETE",
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
