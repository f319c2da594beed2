/**
 * Container jobs: the job's command in a one-off container made like the role's newest running
 * container (same image, env, network and volumes), or, for a runner job, a container of
 * Slipway's own as the job defines it; labelled as a job run, removed when it ends. A run
 * container a killed agent left behind is found by its label when the agent comes back and
 * removed (the scheduler records that run as interrupted).
 */
import type { JobConfig } from "./config.ts";
import {
  type ContainerCreate,
  type ContainerInspected,
  type EngineClient,
  OWNER_LABEL,
} from "./engine.ts";
import { OUTPUT_BYTES } from "./job-store.ts";
import { type JobResult, type JobRunner, TimeoutError } from "./scheduler.ts";

type ContainerJob = Extract<JobConfig, { kind: "container" }>;
type RunnerJob = Extract<JobConfig, { kind: "runner" }>;

/** The label every job run container carries (its run's id), and by which leftovers are found. */
export const JOB_RUN_LABEL = "slipway.job.run";

export { OWNER_LABEL };

export class ContainerJobRunner implements JobRunner<ContainerJob | RunnerJob> {
  private readonly engine: EngineClient;

  constructor(engine: EngineClient) {
    this.engine = engine;
  }

  async recover(): Promise<void> {
    const left = await this.engine.list({}, { all: true, has: [JOB_RUN_LABEL] }).catch(() => []);
    for (const container of left) await this.removeRun(container.Id).catch(() => {});
  }

  /** Removes a run container and the containers it made. */
  private async removeRun(id: string): Promise<void> {
    await this.engine.remove(id);
    const made = await this.engine.list({ [OWNER_LABEL]: id.slice(0, 12) }, { all: true });
    for (const container of made) await this.engine.remove(container.Id).catch(() => {});
  }

  async run(
    job: ContainerJob | RunnerJob,
    run: { id: number; signal: AbortSignal },
  ): Promise<JobResult> {
    let spec: ContainerCreate;
    if (job.kind === "runner") spec = runnerContainer(job, run.id);
    else {
      const newest = await this.engine.newestRunning(job.labels);
      if (!newest) {
        return {
          outcome: "failed",
          exitCode: null,
          detail: `no running container of ${job.role} to run it like`,
          output: "",
        };
      }
      spec = jobContainer(job, await this.engine.inspect(newest.Id), run.id);
    }
    const name = `${job.name.replaceAll("/", "-")}-${job.kind === "runner" ? "run" : "cron"}-${run.id}`;
    const id = await this.engine.create(name, spec);
    try {
      const ran = await startAndWait(this.engine, id, run.signal);
      if ("stopped" in ran) return ran.stopped;
      const { exitCode, output } = ran;
      const summary = job.kind === "runner" ? resultSummary(output, job.result_prefix) : undefined;
      return {
        outcome: exitCode === 0 ? "ok" : "failed",
        exitCode,
        detail: summary ?? `exit ${exitCode}`,
        output: output.length > OUTPUT_BYTES * 2 ? output.slice(-OUTPUT_BYTES * 2) : output,
      };
    } finally {
      await this.removeRun(id).catch(() => {});
    }
  }
}

/**
 * Starts a created container and waits for it: its exit code and output, or, when `signal` gave
 * up on it, the job's result for that (a timeout, or an interruption) with its output so far.
 */
export async function startAndWait(
  engine: EngineClient,
  id: string,
  signal: AbortSignal,
): Promise<{ exitCode: number; output: string } | { stopped: JobResult }> {
  await engine.start(id);
  const exitCode = await engine.wait(id, signal).catch((error: unknown) => {
    if (signal.aborted) return undefined;
    throw error;
  });
  const output = await engine.logs(id).catch(() => "");
  if (exitCode !== undefined) return { exitCode, output };
  const reason = signal.reason as Error | undefined;
  return {
    stopped: {
      outcome: reason instanceof TimeoutError ? "timeout" : "interrupted",
      exitCode: null,
      detail: reason?.message ?? "aborted",
      output,
    },
  };
}

/** The last line of `output` starting with `prefix`, if any: a runner's answer. */
export function lastLineStarting(output: string, prefix: string): string | undefined {
  return output
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(prefix));
}

/** The `summary` of the JSON on the last output line starting with `prefix`, if any. */
export function resultSummary(output: string, prefix: string | undefined): string | undefined {
  if (prefix === undefined) return undefined;
  const line = lastLineStarting(output, prefix);
  if (line === undefined) return undefined;
  try {
    const summary = (JSON.parse(line.slice(prefix.length)) as { summary?: unknown }).summary;
    return typeof summary === "string" && summary !== "" ? summary.slice(0, 1_000) : undefined;
  } catch {
    return undefined;
  }
}

/** A runner job's container, as the job defines it, labelled as this run's. Pure. */
export function runnerContainer(job: RunnerJob, runId: number): ContainerCreate {
  return {
    Image: job.image,
    Cmd: job.command,
    Env: job.env,
    Labels: { ...job.labels, "slipway.job": job.name, [JOB_RUN_LABEL]: String(runId) },
    HostConfig: {
      Binds: job.mounts.map((m) => `${m.source}:${m.target}${m.read_only ? ":ro" : ""}`),
      RestartPolicy: { Name: "no" },
    },
  };
}

/** The run container's definition, from the role's container. Pure. */
export function jobContainer(
  job: ContainerJob,
  template: ContainerInspected,
  runId: number,
): {
  Image: string;
  Cmd: string[];
  Env: string[];
  Labels: Record<string, string>;
  HostConfig: { Binds: string[]; NetworkMode?: string };
} {
  const labels = template.Config.Labels ?? {};
  const binds = template.Mounts.flatMap((m) => {
    const source = m.Type === "volume" ? m.Name : m.Type === "bind" ? m.Source : undefined;
    return source ? [`${source}:${m.Destination}${m.RW ? "" : ":ro"}`] : [];
  });
  const network = template.HostConfig.NetworkMode;
  return {
    Image: template.Config.Image,
    Cmd: job.command,
    Env: template.Config.Env ?? [],
    Labels: {
      "slipway.service": labels["slipway.service"] ?? "",
      "slipway.environment": labels["slipway.environment"] ?? "",
      // Not the role's own: status, checks and deploys must not count it as the role's container.
      "slipway.role": "cron",
      "slipway.version": labels["slipway.version"] ?? "",
      "slipway.job": job.name,
      [JOB_RUN_LABEL]: String(runId),
    },
    HostConfig: { Binds: binds, ...(network ? { NetworkMode: network } : {}) },
  };
}
