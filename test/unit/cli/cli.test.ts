/**
 * The CLI as users run it: a child process, its exit code, stdout and stderr.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../../src/cli/main.ts", import.meta.url));

function slipway(args: string[], cwd: string) {
  const result = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const VALID = `service: hello
image: hello
servers:
  web:
    hosts: [127.0.0.1]
env:
  clear:
    NODE_ENV: production
  secret:
    - SESSION_SECRET
`;

describe("slipway CLI", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-cli-"));
    await mkdir(join(dir, ".slipway"));
    await writeFile(
      join(dir, ".slipway", "secrets"),
      "SESSION_SECRET=correct-horse-battery-staple\n",
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints its version", () => {
    const { code, stdout } = slipway(["--version"], dir);
    assert.equal(code, 0);
    assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it("config check prints the resolved config with secrets redacted", async () => {
    await writeFile(join(dir, "slipway.yml"), VALID);
    const { code, stdout, stderr } = slipway(["config", "check"], dir);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /service: hello/);
    assert.match(stdout, /SESSION_SECRET: "?\[redacted\]"?/);
    assert.doesNotMatch(stdout + stderr, /correct-horse-battery-staple/);
  });

  it("config check --json on success", async () => {
    await writeFile(join(dir, "slipway.yml"), VALID);
    const { code, stdout } = slipway(["config", "check", "--json"], dir);
    assert.equal(code, 0);
    const parsed = JSON.parse(stdout);
    assert.equal(parsed.ok, true);
    assert.equal(parsed.config.service, "hello");
    assert.doesNotMatch(stdout, /correct-horse-battery-staple/);
  });

  it("reports a YAML syntax error on line 7 with line 7, exit 2", async () => {
    const broken = [
      "service: hello",
      "image: hello",
      "servers:",
      "  web:",
      "    hosts:",
      "      - 127.0.0.1",
      '    cmd: "unterminated',
      "",
    ].join("\n");
    await writeFile(join(dir, "broken.yml"), broken);
    const { code, stderr } = slipway(["config", "check", "-c", "broken.yml"], dir);
    assert.equal(code, 2);
    assert.match(stderr, /^broken\.yml:7:\d+: /m);
    const json = slipway(["config", "check", "-c", "broken.yml", "--json"], dir);
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.errors[0].line, 7);
  });

  it("suggests servers for servrs, exit 2, with the JSON shape", async () => {
    await writeFile(join(dir, "typo.yml"), VALID.replace("servers:", "servrs:"));
    const { code, stderr } = slipway(["config", "check", "-c", "typo.yml"], dir);
    assert.equal(code, 2);
    assert.match(stderr, /typo\.yml:3:1: .*unknown key "servrs"/);
    assert.match(stderr, /did you mean "servers"\?/);
    const json = slipway(["config", "check", "-c", "typo.yml", "--json"], dir);
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.ok, false);
    const typo = parsed.errors.find((e: { message: string }) => e.message.includes("servrs"));
    assert.deepEqual(Object.keys(typo).sort(), [
      "column",
      "file",
      "hint",
      "line",
      "message",
      "path",
    ]);
    assert.deepEqual(
      { file: typo.file, line: typo.line, column: typo.column },
      { file: "typo.yml", line: 3, column: 1 },
    );
    assert.match(typo.hint, /did you mean "servers"\?/);
  });

  it("a missing config file is a usage error with a hint", () => {
    const { code, stderr } = slipway(["config", "check", "-c", "nope.yml"], dir);
    assert.equal(code, 2);
    assert.match(stderr, /nope\.yml/);
  });

  it("prints a JSON Schema", () => {
    const { code, stdout } = slipway(["config", "schema"], dir);
    assert.equal(code, 0);
    const schema = JSON.parse(stdout);
    assert.equal(schema.type, "object");
    assert.ok(schema.properties.servers);
  });

  it("an unknown command or option is a usage error (exit 2) with a suggestion", () => {
    const unknown = slipway(["doctr"], dir);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Did you mean doctor\?/);
    assert.equal(slipway(["config", "check", "--nope"], dir).code, 2);
  });

  it("cron run and logs of a job slipway.yml does not have: exit 2, naming its jobs", async () => {
    const config = `${VALID}cron:\n  report: { schedule: "@daily", command: bin/report }\n`;
    await writeFile(join(dir, "cron.yml"), config);
    const run = slipway(["cron", "run", "reprot", "-c", "cron.yml"], dir);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /cron\.yml has no cron job "reprot"/);
    assert.match(run.stderr, /its jobs: report/);
    const logs = slipway(["cron", "logs", "report", "--runs", "0", "-c", "cron.yml"], dir);
    assert.equal(logs.code, 2);
    assert.match(logs.stderr, /--runs 0 is not a number from 1 to 50/);
  });

  it("doctor reports an unreachable host and exits 1", async () => {
    const config = `${VALID.replace("127.0.0.1", "127.0.0.1")}ssh:\n  port: 1\n  connect_timeout: 2s\n  known_hosts: kh\n`;
    await writeFile(join(dir, "unreachable.yml"), config);
    const { code, stdout } = slipway(["doctor", "-c", "unreachable.yml", "--json"], dir);
    assert.equal(code, 1);
    const parsed = JSON.parse(stdout);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.hosts[0].checks[0].name, "connect");
    assert.match(parsed.hosts[0].checks[0].detail, /refused/);
  });
});
