/**
 * `slipway monitor api METHOD PATH [--data JSON|-] [--host HOST]` and `slipway agent upgrade`: the
 * agent's API on each host of the app (or one) through SSH and `docker exec`, the token kept on
 * the host; and this Slipway's agent put on each host.
 */
import { ExitCode } from "../../errors/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

export async function api(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { appHosts, callAgentRaw, planApiRequest } = await import("../../monitor/index.ts");
  const data = typeof options.data === "string" ? options.data : undefined;
  const request = planApiRequest(
    args[0] ?? "",
    args[1] ?? "",
    data === "-" ? await readStdin() : data,
  );
  return withConnections(context, async (loaded, connections) => {
    const hosts = typeof options.host === "string" ? [options.host] : appHosts(loaded);
    const answers = [];
    for (const host of hosts) {
      const { status, body } = await callAgentRaw(
        connections.get(host),
        request.method,
        request.path,
        request.body,
      );
      answers.push({ host, status, body: parsed(body) });
    }
    if (context.flags.json) context.print(JSON.stringify(answers, null, 2));
    else {
      for (const a of answers) {
        const text =
          typeof a.body === "string" ? a.body.trimEnd() : JSON.stringify(a.body, null, 2);
        context.print(`${a.host}: ${a.status}${text ? `\n${text}` : ""}`);
      }
    }
    return answers.some((a) => a.status >= 400) ? ExitCode.failure : ExitCode.ok;
  });
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `slipway agent upgrade`: each host's agent from its version to this Slipway's. */
export async function upgrade(context: CommandContext): Promise<number> {
  const { upgradeAgent } = await import("../../monitor/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const outcomes = await upgradeAgent(loaded, connections, context.reporter);
    if (context.flags.json) context.print(JSON.stringify(outcomes, null, 2));
    else {
      for (const o of outcomes) {
        context.print(
          !o.upgraded
            ? `${o.host}: agent ${o.to}, already current`
            : o.from === o.to
              ? `${o.host}: agent ${o.to}, started again (it was stopped)`
              : `${o.host}: agent ${o.from} → ${o.to}`,
        );
      }
    }
    return ExitCode.ok;
  });
}
