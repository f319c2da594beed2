/** Secrets: dotenv files beside slipway.yml, $(command) values, and where problems are reported. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/index.ts";
import { brief, fixture, issuesOf, load, MINIMAL, onlyIssue, yaml } from "./helpers.ts";

const WITH_SECRET = yaml`
${MINIMAL.trimEnd()}
env:
  clear:
    NODE_ENV: production
  secret:
    - SESSION_SECRET
`;

describe("secrets", () => {
  it("resolves referenced secrets from .slipway/secrets and records their source", async () => {
    const loaded = await load({
      "slipway.yml": `${WITH_SECRET}registry:\n  username: bot\n  password: REGISTRY_TOKEN\n`,
      ".slipway/secrets": 'SESSION_SECRET=abc123\nREGISTRY_TOKEN="tok en"\nUNUSED=$(exit 1)\n',
    });
    assert.deepEqual(
      [...loaded.secrets.values],
      [
        ["SESSION_SECRET", "abc123"],
        ["REGISTRY_TOKEN", "tok en"],
      ],
    );
    assert.deepEqual(
      [...loaded.secrets.sources],
      [
        ["SESSION_SECRET", ".slipway/secrets"],
        ["REGISTRY_TOKEN", ".slipway/secrets"],
      ],
    );
  });

  it("resolves an accessory's env.secret too, and reports a missing one at its reference", async () => {
    const config = `${MINIMAL.trimEnd()}
accessories:
  queue:
    engine: generic
    image: nats:2
    env:
      secret: [NATS_TOKEN]
`;
    const loaded = await load({ "slipway.yml": config, ".slipway/secrets": "NATS_TOKEN=t0k\n" });
    assert.deepEqual([...loaded.secrets.values], [["NATS_TOKEN", "t0k"]]);
    const issue = await onlyIssue({ "slipway.yml": config, ".slipway/secrets": "OTHER=1\n" });
    assert.equal(issue.path, "accessories.queue.env.secret[0]");
    assert.equal(issue.line, 12);
    assert.match(issue.message, /secret "NATS_TOKEN" is not set/);
  });

  it("reports a missing secret at its reference, naming the key and the file looked in", async () => {
    const issue = await onlyIssue({ "slipway.yml": WITH_SECRET, ".slipway/secrets": "OTHER=1\n" });
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 11,
      column: 7,
      path: "env.secret[0]",
      message: 'secret "SESSION_SECRET" is not set: looked in .slipway/secrets',
      hint: "add the line SESSION_SECRET=<value> to .slipway/secrets",
    });
  });

  it("names both files, and which is missing, for an environment", async () => {
    const issue = await onlyIssue(
      {
        "slipway.yml": `${WITH_SECRET}environments:\n  staging: {}\n`,
      },
      "staging",
    );
    assert.equal(
      issue.message,
      'secret "SESSION_SECRET" is not set: looked in .slipway/secrets (no such file) and .slipway/secrets.staging (no such file)',
    );
    assert.equal(
      issue.hint,
      "add the line SESSION_SECRET=<value> to .slipway/secrets (or to .slipway/secrets.staging for this environment only)",
    );
  });

  it("lets .slipway/secrets.<env> override .slipway/secrets", async () => {
    const loaded = await load(
      {
        "slipway.yml": `${WITH_SECRET}environments:\n  staging: {}\n`,
        ".slipway/secrets": "SESSION_SECRET=production-value\n",
        ".slipway/secrets.staging": "SESSION_SECRET=staging-value\n",
      },
      "staging",
    );
    assert.equal(loaded.secrets.values.get("SESSION_SECRET"), "staging-value");
    assert.equal(loaded.secrets.sources.get("SESSION_SECRET"), ".slipway/secrets.staging");
  });

  it("runs $(command) in the config file's directory and uses its trimmed output", async () => {
    const cwd = await fixture({
      "app/slipway.yml": WITH_SECRET,
      "app/token.txt": "  from-a-file\n\n",
      "app/.slipway/secrets": "# fetched at deploy time\nSESSION_SECRET=$(cat token.txt)\n",
    });
    const loaded = await loadConfig({ cwd, file: "app/slipway.yml" });
    assert.equal(loaded.secrets.values.get("SESSION_SECRET"), "from-a-file");
    assert.equal(loaded.secrets.sources.get("SESSION_SECRET"), "app/.slipway/secrets");
  });

  it("reports a failing command at its line in the secrets file, without its output", async () => {
    const issues = await issuesOf({
      "slipway.yml": WITH_SECRET,
      ".slipway/secrets":
        "# line 1\nOTHER=x\n  SESSION_SECRET=$(echo leaked-output; echo more >&2; exit 3)\n",
    });
    assert.deepEqual(issues, [
      {
        file: ".slipway/secrets",
        line: 3,
        column: 3,
        path: "SESSION_SECRET",
        message: 'the command for secret "SESSION_SECRET" failed with exit status 3',
        hint: "run the command on line 3 of .slipway/secrets yourself to see why; its output is not shown because it may hold secrets",
      },
    ]);
    assert.doesNotMatch(JSON.stringify(issues), /leaked-output|more/);
  });

  it("treats a command that prints nothing as a failure", async () => {
    const issue = await onlyIssue({
      "slipway.yml": WITH_SECRET,
      ".slipway/secrets": "SESSION_SECRET=$(true)\n",
    });
    assert.deepEqual(brief([issue]), [
      '.slipway/secrets:1:1 SESSION_SECRET: the command for secret "SESSION_SECRET" printed nothing',
    ]);
  });

  it("reports secret issues together with the other issues of the file", async () => {
    const issues = await issuesOf({
      "slipway.yml": `${WITH_SECRET}ssh:\n  port: 0\n`,
      ".slipway/secrets": "SESSION_SECRET=$(exit 1)\n",
    });
    assert.deepEqual(brief(issues), [
      "slipway.yml:13:9 ssh.port: port 0 is out of range: ports are whole numbers from 1 to 65535",
      '.slipway/secrets:1:1 SESSION_SECRET: the command for secret "SESSION_SECRET" failed with exit status 1',
    ]);
  });
});

describe("secrets files and git", () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, { cwd, stdio: "ignore" });

  it("warns when a secrets file is not ignored by git", async () => {
    const cwd = await fixture({
      "slipway.yml": WITH_SECRET,
      ".slipway/secrets": "SESSION_SECRET=x\n",
    });
    git(cwd, "init", "-q");
    const loaded = await loadConfig({ cwd });
    assert.deepEqual(loaded.warnings, [
      '.slipway/secrets is not ignored by git: add ".slipway/secrets*" to .gitignore so secrets are never committed',
    ]);
  });

  it("does not warn about a file holding only $(command) references", async () => {
    const cwd = await fixture({
      "slipway.yml": WITH_SECRET,
      ".slipway/secrets": "# from the password manager\nSESSION_SECRET=$(echo from-vault)\n",
    });
    git(cwd, "init", "-q");
    const loaded = await loadConfig({ cwd });
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.secrets.values.get("SESSION_SECRET"), "from-vault");
  });

  it("does not warn when .gitignore covers it, or outside a repository", async () => {
    const files = {
      "slipway.yml": WITH_SECRET,
      ".slipway/secrets": "SESSION_SECRET=x\n",
      ".gitignore": ".slipway/secrets*\n",
    };
    const ignored = await fixture(files);
    git(ignored, "init", "-q");
    assert.deepEqual((await loadConfig({ cwd: ignored })).warnings, []);
    assert.deepEqual((await load(files)).warnings, []);
  });
});

describe("secret-looking values in slipway.yml", () => {
  it("warns at each plain value that looks like a secret, by name or by shape, and only those", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL.trimEnd()}
env:
  clear:
    LOG_LEVEL: info
    DB_PASSWORD: hunter2
    UPSTREAM: https://user:pa55@api.example.com/v1
    AWS_KEY_ID: AKIAIOSFODNN7EXAMPLE
    TOKEN_TTL: ""
accessories:
  cache:
    engine: redis
    env:
      clear:
        STRIPE: sk_live_0123456789abcdef
`,
    });
    assert.deepEqual(loaded.warnings, [
      "slipway.yml:10:18 env.clear.DB_PASSWORD looks like a secret (its name says password), and slipway.yml is committed: list DB_PASSWORD under env.secret and put its value in .slipway/secrets",
      "slipway.yml:11:15 env.clear.UPSTREAM looks like a secret (a URL with a password in it), and slipway.yml is committed: list UPSTREAM under env.secret and put its value in .slipway/secrets",
      "slipway.yml:12:17 env.clear.AWS_KEY_ID looks like a secret (an AWS access key), and slipway.yml is committed: list AWS_KEY_ID under env.secret and put its value in .slipway/secrets",
      "slipway.yml:19:17 accessories.cache.env.clear.STRIPE looks like a secret (a Stripe live key), and slipway.yml is committed: list STRIPE under env.secret and put its value in .slipway/secrets",
    ]);
  });
});
