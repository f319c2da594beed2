/** The status domain's server block: what reaches the agent, and its values checked. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planStatusSite, renderStatusSite, statusSiteName } from "../../../src/proxy/index.ts";

describe("the status domain's server block", () => {
  it("passes four paths to the agent, resolved per request, and 404s the rest", () => {
    const text = renderStatusSite({
      domain: "status.example.com",
      agent: { host: "slipway-agent", port: 9465 },
    });
    const lines = text.split("\n").map((l) => l.trim());
    assert.ok(lines.includes("server_name status.example.com;"));
    assert.ok(lines.includes("resolver 127.0.0.11 valid=10s;"));
    assert.ok(lines.includes("set $slipway_agent http://slipway-agent:9465;"));
    assert.deepEqual(
      lines.filter((l) => l.startsWith("location")),
      [
        "location = / {",
        "location = /status {",
        "location = /api/status {",
        "location = /healthz {",
        "location /ping/ {",
        "location / {",
      ],
    );
    assert.equal(lines.filter((l) => l === "proxy_pass $slipway_agent;").length, 4);
    assert.ok(lines.includes("limit_except GET POST { deny all; }"), "heartbeats may POST");
  });

  it("refuses a value that is not a domain or a container name", () => {
    assert.throws(
      () => renderStatusSite({ domain: "x.test; include /etc", agent: { host: "a", port: 1 } }),
      /domain .* is not allowed/,
    );
    assert.throws(
      () => renderStatusSite({ domain: "x.test", agent: { host: "a;b", port: 1 } }),
      /agent .* is not allowed/,
    );
  });

  it("is put in place by the proxy's switch script, in sites/status.<site>.conf", () => {
    assert.equal(statusSiteName("hello-staging"), "status.hello-staging");
    const [step] = planStatusSite("hello", {
      domain: "status.test",
      agent: { host: "slipway-agent", port: 9465 },
    });
    assert.ok(step?.kind === "run" && Array.isArray(step.command));
    assert.deepEqual(step.command.slice(4, 7), [
      "/var/lib/slipway/proxy/sites",
      "status.hello",
      "slipway-proxy",
    ]);
  });
});
