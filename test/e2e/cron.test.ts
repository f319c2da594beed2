/**
 * Cron jobs on a fresh VPS box, end to end: `slipway agent install` gives the agent the example
 * app's jobs; one runs every minute on its own in a container made like the web container (its
 * env: the app's MESSAGE), `slipway cron status` and `cron logs` show it; `slipway cron run`
 * runs one now and exits with its code, and a failing job opens "<job> job".
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  NODE_IMAGE,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { type HelloProject, helloProject, type SlipwayRun } from "../support/hello-project.ts";

describe("cron jobs on a VPS box", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;

  const ok = (args: string[]) => hello.ok(args);

  before(async () => {
    box = await startVpsBox();
    hello = await helloProject(box, {
      extraYaml: [
        "monitoring:",
        `  image: ${NODE_IMAGE}`,
        "  host: false",
        "cron:",
        "  tick:",
        '    schedule: "* * * * *"',
        `    command: ["node", "-e", "console.log('tick:', process.env.MESSAGE)"]`,
        "  broken:",
        '    schedule: "0 0 1 1 *"',
        `    command: ["node", "-e", "console.log('about to fail'); process.exit(4)"]`,
      ],
    });
    await hello.configure("from cron");
    await ok(["server", "bootstrap"]);
    await ok(["deploy", "--version", "v1"]);
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("agent install gives the agent the app's jobs, and one runs on its schedule", async () => {
    assert.match(
      (await ok(["agent", "install"])).stdout,
      /127\.0\.0\.1: agent started, 0 checks of hello, 2 cron jobs/,
    );
    const deadline = Date.now() + 150_000;
    let status: SlipwayRun;
    for (;;) {
      status = await hello.slipway(["cron", "status"]);
      if (/tick \(\* \* \* \* \*\): last run \S+ ok/.test(status.stdout)) break;
      assert.ok(
        Date.now() < deadline,
        `no scheduled run of tick:\n${status.stdout}\n${status.stderr}`,
      );
      await new Promise((r) => setTimeout(r, 3_000));
    }
    assert.match(
      status.stdout,
      /^127\.0\.0\.1 tick \(\* \* \* \* \*\): last run \S+ ok \(exit 0\) in \d+s, next \S+$/m,
    );
    assert.match(
      status.stdout,
      /^127\.0\.0\.1 broken \(0 0 1 1 \*\): not run yet, next \d{4}-01-01T/m,
    );
    const logs = await ok(["cron", "logs", "tick", "--runs", "1"]);
    assert.match(
      logs.stdout,
      /^== 127\.0\.0\.1 tick #\d+ \S+ schedule: ok \(exit 0\) in \d+s\ntick: from cron$/m,
    );
    // Its container is gone; the app's own containers are untouched.
    const left = await box.exec([
      "docker",
      "ps",
      "--all",
      "--filter",
      "label=slipway.job",
      "--format",
      "{{.Names}}",
    ]);
    assert.equal(left.trim(), "");
  });

  it("cron run runs a job now, prints its output and exits with its code; a failure opens '<job> job'", async () => {
    const tick = await ok(["cron", "run", "tick"]);
    assert.equal(tick.stdout, "tick: from cron\n");
    const broken = await hello.slipway(["cron", "run", "broken"]);
    assert.equal(broken.code, 4, `${broken.stdout}\n${broken.stderr}`);
    assert.equal(broken.stdout, "about to fail\n");
    assert.match(broken.stderr, /127\.0\.0\.1: broken failed \(exit 4\)/);
    assert.match(
      (await ok(["monitor", "incidents"])).stdout,
      /^127\.0\.0\.1 #\d+ broken job \(critical\): exit 4, since .*, open$/m,
    );
    const status = await hello.slipway(["cron", "status"]);
    assert.equal(status.code, 1, "a job's last run failed");
  });
});
