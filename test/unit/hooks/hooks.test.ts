/** Hooks run as real local programs: from slipway.yml or .slipway/hooks/<name>. */
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { LoadedConfig } from "../../../src/config/index.ts";
import { UserError } from "../../../src/errors/index.ts";
import { type HookFacts, resolveHook, runHook } from "../../../src/hooks/index.ts";
import { createReporter, Redactor } from "../../../src/output/index.ts";
import { load, MINIMAL, yaml } from "../config/helpers.ts";

const FACTS: HookFacts = {
  command: "deploy",
  version: "v7",
  hosts: ["10.0.0.1", "10.0.0.2"],
  roles: ["web", "worker"],
  performer: "ana@laptop",
};

function capture() {
  let text = "";
  const reporter = createReporter({ redactor: new Redactor(), write: (t) => (text += t) });
  return { reporter, output: () => text };
}

async function withHookFile(name: string, body: string, mode = 0o755): Promise<LoadedConfig> {
  const loaded = await load({ "slipway.yml": MINIMAL });
  const dir = join(loaded.file, "..", ".slipway", "hooks");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), body);
  await chmod(join(dir, name), mode);
  return loaded;
}

describe("hooks", () => {
  it("none configured: nothing runs", async () => {
    const loaded = await load({ "slipway.yml": MINIMAL });
    assert.equal(await resolveHook(loaded, "pre-deploy"), undefined);
    const { reporter, output } = capture();
    await runHook("pre-deploy", { loaded, reporter, facts: FACTS });
    assert.equal(output(), "");
  });

  it("a file hook runs in the project folder with the SLIPWAY_* facts", async () => {
    const loaded = await withHookFile(
      "post-deploy",
      "#!/bin/sh\nenv | grep '^SLIPWAY_' | sort > hook-env.txt\necho notified\n",
    );
    const { reporter, output } = capture();
    await runHook("post-deploy", {
      loaded,
      reporter,
      facts: { ...FACTS, previousVersion: "v6", runtimeS: 12.34 },
    });
    const env = await readFile(join(loaded.file, "..", "hook-env.txt"), "utf8");
    const vars = Object.fromEntries(
      env
        .trim()
        .split("\n")
        .map((l) => l.split(/=(.*)/s, 2)),
    );
    assert.equal(vars.SLIPWAY_HOOK, "post-deploy");
    assert.equal(vars.SLIPWAY_COMMAND, "deploy");
    assert.equal(vars.SLIPWAY_SERVICE, "hello");
    assert.equal(vars.SLIPWAY_VERSION, "v7");
    assert.equal(vars.SLIPWAY_HOSTS, "10.0.0.1,10.0.0.2");
    assert.equal(vars.SLIPWAY_ROLES, "web,worker");
    assert.equal(vars.SLIPWAY_PERFORMER, "ana@laptop");
    assert.equal(vars.SLIPWAY_PREVIOUS_VERSION, "v6");
    assert.equal(vars.SLIPWAY_RUNTIME, "12.3");
    assert.equal(vars.SLIPWAY_CONFIG, loaded.file);
    assert.match(vars.SLIPWAY_RECORDED_AT ?? "", /^\d{4}-\d\d-\d\dT/);
    assert.match(output(), /hook post-deploy \| notified/);
  });

  it("a failing pre hook throws with its exit code; its output is shown", async () => {
    const loaded = await withHookFile(
      "pre-deploy",
      "#!/bin/sh\necho 'tests are red' >&2\nexit 3\n",
    );
    const { reporter, output } = capture();
    await assert.rejects(
      runHook("pre-deploy", { loaded, reporter, facts: FACTS }),
      (error: unknown) =>
        error instanceof UserError &&
        /pre-deploy hook .* failed with exit code 3; the deploy stopped before changing anything/.test(
          error.message,
        ),
    );
    assert.match(output(), /hook pre-deploy \| tests are red/);
  });

  it("a failing post hook only warns", async () => {
    const loaded = await withHookFile("post-rollback", "#!/bin/sh\nexit 1\n");
    const { reporter, output } = capture();
    await runHook("post-rollback", { loaded, reporter, facts: { ...FACTS, command: "rollback" } });
    assert.match(
      output(),
      /warning: The post-rollback hook .* failed with exit code 1; the rollback itself succeeded/,
    );
  });

  it("a hook file that is not executable is refused with the chmod to run", async () => {
    const loaded = await withHookFile("pre-build", "#!/bin/sh\n", 0o644);
    await assert.rejects(resolveHook(loaded, "pre-build"), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /is not executable/);
      assert.match(error.hint ?? "", /chmod \+x .*\.slipway\/hooks\/pre-build/);
      return true;
    });
  });

  it("a hook in slipway.yml runs with its arguments, a relative program from the project", async () => {
    const loaded = await load({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
hooks:
  pre_deploy: bin/check "two words"
`,
      "bin/check": '#!/bin/sh\nprintf "%s|" "$@" > args.txt\n',
    });
    await chmod(join(loaded.file, "..", "bin/check"), 0o755);
    const { reporter } = capture();
    await runHook("pre-deploy", { loaded, reporter, facts: FACTS });
    assert.equal(await readFile(join(loaded.file, "..", "args.txt"), "utf8"), "two words|");
  });

  it("a hook defined in slipway.yml and as a file is refused", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL}hooks:\n  pre_build: ./x\n`,
      ".slipway/hooks/pre-build": "#!/bin/sh\n",
    });
    await assert.rejects(resolveHook(loaded, "pre-build"), /defined twice/);
  });

  it("a missing program and a hook that outlives hooks.timeout fail clearly", async () => {
    const missing = await load({
      "slipway.yml": `${MINIMAL}hooks:\n  pre_deploy: no-such-program-here\n`,
    });
    await assert.rejects(
      runHook("pre-deploy", { loaded: missing, reporter: capture().reporter, facts: FACTS }),
      /no-such-program-here was not found/,
    );
    const slow = await load({
      "slipway.yml": `${MINIMAL}hooks:\n  pre_deploy: [sleep, "30"]\n  timeout: 1s\n`,
    });
    await assert.rejects(
      runHook("pre-deploy", { loaded: slow, reporter: capture().reporter, facts: FACTS }),
      /was stopped after 1s \(hooks.timeout\)/,
    );
  });
});
