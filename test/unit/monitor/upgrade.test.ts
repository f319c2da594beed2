/** The agent's version: Slipway's, with a digest of the bundle's files. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { agentVersion } from "../../../src/monitor/index.ts";

describe("the agent's version", () => {
  it("is the same for the same files in any order, another for other code", () => {
    const a = agentVersion(
      "0.1.0",
      new Map([
        ["agent.mjs", "one"],
        ["agent-chunk.mjs", "two"],
      ]),
    );
    assert.match(a, /^0\.1\.0\+[0-9a-f]{12}$/);
    const reordered = new Map([
      ["agent-chunk.mjs", "two"],
      ["agent.mjs", "one"],
    ]);
    assert.equal(agentVersion("0.1.0", reordered), a);
    assert.notEqual(agentVersion("0.1.0", new Map([["agent.mjs", "one!"]])), a);
    // A file's end moved into the next name is other files, not the same bytes run together.
    assert.notEqual(
      agentVersion(
        "0.1.0",
        new Map([
          ["agent.mjs", "on"],
          ["eagent-chunk.mjs", "two"],
        ]),
      ),
      a,
    );
    assert.equal(agentVersion("0.2.0", reordered).split("+")[1], a.split("+")[1]);
  });
});
