/**
 * The agent as Slipway ships it (dist/agent-bundle, npm run build makes it), started as a real
 * process with Slipway's Node flags on `dir/agent.json` with its state in `dir`.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../../src/agent/index.ts";

export const AGENT_BUNDLE = new URL("../../dist/agent-bundle/agent.mjs", import.meta.url).pathname;

export interface AgentProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT of its API. */
  base: string;
  /** Everything it printed so far. */
  output(): string;
}

/** Writes `config` (when given) to dir/agent.json, starts the agent, waits until it listens. */
export async function startAgentProcess(
  dir: string,
  options: { config?: unknown; env?: Record<string, string> } = {},
): Promise<AgentProcess> {
  assert.ok(existsSync(AGENT_BUNDLE), `${AGENT_BUNDLE} is missing: run npm run build first`);
  if (options.config !== undefined) {
    await writeFile(join(dir, "agent.json"), JSON.stringify(options.config));
  }
  const args = [
    ...AGENT_NODE_FLAGS,
    AGENT_BUNDLE,
    "--config",
    join(dir, "agent.json"),
    "--state",
    dir,
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c) => {
    out += c;
  });
  child.stderr?.on("data", (c) => {
    out += c;
  });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the agent did not listen within 10s: ${out}`)),
      10_000,
    );
    const look = () => {
      const found = /listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the agent exited with ${code}: ${out}`));
    });
  });
  return { child, base: `http://127.0.0.1:${port}`, output: () => out };
}

/** One request to a running agent's API with its bearer token; the answer's status and JSON. */
export async function agentApi(
  agent: AgentProcess,
  token: string,
  method: string,
  path: string,
): Promise<{ status: number; value: unknown }> {
  const res = await fetch(`${agent.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, value: JSON.parse(await res.text()) as unknown };
}
