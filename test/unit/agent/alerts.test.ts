/**
 * The alert state machine: incidents open after N consecutive failures and resolve after M
 * successes, remind while open, flapping is notified once and then quiet, a silence mutes
 * notifications but keeps the record; and the agent's config file is checked key by key.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type AlertEvent,
  type AlertPolicy,
  type CheckState,
  initialState,
  mergeFragments,
  observe,
  parseAgentConfig,
} from "../../../src/agent/index.ts";

const policy: AlertPolicy = {
  open_after: 3,
  resolve_after: 2,
  remind_ms: 60_000,
  flap_changes: 4,
  flap_window_ms: 600_000,
  severity: "critical",
};

/** Feeds results ("+" up, "-" down) 10 s apart; returns the final state and every event. */
function run(
  pattern: string,
  options: { from?: CheckState; start?: number; step?: number; silencedUntil?: number } = {},
) {
  let state = options.from ?? initialState();
  let nextId = 1;
  const events: AlertEvent[] = [];
  [...pattern].forEach((c, i) => {
    const at = (options.start ?? 0) + i * (options.step ?? 10_000);
    const out = observe(
      state,
      { ok: c === "+", at, detail: c === "+" ? "HTTP 200" : "HTTP 503" },
      policy,
      {
        assignId: () => nextId++,
        ...(options.silencedUntil === undefined ? {} : { silencedUntil: options.silencedUntil }),
      },
    );
    state = out.state;
    events.push(...out.events);
  });
  return { state, events, kinds: events.map((e) => e.kind) };
}

describe("alert rules", () => {
  it("two failures open nothing; the third opens one incident, with its cause", () => {
    assert.deepEqual(run("+--+").kinds, []);
    const { state, events } = run("+---");
    assert.deepEqual(events, [{ kind: "open", at: 30_000, cause: "HTTP 503", silenced: false }]);
    assert.equal(state.incident?.id, 1);
    assert.deepEqual(run("+-----").kinds, ["open"], "one notice, not one per failure");
  });

  it("one success does not resolve; two do, with the incident's id and opening time", () => {
    assert.deepEqual(run("---+-").kinds, ["open"]);
    const { state, events } = run("---++");
    assert.deepEqual(events.at(-1), {
      kind: "resolve",
      at: 40_000,
      incidentId: 1,
      openedAt: 20_000,
      silenced: false,
    });
    assert.equal(state.incident, undefined);
  });

  it("reminds while open, every remind_ms", () => {
    // 20 s apart: open at 40 s, reminders at 100 s and 160 s.
    const { kinds } = run("---------", { step: 20_000 });
    assert.deepEqual(kinds, ["open", "remind", "remind"]);
  });

  it("flapping is notified once, then incidents open and resolve quietly", () => {
    const { events } = run("+---++---++---++", { step: 1_000 });
    const loud = events.filter((e) => !e.silenced).map((e) => e.kind);
    assert.deepEqual(loud.slice(0, 2), ["open", "resolve"]);
    assert.ok(loud.includes("flapping"), loud.join(","));
    const afterFlap = loud.slice(loud.indexOf("flapping") + 1);
    assert.deepEqual(afterFlap, [], "quiet while flapping");
    assert.ok(events.filter((e) => e.kind === "open").length >= 2, "incidents are still recorded");
  });

  it("a silence keeps the incident but marks its notices silenced", () => {
    const { events, state } = run("---", { silencedUntil: 1_000_000 });
    assert.deepEqual(
      events.map((e) => [e.kind, e.silenced]),
      [["open", true]],
    );
    assert.equal(state.incident?.id, 1);
  });

  it("a graver failure escalates the open incident once, at once; it never goes back down", () => {
    const warning = { ...policy, open_after: 1, resolve_after: 1, severity: "warning" as const };
    let state = initialState();
    const events: AlertEvent[] = [];
    const feed = (ok: boolean, at: number, severity?: "critical" | "warning") => {
      const out = observe(
        state,
        { ok, at, detail: `d${at}`, ...(severity ? { severity } : {}) },
        warning,
        { assignId: () => 7 },
      );
      state = out.state;
      events.push(...out.events);
    };
    feed(false, 1_000);
    assert.deepEqual(state.incident, {
      id: 7,
      openedAt: 1_000,
      lastNotifiedAt: 1_000,
      severity: "warning",
    });
    feed(false, 2_000, "critical");
    feed(false, 3_000, "critical");
    feed(false, 4_000, "warning");
    assert.deepEqual(events.slice(1), [
      {
        kind: "escalate",
        at: 2_000,
        incidentId: 7,
        openedAt: 1_000,
        from: "warning",
        to: "critical",
        silenced: false,
      },
    ]);
    assert.deepEqual(state.incident, {
      id: 7,
      openedAt: 1_000,
      lastNotifiedAt: 2_000,
      severity: "critical",
    });
    feed(true, 5_000);
    assert.deepEqual(
      events.map((e) => e.kind),
      ["open", "escalate", "resolve"],
    );
    // Opened critical from the start: nothing to escalate.
    const direct = observe(
      initialState(),
      { ok: false, at: 1, detail: "x", severity: "critical" },
      warning,
      {
        assignId: () => 1,
      },
    );
    assert.equal(direct.state.incident?.severity, "critical");
    // A state saved before severities (no severity): the policy's, so a critical failure escalates.
    const old = observe(
      { ...initialState(), status: "down", incident: { id: 3, openedAt: 0, lastNotifiedAt: 0 } },
      { ok: false, at: 10, detail: "x", severity: "critical" },
      warning,
      { assignId: () => 4, silencedUntil: 100 },
    );
    assert.deepEqual(
      old.events.map((e) => [e.kind, e.silenced]),
      [["escalate", true]],
    );
  });

  it("a steady check's state stops changing (so it is not written again)", () => {
    const a = run("+++++").state;
    const b = run("++++++++++").state;
    assert.deepEqual(a, b);
  });
});

describe("the agent's config file", () => {
  it("fills the runbooks' defaults", () => {
    const config = parseAgentConfig(
      JSON.stringify({
        service: "hello",
        host: "h1",
        checks: [{ name: "web", kind: "http", url: "https://example.com/" }],
      }),
      "agent.json",
    );
    const [check] = config.checks;
    assert.equal(check?.interval_ms, 60_000);
    assert.deepEqual(check?.alerting, {
      ...policy,
      remind_ms: 3_600_000,
      flap_changes: 6,
      flap_window_ms: 1_800_000,
    });
    assert.deepEqual(config.listen, { address: "127.0.0.1", port: 9465 });
  });

  it("names each bad key by its path, and refuses two checks of one name", () => {
    assert.throws(
      () =>
        parseAgentConfig(
          JSON.stringify({
            service: "hello",
            host: "h1",
            checks: [{ name: "web", kind: "http", url: "ftp://x", interval_ms: 0 }],
          }),
          "agent.json",
        ),
      (error: Error) =>
        /^agent\.json: not a valid agent configuration:/.test(error.message) &&
        /checks\.0\.url/.test(error.message) &&
        /checks\.0\.interval_ms/.test(error.message),
    );
    assert.throws(
      () =>
        parseAgentConfig(
          JSON.stringify({
            service: "hello",
            host: "h1",
            checks: [
              { name: "web", kind: "tcp", host: "x", port: 1 },
              { name: "web", kind: "tcp", host: "y", port: 2 },
            ],
          }),
          "agent.json",
        ),
      /agent\.json: two checks are named web/,
    );
  });

  it("merges one fragment per app: names by app, each check alerting only its own app's notifiers", () => {
    const fragment = (service: string) =>
      JSON.stringify({
        service,
        checks: [{ name: "home", kind: "tcp", host: `${service}-web`, port: 3000 }],
        notifiers: [{ name: "hook", kind: "webhook", url: `https://hooks.test/${service}` }],
      });
    const config = mergeFragments(
      [
        { file: "hello.json", text: fragment("hello") },
        { file: "notes.json", text: fragment("notes") },
      ],
      { host: "vps1", listen: { address: "0.0.0.0", port: 9465 }, token_env: "AGENT_TOKEN" },
    );
    assert.deepEqual(
      config.checks.map((c) => [c.name, c.service, c.notify]),
      [
        ["hello/home", "hello", ["hello/hook"]],
        ["notes/home", "notes", ["notes/hook"]],
      ],
    );
    assert.deepEqual(
      config.notifiers.map((n) => n.name),
      ["hello/hook", "notes/hook"],
    );
    assert.equal(config.host, "vps1");
    assert.throws(
      () =>
        mergeFragments([{ file: "bad.json", text: "{}" }], {
          host: "h",
          listen: { address: "", port: 1 },
        }),
      /bad\.json: not a valid agent configuration:\n {2}service:/,
    );
  });
});
