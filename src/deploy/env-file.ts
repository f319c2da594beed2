/**
 * The env file a release's containers read (`--env-file`): clear values, secret values, and
 * SLIPWAY_* facts. It is uploaded 0600 and never passed in argv.
 */
import { formatEnvFile } from "../engine/index.ts";
import { UserError } from "../errors/index.ts";

export interface EnvFileInput {
  clear: Record<string, string>;
  secretNames: readonly string[];
  secrets: ReadonlyMap<string, string>;
  facts: { service: string; environment: string | undefined; role: string; version: string };
  /** The port the app should listen on, offered as PORT unless the app's env sets it. */
  appPort?: number;
  /** Connection URLs of the accessories (DATABASE_URL...); secret, like the secrets. */
  accessories?: ReadonlyMap<string, string>;
}

/** Renders the env file; Docker's format has no quoting, so multi-line values are refused. */
export function renderEnvFile(input: EnvFileInput): string {
  const entries = new Map<string, string>();
  if (input.appPort !== undefined) entries.set("PORT", String(input.appPort));
  for (const [name, value] of Object.entries(input.clear)) entries.set(name, value);
  for (const [name, value] of input.accessories ?? []) entries.set(name, value);
  for (const name of input.secretNames) {
    const value = input.secrets.get(name);
    if (value === undefined) {
      throw new UserError({
        code: "secret.missing",
        message: `secret ${name} has no value`,
        hint: "run slipway config check to see where it is looked for",
      });
    }
    entries.set(name, value);
  }
  entries.set("SLIPWAY_SERVICE", input.facts.service);
  entries.set("SLIPWAY_ENVIRONMENT", input.facts.environment ?? "");
  entries.set("SLIPWAY_ROLE", input.facts.role);
  entries.set("SLIPWAY_VERSION", input.facts.version);

  return formatEnvFile(entries);
}

/**
 * A kept env file with some values replaced or added: a rollback or restart brings back the
 * release's own env, but an accessory's URL is the accessory's, not the release's (a rotated
 * password must not come back), and a rotation brings its new value. Other lines stay, in order.
 */
export function overrideEnv(kept: string, values: ReadonlyMap<string, string>): string {
  const seen = new Set<string>();
  const lines = kept
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const name = line.slice(0, line.indexOf("="));
      const value = values.get(name);
      if (value === undefined) return [name, line.slice(name.length + 1)] as const;
      seen.add(name);
      return [name, value] as const;
    });
  const added = [...values].filter(([name]) => !seen.has(name));
  return formatEnvFile([...lines, ...added]);
}
