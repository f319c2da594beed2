/**
 * Throwaway verification containers a killed runner leaves behind, on Podman's socket with the
 * runner as shipped (dist/agent-bundle/runner.mjs) in a container of the agent's image, as on a
 * host:
 * - a runner killed mid-verification leaves its throwaway Postgres, labelled with the runner's
 *   container as its maker; the next verification of that target removes it, but never another
 *   target's throwaway nor one whose maker still runs (a verification beside it);
 * - the agent, when a runner job times out, removes the runner's container and what it made;
 *   when it starts again, a run container a killed agent left and what that made.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { EngineClient, JOB_RUN_LABEL, type JobRun, OWNER_LABEL } from "../../src/agent/index.ts";
import {
  OWNER_LABEL as BACKUP_OWNER_LABEL,
  backupAccessory,
  directoryStore,
  type Manifest,
  RUNNER_NODE,
  type RunnerRequest,
  VERIFY_LABEL,
  verifyBackup,
} from "../../src/backup/index.ts";
import { engineContainers } from "../../src/backup/runner/engine-containers.ts";
import { NODE_IMAGE, POSTGRES_IMAGE } from "../rig/images.ts";
import { onProcessExit, rigAvailable, run, skipUnless } from "../rig/index.ts";
import { type AgeKeys, ageKeys } from "../support/age-keys.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent-process.ts";
import { ROOT } from "../support/hello-project.ts";

const SOCKET = "/run/podman/podman.sock";
const BUNDLE = join(ROOT, "dist/agent-bundle");
const ID = randomBytes(3).toString("hex");
const TEST_LABEL = `slipway-test-leftovers-${ID}`;
const dir = mkdtempSync(join(tmpdir(), "slipway-leftovers-"));
chmodSync(dir, 0o755);
const engine = new EngineClient(SOCKET);

/** Every container this test made, or that a runner made for it (by their labels). */
async function cleanup(): Promise<void> {
  const ours = [
    ...(await engine.list({ "slipway.test": TEST_LABEL }, { all: true }).catch(() => [])),
    ...(await engine.list({}, { all: true, has: [VERIFY_LABEL] }).catch(() => [])).filter((c) =>
      c.Labels?.[VERIFY_LABEL]?.startsWith(`${TEST_LABEL}-`),
    ),
  ];
  if (ours.length > 0)
    spawnSync("podman", ["rm", "-f", "--volumes", "-t", "0", ...ours.map((c) => c.Id)], {
      stdio: "ignore",
    });
}
const unregister = onProcessExit(() => {
  spawnSync("sh", [
    "-c",
    `podman ps -aq --filter label=slipway.test=${TEST_LABEL} | xargs -r podman rm -f --volumes -t 0`,
  ]);
  rmSync(dir, { recursive: true, force: true });
});
after(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
  unregister();
});

async function podman(args: string[]): Promise<string> {
  const r = await run("podman", args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`podman ${args.slice(0, 3).join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A container of this test that only sleeps, with these labels: its id. */
const sleeper = (labels: Record<string, string>) =>
  podman([
    "run",
    "-d",
    "--label",
    `slipway.test=${TEST_LABEL}`,
    ...Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    NODE_IMAGE,
    // PID 1 ignores SIGTERM unless it says otherwise: removed at once, not after a stop timeout.
    "sh",
    "-c",
    "trap 'exit 0' TERM; sleep 600 & wait",
  ]);

/** The throwaway verification containers of a target, by id, with their maker. */
async function throwaways(target: string): Promise<{ id: string; owner: string | undefined }[]> {
  const found = await engine.list({}, { all: true, has: [VERIFY_LABEL] });
  return found
    .filter((c) => c.Labels?.[VERIFY_LABEL]?.startsWith(`${target}/`))
    .map((c) => ({ id: c.Id, owner: c.Labels?.[OWNER_LABEL] }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    assert.ok(Date.now() < deadline, `no ${what} within 120 s`);
    await sleep(100);
  }
}

const exists = async (id: string) => (await run("podman", ["container", "exists", id])).code === 0;

describe("leftover throwaway verification containers", {
  skip: skipUnless(rigAvailable(POSTGRES_IMAGE)) || skipUnless(rigAvailable(NODE_IMAGE)),
  timeout: 600_000,
}, () => {
  // Target names that are this test's alone, so a parallel run's are never in its way.
  const target = `${TEST_LABEL}-db`;
  const other = `${TEST_LABEL}-other`;
  const storePath = join(dir, "store");
  let keys: AgeKeys;
  let source = "";
  let manifest: Manifest;

  /** A verify request of `target`'s newest backup, as the agent's job keeps it on a host. */
  function writeRequest(): void {
    const request: RunnerRequest = {
      format: 1,
      action: "verify",
      host: "web-1",
      store: { kind: "directory", path: storePath },
      compression: "zstd",
      recipients: [keys.recipient],
      targets: [
        {
          name: target,
          source: {
            kind: "postgres",
            container: source,
            user: "appuser",
            database: "appdb",
            image: POSTGRES_IMAGE,
          },
        },
      ],
    };
    writeFileSync(join(dir, "request.json"), JSON.stringify(request));
    writeFileSync(join(dir, "secrets.json"), JSON.stringify({ identity: keys.identity }), {
      mode: 0o600,
    });
  }

  /** The runner's container as the agent's runner job makes it (the host's paths the same). */
  const runnerMounts = [
    { source: BUNDLE, target: BUNDLE, read_only: true },
    { source: SOCKET, target: "/var/run/docker.sock", read_only: false },
    { source: dir, target: dir, read_only: false },
  ];
  const runnerCommand = [
    ...RUNNER_NODE,
    `${BUNDLE}/runner.mjs`,
    "--request",
    join(dir, "request.json"),
    "--secrets",
    join(dir, "secrets.json"),
  ];

  before(async () => {
    keys = await ageKeys();
    mkdirSync(join(dir, "work"), { mode: 0o755 });
    source = await podman([
      "run",
      "-d",
      "--label",
      `slipway.test=${TEST_LABEL}`,
      "-e",
      "POSTGRES_USER=appuser",
      "-e",
      "POSTGRES_DB=appdb",
      "-e",
      "POSTGRES_PASSWORD=pw-x1",
      POSTGRES_IMAGE,
    ]);
    source = source.slice(0, 12);
    await until("postgres", async () =>
      (await run("podman", ["exec", source, "pg_isready", "-q", "-h", "127.0.0.1"])).code === 0
        ? true
        : undefined,
    );
    await run("podman", [
      "exec",
      source,
      "psql",
      "-U",
      "appuser",
      "-d",
      "appdb",
      "-c",
      "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g",
    ]);
    manifest = await backupAccessory({
      target: { engine: "postgres", container: source, user: "appuser", database: "appdb" },
      store: directoryStore(storePath),
      seal: keys.seal,
      accessory: target,
      sourceHost: "web-1",
      image: POSTGRES_IMAGE,
      containers: engineContainers(engine),
    });
    writeRequest();
  });

  it("the agent's label for what a runner made is the one the runner writes", () => {
    assert.equal(OWNER_LABEL, BACKUP_OWNER_LABEL);
  });

  it("a killed runner's throwaway is removed by the next verification of its target, and only its", async () => {
    const runner = await podman([
      "run",
      "-d",
      "--label",
      `slipway.test=${TEST_LABEL}`,
      "-e",
      `TMPDIR=${join(dir, "work")}`,
      ...runnerMounts.flatMap((m) => ["-v", `${m.source}:${m.target}${m.read_only ? ":ro" : ""}`]),
      NODE_IMAGE,
      ...runnerCommand,
    ]);
    const [left] = await until("the runner's throwaway", async () => {
      const found = await throwaways(target);
      return found.length > 0 ? found : undefined;
    });
    assert.ok(left);
    // Killed mid-verification: the runner's own clean-up never runs.
    await podman(["rm", "-f", "-t", "0", runner]);
    assert.equal(left.owner, runner.slice(0, 12), "labelled with the runner's container");
    assert.ok(await exists(left.id), "the throwaway is left behind");

    // Beside it: another target's throwaway whose maker is gone too, and one of this target
    // whose maker still runs (a verification running beside this one).
    const gone = (await sleeper({})).slice(0, 12);
    await podman(["rm", "-f", "-t", "0", gone]);
    const others = await sleeper({
      [VERIFY_LABEL]: `${other}/20260101T000000Z`,
      [OWNER_LABEL]: gone,
    });
    const maker = (await sleeper({})).slice(0, 12);
    const beside = await sleeper({
      [VERIFY_LABEL]: `${target}/20260101T000000Z`,
      [OWNER_LABEL]: maker,
    });

    const report = await verifyBackup({
      store: directoryStore(storePath),
      manifest,
      opening: keys.opening,
      containers: engineContainers(engine),
    });
    assert.equal(report.error, undefined);
    assert.equal(report.ok, true);
    assert.equal(await exists(left.id), false, "the killed runner's throwaway is removed");
    assert.equal(await exists(others), true, "another target's is never touched");
    assert.equal(await exists(beside), true, "nor one whose maker still runs");
    assert.deepEqual(
      (await throwaways(target)).map((t) => t.id),
      [beside],
      "and the verification's own is gone",
    );
    await podman(["rm", "-f", "-t", "0", others, beside, maker]);
  });

  describe("the agent", () => {
    const TOKEN = "agent-token-leftovers-01";
    const job = `hello/verify.${target}`;
    const agentDir = join(dir, "agent");
    let agent: AgentProcess | undefined;
    const config = {
      service: "hello",
      host: "vps1",
      listen: { address: "127.0.0.1", port: 0 },
      token_env: "AGENT_TOKEN",
      engine_socket: SOCKET,
      jobs: [
        {
          name: job,
          kind: "runner",
          schedule: "0 0 1 1 *",
          image: NODE_IMAGE,
          command: runnerCommand,
          mounts: runnerMounts,
          env: [`TMPDIR=${join(dir, "work")}`],
          labels: { "slipway.test": TEST_LABEL },
        },
      ],
    };
    const start = async () => {
      agent = await startAgentProcess(agentDir, { env: { AGENT_TOKEN: TOKEN }, config });
      return agent;
    };

    before(() => mkdirSync(agentDir));
    after(() => {
      agent?.child.kill("SIGKILL");
    });

    it("removes what a runner made when it stops the runner mid-run", async () => {
      const { base, child } = await start();
      const running = fetch(`${base}/api/jobs/run?job=${job}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
      }).then(
        async (res) => (await res.json()) as JobRun,
        () => undefined,
      );
      const [made] = await until("the runner's throwaway", async () => {
        const found = await throwaways(target);
        return found.length > 0 ? found : undefined;
      });
      const [runner] = await engine.list({ "slipway.job": job }, { all: true });
      assert.ok(made && runner);
      assert.equal(made.owner, runner.Id.slice(0, 12));
      // Stopping, the agent interrupts the run (as its timeout does): the runner's own clean-up
      // never runs, the agent's does.
      child.kill("SIGTERM");
      const run = await running;
      assert.ok(run === undefined || run.outcome === "interrupted", JSON.stringify(run));
      await new Promise((resolve) => child.once("exit", resolve));
      assert.equal(await exists(runner.Id), false, "the runner is removed");
      assert.equal(await exists(made.id), false, "and what it made");
    });

    it("removes a run container a killed agent left, and what it made, when it starts again", async () => {
      const left = await sleeper({ [JOB_RUN_LABEL]: "7", "slipway.job": job });
      const made = await sleeper({
        [VERIFY_LABEL]: `${target}/20260101T000000Z`,
        [OWNER_LABEL]: left.slice(0, 12),
      });
      const maker = (await sleeper({})).slice(0, 12);
      const unrelated = await sleeper({
        [VERIFY_LABEL]: `${target}/20260101T000000Z`,
        [OWNER_LABEL]: maker,
      });
      await start();
      await until("the leftovers removed", async () =>
        !(await exists(left)) && !(await exists(made)) ? true : undefined,
      );
      assert.equal(await exists(unrelated), true, "one whose maker runs is not the agent's");
    });
  });
});
