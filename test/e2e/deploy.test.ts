/**
 * The core promise, end to end: a fresh VPS box reached only over SSH, bootstrapped by Slipway,
 * deploys under continuous load that never see a failed request, a broken release that never
 * takes traffic, a rollback that brings the old env back, and a lock that holds.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { BIN, type HelloProject, helloProject, type SlipwayRun } from "../support/hello-project.ts";
import { type LoadReport, overlapMs, startLoad } from "../support/load.ts";

type Run = SlipwayRun;

describe("slipway deploy end to end", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let box: VpsBox;
  let project = "";
  let url = "";

  let hello: HelloProject;
  const slipway = (args: string[]) => hello.slipway(args);
  const writeConfig = (message: string, extraEnv: Record<string, string> = {}) =>
    hello.configure(message, extraEnv);

  async function current(): Promise<{ version: string; message: string }> {
    const response = await fetch(url, { headers: { connection: "close" } });
    assert.equal(response.status, 200);
    return (await response.json()) as { version: string; message: string };
  }

  /** Runs a slipway command while the load runs, and returns both. */
  async function underLoad(args: string[]): Promise<{ run: Run; load: LoadReport }> {
    const load = startLoad(url, { concurrency: 4, maxMs: 180_000 });
    await new Promise((r) => setTimeout(r, 500));
    const run = await slipway(args);
    await new Promise((r) => setTimeout(r, 500));
    return { run, load: await load.stop() };
  }

  async function appContainers(): Promise<string[]> {
    const out = await box.exec([
      "docker",
      "ps",
      "-a",
      "--filter",
      "label=slipway.role=web",
      "--format",
      "{{.Names}} {{.State}}",
    ]);
    return out.trim().split("\n").filter(Boolean);
  }

  before(async () => {
    box = await startVpsBox({ publish: [80] });
    hello = await helloProject(box);
    project = hello.dir;
    url = `http://127.0.0.1:${box.ports[80]}/`;
    await writeConfig("first");
  });

  after(async () => {
    await box?.stop();
    await rm(project, { recursive: true, force: true });
  });

  it("bootstraps a fresh box, and a second run changes nothing", async () => {
    const first = await slipway(["server", "bootstrap"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /container engine \(Docker\)/);
    const second = await slipway(["server", "bootstrap"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already set up, nothing changed/);
  });

  /** Writes an executable hook into the project's .slipway/hooks. */
  async function hook(name: string, body: string): Promise<void> {
    await mkdir(join(project, ".slipway/hooks"), { recursive: true });
    await writeFile(join(project, ".slipway/hooks", name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  const recordEnv = 'env | grep "^SLIPWAY_" | sort > "$SLIPWAY_HOOK.env"';
  const hookEnv = async (name: string) =>
    Object.fromEntries(
      (await readFile(join(project, `${name}.env`), "utf8"))
        .trim()
        .split("\n")
        .map((line) => line.split(/=(.*)/s, 2)),
    );

  it("deploys v1, with its pre-build, pre-deploy and post-deploy hooks", async () => {
    for (const name of ["pre-build", "pre-deploy", "post-deploy"]) await hook(name, recordEnv);
    const run = await slipway(["deploy", "--version", "v1"]);
    assert.equal(run.code, 0, run.stderr);
    for (const name of ["pre-build", "pre-deploy", "post-deploy"]) {
      const env = await hookEnv(name);
      assert.equal(env.SLIPWAY_VERSION, "v1");
      assert.equal(env.SLIPWAY_COMMAND, "deploy");
      assert.equal(env.SLIPWAY_HOSTS, box.host);
    }
    assert.match((await hookEnv("post-deploy")).SLIPWAY_RUNTIME ?? "", /^\d+\.\d$/);
    await rm(join(project, ".slipway/hooks"), { recursive: true });
    assert.match(run.stderr, /migrations applied \(version v1\)/);
    assert.deepEqual(await current(), { ...(await current()), version: "v1", message: "first" });
    assert.doesNotMatch(run.stdout + run.stderr, /e2e-session-secret-value/);
  });

  it("deploys v2 under load: no failed request, answers move from v1 to v2", async () => {
    await writeConfig("second");
    const { run, load } = await underLoad(["deploy", "--version", "v2"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      load.failed,
      0,
      `${load.failed} of ${load.requests} failed: ${load.failures.join("; ")}`,
    );
    assert.ok(load.requests > 50, `only ${load.requests} requests`);
    assert.deepEqual(load.versions, ["v1", "v2"]);
    assert.equal(load.lastVersion, "v2");
    assert.ok(
      overlapMs(load, "v1", "v2") < 1000,
      `v1 still answered ${overlapMs(load, "v1", "v2")}ms after v2's first answer`,
    );
    const running = (await appContainers()).filter((c) => c.endsWith(" running"));
    assert.equal(running.length, 1, running.join(", "));
  });

  it("refuses v3 whose health check fails: exit 3, its logs shown, it is gone, v2 serves", async () => {
    await writeConfig("third", { HEALTH: "fail" });
    const { run, load } = await underLoad(["deploy", "--version", "v3"]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /v3 failed its health check/);
    assert.match(run.stderr, /hello-web-v3-[0-9a-f]{6} \| .*listening/);
    assert.equal(load.failed, 0, load.failures.join("; "));
    assert.deepEqual(load.versions, ["v2"]);
    assert.equal((await appContainers()).filter((c) => c.includes("-v3-")).length, 0);
    assert.equal((await current()).version, "v2");
  });

  it("aborts before any switch when the release command fails", async () => {
    await writeConfig("fourth", { MIGRATE: "fail" });
    const run = await slipway(["deploy", "--version", "v4"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /release command failed .* nothing was switched/);
    assert.equal((await current()).version, "v2");
    assert.equal((await appContainers()).filter((c) => c.includes("-v4-")).length, 0);
  });

  it("a failing pre-deploy hook stops the deploy before any host changes", async () => {
    await hook("pre-deploy", 'echo "refusing: tests are red" >&2; exit 1');
    const run = await slipway(["deploy", "--version", "v4", "--skip-build"]);
    await rm(join(project, ".slipway/hooks"), { recursive: true });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /hook pre-deploy \| refusing: tests are red/);
    assert.match(run.stderr, /pre-deploy hook .* failed with exit code 1; the deploy stopped/);
    assert.doesNotMatch(run.stderr, /web: starting/);
    assert.equal((await current()).version, "v2");
    assert.match((await slipway(["lock", "status"])).stdout, /is not locked/);
  });

  it("rolls back to v1 under load with v1's env; the post-rollback hook runs", async () => {
    await hook("post-rollback", recordEnv);
    const { run, load } = await underLoad(["rollback", "v1"]);
    await rm(join(project, ".slipway/hooks"), { recursive: true });
    assert.equal(run.code, 0, run.stderr);
    const env = await hookEnv("post-rollback");
    assert.equal(env.SLIPWAY_COMMAND, "rollback");
    assert.equal(env.SLIPWAY_VERSION, "v1");
    assert.equal(env.SLIPWAY_PREVIOUS_VERSION, "v2");
    assert.equal(load.failed, 0, load.failures.join("; "));
    assert.deepEqual(load.versions, ["v2", "v1"]);
    assert.equal(load.lastVersion, "v1");
    assert.ok(
      overlapMs(load, "v2", "v1") < 1000,
      `v2 still answered ${overlapMs(load, "v2", "v1")}ms after v1's first answer`,
    );
    assert.deepEqual(await current(), { ...(await current()), version: "v1", message: "first" });
  });

  it("runs exactly one worker (a singleton) of the current version", async () => {
    const workers = await box.exec([
      "docker",
      "ps",
      "--filter",
      "label=slipway.role=worker",
      "--format",
      '{{.Label "slipway.version"}}',
    ]);
    assert.deepEqual(workers.trim().split("\n"), ["v1"]);
  });

  it("lists releases with their outcomes", async () => {
    const run = await slipway(["releases", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const { current: now, releases } = JSON.parse(run.stdout);
    assert.equal(now, "v1");
    assert.deepEqual(
      releases.map(
        (r: { version: string; role: string; outcome: string }) =>
          `${r.role}:${r.version}:${r.outcome}`,
      ),
      [
        "web:v1:deployed",
        "worker:v1:deployed",
        "web:v2:deployed",
        "worker:v2:deployed",
        "web:v3:health-failed",
        "web:v1:rolled-back",
        "worker:v1:rolled-back",
      ],
    );
  });

  it("refuses a deploy while the lock is held, naming the holder", async () => {
    assert.equal((await slipway(["lock", "acquire", "-m", "database maintenance"])).code, 0);
    const run = await slipway(["deploy", "--version", "v5"]);
    assert.equal(run.code, 4);
    assert.match(run.stderr, /locked by .*: database maintenance/);
    assert.equal((await slipway(["lock", "release"])).code, 0);
  });

  it("a deploy killed midway leaves the current version serving; the next one succeeds", async () => {
    await writeConfig("fifth");
    const env = { ...process.env, HOME: project, SSH_AUTH_SOCK: "" };
    const child = spawn(process.execPath, [BIN, "deploy", "--version", "v5"], {
      cwd: project,
      env,
    });
    await new Promise<void>((resolve) => {
      let seen = "";
      child.stderr.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (/web: starting/.test(seen)) resolve();
      });
      child.on("exit", () => resolve());
    });
    child.kill("SIGKILL");
    assert.equal((await current()).version, "v1");
    const run = await slipway(["deploy", "--version", "v5"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /took over a stale lock/);
    assert.equal((await current()).version, "v5");
    // releases.keep: 2 keeps v5 and v1; only the running container is left, v2's image is gone.
    assert.deepEqual(
      (await appContainers()).map((c) => c.replace(/-[0-9a-f]{6} /, " ")),
      ["hello-web-v5 running"],
    );
    const images = await box.exec(["docker", "images", "--format", "{{.Tag}}", "hello"]);
    assert.deepEqual(images.trim().split("\n").sort(), ["v1", "v5"]);
    const envs = await box.exec(["ls", "/var/lib/slipway/hello/env"]);
    assert.deepEqual(envs.trim().split("\n").sort(), [
      "web-v1.env",
      "web-v5.env",
      "worker-v1.env",
      "worker-v5.env",
    ]);
  });
});

describe("a dropped SSH connection mid-deploy", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 600_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;

  before(async () => {
    box = await startVpsBox({ publish: [80] });
    hello = await helloProject(box);
    await hello.configure("first");
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("fails clearly, the old version keeps serving, the lock is released, the next deploy converges", async () => {
    const url = `http://127.0.0.1:${box.ports[80]}/`;
    const version = async () => ((await (await fetch(url)).json()) as { version: string }).version;
    assert.equal((await hello.slipway(["server", "bootstrap"])).code, 0);
    const first = await hello.slipway(["deploy", "--version", "v1"]);
    assert.equal(first.code, 0, first.stderr);
    // Each health check of v2 takes 3s, so a command is running when the connection drops.
    await hello.configure("second", { UP_DELAY_MS: "3000" });

    const child = spawn(process.execPath, [BIN, "deploy", "--version", "v2"], {
      cwd: hello.dir,
      env: hello.env,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (/web: starting/.test(stderr) || child.exitCode !== null) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    await new Promise((r) => setTimeout(r, 1500));
    // The per-connection sshd processes die, as when the network drops; sshd itself keeps listening.
    await box.exec(["pkill", "-KILL", "-f", "^sshd: root"]);
    const code = await exited;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /SSH connection to .* dropped while a command was running/);
    assert.equal(await version(), "v1");
    assert.match((await hello.slipway(["lock", "status"])).stdout, /is not locked/);
    const leftovers = await box.exec([
      "docker",
      "ps",
      "-a",
      "--filter",
      "label=slipway.version=v2",
      "--format",
      "{{.Names}}",
    ]);
    assert.equal(leftovers.trim(), "", "the abandoned v2 container was not removed");

    await hello.configure("second");
    const again = await hello.slipway(["deploy", "--version", "v2", "--skip-build"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await version(), "v2");
  });
});
