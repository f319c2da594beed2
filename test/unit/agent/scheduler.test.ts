/**
 * The scheduler with a real SQLite store: a due run runs once and plans the next, runs of one job
 * never overlap, a held deploy lock holds a due run back, a restarted scheduler keeps its plan and
 * treats what it missed by policy, and a run a killed agent left "running" becomes interrupted;
 * a run recorded from outside alerts like the job's own, and the last good run is known.
 * The runner is a stand-in for a job kind (a promise the test resolves), not for an outside system.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  JobBusyError,
  type JobConfig,
  type JobResult,
  type JobRun,
  JobStore,
  jobSchema,
  lockHeld,
  Scheduler,
  Store,
} from "../../../src/agent/index.ts";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function job(extra: Partial<JobConfig> = {}): JobConfig {
  return jobSchema.parse({
    name: "hello/report",
    kind: "container",
    schedule: "0 3 * * *",
    role: "web",
    labels: { "slipway.role": "web" },
    command: ["true"],
    ...extra,
  });
}

/** A runner whose runs end when the test says so. */
function gatedRunner() {
  const started: number[] = [];
  let release: (r: JobResult) => void = () => {};
  return {
    started,
    finish: (r: JobResult) => release(r),
    runner: {
      run: (_job: JobConfig, run: { id: number; signal: AbortSignal }) =>
        new Promise<JobResult>((resolve) => {
          started.push(run.id);
          release = resolve;
        }),
    },
  };
}

const ok: JobResult = { outcome: "ok", exitCode: 0, detail: "exit 0", output: "done\n" };
const until = async (what: () => boolean, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    assert.ok(Date.now() < deadline, "timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("the scheduler", () => {
  it("runs a due job once, plans the next time, and never runs one job twice at once", async () => {
    const store = new JobStore(new Store(":memory:").database);
    const now = Date.now();
    store.plan("hello/report", { baseAt: now - 1_000, dueAt: now - 1_000 });
    const gate = gatedRunner();
    const results: JobRun[] = [];
    const scheduler = new Scheduler({
      jobs: [job()],
      store,
      runners: { container: gate.runner },
      onResult: (_job, run) => results.push(run),
    });
    await scheduler.start();
    await until(() => gate.started.length === 1);
    const [view] = scheduler.views();
    assert.equal(view?.running, true);
    assert.ok((view?.nextAt ?? 0) > now, "the next run is planned before this one ends");
    assert.equal(store.planned("hello/report")?.dueAt, view?.nextAt, "and saved");
    await assert.rejects(scheduler.runNow("hello/report"), JobBusyError);
    gate.finish(ok);
    await until(() => results.length === 1);
    assert.deepEqual(
      results.map((r) => [r.trigger, r.outcome, r.exitCode, r.output]),
      [["schedule", "ok", 0, "done\n"]],
    );
    const manual = scheduler.runNow("hello/report");
    await until(() => gate.started.length === 2);
    gate.finish({ outcome: "failed", exitCode: 3, detail: "exit 3", output: "" });
    assert.deepEqual([(await manual).trigger, (await manual).outcome], ["manual", "failed"]);
    assert.deepEqual(
      store.runs("hello/report").map((r) => r.outcome),
      ["failed", "ok"],
    );
    await scheduler.stop();
  });

  it("a restarted scheduler keeps its saved plan; a missed run is skipped or run once, by policy", async () => {
    const db = new Store(":memory:").database;
    const store = new JobStore(db);
    const later = { baseAt: Date.now() + 3_600_000, dueAt: Date.now() + 3_600_000 };
    store.plan("hello/report", later);
    const idle = { run: async () => ok };
    const kept = new Scheduler({
      jobs: [job()],
      store,
      runners: { container: idle },
      onResult() {},
    });
    await kept.start();
    assert.equal(kept.views()[0]?.nextAt, later.dueAt);
    await kept.stop();

    const dayAgo = { baseAt: Date.now() - 86_400_000, dueAt: Date.now() - 86_400_000 };
    for (const missed of ["skip", "run_once"] as const) {
      const name = `hello/${missed}`;
      store.plan(name, dayAgo);
      const ran: JobRun[] = [];
      const scheduler = new Scheduler({
        jobs: [job({ name, missed })],
        store,
        runners: { container: idle },
        onResult: (_job, run) => ran.push(run),
      });
      await scheduler.start();
      if (missed === "run_once") await until(() => ran.length === 1);
      else await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        store.runs(name).map((r) => [r.trigger, r.outcome]),
        missed === "skip" ? [["missed", "missed"]] : [["missed", "ok"]],
      );
      if (missed === "skip") {
        assert.match(
          store.runs(name)[0]?.detail ?? "",
          /^the run of .* was missed while the agent was down; skipped$/,
        );
      }
      assert.ok((scheduler.views()[0]?.nextAt ?? 0) > Date.now(), "planned from now");
      await scheduler.stop();
    }
  });

  it("a run a killed agent left running is recorded as interrupted when it starts again", async () => {
    const store = new JobStore(new Store(":memory:").database);
    const id = store.begin("hello/report", "schedule", Date.now() - 5_000);
    let recovered = 0;
    const scheduler = new Scheduler({
      jobs: [job()],
      store,
      runners: { container: { run: async () => ok, recover: async () => void recovered++ } },
      onResult() {},
    });
    await scheduler.start();
    assert.equal(recovered, 1);
    const [run] = store.runs("hello/report");
    assert.deepEqual(
      [run?.id, run?.outcome, run?.detail],
      [id, "interrupted", "the agent stopped during the run"],
    );
    await scheduler.stop();
  });

  it("a due run waits while the deploy lock is held by a live holder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "slipway-lock-"));
    dirs.push(dir);
    const lock = join(dir, "lock");
    await mkdir(lock);
    await writeFile(join(lock, "holder.json"), JSON.stringify({ user: "ana", since: "now" }));
    assert.equal(lockHeld(lock, Date.now()), true, "a fresh heartbeat");
    const old = new Date(Date.now() - 120_000);
    await utimes(join(lock, "holder.json"), old, old);
    assert.equal(lockHeld(lock, Date.now()), false, "no heartbeat for two minutes: stale");
    await writeFile(join(lock, "holder.json"), JSON.stringify({ manual: true }));
    await utimes(join(lock, "holder.json"), old, old);
    assert.equal(lockHeld(lock, Date.now()), true, "taken by hand: held until released");
    assert.equal(lockHeld(join(dir, "none"), Date.now()), false);

    const gate = gatedRunner();
    const scheduler = new Scheduler({
      jobs: [job({ lock_path: lock })],
      store: new JobStore(new Store(":memory:").database),
      runners: { container: gate.runner },
      onResult() {},
    });
    await scheduler.start();
    const run = scheduler.runNow("hello/report");
    await until(() => scheduler.views()[0]?.waitingForLock === true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(gate.started.length, 0, "not while the deploy holds the lock");
    await rm(lock, { recursive: true });
    await until(() => gate.started.length === 1, 10_000);
    gate.finish(ok);
    assert.equal((await run).outcome, "ok");
    await scheduler.stop();
  });

  it("records a run made elsewhere like its own, and knows the job's last good run", async () => {
    const store = new JobStore(new Store(":memory:").database);
    const results: JobRun[] = [];
    const scheduler = new Scheduler({
      jobs: [job({ name: "hello/verify.db" })],
      store,
      runners: { container: { run: async () => ok } },
      onResult: (_job, run) => results.push(run),
    });
    assert.equal(scheduler.lastGood("hello/verify.db"), undefined, "never ran");
    const failed = scheduler.record(
      "hello/verify.db",
      { outcome: "failed", exitCode: 1, detail: "rows in public.t: expected 3, got 2", output: "" },
      1_000,
      2_000,
    );
    assert.deepEqual(
      [failed.trigger, failed.outcome, failed.startedAt, failed.endedAt, results.length],
      ["manual", "failed", 1_000, 2_000, 1],
    );
    assert.equal(scheduler.lastGood("hello/verify.db"), 1_000, "only failures: since the first");
    scheduler.record("hello/verify.db", ok, 3_000, 4_000);
    scheduler.record("hello/verify.db", { ...ok, outcome: "failed" }, 5_000, 6_000);
    assert.equal(scheduler.lastGood("hello/verify.db"), 4_000, "the end of the last good one");
    assert.throws(() => scheduler.record("hello/none", ok, 0), /no job hello\/none/);
  });
});
