/**
 * Environments (-d ENV): the in-file `environments.<env>` overlays and the `slipway.<env>.yml`
 * files beside the main file, read into overlays that remember where they were written.
 */
import { readdir } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { ConfigIssue } from "../errors/index.ts";
import { issueAt } from "./issues.ts";
import { expandRoleShorthand, subtree, withoutKey } from "./overlay.ts";
import { formatPath, isMap } from "./paths.ts";
import { readTextIfExists } from "./read-text.ts";
import { nameProblem } from "./validators.ts";
import { parseYaml, type Sourced } from "./yaml-positions.ts";

/** One environment: its overlays in the order they apply (in-file, then its own file). */
export interface Environment {
  name: string;
  overlays: Sourced[];
  /** Its slipway.<env>.yml as shown to the user, when there is one. */
  file: string | undefined;
  /** Its file has YAML syntax errors, so its merge is not checked further. */
  broken: boolean;
}

/** `slipway.yml` -> `slipway.staging.yml` (and `deploy.yaml` -> `deploy.staging.yaml`). */
export function environmentFileName(file: string, environment: string): string {
  const extension = extname(file);
  return join(dirname(file), `${basename(file, extension)}.${environment}${extension}`);
}

/** Every environment defined in `main` or by a file beside it, plus the issues found reading them. */
export async function readEnvironments(
  main: Sourced,
  absolute: string,
  display: string,
): Promise<{ environments: Map<string, Environment>; issues: ConfigIssue[]; warnings: string[] }> {
  const environments = new Map<string, Environment>();
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const environment = (name: string): Environment => {
    const found = environments.get(name) ?? { name, overlays: [], file: undefined, broken: false };
    environments.set(name, found);
    return found;
  };
  const addOverlay = (target: Environment, overlay: Sourced, what: string) => {
    const flat = withoutNestedEnvironments(overlay, issues, what);
    // A non-map overlay is reported by the schema (in-file) or below (file); it changes nothing.
    if (isMap(flat.value)) target.overlays.push(expandRoleShorthand(flat));
  };

  const inFile = isMap(main.value) ? main.value.environments : undefined;
  if (isMap(inFile)) {
    for (const name of Object.keys(inFile)) {
      addOverlay(
        environment(name),
        subtree(main, ["environments", name]),
        "an environment overlay",
      );
    }
  }

  const extension = extname(absolute);
  const stem = basename(absolute, extension);
  const entries = await readdir(dirname(absolute)).catch(() => [] as string[]);
  for (const entry of entries.sort()) {
    if (!entry.startsWith(`${stem}.`) || !entry.endsWith(extension)) continue;
    const name = entry.slice(stem.length + 1, entry.length - extension.length);
    if (nameProblem(name, "environment") !== undefined) continue;
    const file = environmentFileName(display, name);
    const text = await readTextIfExists(join(dirname(absolute), entry), file);
    if (text === undefined) continue;
    const parsed = parseYaml(file, text);
    issues.push(...parsed.issues);
    warnings.push(...parsed.warnings);
    if (parsed.source.value !== null && !isMap(parsed.source.value)) {
      issues.push(
        issueAt(
          parsed.source.locations,
          [],
          "value",
          `${file} must be a map of the keys to change`,
          "write it like slipway.yml, with only the keys that change",
        ),
      );
    }
    const target = environment(name);
    target.file = file;
    target.broken = parsed.broken;
    addOverlay(target, parsed.source, "an environment file");
  }
  return { environments, issues, warnings };
}

/** Whether `issue` points into one of the environment's own overlays (not the shared base). */
export function isOwnIssue(
  environment: Environment,
  mainFile: string,
  issue: ConfigIssue,
): boolean {
  if (issue.file === environment.file) return true;
  const prefix = formatPath(["environments", environment.name]);
  return (
    issue.file === mainFile &&
    (issue.path === prefix ||
      issue.path.startsWith(`${prefix}.`) ||
      issue.path.startsWith(`${prefix}[`))
  );
}

/** The issue for `-d NAME` when no environment of that name exists. */
export function unknownEnvironmentIssue(
  name: string,
  known: readonly string[],
  main: Sourced,
  display: string,
): ConfigIssue {
  const invalid = nameProblem(name, "environment name");
  const example = invalid ? "<name>" : name;
  const hint =
    known.length > 0
      ? `known environments: ${[...known].sort().join(", ")}`
      : `no environments are defined: add environments.${example} to ${display}, or create ${environmentFileName(display, example)}`;
  const hasSection = isMap(main.value) && Object.hasOwn(main.value, "environments");
  return issueAt(
    main.locations,
    hasSection ? ["environments"] : [],
    "key",
    invalid ? invalid.message : `unknown environment ${JSON.stringify(name)}`,
    hint,
  );
}

// Overlays do not nest: an environment cannot define environments of its own.
function withoutNestedEnvironments(overlay: Sourced, issues: ConfigIssue[], what: string): Sourced {
  if (isMap(overlay.value) && Object.hasOwn(overlay.value, "environments")) {
    issues.push(
      issueAt(
        overlay.locations,
        ["environments"],
        "key",
        `environments cannot be set in ${what}`,
        "define every environment at the top level of the main file, or in its own slipway.<env>.yml",
      ),
    );
  }
  return withoutKey(overlay, "environments");
}
