/**
 * Hooks: the user's own programs around a deploy, run on this machine in the project's folder.
 * Each comes from `hooks:` in slipway.yml or, as in Kamal, from an executable file at
 * .slipway/hooks/<name>. They get the facts of the deploy as SLIPWAY_* variables, never secrets:
 * a hook that needs one reads it the way the user's own scripts do.
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { UserError } from "../errors/index.ts";
import type { Reporter } from "../output/index.ts";

export const HOOK_NAMES = ["pre-build", "pre-deploy", "post-deploy", "post-rollback"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** What a hook is told about the run, as SLIPWAY_* variables. */
export interface HookFacts {
  /** deploy or rollback: the command the user ran. */
  command: "deploy" | "rollback";
  version: string;
  hosts: readonly string[];
  roles: readonly string[];
  /** Who runs the deploy (user@machine). */
  performer: string;
  /** The version serving before, when known. */
  previousVersion?: string;
  /** Seconds the deploy took; post hooks only. */
  runtimeS?: number;
}

/** A hook ready to run: its argv and where it came from (for messages). */
export interface ResolvedHook {
  name: HookName;
  argv: string[];
  source: string;
}

const configKey = (name: HookName) => name.replace("-", "_") as keyof HooksSection;
type HooksSection = LoadedConfig["config"]["hooks"];

/**
 * The hook of that name, or undefined when there is none. Defining it both in slipway.yml and as
 * a file is refused: one of them would silently not run.
 */
export async function resolveHook(
  loaded: LoadedConfig,
  name: HookName,
): Promise<ResolvedHook | undefined> {
  const dir = projectFolder(loaded);
  const configured = loaded.config.hooks[configKey(name)];
  const file = join(dir, ".slipway", "hooks", name);
  const fileExists = await stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
  if (Array.isArray(configured)) {
    if (fileExists) {
      throw new UserError({
        code: "hooks.twice",
        message: `The ${name} hook is defined twice: hooks.${configKey(name)} in ${loaded.file} and ${file}.`,
        hint: "Keep one of them.",
      });
    }
    const [program, ...args] = configured;
    if (program === undefined) return undefined;
    // A program written with a slash is relative to the project, like the rest of slipway.yml.
    const resolved =
      program.includes("/") && !isAbsolute(program) ? resolve(dir, program) : program;
    return { name, argv: [resolved, ...args], source: `hooks.${configKey(name)}` };
  }
  if (!fileExists) return undefined;
  const executable = await access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
  if (!executable) {
    throw new UserError({
      code: "hooks.not_executable",
      message: `The ${name} hook ${file} is not executable, so it cannot run.`,
      hint: `Make it executable: chmod +x ${file}`,
    });
  }
  return { name, argv: [file], source: file };
}

/** The variables a hook sees, besides the environment slipway itself runs with. */
export function hookEnv(
  loaded: LoadedConfig,
  name: HookName,
  facts: HookFacts,
): Record<string, string> {
  const env: Record<string, string> = {
    SLIPWAY_HOOK: name,
    SLIPWAY_COMMAND: facts.command,
    SLIPWAY_SERVICE: loaded.config.service,
    SLIPWAY_ENVIRONMENT: loaded.environment ?? "",
    SLIPWAY_VERSION: facts.version,
    SLIPWAY_HOSTS: facts.hosts.join(","),
    SLIPWAY_ROLES: facts.roles.join(","),
    SLIPWAY_PERFORMER: facts.performer,
    SLIPWAY_RECORDED_AT: new Date().toISOString(),
    SLIPWAY_CONFIG: loaded.file,
  };
  if (facts.previousVersion) env.SLIPWAY_PREVIOUS_VERSION = facts.previousVersion;
  if (facts.runtimeS !== undefined) env.SLIPWAY_RUNTIME = facts.runtimeS.toFixed(1);
  return env;
}

export interface RunHookOptions {
  loaded: LoadedConfig;
  reporter: Reporter;
  facts: HookFacts;
}

/**
 * Runs the hook when there is one. A pre hook that fails throws (nothing has changed yet); a
 * post hook that fails only warns, since what it follows has already happened.
 */
export async function runHook(name: HookName, options: RunHookOptions): Promise<void> {
  const hook = await resolveHook(options.loaded, name);
  if (!hook) return;
  const { reporter, loaded } = options;
  reporter.info(`hook ${name}: ${hook.argv.join(" ")}`);
  const result = await spawnHook(hook, {
    cwd: projectFolder(loaded),
    env: { ...process.env, ...hookEnv(loaded, name, options.facts) },
    timeoutMs: loaded.config.hooks.timeout,
    reporter,
  });
  if (result.ok) return;
  const pre = name.startsWith("pre-");
  const message = `The ${name} hook (${hook.source}) ${result.detail}`;
  if (!pre) {
    reporter.warn(`${message}; the ${options.facts.command} itself succeeded.`);
    return;
  }
  throw new UserError({
    code: "hooks.failed",
    message: `${message}; the ${options.facts.command} stopped before changing anything.`,
    hint: "Its output is above. Fix the hook, or remove it, and run again.",
  });
}

interface SpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  reporter: Reporter;
}

function spawnHook(
  hook: ResolvedHook,
  options: SpawnOptions,
): Promise<{ ok: true } | { ok: false; detail: string }> {
  const [program, ...args] = hook.argv;
  if (program === undefined) return Promise.resolve({ ok: true });
  const out = options.reporter.hostOutput(`hook ${hook.name}`);
  return new Promise((done) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
    }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => out.write(chunk));
    child.stderr.on("data", (chunk: Buffer) => out.write(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done({
        ok: false,
        detail:
          error.code === "ENOENT"
            ? `could not start: ${program} was not found`
            : `could not start: ${error.message}`,
      });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      out.flush();
      if (timedOut) {
        done({
          ok: false,
          detail: `was stopped after ${Math.round(options.timeoutMs / 1000)}s (hooks.timeout)`,
        });
      } else if (code === 0) {
        done({ ok: true });
      } else {
        done({
          ok: false,
          detail: signal ? `was killed by ${signal}` : `failed with exit code ${code}`,
        });
      }
    });
  });
}

function projectFolder(loaded: LoadedConfig): string {
  return resolve(loaded.file, "..");
}
