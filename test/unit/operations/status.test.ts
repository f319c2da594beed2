import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  containersToInspect,
  formatUptime,
  hostStatus,
  renderStatus,
  type StatusReport,
  statusOk,
  unreachableHost,
} from "../../../src/operations/index.ts";
import { inspected, listed } from "./fixtures.ts";

const NOW = new Date("2026-05-01T12:00:00Z");
const ROLES = [
  { name: "web", proxied: true },
  { name: "worker", proxied: false },
];

const webV2 = {
  name: "hello-web-v2-bbbbbb",
  role: "web",
  version: "v2",
  state: "running",
  released: "2026-05-01T11:00:00.000Z",
};
const webV1 = {
  name: "hello-web-v1-aaaaaa",
  role: "web",
  version: "v1",
  state: "exited",
  released: "2026-05-01T10:00:00.000Z",
};
const workerV2 = {
  name: "hello-worker-v2-cccccc",
  role: "worker",
  version: "v2",
  state: "running",
};
const oneOff = { name: "hello-run-v2-dddddd", role: "run", version: "v2", state: "running" };

const proxy = inspected({
  name: "slipway-proxy",
  role: "",
  version: "",
  state: "running",
  startedAt: "2026-04-30T09:00:00Z",
});

describe("status from engine listings", () => {
  it("shows each role's running containers and inspects only those", () => {
    const containers = listed(webV1, webV2, workerV2, oneOff);
    assert.deepEqual(containersToInspect(containers, ROLES), [webV2.name, workerV2.name]);
  });

  it("reports version, state, health, uptime and restarts per role, the current version and the proxy", () => {
    const status = hostStatus(
      {
        host: "app1",
        roles: ROLES,
        containers: listed(webV1, webV2, workerV2, oneOff),
        inspected: [
          inspected({ ...webV2, startedAt: "2026-05-01T11:56:55Z", health: "healthy" }),
          inspected({ ...workerV2, startedAt: "2026-05-01T11:00:00Z", restarts: 2 }),
        ],
        current: { web: "v2", worker: "v2" },
        proxy,
      },
      NOW,
    );
    assert.deepEqual(status.roles, [
      {
        role: "web",
        current: "v2",
        running: true,
        containers: [
          {
            name: webV2.name,
            version: "v2",
            state: "running",
            health: "healthy",
            startedAt: "2026-05-01T11:56:55Z",
            uptimeSeconds: 185,
            restartCount: 0,
          },
        ],
      },
      {
        role: "worker",
        current: "v2",
        running: true,
        containers: [
          {
            name: workerV2.name,
            version: "v2",
            state: "running",
            health: null,
            startedAt: "2026-05-01T11:00:00Z",
            uptimeSeconds: 3600,
            restartCount: 2,
          },
        ],
      },
    ]);
    assert.equal(status.proxy?.state, "running");
    assert.equal(statusOk([status]), true);
  });

  it("shows a role with no running container by its newest stopped one, and that is not ok", () => {
    const status = hostStatus(
      {
        host: "app1",
        roles: [{ name: "web", proxied: false }],
        containers: listed(webV1, { ...webV2, state: "exited" }),
        inspected: [],
        current: { web: "v2" },
        proxy: undefined,
      },
      NOW,
    );
    assert.deepEqual(
      status.roles[0]?.containers.map((c) => [c.name, c.state, c.uptimeSeconds]),
      [[webV2.name, "exited", null]],
    );
    assert.equal(status.roles[0]?.running, false);
    assert.equal(status.proxy, undefined);
    assert.equal(statusOk([status]), false);
  });

  it("is not ok when a host is unreachable, or a proxied host has no proxy", () => {
    const fine = hostStatus(
      {
        host: "app1",
        roles: [ROLES[0] as (typeof ROLES)[0]],
        containers: listed(webV2),
        inspected: [],
        current: {},
        proxy: undefined,
      },
      NOW,
    );
    assert.equal(fine.proxy, null);
    assert.equal(statusOk([fine]), false);
    assert.equal(statusOk([unreachableHost("app2", "Connection refused")]), false);
  });

  it("formats uptimes with two units at most", () => {
    assert.deepEqual([0, 42, 60, 185, 3600, 3725, 86_399, 90_000, 1_000_000].map(formatUptime), [
      "0s",
      "42s",
      "1m00s",
      "3m05s",
      "1h00m",
      "1h02m",
      "23h59m",
      "1d01h",
      "11d13h",
    ]);
  });

  it("renders a table for people, with the lock and what is wrong", () => {
    const app1 = hostStatus(
      {
        host: "app1",
        roles: ROLES,
        containers: listed(webV2),
        inspected: [inspected({ ...webV2, startedAt: "2026-05-01T11:56:55Z" })],
        current: { web: "v2" },
        proxy,
      },
      NOW,
    );
    const report: StatusReport = {
      site: "hello",
      ok: false,
      lock: {
        held: true,
        holder: {
          user: "alice",
          machine: "laptop",
          pid: 42,
          since: "2026-05-01T11:59:00Z",
          message: "deploying v3",
        },
        stale: false,
      },
      hosts: [app1, unreachableHost("app2", "Connection refused by app2:22.")],
    };
    assert.equal(
      renderStatus(report),
      [
        "hello: locked by alice on laptop (pid 42) since 2026-05-01T11:59:00Z: deploying v3",
        "",
        "HOST  ROLE    CONTAINER            VERSION  STATE    HEALTH  UPTIME  RESTARTS  CURRENT",
        "app1  web     hello-web-v2-bbbbbb  v2       running  -       3m05s   0         v2",
        "app1  worker  (none)               -        missing  -       -       -         -",
        "app1  proxy   slipway-proxy        -        running  -       1d03h   0         -",
        "",
        "app1: worker has no running container",
        "app2: unreachable: Connection refused by app2:22.",
      ].join("\n"),
    );
  });
});
