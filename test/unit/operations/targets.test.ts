import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../../../src/errors/index.ts";
import { chooseHost, chooseRole, chooseTargets } from "../../../src/operations/index.ts";

const roles = [
  { name: "web", hosts: ["app1", "app2"], proxied: true },
  { name: "worker", hosts: ["app2", "jobs"], proxied: false },
];

function usageError(pattern: RegExp, hint: RegExp) {
  return (error: unknown) =>
    error instanceof UserError &&
    error.exitCode === 2 &&
    pattern.test(error.message) &&
    hint.test(error.hint ?? "");
}

describe("choosing roles and hosts", () => {
  it("defaults to the first role on its first host", () => {
    assert.equal(chooseRole(roles, undefined).name, "web");
    assert.equal(chooseHost(chooseRole(roles, "worker"), undefined), "app2");
    assert.equal(chooseHost(chooseRole(roles, "worker"), "jobs"), "jobs");
  });

  it("names the roles and hosts that exist when the choice is wrong", () => {
    assert.throws(() => chooseRole(roles, "wrker"), usageError(/"wrker"/, /web, worker/));
    assert.throws(
      () => chooseHost(chooseRole(roles, "web"), "jobs"),
      usageError(/web does not run on jobs/, /app1, app2/),
    );
  });

  it("aims logs at every role on every host, or narrows by role and host", () => {
    assert.deepEqual(chooseTargets(roles, {}), [
      { role: "web", host: "app1" },
      { role: "web", host: "app2" },
      { role: "worker", host: "app2" },
      { role: "worker", host: "jobs" },
    ]);
    assert.deepEqual(chooseTargets(roles, { host: "app2" }), [
      { role: "web", host: "app2" },
      { role: "worker", host: "app2" },
    ]);
    assert.deepEqual(chooseTargets(roles, { role: "worker", host: "jobs" }), [
      { role: "worker", host: "jobs" },
    ]);
    assert.throws(() => chooseTargets(roles, { role: "web", host: "jobs" }), UserError);
    assert.throws(() => chooseTargets(roles, { host: "nowhere" }), usageError(/nowhere/, /app1/));
  });
});
