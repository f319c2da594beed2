import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UserError } from "../../../src/errors/index.ts";
import { DEFAULT_TAIL, logWindow, parseSince, parseTail } from "../../../src/operations/index.ts";

describe("logs --since and --tail", () => {
  it("turns durations into seconds, for the host's clock to measure", () => {
    assert.equal(parseSince("10m"), "600s");
    assert.equal(parseSince("1h"), "3600s");
    assert.equal(parseSince("1h30m"), "5400s");
    assert.equal(parseSince("2d"), "172800s");
    assert.equal(parseSince("45s"), "45s");
  });

  it("takes RFC 3339 times with any offset, and passes them on in UTC", () => {
    assert.equal(parseSince("2026-05-01T10:00:00Z"), "2026-05-01T10:00:00Z");
    assert.equal(parseSince("2026-05-01T12:00:00+02:00"), "2026-05-01T10:00:00Z");
    assert.equal(parseSince("2026-05-01 10:00:00.250Z"), "2026-05-01T10:00:00.250Z");
  });

  it("refuses what is neither, as a usage error with an example", () => {
    for (const bad of [
      "yesterday",
      "10",
      "0m",
      "-5m",
      "10 m",
      "2026-05-01",
      "2026-13-45T99:00:00Z",
      "--all",
    ]) {
      assert.throws(
        () => parseSince(bad),
        (error: unknown) =>
          error instanceof UserError &&
          error.exitCode === 2 &&
          error.message.includes(JSON.stringify(bad)) &&
          /10m/.test(error.hint ?? ""),
        bad,
      );
    }
  });

  it("reads --tail as lines or all", () => {
    assert.equal(parseTail("25"), 25);
    assert.equal(parseTail("0"), 0);
    assert.equal(parseTail("all"), "all");
    assert.throws(() => parseTail("-1"), UserError);
    assert.throws(() => parseTail("ten"), UserError);
  });

  it("shows the last lines by default, everything since --since, and what --tail says", () => {
    assert.deepEqual(logWindow({}), { tail: DEFAULT_TAIL });
    assert.deepEqual(logWindow({ since: "10m" }), { since: "600s" });
    assert.deepEqual(logWindow({ since: "10m", tail: "5" }), { since: "600s", tail: 5 });
    assert.deepEqual(logWindow({ tail: "all" }), {});
  });
});
