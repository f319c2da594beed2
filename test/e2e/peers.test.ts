/**
 * Two VPS boxes of one app, each with its agent: each agent checks the other host (peer-<host>,
 * TCP to its SSH port at the address sshd saw). Box B is stopped entirely: box A's agent opens an
 * incident for it, and `monitor status` and `incidents` report what box A says and name box B as
 * not answering instead of failing as a whole.
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
import { sshAliases } from "../support/ssh-aliases.ts";

describe("agents on two hosts watch each other", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let boxes: Record<"box-a" | "box-b", VpsBox>;
  let hello: HelloProject;

  const ok = (args: string[]) => hello.ok(args);

  before(async () => {
    const [a, b] = await Promise.all([startVpsBox(), startVpsBox()]);
    boxes = { "box-a": a, "box-b": b };
    const sshConfig = sshAliases(boxes);
    hello = await helloProject(a, {
      sshConfig,
      servers: ["servers:", "  web: [box-a, box-b]"],
      extraYaml: ["monitoring:", `  image: ${NODE_IMAGE}`, "  host: false"],
    });
    await hello.configure("first");
    await ok(["server", "bootstrap"]);
  });

  after(async () => {
    await Promise.all(Object.values(boxes ?? {}).map((b) => b.stop()));
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("each agent gets a check of the other host, and it is up", async () => {
    const install = await ok(["agent", "install"]);
    assert.match(install.stdout, /^box-a: agent started/m);
    assert.match(install.stdout, /^box-b: agent started/m);
    const settings = await ok(["monitor", "api", "GET", "/api/settings", "--host", "box-a"]);
    assert.match(settings.stdout, /"name": "hello\/peer-box-b"/);
    assert.doesNotMatch(settings.stdout, /peer-box-a/, "no check of itself");
    // Faster than the default 30 s, through the write API, so the test is short.
    for (const [host, peer] of [
      ["box-a", "box-b"],
      ["box-b", "box-a"],
    ] as const) {
      await ok([
        "monitor",
        "api",
        "PATCH",
        `/api/checks/hello/peer-${peer}`,
        "--host",
        host,
        "--data",
        '{"interval_ms": 1000, "alerting": {"open_after": 2}}',
      ]);
    }
    const deadline = Date.now() + 30_000;
    let run: SlipwayRun;
    for (;;) {
      run = await hello.slipway(["monitor", "status"]);
      if (/^box-a peer-box-b: up/m.test(run.stdout) && /^box-b peer-box-a: up/m.test(run.stdout))
        break;
      assert.ok(Date.now() < deadline, `${run.stdout}\n${run.stderr}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    assert.match(run.stdout, /^box-a peer-box-b: up, connected to port 22 in \d+ms$/m);
  });

  it("box B dies: box A's agent opens an incident for it; status names B as silent", async () => {
    await boxes["box-b"].stop();
    const deadline = Date.now() + 60_000;
    let incidents: SlipwayRun;
    for (;;) {
      incidents = await hello.slipway(["monitor", "incidents"]);
      if (/^box-a #\d+ peer-box-b \(critical\)/m.test(incidents.stdout)) break;
      assert.ok(Date.now() < deadline, `${incidents.stdout}\n${incidents.stderr}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    assert.equal(incidents.code, 1, "a host did not answer");
    assert.match(incidents.stdout, /^box-b: the agent does not answer: /m);
    const status = await hello.slipway(["monitor", "status"]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /^box-a peer-box-b: down, .*incident #\d+ open \(critical\)$/m);
    assert.match(status.stdout, /^box-b: the agent does not answer: /m);
  });
});
