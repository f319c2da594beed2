/** `slipway monitor api`'s request, checked before anything is sent. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planApiRequest } from "../../../src/monitor/index.ts";

describe("monitor api's request", () => {
  it("takes a method in any case, a path, a JSON body", () => {
    assert.deepEqual(planApiRequest("patch", "/api/checks/hello/web", '{"paused": true}'), {
      method: "PATCH",
      path: "/api/checks/hello/web",
      body: { paused: true },
    });
    assert.deepEqual(planApiRequest("GET", "/api/settings", undefined), {
      method: "GET",
      path: "/api/settings",
      body: undefined,
    });
  });

  it("refuses a bad method, path or body with a hint", () => {
    assert.throws(() => planApiRequest("FETCH", "/api", undefined), {
      message: "FETCH is not a method of the agent's API",
    });
    assert.throws(() => planApiRequest("GET", "api/settings", undefined), {
      message: '"api/settings" is not a path of the agent\'s API',
    });
    assert.throws(() => planApiRequest("GET", "/api/a b", undefined), /not a path/);
    assert.throws(
      () => planApiRequest("PUT", "/api/checks/x", "{nope"),
      /^UserError: --data is not JSON: /,
    );
  });
});
