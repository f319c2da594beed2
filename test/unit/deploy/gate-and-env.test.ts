import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { overrideEnv, renderEnvFile } from "../../../src/deploy/env-file.ts";
import { type ProbeResult, waitHealthy } from "../../../src/deploy/health.ts";
import { containerName, roleVolumes, siteName } from "../../../src/deploy/names.ts";

/** A fake clock: sleeping advances time instantly, so the gate's timing is exact. */
function clock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

function probes(...results: ProbeResult[]) {
  let i = 0;
  return async () => results[Math.min(i++, results.length - 1)] as ProbeResult;
}

const fail = (detail = "HTTP 503"): ProbeResult => ({ ok: false, detail });
const ok: ProbeResult = { ok: true };

describe("health gate", () => {
  const settings = { intervalMs: 1000, successes: 2, deadlineMs: 10_000 };

  it("needs consecutive successes: a failure resets the streak", async () => {
    const c = clock();
    const result = await waitHealthy(probes(fail(), ok, fail(), ok, ok), settings, c.sleep, c.now);
    assert.deepEqual(result, { healthy: true, attempts: 5, elapsedMs: 4000 });
  });

  it("gives up at the deadline with the last failure", async () => {
    const c = clock();
    const result = await waitHealthy(probes(fail("connection refused")), settings, c.sleep, c.now);
    assert.equal(result.healthy, false);
    assert.equal(result.attempts, 11, "checks at 0s, 1s ... 10s");
    assert.equal(
      result.healthy === false && result.detail,
      "not healthy after 10s: connection refused",
    );
  });

  it("stops at once when the container is gone", async () => {
    const c = clock();
    const result = await waitHealthy(
      probes(fail(), { ok: false, detail: "container exited with code 1", fatal: true }),
      settings,
      c.sleep,
      c.now,
    );
    assert.deepEqual(result, {
      healthy: false,
      attempts: 2,
      elapsedMs: 1000,
      detail: "container exited with code 1",
    });
  });
});

describe("env file", () => {
  const facts = { service: "hello", environment: "staging", role: "web", version: "abc123" };

  it("holds PORT, clear values, secrets and SLIPWAY_* facts, app values winning over PORT", () => {
    const content = renderEnvFile({
      clear: { NODE_ENV: "production", PORT: "8080" },
      secretNames: ["SESSION_SECRET"],
      secrets: new Map([["SESSION_SECRET", "s3cr3t=with=equals"]]),
      facts,
      appPort: 3000,
    });
    assert.equal(
      content,
      [
        "PORT=8080",
        "NODE_ENV=production",
        "SESSION_SECRET=s3cr3t=with=equals",
        "SLIPWAY_SERVICE=hello",
        "SLIPWAY_ENVIRONMENT=staging",
        "SLIPWAY_ROLE=web",
        "SLIPWAY_VERSION=abc123",
        "",
      ].join("\n"),
    );
  });

  it("refuses a multi-line value without printing it", () => {
    assert.throws(
      () =>
        renderEnvFile({
          clear: {},
          secretNames: ["KEY"],
          secrets: new Map([["KEY", "-----BEGIN-----\nsecretbody"]]),
          facts,
        }),
      (error: Error) =>
        /KEY has a line break/.test(error.message) && !error.message.includes("secretbody"),
    );
  });
});

describe("names", () => {
  it("namespaces by environment and never repeats a container name", () => {
    assert.equal(siteName("hello", undefined), "hello");
    assert.equal(siteName("hello", "staging"), "hello-staging");
    const a = containerName("hello-staging", "web", "abc123");
    assert.match(a, /^hello-staging-web-abc123-[0-9a-f]{6}$/);
    assert.notEqual(a, containerName("hello-staging", "web", "abc123"));
  });
});

describe("overrideEnv", () => {
  it("puts today's accessory URLs into a kept env file, every other line as it was", () => {
    const kept =
      "PORT=3000\nDATABASE_URL=postgres://hello:old@hello-db:5432/hello\nMESSAGE=a=b c\n";
    const urls = new Map([
      ["DATABASE_URL", "postgres://hello_b:new@hello-db:5432/hello"],
      ["REDIS_URL", "redis://:pw@hello-cache:6379/0"],
    ]);
    assert.equal(
      overrideEnv(kept, urls),
      "PORT=3000\nDATABASE_URL=postgres://hello_b:new@hello-db:5432/hello\nMESSAGE=a=b c\nREDIS_URL=redis://:pw@hello-cache:6379/0\n",
    );
    assert.equal(overrideEnv(kept, new Map()), kept);
  });
});

describe("roleVolumes", () => {
  it("names a volume after the site (so environments never share it); a host path stays", () => {
    assert.deepEqual(
      roleVolumes("hello-staging", ["data:/app/data", "/srv/uploads:/app/uploads"]),
      [
        { source: "hello-staging-data", target: "/app/data" },
        { source: "/srv/uploads", target: "/app/uploads" },
      ],
    );
  });
});
