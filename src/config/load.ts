/**
 * loadConfig: reads slipway.yml and its environment overlays, checks everything, resolves the
 * referenced secrets, and either returns the resolved model or throws every issue at once.
 */
import { dirname, resolve } from "node:path";
import { ConfigError, type ConfigIssue, ExitCode, UserError } from "../errors/index.ts";
import { crossCheckIssues } from "./cross-checks.ts";
import { isOwnIssue, readEnvironments, unknownEnvironmentIssue } from "./environments.ts";
import { unignoredFileWarnings } from "./git-ignore.ts";
import { fromZodIssues, sortIssues } from "./issues.ts";
import { expandRoleShorthand, mergeOverlay } from "./overlay.ts";
import { readTextIfExists } from "./read-text.ts";
import { configJsonSchema, fileSchema, type SlipwayConfig } from "./schema.ts";
import { secretLookingWarnings } from "./secret-looking.ts";
import {
  holdsLiteralSecrets,
  type ResolvedSecrets,
  readSecretsFiles,
  resolveSecrets,
  secretReferences,
} from "./secrets.ts";
import { unsupportedSectionIssues } from "./unsupported.ts";
import { nameProblem } from "./validators.ts";
import { parseYaml, type Sourced } from "./yaml-positions.ts";

export interface LoadOptions {
  /** Path of the configuration file, relative to cwd; default "slipway.yml". */
  file?: string;
  /** Environment whose overlays apply (-d ENV). */
  environment?: string;
  /** Directory `file` is relative to; default process.cwd(). */
  cwd?: string;
}

export interface LoadedConfig {
  /** Absolute path of the configuration file; relative paths inside it are relative to its directory. */
  file: string;
  environment: string | undefined;
  config: SlipwayConfig;
  secrets: ResolvedSecrets;
  warnings: string[];
}

/** Loads, merges, checks and resolves the configuration; throws ConfigError listing every issue. */
export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const display = opts.file ?? "slipway.yml";
  const absolute = resolve(opts.cwd ?? process.cwd(), display);
  const directory = dirname(absolute);
  const text = await readTextIfExists(absolute, display);
  if (text === undefined) {
    throw new UserError({
      code: "config.unreadable",
      exitCode: ExitCode.usage,
      message: `${display} not found`,
      hint: "run slipway from the directory holding slipway.yml, or pass its path with --config",
    });
  }

  const main = parseYaml(display, text);
  const issues: ConfigIssue[] = [...main.issues];
  const warnings: string[] = [...main.warnings];
  const empty = main.source.value === null && !main.broken;
  if (empty) {
    issues.push({
      file: display,
      line: 1,
      column: 1,
      path: "",
      message: `${display} is empty`,
      hint: "describe the app with service:, image: and servers:, as in examples/hello/slipway.yml",
    });
  }
  const read = await readEnvironments(main.source, absolute, display);
  issues.push(...read.issues);
  warnings.push(...read.warnings);

  const name = opts.environment;
  const selected = name === undefined ? undefined : read.environments.get(name);
  if (name !== undefined && selected === undefined) {
    issues.push(unknownEnvironmentIssue(name, [...read.environments.keys()], main.source, display));
  }

  const base = expandRoleShorthand(main.source);
  const jsonSchema = configJsonSchema();
  const target = (selected?.overlays ?? []).reduce(mergeOverlay, base);
  const checkable = !main.broken && !empty;
  const checked = checkable && !selected?.broken ? checkSource(target, jsonSchema) : undefined;
  issues.push(...(checked?.issues ?? []));
  // Every other environment is checked too, so a typo in staging fails before the staging deploy.
  for (const other of read.environments.values()) {
    if (other === selected || !checkable || other.broken) continue;
    const merged = other.overlays.reduce(mergeOverlay, base);
    issues.push(
      ...checkSource(merged, jsonSchema).issues.filter((i) => isOwnIssue(other, display, i)),
    );
  }

  const secretsEnvironment =
    name !== undefined && !nameProblem(name, "environment") ? name : undefined;
  const secretsFiles = await readSecretsFiles(directory, dirname(display), secretsEnvironment);
  const resolved = checked
    ? await resolveSecrets(
        secretReferences(target.value),
        secretsFiles,
        target.locations,
        directory,
      )
    : { secrets: { values: new Map(), sources: new Map() }, issues: [] };
  issues.push(...resolved.issues);
  if (checkable) warnings.push(...secretLookingWarnings(target));
  warnings.push(
    // A file of `$(command)` references only (a password manager's) is safe to commit.
    ...(await unignoredFileWarnings(secretsFiles.filter(holdsLiteralSecrets))),
  );

  if (issues.length > 0 || checked?.config === undefined) {
    throw new ConfigError(sortIssues(issues, [display, ...new Set(issues.map((i) => i.file))]));
  }
  return {
    file: absolute,
    environment: name,
    config: checked.config,
    secrets: resolved.secrets,
    warnings,
  };
}

/** Schema, unsupported sections and cross-key rules for one merged configuration. */
function checkSource(
  source: Sourced,
  jsonSchema: object,
): { issues: ConfigIssue[]; config?: SlipwayConfig } {
  const parsed = fileSchema.safeParse(source.value);
  const context = { data: source.value, locations: source.locations, jsonSchema };
  const issues = [
    ...(parsed.success ? [] : fromZodIssues(parsed.error.issues, context)),
    ...unsupportedSectionIssues(source),
    ...crossCheckIssues(source),
  ];
  if (!parsed.success) return { issues };
  const { environments: _applied, ...config } = parsed.data;
  return { issues, config };
}
