/** The deploy's own settings: commands as words, roles behind the proxy, rolling limits. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brief, issuesOf, load, MINIMAL, yaml } from "./helpers.ts";

describe("deploy settings", () => {
  it("splits string commands into words as a shell would, without a shell", async () => {
    const { config } = await load({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
    cmd: node server.js --name "my app"
deploy:
  release_command: [node, server.js, migrate]
`,
    });
    assert.deepEqual(config.servers.web?.cmd, ["node", "server.js", "--name", "my app"]);
    assert.deepEqual(config.deploy.release_command, ["node", "server.js", "migrate"]);
  });

  it("refuses string commands that need a shell, saying why", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
    cmd: npm run migrate && node server.js
deploy:
  release_command: rake db:migrate $EXTRA
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:7:10 servers.web.cmd: command "npm run migrate && node server.js" has the shell operator "&&"',
      'slipway.yml:9:20 deploy.release_command: command "rake db:migrate $EXTRA" uses $ or a backtick, which only a shell would expand',
    ]);
    assert.match(issues[0]?.hint ?? "", /\["sh", "-c", "a && b"\]/);
  });

  it("accepts a rolling limit as a number or a percentage, nothing else", async () => {
    const percent = await load({ "slipway.yml": `${MINIMAL}rolling:\n  limit: 25%\n` });
    assert.equal(percent.config.rolling.limit, "25%");
    const issues = await issuesOf({ "slipway.yml": `${MINIMAL}rolling:\n  limit: 250%\n` });
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, "rolling.limit");
  });

  it("defaults stop and readiness times per role, and the proxy image", async () => {
    const { config } = await load({ "slipway.yml": MINIMAL });
    assert.equal(config.servers.web?.stop_timeout, 30_000);
    assert.equal(config.servers.web?.ready_after, 5_000);
    assert.equal(config.servers.web?.proxy, undefined);
    assert.equal(config.proxy.image, "nginx:1.27-bookworm");
    assert.equal(config.proxy.drain_timeout, 3_000);
  });
});
