/**
 * The README's main job as a user runs it: the built `slipway` bin, a project folder with
 * slipway.yml and a secrets file, and a fresh VPS box reached only over SSH.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { rigAvailable, skipUnless, startVpsBox, type VpsBox } from "../rig/index.ts";

const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const SECRET = "e2e-very-secret-value-93f1";

function slipway(args: string[], cwd: string) {
  // HOME points at the project so the runner's own ~/.ssh plays no part.
  const env = { ...process.env, HOME: cwd, SSH_AUTH_SOCK: "" };
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("slipway doctor end to end", {
  skip: skipUnless(rigAvailable()),
  timeout: 300_000,
}, () => {
  let box: VpsBox;
  let project = "";

  before(async () => {
    assert.ok(existsSync(BIN), `${BIN} is missing: run npm run build first`);
    project = await mkdtemp(join(tmpdir(), "slipway-e2e-"));
    box = await startVpsBox();
    await mkdir(join(project, ".slipway"));
    await writeFile(join(project, ".gitignore"), ".slipway/secrets*\n");
    await writeFile(join(project, ".slipway", "secrets"), `APP_SECRET=${SECRET}\n`);
    await writeFile(
      join(project, "slipway.yml"),
      [
        "service: e2e",
        "image: e2e",
        "servers:",
        `  web: [${box.host}]`,
        "ssh:",
        `  port: ${box.port}`,
        `  keys: [${box.clientKey}]`,
        "env:",
        "  secret: [APP_SECRET]",
        "",
      ].join("\n"),
    );
  });

  after(async () => {
    await box?.stop();
    await rm(project, { recursive: true, force: true });
  });

  it("checks the config without showing the secret", () => {
    const { code, stdout, stderr } = slipway(["config", "check", "--verbose"], project);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /APP_SECRET: "\[redacted\]"/);
    assert.doesNotMatch(stdout + stderr, new RegExp(SECRET));
  });

  it("passes every doctor check on a fresh box and pins its host key", async () => {
    const { code, stdout, stderr } = slipway(["doctor", "--json"], project);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    const report = JSON.parse(stdout);
    assert.equal(report.ok, true);
    const checks = report.hosts[0].checks as { name: string; status: string; detail: string }[];
    assert.deepEqual(
      checks.map((c) => `${c.name}:${c.status}`),
      [
        "connect:ok",
        "system:ok",
        "quoting:ok",
        "upload:ok",
        "stream:ok",
        "privilege:ok",
        "engine:warn",
        "resources:ok",
      ],
    );
    assert.match(checks[0]?.detail ?? "", /pinned now/);
    const pins = await readFile(join(project, ".slipway", "known_hosts"), "utf8");
    assert.match(pins, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${box.port} ssh-ed25519 `));
  });

  it("with --verbose shows every command run on the host; the second run matches the pin", () => {
    const { code, stdout, stderr } = slipway(["doctor", "--verbose"], project);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /✓ connect .*matches the pinned key/);
    assert.match(stderr, /^127\.0\.0\.1 \$ uname -srm$/m);
    assert.match(stderr, /^127\.0\.0\.1 \$ cat -- \/etc\/os-release$/m);
    assert.match(stderr, /^127\.0\.0\.1 \$ sh -c 'set -eu\\numask 077\\n.* 0600 ''$/m);
  });

  it("only the hosts asked for, and an unknown one is a usage error", () => {
    const unknown = slipway(["doctor", "--hosts", "10.9.9.9"], project);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Not a host of .*slipway\.yml: 10\.9\.9\.9/);
  });
});
