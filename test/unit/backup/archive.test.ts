import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { Decrypter, Encrypter } from "age-encryption";
import { AgePayload, ageHead } from "../../../src/backup/age-stream.ts";
import { Meter, openArchive, sealArchive } from "../../../src/backup/index.ts";
import { giveBack, lend } from "../../../src/backup/lent.ts";
import { ageKeys } from "../../support/age-keys.ts";

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

describe("lent chunks (lent.ts)", () => {
  /** `data` cut into chunks, each lent: the returned list says which were given back, in turn. */
  function lent(chunks: Buffer[]): { chunks: Buffer[]; back: number[] } {
    const back: number[] = [];
    return { chunks: chunks.map((c, i) => lend(c, () => back.push(i))), back };
  }

  it("the meter gives back the chunks it copied into a batch, and hands on a whole one as it is", async () => {
    const data = randomBytes(3 << 16);
    const small = lent(cut(data, [1 << 15]));
    await collect(Readable.from(small.chunks).pipe(new Meter({ batchBytes: 1 << 16 })));
    assert.deepEqual(small.back, [0, 1, 2, 3, 4, 5]);
    const whole = lent(cut(data, [1 << 16]));
    await collect(Readable.from(whole.chunks).pipe(new Meter({ batchBytes: 1 << 16 })));
    assert.deepEqual(whole.back, [], "a chunk handed on whole is the next stage's to give back");
  });

  it("the archive's compressor gives back each chunk once it has consumed it, with either compression", async () => {
    for (const compression of ["zstd", "gzip"] as const) {
      const keys = await ageKeys(compression);
      const data = Buffer.alloc(5 << 20, "a row of a table\n");
      const { chunks, back } = lent(cut(data, [1 << 20]));
      const { archive, stats } = sealArchive(Readable.from(chunks), keys.seal);
      const sealed = Buffer.concat(await collect(archive));
      assert.equal((await stats).plainBytes, data.length);
      assert.deepEqual(back, [0, 1, 2, 3, 4], compression);
      const plain = await collect(
        await openArchive(Readable.from([sealed]), { compression, opening: keys.opening }),
      );
      assert.deepEqual(Buffer.concat(plain), data);
    }
  });

  it("a chunk is given back once at most, and one never lent is left alone", () => {
    let times = 0;
    const chunk = lend(Buffer.alloc(4), () => times++);
    giveBack(chunk);
    giveBack(chunk);
    giveBack(Buffer.alloc(4));
    assert.equal(times, 1);
  });
});

describe("age payload through node:crypto", () => {
  const K = 64 * 1024;
  // Around the 64 KiB chunk: the last chunk is full at an exact multiple, never an extra empty one.
  for (const size of [0, 1, K - 1, K, K + 1, 2 * K, 3 * K + 17]) {
    it(`${size} bytes: the age library opens it, and it is as long as the library's own`, async () => {
      const keys = await ageKeys();
      const e = new Encrypter();
      e.addRecipient(keys.recipient);
      const data = randomBytes(size);
      const sealed = Buffer.concat(
        await collect(
          Readable.from(cut(data, [5000, K, 1, 70_000])).pipe(new AgePayload(await ageHead(e))),
        ),
      );
      const reference = new Encrypter();
      reference.addRecipient(keys.recipient);
      assert.equal(sealed.length, (await reference.encrypt(data)).length);
      const d = new Decrypter();
      d.addIdentity(keys.identity);
      assert.deepEqual(Buffer.from(await d.decrypt(sealed)), data);
    });
  }

  it("its header names the recipients only: a stranger's key does not open it", async () => {
    const [a, b, stranger] = await Promise.all([ageKeys(), ageKeys(), ageKeys()]);
    const e = new Encrypter();
    e.addRecipient(a.recipient);
    e.addRecipient(b.recipient);
    const head = await ageHead(e);
    assert.equal(head.head.toString("latin1").match(/^-> X25519 /gm)?.length, 2);
    const sealed = Buffer.concat(
      await collect(Readable.from([Buffer.from("x")]).pipe(new AgePayload(head))),
    );
    const d = new Decrypter();
    d.addIdentity(stranger.identity);
    await assert.rejects(d.decrypt(sealed), /no identity matched/);
  });

  it("a chunk cut off at a chunk boundary does not open (the last one is flagged)", async () => {
    const keys = await ageKeys();
    const e = new Encrypter();
    e.addRecipient(keys.recipient);
    const { head, payloadKey } = await ageHead(e);
    const sealed = Buffer.concat(
      await collect(Readable.from([randomBytes(2 * K)]).pipe(new AgePayload({ head, payloadKey }))),
    );
    const d = new Decrypter();
    d.addIdentity(keys.identity);
    await assert.rejects(d.decrypt(sealed.subarray(0, head.length + K + 16)), /invalid tag/i);
  });
});

describe("openArchive", () => {
  it("hands on the plain stream in chunks of up to 256 KiB, not zlib's 16 KiB", async () => {
    const keys = await ageKeys();
    const data = Buffer.alloc(3 << 20, "one row, then the same row again\n");
    const { archive } = sealArchive(Readable.from([data]), keys.seal);
    const sealed = Buffer.concat(await collect(archive));
    const plain = await collect(
      await openArchive(Readable.from([sealed]), { compression: "zstd", opening: keys.opening }),
    );
    assert.deepEqual(Buffer.concat(plain), data);
    assert.ok(Math.max(...plain.map((c) => c.length)) > 64 << 10, "chunks of more than 64 KiB");
  });
});
