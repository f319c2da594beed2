/**
 * The streaming exec of dumps and restores: a program's output that its reader abandons (a store
 * gone mid-upload) must not leave the program blocked on a full pipe, nor this process waiting.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { execStream } from "../../src/backup/index.ts";

describe("execStream", { timeout: 20_000 }, () => {
  it("stops a program whose output is abandoned; done says how it ended", async () => {
    const { stdout, done } = execStream(["yes", "a dump that never ends"]);
    await once(stdout, "data");
    stdout.destroy(new Error("the store went away"));
    await assert.rejects(done, /yes a dump that never ends failed \(signal SIGTERM\)/);
  });

  it("a program that ends on its own is not signalled", async () => {
    const { stdout, done } = execStream(["sh", "-c", "echo dumped"]);
    let out = "";
    stdout.on("data", (d: Buffer) => {
      out += String(d);
    });
    await done;
    await once(stdout, "close");
    assert.equal(out, "dumped\n");
  });
});
