/** The write API's pure part: checks from bodies and patches, their errors, what settings show. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { agentConfigSchema, type CheckConfig } from "../../../src/agent/index.ts";
import {
  checkFromBody,
  effectiveChecks,
  patchCheck,
  SettingsError,
  settingsView,
} from "../../../src/agent/settings.ts";

const config = agentConfigSchema.parse({
  service: "box",
  host: "box",
  checks: [{ name: "hello/web", kind: "tcp", host: "web", port: 80 }],
  notifiers: [
    { name: "hello/ops", kind: "webhook", url: "https://hooks.example/x", secret_file: "/s/k" },
    { name: "hello/chat", kind: "slack", url_file: "/s/slack" },
    { name: "notes/ops", kind: "telegram", chat_id: "42", token_file: "/s/t" },
  ],
});
const web = config.checks[0] as CheckConfig;

function rejected(work: () => unknown): SettingsError {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    return error;
  }
  assert.fail("it was accepted");
}

describe("the agent's settings", () => {
  it("a check named <app>/... belongs to that app and alerts only its notifiers", () => {
    const check = checkFromBody(
      "hello/db",
      { kind: "tcp", host: "db", port: 5432 },
      config.notifiers,
    );
    assert.equal(check.service, "hello");
    assert.deepEqual(check.notify, ["hello/ops", "hello/chat"]);
    assert.equal(check.interval_ms, 60_000);
    const loose = checkFromBody("solo", { kind: "tcp", host: "db", port: 1 }, config.notifiers);
    assert.equal(loose.service, undefined);
    assert.equal(loose.notify, undefined);
  });

  it("a bad body is refused with each bad key in words", () => {
    const error = rejected(() =>
      checkFromBody(
        "hello/x",
        { kind: "http", url: "ftp://x", interval_ms: 0, bogus: 1 },
        config.notifiers,
      ),
    );
    assert.equal(error.status, 400);
    assert.equal(error.message, "check hello/x is not valid");
    assert.deepEqual(error.issues.toSorted(), [
      "(body): unknown key bogus",
      "interval_ms: must be at least 1",
      "url: not a valid http(s) URL",
    ]);
    const kind = rejected(() => checkFromBody("hello/x", { kind: "ftp" }, config.notifiers));
    assert.deepEqual(kind.issues, [
      "kind: must be one of http, tcp, host, tls, dns, heartbeat, container",
    ]);
    const named = rejected(() =>
      checkFromBody("hello/x", { name: "other", kind: "tcp", host: "a", port: 1 }, []),
    );
    assert.equal(named.message, 'the body names "other", the path hello/x');
  });

  it("a patch changes some fields, merges alerting, removes with null, keeps name and kind", () => {
    const patched = patchCheck(
      { ...web, timeout_ms: 3_000 },
      { interval_ms: 5_000, alerting: { open_after: 5 }, paused: true },
    );
    assert.equal(patched.interval_ms, 5_000);
    assert.equal(patched.timeout_ms, 3_000);
    assert.equal(patched.paused, true);
    assert.deepEqual(patched.alerting, { ...web.alerting, open_after: 5 });
    const unpaused = patchCheck(patched, { paused: null });
    assert.equal("paused" in unpaused, false);
    assert.deepEqual(rejected(() => patchCheck(web, { kind: "http" })).issues, [
      "kind: replace the check with PUT instead",
    ]);
    assert.deepEqual(rejected(() => patchCheck(web, { port: 70_000 })).issues, [
      "port: must be at most 65535",
    ]);
  });

  it("overrides replace the file's check in place; the API's own checks come after", () => {
    const faster = { ...web, interval_ms: 1_000 };
    const added = checkFromBody("hello/db", { kind: "tcp", host: "db", port: 5432 }, []);
    const checks = effectiveChecks(
      config.checks,
      new Map([
        ["hello/db", added],
        ["hello/web", faster],
      ]),
    );
    assert.deepEqual(checks, [faster, added]);
  });

  it("settings name each check's source, with the file's version under an override, and no secret", () => {
    const faster = { ...web, interval_ms: 1_000 };
    const view = settingsView(config, new Map([["hello/web", faster]])) as {
      checks: Record<string, unknown>[];
      notifiers: unknown[];
    };
    assert.deepEqual(view.checks, [{ ...faster, paused: false, source: "override", file: web }]);
    assert.deepEqual(settingsView(config, new Map()).checks, [
      { ...web, paused: false, source: "file" },
    ]);
    assert.deepEqual(view.notifiers, [
      { name: "hello/ops", kind: "webhook", url: "https://hooks.example/x", signed: true },
      { name: "hello/chat", kind: "slack" },
      { name: "notes/ops", kind: "telegram", chat_id: "42", api_url: "https://api.telegram.org" },
    ]);
    assert.doesNotMatch(JSON.stringify(view), /\/s\//, "where secrets are kept is not shown");
  });
});
