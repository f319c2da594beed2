/**
 * The backup runner: Slipway's backup code as one bundled file (dist/agent-bundle/runner.mjs),
 * run in a one-off container of the agent's image on the host whose data it backs up, so the
 * data never crosses the operator's machine and scheduled runs need nobody. It reaches the
 * accessories' containers through the engine's socket, mounted into it.
 *
 *   runner.mjs --request FILE [--secrets FILE]   the agent's scheduled jobs (files on the host)
 *   runner.mjs --stdin                           {request, secrets} on stdin, for one run (CLI)
 *
 * Progress goes to stderr, and the last line of stdout is the result (RESULT_PREFIX + JSON);
 * the exit code is 0 when the result is ok, 1 otherwise.
 */
import { readFileSync } from "node:fs";
import { text } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { ENGINE_SOCKET, EngineClient } from "../../agent/engine.ts";
import { runRequest } from "./actions.ts";
import { engineContainers } from "./engine-containers.ts";
import {
  type ParsedRequest,
  RESULT_PREFIX,
  type RunnerResult,
  type RunnerSecrets,
  runnerInput,
  runnerRequest,
  runnerSecrets,
} from "./request.ts";

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

async function readInput(values: {
  request?: string | undefined;
  secrets?: string | undefined;
  stdin?: boolean | undefined;
}): Promise<{ request: ParsedRequest; secrets: RunnerSecrets }> {
  if (values.stdin) return runnerInput.parse(JSON.parse(await text(process.stdin)));
  if (!values.request)
    throw new Error("usage: runner.mjs --request FILE [--secrets FILE] | --stdin");
  return {
    request: runnerRequest.parse(readJson(values.request)),
    secrets: values.secrets ? runnerSecrets.parse(readJson(values.secrets)) : {},
  };
}

function print(result: RunnerResult): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      request: { type: "string" },
      secrets: { type: "string" },
      stdin: { type: "boolean" },
      "engine-socket": { type: "string" },
    },
  });
  let input: { request: ParsedRequest; secrets: RunnerSecrets };
  try {
    input = await readInput(values);
  } catch (error) {
    print({
      ok: false,
      action: "backup",
      summary: `the runner could not read its request: ${(error as Error).message}`,
      error: {
        code: "backup.request",
        message: (error as Error).message,
        hint: "the host's agent bundle and this Slipway differ: slipway agent upgrade",
      },
    });
    process.exitCode = 2;
    return;
  }
  // A failure nothing caught still ends with a result, so the agent and the CLI can say why.
  process.once("uncaughtException", (error) => {
    print({
      ok: false,
      action: input.request.action,
      summary: `the runner failed: ${error.message}`,
      error: {
        code: "backup.runner_crashed",
        message: error.message,
        hint: "this is a bug in Slipway: report it with this output",
      },
    });
    process.exit(1);
  });
  const result = await runRequest({
    ...input,
    containers: engineContainers(new EngineClient(values["engine-socket"] ?? ENGINE_SOCKET)),
    say: (line) => process.stderr.write(`${line}\n`),
  });
  if (!result.ok) process.stderr.write(`error: ${result.summary}\n`);
  if (result.warning !== undefined) process.stderr.write(`warning: ${result.warning}\n`);
  print(result);
  process.exitCode = result.ok ? 0 : 1;
}

await main(process.argv.slice(2));
