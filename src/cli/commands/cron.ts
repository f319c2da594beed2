/**
 * `slipway cron status|run|logs`: the app's cron jobs, as the agent that runs each one (on its
 * role's first host) knows them, over SSH like `slipway monitor`. A job's name on the agent is
 * "<site>/<job>".
 */
import { ExitCode, UserError } from "../../errors/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

type Loaded = Awaited<ReturnType<CommandContext["loadConfig"]>>;
type JobView = import("../../agent/index.ts").JobView;
type JobRun = import("../../agent/index.ts").JobRun;

/** Each job of slipway.yml with the host whose agent runs it and its name there. */
async function jobsOf(loaded: Loaded): Promise<{ job: string; host: string; name: string }[]> {
  const { siteName, rolesInOrder } = await import("../../deploy/index.ts");
  const site = siteName(loaded.config.service, loaded.environment);
  const roles = rolesInOrder(loaded.config);
  return Object.entries(loaded.config.cron ?? {}).map(([job, spec]) => {
    const role = roles.find((r) => r.name === (spec.role ?? roles[0]?.name));
    return { job, host: role?.hosts[0] ?? "", name: `${site}/${job}` };
  });
}

async function oneJob(loaded: Loaded, job: string | undefined) {
  const jobs = await jobsOf(loaded);
  const found = jobs.find((j) => j.job === job);
  if (!found) {
    throw new UserError({
      code: "cron.no_job",
      message: `${loaded.file} has no cron job ${JSON.stringify(job ?? "")}`,
      hint: jobs.length
        ? `its jobs: ${jobs.map((j) => j.job).join(", ")}`
        : "add one under cron:, then slipway agent install",
      exitCode: ExitCode.usage,
    });
  }
  return found;
}

function notOnAgent(host: string, job: string): UserError {
  return new UserError({
    code: "cron.not_installed",
    message: `${host}: the agent does not run job ${job} yet`,
    hint: "give it the app's jobs: slipway agent install",
  });
}

const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());
const seconds = (run: JobRun) =>
  run.endedAt === null ? "" : ` in ${Math.round((run.endedAt - run.startedAt) / 1000)}s`;

export async function status(context: CommandContext): Promise<number> {
  const { callAgent } = await import("../../monitor/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const jobs = await jobsOf(loaded);
    const views = new Map<string, JobView[]>();
    for (const host of new Set(jobs.map((j) => j.host))) {
      const { status: code, value } = await callAgent(connections.get(host), "GET", "/api/jobs");
      views.set(host, code === 200 ? (value as JobView[]) : []);
    }
    const rows = jobs.map((j) => ({
      ...j,
      view: views.get(j.host)?.find((v) => v.name === j.name),
    }));
    if (context.flags.json) {
      context.print(JSON.stringify(rows, null, 2));
    } else if (rows.length === 0) {
      context.print("no cron jobs: add them under cron:, then slipway agent install");
    }
    let failing = false;
    for (const { job, host, view } of context.flags.json ? [] : rows) {
      if (!view) {
        context.print(`${host} ${job}: not on the agent yet (slipway agent install)`);
        failing = true;
        continue;
      }
      const last = view.last;
      const outcome = last
        ? `last run ${when(last.startedAt)} ${last.outcome} (${last.detail || last.outcome})${seconds(last)}`
        : "not run yet";
      const now = view.running
        ? view.waitingForLock
          ? ", waiting for the deploy lock"
          : ", running"
        : "";
      context.print(
        `${host} ${job} (${view.schedule}): ${outcome}${now}, next ${when(view.nextAt)}`,
      );
    }
    for (const { view } of rows) {
      if (view?.last && ["failed", "timeout"].includes(view.last.outcome)) failing = true;
    }
    return failing ? ExitCode.failure : ExitCode.ok;
  });
}

export async function run(
  context: CommandContext,
  _options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { callAgent } = await import("../../monitor/index.ts");
  return withConnections(context, async (loaded, connections) => {
    const job = await oneJob(loaded, args[0]);
    context.reporter.info(`${job.host}: running ${job.job} through the agent`);
    const path = `/api/jobs/run?job=${encodeURIComponent(job.name)}`;
    const { status: code, value } = await callAgent(connections.get(job.host), "POST", path);
    if (code === 404) throw notOnAgent(job.host, job.job);
    if (code !== 200 || typeof value !== "object" || value === null || "error" in value) {
      throw new UserError({
        code: "cron.run",
        message: `${job.host}: ${job.job} did not run: ${(value as { error?: string }).error ?? code}`,
        hint: "slipway cron status shows whether it is running",
      });
    }
    const result = value as JobRun;
    if (result.output) context.print(result.output.replace(/\n$/, ""));
    context.reporter.info(
      `${job.host}: ${job.job} ${result.outcome} (${result.detail})${seconds(result)}`,
    );
    if (result.outcome === "ok") return ExitCode.ok;
    return result.exitCode !== null && result.exitCode > 0 ? result.exitCode : ExitCode.failure;
  });
}

export async function logs(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { callAgent } = await import("../../monitor/index.ts");
  const limit = typeof options.runs === "string" ? Number(options.runs) : 5;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
    throw new UserError({
      code: "cron.runs",
      message: `--runs ${String(options.runs)} is not a number from 1 to 50`,
      hint: "e.g. --runs 3",
      exitCode: ExitCode.usage,
    });
  }
  return withConnections(context, async (loaded, connections) => {
    const job = await oneJob(loaded, args[0]);
    const path = `/api/jobs/runs?job=${encodeURIComponent(job.name)}&limit=${limit}`;
    const { status: code, value } = await callAgent(connections.get(job.host), "GET", path);
    if (code === 404) throw notOnAgent(job.host, job.job);
    const runs = (value as JobRun[]).slice().reverse();
    if (context.flags.json) {
      context.print(JSON.stringify(runs, null, 2));
      return ExitCode.ok;
    }
    if (runs.length === 0) context.print(`${job.job}: no runs yet`);
    for (const r of runs) {
      context.print(
        `== ${job.host} ${job.job} #${r.id} ${when(r.startedAt)} ${r.trigger}: ${r.outcome} (${r.detail || r.outcome})${seconds(r)}`,
      );
      if (r.output) context.print(r.output.trimEnd());
    }
    return ExitCode.ok;
  });
}
