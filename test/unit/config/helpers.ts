/** Fixtures for config tests: a temp directory with the given files, and the issues a load throws. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type LoadedConfig, loadConfig } from "../../../src/config/index.ts";
import { ConfigError, type ConfigIssue } from "../../../src/errors/index.ts";

/** Text from a template literal whose first line is the line after the backtick. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  return String.raw({ raw: strings }, ...values).replace(/^\n/, "");
}

/** A valid minimal slipway.yml (6 lines) to extend in tests. */
export const MINIMAL = yaml`
service: hello
image: hello
servers:
  web:
    hosts:
      - 127.0.0.1
`;

/** Writes `files` (path -> content) into a fresh temp directory and returns it. */
export async function fixture(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "slipway-config-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** Loads slipway.yml from a fixture made of `files`. */
export async function load(
  files: Record<string, string>,
  environment?: string,
): Promise<LoadedConfig> {
  const cwd = await fixture(files);
  return loadConfig({ cwd, ...(environment === undefined ? {} : { environment }) });
}

/** The issues loading `files` throws; fails the test when it loads fine. */
export async function issuesOf(
  files: Record<string, string>,
  environment?: string,
): Promise<ConfigIssue[]> {
  try {
    await load(files, environment);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.issues;
  }
  assert.fail("expected the configuration to be rejected");
}

/** The single issue loading `files` throws. */
export async function onlyIssue(
  files: Record<string, string>,
  environment?: string,
): Promise<ConfigIssue> {
  const issues = await issuesOf(files, environment);
  assert.equal(issues.length, 1, `expected one issue, got:\n${JSON.stringify(issues, null, 2)}`);
  return issues[0] as ConfigIssue;
}

/** `file:line:column path: message` of each issue, for compact exact assertions. */
export function brief(issues: readonly ConfigIssue[]): string[] {
  return issues.map((i) => `${i.file}:${i.line}:${i.column} ${i.path}: ${i.message}`);
}
