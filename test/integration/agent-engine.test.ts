/**
 * The agent's Engine API client against the real Podman Docker-API socket: a container made,
 * started, waited for, its logs read, found by label and inspected, then removed; and the
 * container check that reads a role's container through it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, describe, it } from "node:test";
import { checkSchema, EngineClient, type EngineError, probe } from "../../src/agent/index.ts";
import { NODE_IMAGE, rigAvailable, skipUnless } from "../rig/index.ts";

const PODMAN_SOCKET = "/run/podman/podman.sock";

describe("the agent's engine client on Podman's socket", {
  skip:
    skipUnless(rigAvailable(NODE_IMAGE)) ||
    (existsSync(PODMAN_SOCKET) ? false : `${PODMAN_SOCKET} is missing`),
  timeout: 120_000,
}, () => {
  const engine = new EngineClient(PODMAN_SOCKET);
  const label = `slipway-test-engine-${randomBytes(4).toString("hex")}`;
  const made: string[] = [];
  after(async () => {
    for (const id of made) await engine.remove(id);
  });

  it("creates, starts, waits, reads logs, lists by label, inspects and removes a container", async () => {
    const id = await engine.create(label, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "console.log('out line'); console.error('err line'); process.exit(3)"],
      Env: ["GREETING=hi"],
      Labels: { "slipway.test": label },
    });
    made.push(id);
    await engine.start(id);
    assert.equal(await engine.wait(id), 3);
    const logs = await engine.logs(id);
    assert.match(logs, /out line\n/);
    assert.match(logs, /err line\n/);
    const listed = await engine.list({ "slipway.test": label }, { all: true });
    assert.deepEqual(
      listed.map((c) => c.Id),
      [id],
    );
    assert.equal((await engine.list({ "slipway.test": label })).length, 0, "none running");
    const info = await engine.inspect(id);
    assert.equal(info.State.ExitCode, 3);
    assert.ok(info.Config.Env?.includes("GREETING=hi"));
    assert.equal(info.Config.Labels?.["slipway.test"], label);
    await engine.remove(id);
    await engine.remove(id); // gone already: fine
    await assert.rejects(engine.inspect(id), (e: EngineError) => e.status === 404);
  });

  it("a container check: running, then restarted since the last look, then no container", async () => {
    const role = `${label}-worker`;
    const check = checkSchema.parse({
      name: "hello/container-worker",
      kind: "container",
      role: "worker",
      labels: { "slipway.test": role },
    });
    assert.deepEqual(await probe(check, engine).then((r) => [r.ok, r.detail]), [
      false,
      "no running container of worker",
    ]);
    // Exits after 2 s; the engine brings it back each time.
    const id = await engine.create(role, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "setTimeout(() => process.exit(1), 2000)"],
      Labels: { "slipway.test": role },
      HostConfig: { RestartPolicy: { Name: "always" } },
    });
    made.push(id);
    await engine.start(id);
    const first = await probe(check, engine);
    assert.deepEqual([first.ok, first.detail], [true, `${role} running, 0 restarts`]);
    let restarted = first;
    const deadline = Date.now() + 20_000;
    // Caught between its exit and its restart it is "no running container": look again.
    while (!/ restarted /.test(restarted.detail) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      restarted = await probe(check, engine);
    }
    assert.equal(restarted.ok, false, restarted.detail);
    assert.match(
      restarted.detail,
      new RegExp(`^${role} restarted (once|\\d+ times) since the last look$`),
    );
    await engine.remove(id);
    const gone = await probe(check, engine);
    assert.deepEqual([gone.ok, gone.detail], [false, "no running container of worker"]);
  });

  it("says clearly when there is no engine at the socket", async () => {
    await assert.rejects(
      new EngineClient("/nonexistent/docker.sock").list({}),
      /no container engine at \/nonexistent\/docker\.sock \(ENOENT\)/,
    );
  });
});
