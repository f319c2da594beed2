/** Runner jobs (Slipway's own one-off containers, the backup runner): their container and detail. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobSchema, resultSummary, runnerContainer } from "../../../src/agent/index.ts";

describe("runner jobs", () => {
  it("make the container the job defines, labelled as the run's; read-only mounts say so", () => {
    const job = jobSchema.parse({
      name: "hello/backup.db",
      kind: "runner",
      schedule: "0 3 * * *",
      image: "node:24-bookworm-slim",
      command: ["node", "/bundle/runner.mjs", "--request", "/r.json"],
      mounts: [
        { source: "/bundle", target: "/bundle", read_only: true },
        { source: "/run/podman/podman.sock", target: "/var/run/docker.sock" },
      ],
      env: ["TMPDIR=/work"],
      labels: { "slipway.service": "hello" },
      stale_ms: 90_000_000,
    });
    assert.equal(job.kind, "runner");
    if (job.kind !== "runner") return;
    assert.deepEqual(runnerContainer(job, 7), {
      Image: "node:24-bookworm-slim",
      Cmd: ["node", "/bundle/runner.mjs", "--request", "/r.json"],
      Env: ["TMPDIR=/work"],
      Labels: {
        "slipway.service": "hello",
        "slipway.job": "hello/backup.db",
        "slipway.job.run": "7",
      },
      HostConfig: {
        Binds: ["/bundle:/bundle:ro", "/run/podman/podman.sock:/var/run/docker.sock"],
        RestartPolicy: { Name: "no" },
      },
    });
  });

  it("take their detail from the last result line's summary, else none", () => {
    const output = [
      "db: backing up",
      'result {"summary": "old"}',
      "error: something",
      'result {"ok": false, "summary": "db: the store refused"}',
      "",
    ].join("\n");
    assert.equal(resultSummary(output, "result "), "db: the store refused");
    assert.equal(resultSummary(output, undefined), undefined);
    assert.equal(resultSummary("result {not json\n", "result "), undefined);
    assert.equal(resultSummary('result {"summary": 3}\n', "result "), undefined);
  });
});
