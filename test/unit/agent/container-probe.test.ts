/** A container check's reading of an inspected container: running, health, restarts. Pure. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ContainerInspected, containerVerdict } from "../../../src/agent/index.ts";

function inspected(state: Partial<ContainerInspected["State"]>, restarts = 0): ContainerInspected {
  return {
    Id: "abc",
    Name: "/hello-web-v1-0a1b2c",
    Created: "2026-12-01T10:00:00Z",
    RestartCount: restarts,
    State: { Status: "running", Running: true, ExitCode: 0, OOMKilled: false, ...state },
    Config: { Image: "hello:v1", Env: [], Labels: {} },
    HostConfig: {},
    Mounts: [],
  };
}

describe("container checks", () => {
  it("a running container is up, with its health when it has a check", () => {
    assert.deepEqual(containerVerdict(inspected({}), undefined), {
      ok: true,
      detail: "hello-web-v1-0a1b2c running, 0 restarts",
    });
    assert.deepEqual(containerVerdict(inspected({ Health: { Status: "healthy" } }, 2), undefined), {
      ok: true,
      detail: "hello-web-v1-0a1b2c running, healthy, 2 restarts",
    });
  });

  it("unhealthy says what its health check printed last", () => {
    const state = {
      Health: {
        Status: "unhealthy",
        Log: [
          { ExitCode: 1, Output: "old" },
          { ExitCode: 1, Output: "curl: (7) Failed to connect\n" },
        ],
      },
    };
    assert.deepEqual(containerVerdict(inspected(state), undefined), {
      ok: false,
      detail: "hello-web-v1-0a1b2c is unhealthy: curl: (7) Failed to connect",
    });
  });

  it("a restart since the last look of the same container fails one reading; a new container starts a new count", () => {
    const last = { id: "abc", restarts: 1 };
    assert.deepEqual(containerVerdict(inspected({ OOMKilled: true }, 3), last), {
      ok: false,
      detail: "hello-web-v1-0a1b2c restarted 2 times since the last look, out of memory",
    });
    assert.equal(containerVerdict(inspected({}, 1), last).ok, true);
    assert.equal(containerVerdict(inspected({}, 5), { id: "other", restarts: 0 }).ok, true);
  });

  it("a container that is not running says its state", () => {
    assert.deepEqual(containerVerdict(inspected({ Running: false, Status: "exited" }), undefined), {
      ok: false,
      detail: "hello-web-v1-0a1b2c is exited",
    });
  });
});
