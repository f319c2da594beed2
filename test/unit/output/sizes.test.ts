/** Sizes and ages as people read them in `backup run` and `backup list`. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAge, formatBytes } from "../../../src/output/index.ts";

describe("sizes and ages for people", () => {
  it("bytes in powers of 1024, three figures", () => {
    assert.deepEqual(
      [0, 656, 1024, 21_386, 10 * 1024 * 1024, 432_537_600, 3 * 1024 ** 4].map(formatBytes),
      ["0 B", "656 B", "1.00 KiB", "20.9 KiB", "10.0 MiB", "412.5 MiB", "3.00 TiB"],
    );
  });

  it("ages in one unit, at least two of it", () => {
    assert.deepEqual(
      [
        -5,
        45_000,
        119_000,
        120_000,
        7_199_000,
        7_200_000,
        86_400_000,
        172_800_000,
        9.4 * 86_400_000,
      ].map(formatAge),
      ["0s", "45s", "119s", "2m", "120m", "2h", "24h", "2d", "9d"],
    );
  });
});
