/**
 * The agent's Engine API client against the real Podman Docker-API socket: a container made,
 * started, waited for, its logs read, found by label and inspected, then removed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, describe, it } from "node:test";
import { EngineClient, type EngineError } from "../../src/agent/engine.ts";
import { NODE_IMAGE, rigAvailable, skipUnless } from "../rig/index.ts";

export const PODMAN_SOCKET = "/run/podman/podman.sock";

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

  it("says clearly when there is no engine at the socket", async () => {
    await assert.rejects(
      new EngineClient("/nonexistent/docker.sock").list({}),
      /no container engine at \/nonexistent\/docker\.sock \(ENOENT\)/,
    );
  });
});
