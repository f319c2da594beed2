/**
 * Secrets files: edited in place (comments and order kept), values written so dotenv reads them
 * back exactly, what no env file can hold refused; generated values; comparison with a host's
 * env file by digest; and the CLI (generate, set from stdin, list, show) on real files.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "dotenv";
import {
  compareSecrets,
  generateSecret,
  parseContainerEnvFile,
  secretNames,
  upsertSecret,
} from "../../../src/secrets/index.ts";

describe("upsertSecret", () => {
  it("replaces the line in place, keeping comments and order, or appends", () => {
    const text = "# team secrets\nA=1\nexport B=2\n\n# more\nC=3\n";
    assert.equal(upsertSecret(text, "B", "two"), "# team secrets\nA=1\nB=two\n\n# more\nC=3\n");
    assert.equal(upsertSecret(text, "D", "4"), `${text}D=4\n`);
    assert.equal(upsertSecret("", "A", "x"), "A=x\n");
  });

  it("writes every hostile value so dotenv reads it back exactly", () => {
    for (const value of [
      "a b",
      "#not a comment",
      "$(rm -rf /)",
      "it's",
      'say "hi"',
      "ünï",
      "=x=",
      " lead",
    ]) {
      const text = upsertSecret("", "V", value);
      assert.equal(parse(text).V, value, text);
    }
  });

  it("refuses what an env file cannot hold", () => {
    assert.throws(() => upsertSecret("", "V", "two\nlines"), /line break/);
    assert.throws(() => upsertSecret("", "V", `both ' and "`), /both kinds of quotes/);
    assert.throws(() => upsertSecret("", "1V", "x"), /not a variable name/);
  });

  it("lists names in order", () => {
    assert.deepEqual(secretNames("A=1\n# c\nB='x y'\n"), ["A", "B"]);
  });
});

describe("generateSecret", () => {
  it("is URL-safe, of the length asked, new each time", () => {
    const a = generateSecret();
    assert.match(a, /^[A-Za-z0-9_-]{32}$/);
    assert.match(generateSecret(64), /^[A-Za-z0-9_-]{64}$/);
    assert.notEqual(a, generateSecret());
    assert.throws(() => generateSecret(8), /not a length from 16/);
  });
});

describe("compareSecrets", () => {
  it("compares by digest against Docker's literal env-file format", () => {
    const host = "A=same\nB='quoted'\nC=old\n";
    assert.deepEqual(parseContainerEnvFile(host), { A: "same", B: "'quoted'", C: "old" });
    const local = new Map([
      ["A", "same"],
      ["B", "quoted"],
      ["C", "new"],
      ["E", "only here"],
    ]);
    assert.deepEqual(
      [...compareSecrets(["A", "B", "C", "D", "E"], local, host)],
      [
        ["A", "same"],
        ["B", "differs"],
        ["C", "differs"],
        ["D", "missing here"],
        ["E", "missing on host"],
      ],
    );
  });
});

describe("slipway secrets (the CLI on real files)", () => {
  const MAIN = fileURLToPath(new URL("../../../src/cli/main.ts", import.meta.url));
  const cli = (cwd: string, args: string[], input?: string) =>
    spawnSync(process.execPath, [MAIN, ...args], { cwd, input, encoding: "utf8" });

  it("generate, set from stdin, list and show never print a value unless --reveal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slipway-secrets-"));
    await writeFile(join(dir, "slipway.yml"), "service: hello\n");
    const generated = cli(dir, ["secrets", "generate", "SESSION_SECRET"]);
    assert.equal(generated.status, 0, generated.stderr);
    const file = join(dir, ".slipway/secrets");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const value = parse(await readFile(file, "utf8")).SESSION_SECRET ?? "";
    assert.match(value, /^[A-Za-z0-9_-]{32}$/);
    assert.ok(!generated.stdout.includes(value));

    assert.equal(
      cli(dir, ["secrets", "generate", "SESSION_SECRET"]).status,
      1,
      "exists: --force or rotate",
    );

    const set = cli(dir, ["-d", "staging", "secrets", "set", "API_TOKEN"], "tok'en with spaces\n");
    assert.equal(set.status, 0, set.stderr);
    assert.equal(
      parse(await readFile(join(dir, ".slipway/secrets.staging"), "utf8")).API_TOKEN,
      "tok'en with spaces",
    );
    const refused = cli(dir, ["secrets", "set", "API_TOKEN", "in-argv"]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /never taken from the command line/);

    const listed = cli(dir, ["-d", "staging", "secrets", "list"]);
    assert.match(listed.stdout, /SESSION_SECRET {2}\(.*\.slipway\/secrets\)/);
    assert.match(listed.stdout, /API_TOKEN {2}\(.*\.slipway\/secrets\.staging\)/);
    assert.ok(!listed.stdout.includes(value));

    const shown = cli(dir, ["secrets", "show", "SESSION_SECRET"]);
    assert.match(shown.stdout, /SESSION_SECRET: 32 characters, sha256 [0-9a-f]{12}/);
    assert.ok(!shown.stdout.includes(value));
    assert.equal(cli(dir, ["secrets", "show", "SESSION_SECRET", "--reveal"]).stdout, `${value}\n`);
  });
});
