/**
 * The commands of a deployed app, end to end on one fresh VPS box reached only over SSH: status,
 * logs (followed too), exec and run with the release's env, a restart under load that drops no
 * request, and prune, which lists before it removes and never touches what a rollback needs.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import {
  BIN,
  type HelloProject,
  helloProject,
  SESSION_SECRET,
  type SlipwayRun,
} from "../support/hello-project.ts";
import { startLoad } from "../support/load.ts";

describe("slipway status, logs, exec, run, restart, prune end to end", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;
  let url = "";
  const slipway = (args: string[]): Promise<SlipwayRun> => hello.slipway(args);
  const ok = async (args: string[]): Promise<SlipwayRun> => {
    const run = await slipway(args);
    assert.equal(run.code, 0, `slipway ${args.join(" ")}: ${run.stderr}`);
    return run;
  };

  async function current(): Promise<{ version: string; message: string }> {
    const response = await fetch(url, { headers: { connection: "close" } });
    assert.equal(response.status, 200);
    return (await response.json()) as { version: string; message: string };
  }

  /** Names of the containers of a role on the box, running ones only unless `all`. */
  async function containersOf(role: string, all = false): Promise<string[]> {
    const out = await box.exec([
      "docker",
      "ps",
      ...(all ? ["--all"] : []),
      "--filter",
      `label=slipway.role=${role}`,
      "--format",
      "{{.Names}}",
    ]);
    return out.trim().split("\n").filter(Boolean);
  }

  async function exists(argv: string[]): Promise<boolean> {
    return (
      (
        await box.exec(["sh", "-c", '"$@" >/dev/null 2>&1 && echo yes || echo no', "sh", ...argv])
      ).trim() === "yes"
    );
  }

  /** Whether no process on the box has a command line matching `pattern`, within 15 s. */
  async function gone(pattern: string): Promise<boolean> {
    for (let i = 0; i < 30; i++) {
      const count = await box.exec([
        "sh",
        "-c",
        'ps -eo args= | grep -c -- "$1" || true',
        "sh",
        pattern,
      ]);
      if (count.trim() === "0") return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }

  /** Starts the bin in the background, stdin piped, collecting its stdout. */
  function start(args: string[]) {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: hello.dir, env: hello.env });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    return { child, exited, stdout: () => stdout };
  }

  before(async () => {
    box = await startVpsBox({ publish: [80] });
    // The web role keeps a SQLite file on a volume (DATA_DIR): kept across releases.
    hello = await helloProject(box, { webVolumes: ["data:/app/data"] });
    url = `http://127.0.0.1:${box.ports[80]}/`;
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  const visit = async () =>
    (
      (await (await fetch(`${url}visits`, { headers: { connection: "close" } })).json()) as {
        visits: number;
      }
    ).visits;

  it("bootstraps the box and deploys v1, then v2; a SQLite file on the role's volume is kept", async () => {
    await hello.configure("first", { DATA_DIR: "/app/data" });
    await ok(["server", "bootstrap"]);
    await ok(["deploy", "--version", "v1"]);
    assert.equal(await visit(), 1);
    assert.equal(await visit(), 2);
    await hello.configure("second", { DATA_DIR: "/app/data" });
    const second = await ok(["deploy", "--version", "v2"]);
    assert.equal((await current()).version, "v2");
    // The release command (migrations) saw the file, and v2 goes on counting in it.
    assert.match(second.stderr, /visits table ready \(2 rows in \/app\/data\/hello\.db\)/);
    assert.equal(await visit(), 3);
    const volumes = await box.exec(["docker", "volume", "ls", "--quiet"]);
    assert.match(volumes, /^hello-data$/m, "named after the app");
  });

  it("status shows every role running v2, the proxy and the lock, for people and as JSON", async () => {
    const human = await ok(["status"]);
    assert.match(human.stdout, /^hello: not locked$/m);
    assert.match(human.stdout, /^HOST\s+ROLE\s+CONTAINER\s+VERSION\s+STATE\s+HEALTH\s+UPTIME/m);
    assert.match(
      human.stdout,
      /^127\.0\.0\.1\s+web\s+hello-web-v2-[0-9a-f]{6}\s+v2\s+running\s+-\s+\d+[smhd]/m,
    );
    assert.match(
      human.stdout,
      /^127\.0\.0\.1\s+worker\s+hello-worker-v2-[0-9a-f]{6}\s+v2\s+running/m,
    );
    assert.match(human.stdout, /^127\.0\.0\.1\s+proxy\s+slipway-proxy\s+-\s+running/m);

    const json = JSON.parse((await ok(["status", "--json"])).stdout);
    assert.equal(json.ok, true);
    assert.equal(json.site, "hello");
    assert.equal(json.lock.held, false);
    const [host] = json.hosts;
    assert.equal(host.host, "127.0.0.1");
    assert.equal(host.reachable, true);
    assert.equal(host.proxy.state, "running");
    assert.deepEqual(
      host.roles.map((r: { role: string; current: string; running: boolean }) => [
        r.role,
        r.current,
        r.running,
      ]),
      [
        ["web", "v2", true],
        ["worker", "v2", true],
      ],
    );
    for (const role of host.roles) {
      const [container] = role.containers;
      assert.equal(container.version, "v2");
      assert.equal(container.state, "running");
      // The example image has no HEALTHCHECK: health is there, and null.
      assert.ok("health" in container);
      assert.equal(container.health, null);
      assert.equal(typeof container.uptimeSeconds, "number");
      assert.match(container.startedAt, /^\d{4}-\d{2}-\d{2}T/);
      assert.equal(container.restartCount, 0);
    }
  });

  it("status names an unreachable host and its reason, still shows the others, and exits 1", async () => {
    const config = await readFile(join(hello.dir, "slipway.yml"), "utf8");
    const wider = config.replace(`    hosts: [${box.host}]`, `    hosts: [${box.host}, 127.0.0.2]`);
    assert.notEqual(wider, config);
    await writeFile(join(hello.dir, "unreachable.yml"), wider);
    const run = await slipway(["-c", "unreachable.yml", "status"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /^127\.0\.0\.2: unreachable: .*refused/im);
    assert.match(run.stdout, /^127\.0\.0\.1\s+web\s+hello-web-v2-/m);
  });

  it("logs --tail shows the last lines of a role, each prefixed with host and role", async () => {
    const worker = await ok(["logs", "--role", "worker", "--tail", "3"]);
    const lines = worker.stdout.trim().split("\n");
    assert.equal(lines.length, 3, worker.stdout);
    for (const line of lines) assert.match(line, /^127\.0\.0\.1 worker \| .*\[worker\] /);

    const all = await ok(["logs", "--since", "1h"]);
    assert.match(all.stdout, /^127\.0\.0\.1 web {4}\| .*listening on port 3000 \(version v2\)$/m);
    assert.match(all.stdout, /^127\.0\.0\.1 worker \| .*\[worker\] worker started$/m);

    const json = await ok(["logs", "--role", "web", "--tail", "1", "--json"]);
    const entry = JSON.parse(json.stdout.trim().split("\n")[0] ?? "");
    assert.equal(entry.host, "127.0.0.1");
    assert.equal(entry.role, "web");
    assert.match(entry.container, /^hello-web-v2-/);
    assert.equal(entry.stream, "stdout");

    const bad = await slipway(["logs", "--since", "yesterday"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since "yesterday".*\nhint: .*10m/);
  });

  it("logs -f streams new lines until Ctrl-C, and leaves nothing running on the host", async () => {
    const logs = start(["logs", "-f", "--role", "worker", "--tail", "1"]);
    // The worker ticks every second: two tick lines means the stream follows.
    let ticks = 0;
    for (let i = 0; i < 100 && ticks < 2; i++) {
      ticks = (logs.stdout().match(/\[worker\] tick \d+/g) ?? []).length;
      if (ticks < 2) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(ticks >= 2, `logs -f showed no new lines: ${logs.stdout()}`);
    for (const line of logs.stdout().trim().split("\n")) {
      assert.match(line, /^127\.0\.0\.1 worker \| /);
    }
    logs.child.kill("SIGINT");
    assert.equal(await logs.exited, 0);
    // The remote `docker logs -f` ends with its session, at its next write at the latest.
    assert.ok(await gone("^docker logs"), "docker logs still runs on the host");
  });

  it("exec runs in the running container with its env, secrets redacted, and passes the exit code on", async () => {
    const message = await ok([
      "exec",
      "web",
      "--",
      "node",
      "-e",
      "console.log(process.env.MESSAGE)",
    ]);
    assert.equal(message.stdout, "second\n");
    const secret = await ok(["exec", "web", "--", "printenv", "SESSION_SECRET"]);
    assert.equal(secret.stdout, "[redacted]\n");
    assert.doesNotMatch(secret.stdout + secret.stderr, new RegExp(SESSION_SECRET));
    const failing = await slipway(["exec", "web", "--", "sh", "-c", "echo to stderr >&2; exit 7"]);
    assert.equal(failing.code, 7);
    assert.equal(failing.stderr, "to stderr\n");
    const quoted = await ok([
      "exec",
      "worker",
      "--",
      "sh",
      "-c",
      'printf "%s|" "$@"',
      "sh",
      "a b",
      "$HOME",
      "'; exit 9",
    ]);
    assert.equal(quoted.stdout, "a b|$HOME|'; exit 9|\n");

    const piped = start(["exec", "-i", "web", "--", "wc", "-l"]);
    piped.child.stdin.end("one\ntwo\n");
    assert.equal(await piped.exited, 0);
    assert.equal(piped.stdout().trim(), "2");

    const unknown = await slipway(["exec", "wrker", "--", "true"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no role "wrker".*\nhint: .*web, worker/);
  });

  it("run starts a one-off container of v2 with its env, passes the exit code on, and removes it", async () => {
    const run = await ok([
      "run",
      "--",
      "node",
      "-e",
      "console.log(process.env.MESSAGE, process.env.SLIPWAY_VERSION)",
    ]);
    assert.equal(run.stdout, "second v2\n");
    // A one-off run of web mounts its volume: it reads the SQLite file the app writes.
    const rows = await ok([
      "run",
      "--",
      "node",
      "-e",
      'const { DatabaseSync } = require("node:sqlite"); console.log(new DatabaseSync("/app/data/hello.db").prepare("SELECT count(*) AS n FROM visits").get().n)',
    ]);
    assert.equal(rows.stdout.trim(), "3");
    const worker = await ok(["run", "--role", "worker", "--", "sh", "-c", "echo $SLIPWAY_ROLE"]);
    assert.equal(worker.stdout, "worker\n");
    const failing = await slipway(["run", "--", "sh", "-c", "exit 3"]);
    assert.equal(failing.code, 3);
    assert.deepEqual(await containersOf("run", true), []);

    const piped = start(["run", "-i", "--", "sh", "-c", "tr a-z A-Z"]);
    piped.child.stdin.end("piped in\n");
    assert.equal(await piped.exited, 0);
    assert.equal(piped.stdout(), "PIPED IN\n");
  });

  it("Ctrl-C on run removes the one-off container", async () => {
    const sleeper = start(["run", "--", "sleep", "600"]);
    let started = false;
    for (let i = 0; i < 60 && !started; i++) {
      started = (await containersOf("run")).length === 1;
      if (!started) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(started, "the one-off container never ran");
    sleeper.child.kill("SIGINT");
    assert.equal(await sleeper.exited, 130);
    assert.deepEqual(await containersOf("run", true), []);
  });

  it("restart under load: no failed request, still v2, every container replaced", async () => {
    const [webBefore] = await containersOf("web");
    const [workerBefore] = await containersOf("worker");
    const load = startLoad(url, { concurrency: 4, maxMs: 180_000 });
    await new Promise((r) => setTimeout(r, 500));
    const run = await slipway(["restart"]);
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Restarted web, worker \(v2\)/);
    assert.equal(
      report.failed,
      0,
      `${report.failed} of ${report.requests} failed: ${report.failures.join("; ")}`,
    );
    assert.ok(report.requests > 50, `only ${report.requests} requests`);
    assert.deepEqual(report.versions, ["v2"]);
    const webAfter = await containersOf("web");
    const workerAfter = await containersOf("worker");
    assert.equal(webAfter.length, 1, webAfter.join(", "));
    assert.equal(workerAfter.length, 1, workerAfter.join(", "));
    assert.notEqual(webAfter[0], webBefore);
    assert.notEqual(workerAfter[0], workerBefore);
    assert.match(webAfter[0] ?? "", /^hello-web-v2-/);
    assert.deepEqual(await current(), { ...(await current()), version: "v2", message: "second" });

    const worker = await ok(["restart", "--role", "worker"]);
    assert.match(worker.stdout, /Restarted worker \(v2\)/);
    assert.deepEqual(await containersOf("web"), webAfter);

    const { releases } = JSON.parse((await ok(["releases", "--json"])).stdout);
    assert.deepEqual(
      releases
        .slice(-3)
        .map((r: { role: string; version: string; kind: string; outcome: string }) =>
          [r.role, r.version, r.kind, r.outcome].join(":"),
        ),
      ["web:v2:restart:restarted", "worker:v2:restart:restarted", "worker:v2:restart:restarted"],
    );
  });

  it("prune lists without --yes and removes nothing; with --yes removes what it listed, and rollback still works", async () => {
    // Leftovers: an old release's env file and image, a stopped container, a dangling image.
    const envDir = "/var/lib/slipway/hello/env";
    await box.exec(["sh", "-c", `umask 077; echo A=1 > ${envDir}/web-v0.env`]);
    await box.exec(["docker", "tag", "hello:v1", "hello:v0"]);
    const stopped = "hello-web-v0-000000";
    await box.exec([
      "docker",
      "create",
      "--name",
      stopped,
      "--label",
      "slipway.service=hello",
      "--label",
      "slipway.environment=",
      "--label",
      "slipway.role=web",
      "--label",
      "slipway.version=v0",
      "hello:v0",
      "true",
    ]);
    const dangling = (
      await box.exec([
        "sh",
        "-c",
        "printf 'FROM hello:v1\\nLABEL slipway.test=dangling\\n' | docker build -q -",
      ])
    )
      .trim()
      .replace(/^sha256:/, "");
    assert.match(dangling, /^[0-9a-f]{12,64}$/);

    const listed = await ok(["prune"]);
    assert.match(listed.stdout, /^127\.0\.0\.1: would remove:$/m);
    assert.match(listed.stdout, new RegExp(`stopped containers: ${stopped}`));
    assert.match(listed.stdout, /env files: \/var\/lib\/slipway\/hello\/env\/web-v0\.env/);
    assert.match(listed.stdout, /images: hello:v0/);
    assert.match(listed.stdout, new RegExp(`dangling images: .*${dangling.slice(0, 12)}`));
    assert.match(listed.stdout, /keeping: web v2, v1; worker v2, v1/);
    assert.match(listed.stdout, /run again with --yes/);
    assert.ok(await exists(["docker", "inspect", stopped]));
    assert.ok(await exists(["test", "-f", `${envDir}/web-v0.env`]));
    assert.ok(await exists(["docker", "image", "inspect", "hello:v0"]));
    assert.ok(await exists(["docker", "image", "inspect", dangling]));

    const plan = JSON.parse((await ok(["prune", "--json"])).stdout);
    assert.equal(plan.applied, false);
    assert.deepEqual(plan.hosts[0].plan.containers, [stopped]);
    assert.deepEqual(plan.hosts[0].plan.envFiles, [`${envDir}/web-v0.env`]);
    assert.deepEqual(plan.hosts[0].plan.images, ["hello:v0"]);

    const removed = await ok(["prune", "--yes"]);
    assert.match(removed.stdout, /^127\.0\.0\.1: removed:$/m);
    assert.ok(!(await exists(["docker", "inspect", stopped])));
    assert.ok(!(await exists(["test", "-f", `${envDir}/web-v0.env`])));
    assert.ok(!(await exists(["docker", "image", "inspect", "hello:v0"])));
    assert.ok(!(await exists(["docker", "image", "inspect", dangling])));
    // What a rollback needs stays.
    const images = await box.exec(["docker", "images", "--format", "{{.Tag}}", "hello"]);
    assert.deepEqual(images.trim().split("\n").sort(), ["v1", "v2"]);
    const envs = await box.exec(["ls", envDir]);
    assert.deepEqual(envs.trim().split("\n").sort(), [
      "web-v1.env",
      "web-v2.env",
      "worker-v1.env",
      "worker-v2.env",
    ]);
    assert.equal((await current()).version, "v2");

    const again = await ok(["prune"]);
    assert.match(again.stdout, /^127\.0\.0\.1: nothing to prune/m);

    await ok(["rollback", "v1"]);
    assert.deepEqual(await current(), { ...(await current()), version: "v1", message: "first" });
  });
});
