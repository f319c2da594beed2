/**
 * The streaming exec of dumps and restores: a program's output that its reader abandons (a store
 * gone mid-upload) must not leave the program blocked on a full pipe, nor this process waiting;
 * and a reader busy for a moment must not stall the program (read-ahead).
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

  it("reads up to 4 MiB ahead of its reader: a program with 3 MB to write is not held up", async () => {
    const { stdout, done } = execStream(["head", "-c", "3000000", "/dev/zero"]);
    stdout.pause();
    await done; // with a pipe's 64 KiB of room, head would still be blocked on its write
    let n = 0;
    for await (const c of stdout) n += (c as Buffer).length;
    assert.equal(n, 3_000_000);
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
