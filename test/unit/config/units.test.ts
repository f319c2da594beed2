import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration, parseSize } from "../../../src/config/index.ts";

describe("parseDuration", () => {
  it("reads every unit as milliseconds", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("5m"), 300_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("2d"), 172_800_000);
    assert.equal(parseDuration("0s"), 0);
  });

  it("rejects a number without unit and words, showing the accepted forms", () => {
    assert.throws(() => parseDuration("30"), {
      name: "RangeError",
      message:
        'invalid duration "30": write a whole number and a unit, like 500ms, 30s, 5m, 1h or 2d',
    });
    assert.throws(
      () => parseDuration("thirty seconds"),
      /^RangeError: invalid duration "thirty seconds"/,
    );
    assert.throws(() => parseDuration("1.5h"), /invalid duration/);
    assert.throws(() => parseDuration("30S"), /invalid duration/);
  });
});

describe("parseSize", () => {
  it("reads units in any case as powers of 1024", () => {
    assert.equal(parseSize("512mb"), 512 * 1024 ** 2);
    assert.equal(parseSize("1gb"), 1024 ** 3);
    assert.equal(parseSize("1GB"), 1024 ** 3);
    assert.equal(parseSize("10k"), 10 * 1024);
    assert.equal(parseSize("10Kb"), 10 * 1024);
    assert.equal(parseSize("100b"), 100);
  });

  it("rejects sizes without unit or with an unknown one", () => {
    assert.throws(() => parseSize("512"), {
      message: 'invalid size "512": write a whole number and a unit, like 512mb, 1gb or 10k',
    });
    assert.throws(() => parseSize("1 gb"), /invalid size/);
    assert.throws(() => parseSize("1pb"), /invalid size/);
  });
});
