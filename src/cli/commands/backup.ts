/**
 * `slipway backup run|list|verify|restore|prune`: parse flags, call src/backup-ops, print for
 * people (progress on stderr) or --json. Exit 1 when a backup, verification or restore fails.
 */
import { accessoryDir } from "../../accessories/index.ts";
import { ExitCode, UserError } from "../../errors/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

type Ops = import("../../backup-ops/index.ts").BackupOps;

async function withOps<T>(
  context: CommandContext,
  work: (ops: Ops, lib: typeof import("../../backup-ops/index.ts")) => Promise<T>,
): Promise<T> {
  const lib = await import("../../backup-ops/index.ts");
  return withConnections(context, (loaded, connections) =>
    work({ loaded, connections, reporter: context.reporter }, lib),
  );
}

const json = (context: CommandContext, value: unknown) =>
  context.print(JSON.stringify(value, null, 2));

function one(args: readonly string[], command: string): string {
  const name = args[0];
  if (name === undefined || args.length > 1)
    throw new UserError({
      code: "backup.usage",
      message: `slipway backup ${command} takes one target`,
      hint: `e.g. slipway backup ${command} db (slipway backup list shows them)`,
      exitCode: ExitCode.usage,
    });
  return name;
}

const optionalString = (value: unknown) => (typeof value === "string" ? value : undefined);

export async function run(
  context: CommandContext,
  _options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  return withOps(context, async (ops, lib) => {
    const outcomes = [];
    for (const target of lib.chooseTargets(ops.loaded, args)) {
      const outcome = await lib.runThroughAgent(ops, target);
      outcomes.push(outcome);
      if (!context.flags.json)
        context.print(`${outcome.host} ${outcome.ok ? "" : "FAILED: "}${outcome.summary}`);
      const warning = outcome.result?.warning;
      if (warning !== undefined) context.reporter.warn(`${target.name}: ${warning}`);
    }
    if (context.flags.json) json(context, outcomes);
    return outcomes.every((o) => o.ok) ? ExitCode.ok : ExitCode.failure;
  });
}

export async function list(
  context: CommandContext,
  _options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const { formatAge, formatBytes, table } = await import("../../output/index.ts");
  return withOps(context, async (ops, lib) => {
    const now = Date.now();
    const listed = await lib.listTargets(ops, lib.chooseTargets(ops.loaded, args));
    const rows = listed.map((t) => ({
      ...t,
      backups: t.backups.map((b) => ({
        ...b,
        status: !b.complete ? "incomplete" : b.verified?.ok === false ? "verify failed" : "ok",
        age_s: Math.round((now - Date.parse(b.at)) / 1000),
      })),
    }));
    if (context.flags.json) {
      json(context, rows);
      return ExitCode.ok;
    }
    const ago = (at: string) => `${formatAge(now - Date.parse(at))} ago`;
    for (const t of rows) {
      context.print(`${t.target} (${t.kind} on ${t.host}, ${t.store}/${t.target})`);
      if (t.backups.length === 0) {
        context.print(`  no backups yet: slipway backup run ${t.target}`);
        continue;
      }
      const lines = t.backups.map((b) => [
        b.id,
        b.status,
        formatBytes(b.bytes),
        ago(b.at),
        b.verified === null
          ? "not verified"
          : `${b.verified.ok ? (b.verified.how === "check" ? "checked" : "restored") : "FAILED"} ${ago(b.verified.at)}`,
      ]);
      const text = table([["ID", "STATUS", "SIZE", "AGE", "VERIFIED"], ...lines]);
      context.print(text.replace(/^/gm, "  "));
    }
    return ExitCode.ok;
  });
}

export async function verify(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const name = one(args, "verify");
  return withOps(context, async (ops, lib) => {
    const [target] = lib.chooseTargets(ops.loaded, [name]);
    if (!target) return ExitCode.usage;
    const secrets = await lib.identityFor(ops.loaded, optionalString(options.identity));
    const backup = optionalString(options.backup);
    const { result, recorded } = await lib.verifyTarget(ops, target, {
      secrets,
      ...(backup === undefined ? {} : { backup }),
    });
    if (context.flags.json) json(context, { ...result, recorded });
    else {
      context.print(`${target.host} ${result.summary}`);
      for (const c of result.report?.checks ?? [])
        context.print(
          `  ${c.ok ? "ok  " : "FAIL"} ${c.what}: ${c.actual}${c.ok ? "" : ` (expected ${c.expected})`}`,
        );
      if (result.error !== undefined && result.report === undefined)
        throw new UserError({
          code: result.error.code,
          message: `${target.host}: ${result.error.message}`,
          hint: result.error.hint ?? "the runner's output above says more",
        });
      if (!recorded)
        context.reporter.warn(
          `the agent of ${target.host} did not record this verification (slipway agent install gives it the job)`,
        );
    }
    return result.ok ? ExitCode.ok : ExitCode.failure;
  });
}

export async function restore(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const name = one(args, "restore");
  const to = optionalString(options.to);
  const yes = options.yes === true;
  return withOps(context, async (ops, lib) => {
    const [target] = lib.chooseTargets(ops.loaded, [name]);
    if (!target) return ExitCode.usage;
    const plan = lib.planRestore(ops.loaded, target, {
      inPlace: yes && to === undefined,
      ...(to === undefined ? {} : { to }),
    });
    const secrets = await lib.identityFor(ops.loaded, optionalString(options.identity));
    context.reporter.info(
      plan.inPlace
        ? `${target.host}: restoring ${target.name} in place, after a safety backup`
        : `${target.host}: restoring ${target.name} into ${plan.into} (${target.name} itself is not touched; --yes alone restores in place)`,
    );
    const backup = optionalString(options.backup);
    const fromFile = optionalString(options.fromFile);
    const { result, safety } = await lib.restoreTarget(ops, plan, {
      secrets,
      replace: yes,
      ...(backup === undefined ? {} : { backup }),
      ...(fromFile === undefined ? {} : { fromFile }),
    });
    if (context.flags.json) json(context, { ...result, into: plan.into, safety });
    else {
      if (safety) context.print(`${target.host} safety backup: ${safety.summary}`);
      context.print(`${target.host} ${result.ok ? "" : "FAILED: "}${result.summary}`);
      if (result.ok && plan.boot)
        context.print(
          `  ${plan.into} runs beside ${target.name} with its own credentials (kept in ${accessoryDir(plan.boot.site, plan.boot.name)}/); restore in place with --yes once you have looked`,
        );
    }
    return result.ok ? ExitCode.ok : ExitCode.failure;
  });
}

export async function prune(
  context: CommandContext,
  options: Record<string, unknown>,
  args: string[],
): Promise<number> {
  const apply = options.yes === true;
  return withOps(context, async (ops, lib) => {
    const outcomes = await lib.pruneTargets(ops, lib.chooseTargets(ops.loaded, args), apply);
    if (context.flags.json) {
      json(
        context,
        outcomes.map((o) => o.result),
      );
      return ExitCode.ok;
    }
    for (const { host, result } of outcomes) {
      const plans = result.plans ?? [];
      for (const p of plans) {
        context.print(
          `${host} ${p.target}: keep ${p.keep.length}, ${apply ? "removed" : "remove"} ${p.remove.length}`,
        );
        for (const r of p.remove)
          context.print(`  ${apply ? "removed" : "would remove"} ${r.id} (${r.why})`);
      }
    }
    if (!apply && outcomes.some((o) => (o.result.plans ?? []).some((p) => p.remove.length > 0)))
      context.print("nothing removed: run again with --yes to remove them");
    return ExitCode.ok;
  });
}
