/** The resolved model: defaults applied, units converted, and the redacted view of it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redactedConfig } from "../../../src/config/index.ts";
import { load, MINIMAL, yaml } from "./helpers.ts";

describe("resolved configuration", () => {
  it("applies every default to a minimal file", async () => {
    const loaded = await load({ "slipway.yml": MINIMAL });
    assert.deepEqual(loaded.config, {
      service: "hello",
      image: "hello",
      servers: {
        web: {
          hosts: ["127.0.0.1"],
          singleton: false,
          stop_timeout: 30_000,
          ready_after: 5_000,
          ready_timeout: 60_000,
          volumes: [],
          options: {},
        },
      },
      ssh: {
        keys: [],
        connect_timeout: 10_000,
        strict_host_keys: false,
        known_hosts: ".slipway/known_hosts",
      },
      proxy: {
        domains: [],
        app_port: 3000,
        image: "nginx:1.27-bookworm",
        drain_timeout: 3000,
        healthcheck: { path: "/up", interval: 1000, timeout: 5000, successes: 2, deadline: 60_000 },
        max_body_size: 10 * 1024 * 1024,
      },
      env: { clear: {}, secret: [] },
      deploy: {},
      releases: { keep: 5 },
      rolling: { limit: 1 },
      hooks: { timeout: 600_000 },
    });
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.secrets.values.size, 0);
  });

  it("converts durations and sizes, and clear env values to strings", async () => {
    const loaded = await load({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
build:
  args:
    PYTHON_VERSION: "3.12"
proxy:
  max_body_size: 1GB
  healthcheck: { deadline: 2m, interval: 500ms }
env:
  clear:
    WORKERS: 4
    DEBUG: false
`,
    });
    const { config } = loaded;
    assert.equal(config.proxy.max_body_size, 1024 ** 3);
    assert.equal(config.proxy.healthcheck.deadline, 120_000);
    assert.equal(config.proxy.healthcheck.interval, 500);
    assert.deepEqual(config.env.clear, { WORKERS: "4", DEBUG: "false" });
    assert.deepEqual(config.build, {
      context: ".",
      dockerfile: "Dockerfile",
      args: { PYTHON_VERSION: "3.12" },
    });
  });
});

describe("redactedConfig", () => {
  it("shows secret names but never their values, wherever they appear", async () => {
    const loaded = await load({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
env:
  clear:
    CALLBACK: https://hooks.example/t0ps3cret-token
  secret: [WEBHOOK_TOKEN]
`,
      ".slipway/secrets": "WEBHOOK_TOKEN=t0ps3cret-token\n",
    });
    const redacted = redactedConfig(loaded) as Record<string, unknown>;
    assert.deepEqual(redacted.secrets, { WEBHOOK_TOKEN: "[redacted]" });
    assert.deepEqual(redacted.env, {
      clear: { CALLBACK: "https://hooks.example/[redacted]" },
      secret: ["WEBHOOK_TOKEN"],
    });
    assert.doesNotMatch(JSON.stringify(redacted), /t0ps3cret/);
    assert.deepEqual(JSON.parse(JSON.stringify(redacted)), redacted, "plain JSON data");
  });
});
