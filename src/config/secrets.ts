/**
 * Secrets: `.slipway/secrets` and `.slipway/secrets.<env>` beside slipway.yml, in dotenv format.
 * Only the secrets the configuration refers to are resolved; a value written `$(command)` is the
 * trimmed output of that command, so secrets can stay in a password manager.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import type { ConfigIssue } from "../errors/index.ts";
import { issueAt } from "./issues.ts";
import { isMap, type Path, valueAt } from "./paths.ts";
import { readTextIfExists } from "./read-text.ts";
import { ENV_NAME_PATTERN } from "./validators.ts";
import type { Locations } from "./yaml-positions.ts";

/** Secret values by name, and the secrets file each came from (as shown to the user). */
export interface ResolvedSecrets {
  values: ReadonlyMap<string, string>;
  sources: ReadonlyMap<string, string>;
}

/** A place in the configuration that names a secret. */
export interface SecretReference {
  name: string;
  path: Path;
}

/** One secrets file; `entries` is undefined when the file does not exist. */
export interface SecretsFile {
  absolute: string;
  display: string;
  entries: Map<string, { value: string; line: number; column: number }> | undefined;
}

const SECRET_NAME = new RegExp(ENV_NAME_PATTERN);
const COMMAND_TIMEOUT_MS = 60_000;
const MAX_COMMAND_OUTPUT = 1024 * 1024;

/**
 * The secrets `data` refers to, in file order: env.secret names, each accessory's env.secret
 * names, the monitoring notifiers' keys, URLs, tokens and passwords, heartbeat checks' ping keys,
 * the backups' store keys, passphrase and identities, the ACME EAB key and DNS token, then
 * registry.password.
 */
export function secretReferences(data: unknown): SecretReference[] {
  const references: SecretReference[] = [];
  const listed = (path: Path) => {
    const secret = valueAt(data, path);
    if (!Array.isArray(secret)) return;
    secret.forEach((name, i) => {
      if (typeof name === "string" && SECRET_NAME.test(name))
        references.push({ name, path: [...path, i] });
    });
  };
  listed(["env", "secret"]);
  const accessories = valueAt(data, ["accessories"]);
  if (isMap(accessories)) {
    for (const name of Object.keys(accessories)) listed(["accessories", name, "env", "secret"]);
  }
  const notify = valueAt(data, ["monitoring", "notify"]);
  if (Array.isArray(notify)) {
    notify.forEach((_entry, i) => {
      for (const key of [
        ["secret"],
        ["slack"],
        ["discord"],
        ["telegram", "token"],
        ["email", "password"],
      ]) {
        const path = ["monitoring", "notify", i, ...key];
        const name = valueAt(data, path);
        if (typeof name === "string" && SECRET_NAME.test(name)) references.push({ name, path });
      }
    });
  }
  const checks = valueAt(data, ["monitoring", "checks"]);
  if (Array.isArray(checks)) {
    checks.forEach((_entry, i) => {
      // A heartbeat's ping key.
      const path = ["monitoring", "checks", i, "key"];
      const name = valueAt(data, path);
      if (typeof name === "string" && SECRET_NAME.test(name)) references.push({ name, path });
    });
  }
  // The backups' store keys, passphrase and identities; the ACME account's EAB key and the DNS
  // provider's token (dns-01).
  for (const path of [
    ["backups", "s3", "access_key_id"],
    ["backups", "s3", "secret_access_key"],
    ["backups", "passphrase"],
    ["backups", "identity"],
    ["backups", "verify_identity"],
    ["proxy", "tls", "acme", "eab", "hmac_key"],
    ["proxy", "tls", "acme", "dns", "api_token"],
  ]) {
    const name = valueAt(data, path);
    if (typeof name === "string" && SECRET_NAME.test(name)) references.push({ name, path });
  }
  const registry = valueAt(data, ["registry"]);
  const password = isMap(registry) ? registry.password : undefined;
  if (typeof password === "string" && SECRET_NAME.test(password)) {
    references.push({ name: password, path: ["registry", "password"] });
  }
  return references;
}

/** Reads `.slipway/secrets` and, for an environment, `.slipway/secrets.<env>` (later wins). */
export async function readSecretsFiles(
  directory: string,
  displayDirectory: string,
  environment: string | undefined,
): Promise<SecretsFile[]> {
  const names = environment === undefined ? ["secrets"] : ["secrets", `secrets.${environment}`];
  return Promise.all(
    names.map(async (name) => {
      const absolute = join(directory, ".slipway", name);
      const display = join(displayDirectory, ".slipway", name);
      const text = await readTextIfExists(absolute, display);
      return { absolute, display, entries: text === undefined ? undefined : parseSecrets(text) };
    }),
  );
}

// dotenv's own line grammar, used only to find where each key is; values come from dotenv.parse.
const DOTENV_LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;

/** The command of a `$(command)` value, or undefined for a literal value. */
export function secretCommand(value: string): string | undefined {
  return /^\$\((.+)\)$/s.exec(value)?.[1];
}

/** True when the file holds at least one literal value (not only `$(command)` references). */
export function holdsLiteralSecrets(file: SecretsFile): boolean {
  return [...(file.entries?.values() ?? [])].some(
    (entry) => secretCommand(entry.value) === undefined,
  );
}

function parseSecrets(text: string): NonNullable<SecretsFile["entries"]> {
  const normalized = text.replace(/\r\n?/g, "\n");
  const values = parseDotenv(normalized);
  const entries: NonNullable<SecretsFile["entries"]> = new Map();
  for (const match of normalized.matchAll(DOTENV_LINE)) {
    const key = match[1];
    const start = match.indices?.[1]?.[0];
    const value = key === undefined ? undefined : values[key];
    if (key === undefined || start === undefined || value === undefined) continue;
    const before = normalized.slice(0, start);
    const line = before.split("\n").length;
    const column = start - before.lastIndexOf("\n");
    entries.set(key, { value, line, column });
  }
  return entries;
}

/** Resolves every referenced secret; missing ones and failing commands become issues. */
export async function resolveSecrets(
  references: readonly SecretReference[],
  files: readonly SecretsFile[],
  locations: Locations,
  cwd: string,
): Promise<{ secrets: ResolvedSecrets; issues: ConfigIssue[] }> {
  const values = new Map<string, string>();
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const done = new Set<string>();

  for (const reference of references) {
    if (done.has(reference.name)) continue;
    done.add(reference.name);
    const file = files.findLast((f) => f.entries?.has(reference.name));
    const entry = file?.entries?.get(reference.name);
    if (file === undefined || entry === undefined) {
      issues.push(missingSecret(reference, files, locations));
      continue;
    }
    const command = secretCommand(entry.value);
    if (command === undefined) {
      values.set(reference.name, entry.value);
      sources.set(reference.name, file.display);
      continue;
    }
    const result = await runSecretCommand(command, cwd);
    if ("value" in result) {
      values.set(reference.name, result.value);
      sources.set(reference.name, file.display);
      continue;
    }
    issues.push({
      file: file.display,
      line: entry.line,
      column: entry.column,
      path: reference.name,
      message: `the command for secret ${JSON.stringify(reference.name)} ${result.failure}`,
      hint: `run the command on line ${entry.line} of ${file.display} yourself to see why; its output is not shown because it may hold secrets`,
    });
  }
  return { secrets: { values, sources }, issues };
}

function missingSecret(
  reference: SecretReference,
  files: readonly SecretsFile[],
  locations: Locations,
): ConfigIssue {
  const looked = files.map((f) =>
    f.entries === undefined ? `${f.display} (no such file)` : f.display,
  );
  const [shared, perEnvironment] = files;
  const where = shared?.display ?? ".slipway/secrets";
  const alternative = perEnvironment
    ? ` (or to ${perEnvironment.display} for this environment only)`
    : "";
  return issueAt(
    locations,
    reference.path,
    "value",
    `secret ${JSON.stringify(reference.name)} is not set: looked in ${looked.join(" and ")}`,
    `add the line ${reference.name}=<value> to ${where}${alternative}`,
  );
}

/** Runs `sh -c command` in `cwd`; its trimmed stdout is the secret. Output is never reported. */
function runSecretCommand(
  command: string,
  cwd: string,
): Promise<{ value: string } | { failure: string }> {
  return new Promise((resolve) => {
    // stdin is closed so a command waiting for input fails instead of hanging the deploy.
    const child = spawn("sh", ["-c", command], { cwd, stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `timed out after ${COMMAND_TIMEOUT_MS / 1000}s`;
      child.kill("SIGKILL");
    }, COMMAND_TIMEOUT_MS);
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_COMMAND_OUTPUT) {
        failure = "printed more than 1 MiB";
        child.kill("SIGKILL");
      } else chunks.push(chunk);
    });
    child.on("error", (error) => {
      failure ??= `could not start: ${error.message}`;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const value = Buffer.concat(chunks).toString("utf8").trim();
      if (failure === undefined && code !== 0) {
        failure = signal ? `was killed by ${signal}` : `failed with exit status ${code}`;
      }
      if (failure === undefined && value === "") failure = "printed nothing";
      resolve(failure === undefined ? { value } : { failure });
    });
  });
}
