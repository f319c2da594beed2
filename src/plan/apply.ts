/**
 * Applies steps to one host, in order, stopping at the first failure. Uploads whose content is
 * already on the host are skipped, so applying the same plan twice changes nothing.
 */
import { createHash } from "node:crypto";
import type { Transport } from "../transport/index.ts";
import type { Step } from "./step.ts";

export interface StepOutcome {
  title: string;
  changed: boolean;
}

/** Applies the steps on the transport's host; resolves with what each step did. */
export async function applySteps(
  transport: Transport,
  steps: readonly Step[],
  onStep?: (outcome: StepOutcome) => void,
): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    const outcome = await applyStep(transport, step);
    outcomes.push(outcome);
    onStep?.(outcome);
  }
  return outcomes;
}

async function applyStep(transport: Transport, step: Step): Promise<StepOutcome> {
  switch (step.kind) {
    case "run": {
      await transport.run(step.command, {
        ...(step.stdin === undefined ? {} : { stdin: step.stdin }),
        ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
        check: !step.allowFailure,
      });
      return { title: step.title, changed: !step.readOnly };
    }
    case "upload": {
      if (await sameFile(transport, step.path, step.content, step.mode)) {
        return { title: step.title, changed: false };
      }
      await transport.upload(step.path, step.content, {
        mode: step.mode,
        ...(step.owner === undefined ? {} : { owner: step.owner }),
      });
      return { title: step.title, changed: true };
    }
    case "ensure": {
      const already = await transport.run(step.unless, { check: false });
      if (already.code === 0) return { title: step.title, changed: false };
      const inner = await applySteps(transport, step.then);
      return { title: step.title, changed: inner.some((o) => o.changed) || inner.length === 0 };
    }
  }
}

/** True when the host's file has exactly this content and mode. */
async function sameFile(
  transport: Transport,
  path: string,
  content: string,
  mode: number,
): Promise<boolean> {
  const result = await transport.run(
    ["sh", "-c", 'stat -c %a -- "$1" && sha256sum -- "$1"', "sh", path],
    {
      check: false,
    },
  );
  if (result.code !== 0) return false;
  const [modeLine, sumLine] = result.stdout.split("\n");
  const digest = createHash("sha256").update(content).digest("hex");
  return modeLine === mode.toString(8) && sumLine?.split(" ")[0] === digest;
}
