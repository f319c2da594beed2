/** Environments: in-file overlays, slipway.<env>.yml, and issues that point into the overlay. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brief, issuesOf, load, onlyIssue, yaml } from "./helpers.ts";

const BASE = yaml`
service: shop
image: shop
servers:
  web: [10.0.0.1, 10.0.0.2]
  worker:
    hosts: [10.0.0.3]
    singleton: true
proxy:
  domains: [shop.example]
  healthcheck:
    path: /healthz
    timeout: 3s
env:
  clear:
    APP_ENV: production
    LOG_LEVEL: info
`;

describe("environment overlays", () => {
  it("deep-merges the in-file overlay: maps key by key, lists and scalars replaced", async () => {
    const loaded = await load(
      {
        "slipway.yml": yaml`
${BASE.trimEnd()}
environments:
  staging:
    servers:
      web:
        options: { memory: 512mb }
      worker:
        hosts: [10.1.0.3]
    proxy:
      domains: [staging.shop.example]
      healthcheck:
        timeout: 10s
    env:
      clear:
        APP_ENV: staging
`,
      },
      "staging",
    );
    const { config } = loaded;
    assert.equal(loaded.environment, "staging");
    // The shorthand list of web hosts survives an overlay that only sets options.
    assert.deepEqual(config.servers.web, {
      hosts: ["10.0.0.1", "10.0.0.2"],
      singleton: false,
      stop_timeout: 30_000,
      ready_after: 5_000,
      ready_timeout: 60_000,
      volumes: [],
      options: { memory: 512 * 1024 ** 2 },
    });
    assert.deepEqual(config.servers.worker?.hosts, ["10.1.0.3"]);
    assert.equal(config.servers.worker?.singleton, true);
    assert.deepEqual(config.proxy.domains, ["staging.shop.example"]);
    assert.equal(config.proxy.healthcheck.path, "/healthz");
    assert.equal(config.proxy.healthcheck.timeout, 10_000);
    assert.deepEqual(config.env.clear, { APP_ENV: "staging", LOG_LEVEL: "info" });
  });

  it("applies slipway.<env>.yml after the in-file overlay", async () => {
    const loaded = await load(
      {
        "slipway.yml": `${BASE}environments:\n  staging:\n    env:\n      clear:\n        LOG_LEVEL: debug\n`,
        "slipway.staging.yml": "env:\n  clear:\n    LOG_LEVEL: trace\n    APP_ENV: staging\n",
      },
      "staging",
    );
    assert.deepEqual(loaded.config.env.clear, { APP_ENV: "staging", LOG_LEVEL: "trace" });
  });

  it("leaves the base alone without -d, and returns no environments key", async () => {
    const loaded = await load({
      "slipway.yml": `${BASE}environments:\n  staging:\n    releases: { keep: 2 }\n`,
    });
    assert.equal(loaded.environment, undefined);
    assert.equal(loaded.config.releases.keep, 5);
    assert.equal("environments" in loaded.config, false);
  });

  it("points an issue from the in-file overlay at its line, with its path in the file", async () => {
    const files = {
      "slipway.yml": yaml`
${BASE.trimEnd()}
environments:
  staging:
    proxy:
      app_port: 0
      healthchek: {}
`,
    };
    const expected = [
      "slipway.yml:20:17 environments.staging.proxy.app_port: port 0 is out of range: ports are whole numbers from 1 to 65535",
      'slipway.yml:21:7 environments.staging.proxy.healthchek: unknown key "healthchek"',
    ];
    assert.deepEqual(brief(await issuesOf(files, "staging")), expected);
    // Other environments are checked too, so the typo fails before anyone deploys staging.
    assert.deepEqual(brief(await issuesOf(files)), expected);
  });

  it("points an issue from slipway.<env>.yml into that file", async () => {
    const issues = await issuesOf(
      {
        "slipway.yml": BASE,
        "slipway.production.yml": yaml`
# production only
servers:
  web:
    hosts:
      - 10.0.0.1
      - "10.0.0.2;reboot"
ssh:
  connect_timeout: soon
`,
      },
      "production",
    );
    assert.deepEqual(brief(issues), [
      'slipway.production.yml:6:9 servers.web.hosts[1]: host "10.0.0.2;reboot" contains ";", which is not allowed in a hostname',
      'slipway.production.yml:8:20 ssh.connect_timeout: invalid duration "soon": write a whole number and a unit, like 500ms, 30s, 5m, 1h or 2d',
    ]);
  });

  it("keeps pointing at the base file for values the overlay did not touch", async () => {
    const issues = await issuesOf(
      {
        "slipway.yml": `${BASE}ssh:\n  port: 0\n`,
        "slipway.production.yml": "proxy:\n  app_port: 99999\n",
      },
      "production",
    );
    assert.deepEqual(brief(issues), [
      "slipway.yml:18:9 ssh.port: port 0 is out of range: ports are whole numbers from 1 to 65535",
      "slipway.production.yml:2:13 proxy.app_port: port 99999 is out of range: ports are whole numbers from 1 to 65535",
    ]);
  });

  it("lets an environment complete a base that is only valid with it", async () => {
    const files = {
      "slipway.yml":
        "service: shop\nimage: shop\nenvironments:\n  production:\n    servers:\n      web: [10.0.0.1]\n",
    };
    assert.deepEqual((await load(files, "production")).config.servers.web?.hosts, ["10.0.0.1"]);
    assert.deepEqual(brief(await issuesOf(files)), [
      'slipway.yml:1:1 servers: missing required key "servers"',
    ]);
  });

  it("rejects an unknown environment, listing the known ones", async () => {
    const issue = await onlyIssue(
      {
        "slipway.yml": `${BASE}environments:\n  staging: {}\n`,
        "slipway.production.yml": "releases:\n  keep: 3\n",
      },
      "prod",
    );
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 17,
      column: 1,
      path: "environments",
      message: 'unknown environment "prod"',
      hint: "known environments: production, staging",
    });
  });

  it("says how to define an environment when there is none", async () => {
    const issue = await onlyIssue({ "slipway.yml": BASE }, "staging");
    assert.deepEqual(
      [issue.line, issue.column, issue.message, issue.hint],
      [
        1,
        1,
        'unknown environment "staging"',
        "no environments are defined: add environments.staging to slipway.yml, or create slipway.staging.yml",
      ],
    );
  });

  it("does not let an overlay define environments", async () => {
    const issues = await issuesOf(
      {
        "slipway.yml": BASE,
        "slipway.staging.yml": "environments:\n  qa: {}\n",
      },
      "staging",
    );
    assert.deepEqual(brief(issues), [
      "slipway.staging.yml:1:1 environments: environments cannot be set in an environment file",
    ]);
  });
});
