import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { Meter } from "../../../src/backup/index.ts";

/** `data` cut into pieces of these sizes, in turn (the last piece takes what is left). */
function cut(data: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length] as number;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** The chunks as the stream hands them on ('data' events: an async iterator would join them). */
function collect(stream: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(chunks));
    stream.on("error", reject);
  });
}

describe("Meter", () => {
  it("hands on batches of at least batchBytes (the last excepted), counting and hashing as before", async () => {
    const data = randomBytes(300_000);
    const meter = new Meter({ batchBytes: 64 << 10 });
    const out = await collect(Readable.from(cut(data, [8192, 100, 30_000])).pipe(meter));
    assert.deepEqual(Buffer.concat(out), data);
    assert.ok(out.length <= Math.ceil(data.length / (64 << 10)), `${out.length} batches`);
    for (const c of out.slice(0, -1)) assert.ok(c.length >= 64 << 10, `a batch of ${c.length}`);
    assert.equal(meter.bytes, data.length);
    assert.equal(meter.sha256, createHash("sha256").update(data).digest("hex"));
  });

  it("without batchBytes passes chunks through as they come", async () => {
    const data = randomBytes(20_000);
    const out = await collect(Readable.from(cut(data, [8192])).pipe(new Meter()));
    assert.deepEqual(
      out.map((c) => c.length),
      [8192, 8192, 3616],
    );
  });
});
