/**
 * Two fresh VPS boxes, reached through ~/.ssh/config aliases (each its own port and key), with a
 * web role and a worker role on both: `rolling.limit: 50%` releases one host at a time under load
 * with no failed request; the workers are gated on their image's own HEALTHCHECK; a release that
 * fails on the first host stops there and leaves the second host untouched.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { type HelloProject, helloProject, type SlipwayRun } from "../support/hello-project.ts";
import { type LoadReport, startLoad } from "../support/load.ts";
import { sshAliases } from "../support/ssh-aliases.ts";

// Docker 20.10 (Debian's) has no --start-interval: a 1 s interval keeps the gate short. Failures
// in the start period do not count, so a worker that takes a few seconds to be ready is not
// called unhealthy meanwhile.
const HEALTHCHECK =
  'HEALTHCHECK --interval=1s --timeout=3s --retries=2 --start-period=8s CMD ["node", "server.mjs", "healthcheck"]';

describe("deploys across two hosts: rolling limit, worker health checks, stop at the first failure", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let boxes: Record<"box-a" | "box-b", VpsBox>;
  let hello: HelloProject;
  const aliases = ["box-a", "box-b"] as const;
  const slipway = (args: string[]): Promise<SlipwayRun> => hello.slipway(args);
  const url = (alias: (typeof aliases)[number]) => `http://127.0.0.1:${boxes[alias].ports[80]}/`;

  /** `name version state health` of each container of a role on a box, any state. */
  async function containers(alias: (typeof aliases)[number], role: string): Promise<string[]> {
    const out = await boxes[alias].exec([
      "sh",
      "-c",
      'for c in $(docker ps --all --quiet --filter "label=slipway.role=$1"); do docker inspect --format \'{{.Name}} {{index .Config.Labels "slipway.version"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}\' "$c"; done',
      "sh",
      role,
    ]);
    return out
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.replace(/^\//, ""))
      .sort();
  }
  const running = async (alias: (typeof aliases)[number], role: string) =>
    (await containers(alias, role))
      .filter((c) => c.split(" ")[2] === "running")
      .map((c) => c.split(" ")[1]);

  async function serving(alias: (typeof aliases)[number]): Promise<string> {
    const response = await fetch(url(alias), { headers: { connection: "close" } });
    assert.equal(response.status, 200);
    return ((await response.json()) as { version: string }).version;
  }

  before(async () => {
    const [a, b] = await Promise.all([
      startVpsBox({ publish: [80] }),
      startVpsBox({ publish: [80] }),
    ]);
    boxes = { "box-a": a, "box-b": b };
    const sshConfig = sshAliases(boxes);
    hello = await helloProject(a, {
      sshConfig,
      dockerfileExtra: HEALTHCHECK,
      servers: [
        "servers:",
        "  web: [box-a, box-b]",
        "  worker:",
        "    hosts: [box-a, box-b]",
        "    cmd: node server.mjs worker",
        "    ready_after: 1s",
        "    ready_timeout: 30s",
        "    stop_timeout: 5s",
        "rolling:",
        '  limit: "50%"',
      ],
    });
  });

  after(async () => {
    await Promise.all(Object.values(boxes ?? {}).map((b) => b.stop()));
  });

  it("bootstraps both hosts, found through their ~/.ssh/config aliases", async () => {
    await hello.configure("first");
    const run = await slipway(["server", "bootstrap"]);
    assert.equal(run.code, 0, run.stderr);
    for (const alias of aliases) {
      assert.match(run.stdout + run.stderr, new RegExp(alias));
      const proxy = await boxes[alias].exec([
        "docker",
        "inspect",
        "--format",
        "{{.State.Status}}",
        "slipway-proxy",
      ]);
      assert.equal(proxy.trim(), "running", `${alias}'s proxy`);
    }
  });

  it("deploys v1 to both; each worker is released once its own health check passes", async () => {
    const run = await slipway(["deploy", "--version", "v1"]);
    assert.equal(run.code, 0, run.stderr);
    for (const alias of aliases) {
      assert.equal(await serving(alias), "v1");
      const workers = await containers(alias, "worker");
      assert.equal(workers.length, 1, workers.join(", "));
      assert.match(workers[0] ?? "", / v1 running healthy$/);
    }
  });

  it("v2 under load on both hosts: one host at a time, no failed request, workers wait for their health check", async () => {
    // The worker reports healthy 3 s after it starts, later than ready_after (1 s) alone allows.
    await hello.configure("second", { WORKER_READY_MS: "3000" });
    const loads = aliases.map((alias) => startLoad(url(alias), { concurrency: 2, maxMs: 300_000 }));
    await new Promise((r) => setTimeout(r, 500));
    const run = await slipway(["deploy", "--version", "v2"]);
    await new Promise((r) => setTimeout(r, 500));
    const reports: LoadReport[] = await Promise.all(loads.map((l) => l.stop()));
    assert.equal(run.code, 0, run.stderr);
    for (const [i, report] of reports.entries()) {
      assert.equal(report.failed, 0, `${aliases[i]}: ${report.failures.join("; ")}`);
      assert.ok(report.requests > 20, `${aliases[i]}: only ${report.requests} requests`);
      assert.equal(report.lastVersion, "v2");
    }

    // 50% of two hosts is one: the second host's web starts only after the first's switch.
    const log = run.stdout + run.stderr;
    const at = (pattern: RegExp) => {
      const index = log.search(pattern);
      assert.ok(index >= 0, `no ${pattern} in:\n${log}`);
      return index;
    };
    const [first, second] = [...aliases].sort(
      (x, y) => at(new RegExp(`${x} web: starting`)) - at(new RegExp(`${y} web: starting`)),
    ) as [string, string];
    assert.ok(
      at(new RegExp(`${first} web: proxy switched`)) < at(new RegExp(`${second} web: starting`)),
      `${second} started before ${first} switched:\n${log}`,
    );
    for (const alias of aliases) {
      const gate = /healthy after \d+ checks \((\d+\.\d)s\)/.exec(
        log.slice(at(new RegExp(`${alias} worker: starting`))),
      );
      assert.ok(Number(gate?.[1]) >= 2.5, `${alias}'s worker gate took ${gate?.[1]}s: ${log}`);
      assert.deepEqual(await running(alias, "worker"), ["v2"]);
      assert.deepEqual(await running(alias, "web"), ["v2"]);
    }
  });

  it("a worker whose own health check fails: exit 3, its output shown, the old workers keep running", async () => {
    await hello.configure("third", { WORKER_HEALTH: "fail" });
    const run = await slipway(["deploy", "--version", "v3"]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stderr,
      /worker on box-[ab]: version v3 failed its health check \(its own health check fails: no heartbeat yet\)/,
    );
    const failed = run.stderr.includes("worker on box-a:") ? "box-a" : "box-b";
    const untouched = failed === "box-a" ? "box-b" : "box-a";
    assert.match(run.stderr, new RegExp(`worker: not deployed on ${untouched}`));
    assert.deepEqual(await running(failed, "worker"), ["v2"], "the old worker runs on");
    assert.deepEqual(
      (await containers(untouched, "worker")).map((c) => c.split(" ")[1]),
      ["v2"],
      `${untouched} never saw a v3 worker`,
    );
    // Web roles go first and passed their gate: they serve v3 on both hosts.
    for (const alias of aliases) assert.equal(await serving(alias), "v3");
  });

  it("web failing its health check on the first host: the second host is untouched, both serve v3", async () => {
    await hello.configure("fourth", { HEALTH: "fail" });
    const run = await slipway(["deploy", "--version", "v4"]);
    assert.equal(run.code, 3, run.stderr);
    const failed = /web on (box-[ab]): version v4 failed its health check/.exec(run.stderr)?.[1] as
      | (typeof aliases)[number]
      | undefined;
    assert.ok(failed, run.stderr);
    const untouched = failed === "box-a" ? "box-b" : "box-a";
    assert.match(run.stderr, new RegExp(`web: not deployed on ${untouched}`));
    for (const alias of aliases) assert.equal(await serving(alias), "v3");
    assert.deepEqual(
      (await containers(untouched, "web")).filter((c) => c.includes(" v4 ")),
      [],
      `no v4 container on ${untouched}`,
    );
    assert.deepEqual(await running(failed, "web"), ["v3"]);
  });

  it("the next good deploy converges both hosts", async () => {
    await hello.configure("fifth");
    const run = await slipway(["deploy", "--version", "v5"]);
    assert.equal(run.code, 0, run.stderr);
    for (const alias of aliases) {
      assert.equal(await serving(alias), "v5");
      assert.deepEqual(await running(alias, "worker"), ["v5"]);
      assert.deepEqual(await running(alias, "web"), ["v5"]);
    }
  });
});
