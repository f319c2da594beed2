/**
 * Error-budget burn, the SRE workbook's way: both windows of a pair must burn fast enough, the
 * faster pair pages, the slower one opens a ticket, and a short blip or an old burn does not.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { burnVerdict } from "../../../src/agent/budget.ts";

const HOUR = 3_600_000;
const MIN = 60_000;

/** Error ratios by window length. */
const ratios = (byWindow: Record<number, number | undefined>) => (windowMs: number) =>
  byWindow[windowMs];

describe("error-budget burn (99.9% objective: a 0.1% budget)", () => {
  it("pages when both the last hour and the last 5 minutes burn 14.4x or more", () => {
    const verdict = burnVerdict(
      99.9,
      ratios({ [HOUR]: 0.02, [5 * MIN]: 0.05, [6 * HOUR]: 0.004, [30 * MIN]: 0.02 }),
    );
    assert.deepEqual(verdict, {
      level: "page",
      detail: "burning the 99.9% error budget 20.0x over 1h (and 50.0x over 5m)",
    });
  });

  it("a blip (5 minutes burning, the hour not) does not page", () => {
    const verdict = burnVerdict(
      99.9,
      ratios({ [HOUR]: 0.005, [5 * MIN]: 0.2, [6 * HOUR]: 0.001, [30 * MIN]: 0.02 }),
    );
    assert.equal(verdict.level, undefined);
  });

  it("a burn that stopped (the hour still high, the last 5 minutes clean) no longer pages", () => {
    const verdict = burnVerdict(
      99.9,
      ratios({ [HOUR]: 0.03, [5 * MIN]: 0, [6 * HOUR]: 0.007, [30 * MIN]: 0.007 }),
    );
    assert.equal(verdict.level, "ticket", "but the slower pair still burns 7x: a ticket");
  });

  it("opens a ticket at 6x over 6 hours and 30 minutes; nothing below", () => {
    assert.equal(
      burnVerdict(
        99.9,
        ratios({ [HOUR]: 0.007, [5 * MIN]: 0.007, [6 * HOUR]: 0.007, [30 * MIN]: 0.007 }),
      ).level,
      "ticket",
    );
    const calm = burnVerdict(
      99.9,
      ratios({ [HOUR]: 0.005, [5 * MIN]: 0.005, [6 * HOUR]: 0.005, [30 * MIN]: 0.005 }),
    );
    assert.deepEqual(calm, {
      level: undefined,
      detail: "error budget burn 5.0x, under the alert rates",
    });
  });

  it("no runs in a window: no verdict from that pair", () => {
    assert.equal(burnVerdict(99, ratios({})).level, undefined);
  });
});
