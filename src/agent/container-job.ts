/**
 * Container jobs: the job's command in a one-off container made like the role's newest running
 * container (same image, env, network and volumes), labelled as a job run, removed when it ends.
 * A run container a killed agent left behind is found by its label when the agent comes back
 * and removed (the scheduler records that run as interrupted).
 */
import type { JobConfig } from "./config.ts";
import type { ContainerInspected, EngineClient } from "./engine.ts";
import { OUTPUT_BYTES } from "./job-store.ts";
import { type JobResult, type JobRunner, TimeoutError } from "./scheduler.ts";

type ContainerJob = Extract<JobConfig, { kind: "container" }>;

/** The label every job run container carries (its run's id), and by which leftovers are found. */
export const JOB_RUN_LABEL = "slipway.job.run";

export class ContainerJobRunner implements JobRunner<ContainerJob> {
  private readonly engine: EngineClient;

  constructor(engine: EngineClient) {
    this.engine = engine;
  }

  async recover(): Promise<void> {
    const left = await this.engine.list({}, { all: true, has: [JOB_RUN_LABEL] }).catch(() => []);
    for (const container of left) await this.engine.remove(container.Id).catch(() => {});
  }

  async run(job: ContainerJob, run: { id: number; signal: AbortSignal }): Promise<JobResult> {
    const newest = await this.engine.newestRunning(job.labels);
    if (!newest) {
      return {
        outcome: "failed",
        exitCode: null,
        detail: `no running container of ${job.role} to run it like`,
        output: "",
      };
    }
    const template = await this.engine.inspect(newest.Id);
    const name = `${job.name.replaceAll("/", "-")}-cron-${run.id}`;
    const id = await this.engine.create(name, jobContainer(job, template, run.id));
    let removed = false;
    const remove = () => {
      if (removed) return Promise.resolve();
      removed = true;
      return this.engine.remove(id);
    };
    try {
      await this.engine.start(id);
      const exitCode = await this.engine.wait(id, run.signal).catch((error: unknown) => {
        if (run.signal.aborted) return undefined;
        throw error;
      });
      if (exitCode === undefined) {
        const output = await this.engine.logs(id).catch(() => "");
        await remove();
        const reason = run.signal.reason as Error | undefined;
        return {
          outcome: reason instanceof TimeoutError ? "timeout" : "interrupted",
          exitCode: null,
          detail: reason?.message ?? "aborted",
          output,
        };
      }
      const output = await this.engine.logs(id);
      return {
        outcome: exitCode === 0 ? "ok" : "failed",
        exitCode,
        detail: `exit ${exitCode}`,
        output: output.length > OUTPUT_BYTES * 2 ? output.slice(-OUTPUT_BYTES * 2) : output,
      };
    } finally {
      await remove().catch(() => {});
    }
  }
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
