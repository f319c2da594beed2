/** Folders as tar: the argv of tar, and the entry count that tells a whole archive from a cut one. */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { planTar, planUntar, TarCounter } from "../../../src/backup/index.ts";

/** A tar header block: name, size (octal, or base-256 when `big`), type. */
function header(name: string, size: number, type = "0", big = false): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, "latin1");
  if (big) {
    h[124] = 0x80;
    h.writeUIntBE(size, 136 - 6, 6);
  } else h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  h.write(type, 156, "latin1");
  h.write("ustar\x0000", 257, "latin1");
  return h;
}
const data = (size: number) => Buffer.alloc(Math.ceil(size / 512) * 512, 1);
const END = Buffer.alloc(1024);

async function count(chunks: Buffer[], chunkSize = 100): Promise<TarCounter> {
  const all = Buffer.concat(chunks);
  const counter = new TarCounter();
  const pieces = [];
  for (let i = 0; i < all.length; i += chunkSize) pieces.push(all.subarray(i, i + chunkSize));
  for await (const _ of Readable.from(pieces).pipe(counter)) {
    // drained
  }
  return counter;
}

describe("folders as tar", () => {
  it("tar and untar argv: contents as ./..., numeric owners, exclusions", () => {
    assert.deepEqual(planTar("/source", ["lock", "backups/work"]), [
      "tar",
      "--create",
      "--file",
      "-",
      "--directory",
      "/source",
      "--numeric-owner",
      "--exclude=./lock",
      "--exclude=./backups/work",
      ".",
    ]);
    assert.deepEqual(planUntar("/restore"), [
      "tar",
      "--extract",
      "--file",
      "-",
      "--directory",
      "/restore",
      "--numeric-owner",
      "--same-permissions",
    ]);
  });

  it("counts entries across chunk boundaries, not the meta headers of long names", async () => {
    const long = "x".repeat(300);
    const counter = await count([
      header("./", 0, "5"),
      header("./a.txt", 700),
      data(700),
      header("././@LongLink", long.length + 1, "L"),
      data(long.length + 1),
      header(long.slice(0, 99), 5),
      data(5),
      header("./big", 1025, "0", true),
      data(1025),
      END,
    ]);
    assert.deepEqual(counter.facts(), { entries: 4 });
  });

  it("a tar cut before its end marker fails", async () => {
    const counter = await count([header("./a.txt", 700), data(700)]);
    assert.equal(counter.entries, 1);
    assert.throws(() => counter.facts(), /the tar stream ended without its end marker: it is cut/);
  });
});
