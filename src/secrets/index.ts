/**
 * `slipway secrets`: the project's secrets files (.slipway/secrets, .slipway/secrets.<env>), edited
 * in place with mode 0600, and compared with what the hosts' current env files hold, by digest.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse } from "dotenv";
import { UserError } from "../errors/index.ts";

export { checkName, formatValue, generateSecret, secretNames, upsertSecret } from "./file.ts";

/** The secrets file of an environment (or the shared one), beside slipway.yml. */
export function secretsFile(projectDir: string, environment: string | undefined): string {
  if (environment !== undefined && !/^[a-z][a-z0-9-]{0,62}$/.test(environment)) {
    throw new UserError({
      code: "secrets.environment",
      message: `"${environment}" is not an environment name`,
      hint: "environment names are lowercase letters, digits and -, like staging",
    });
  }
  return join(projectDir, ".slipway", environment ? `secrets.${environment}` : "secrets");
}

/** The file's text, or "" when it does not exist yet. */
export async function readSecretsText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

/** Replaces the file in one rename, mode 0600: a crash never leaves half a secrets file. */
export async function writeSecretsText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** The values a file defines. */
export function secretValues(text: string): Record<string, string> {
  return parse(text);
}

/** A short digest of a value: enough to compare, useless to guess it from. */
export function valueDigest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 12);
}

export type SecretComparison = "same" | "differs" | "missing on host" | "missing here";

/** Local values against a host's env file content, by digest, for the names asked. */
export function compareSecrets(
  names: readonly string[],
  local: ReadonlyMap<string, string>,
  hostEnvFile: string,
): Map<string, SecretComparison> {
  const remote = parseContainerEnvFile(hostEnvFile);
  const out = new Map<string, SecretComparison>();
  for (const name of names) {
    const here = local.get(name);
    const there = remote[name];
    out.set(
      name,
      here === undefined
        ? "missing here"
        : there === undefined
          ? "missing on host"
          : valueDigest(here) === valueDigest(there)
            ? "same"
            : "differs",
    );
  }
  return out;
}

/** Docker's --env-file format: NAME=value per line, the value taken literally (no quotes). */
export function parseContainerEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at <= 0 || line.startsWith("#")) continue;
    out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}
