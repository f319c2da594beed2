/**
 * The archive pipeline against the standard tools: what sealArchive writes opens with Debian's
 * `age -d` and `zstd -d` / `gzip -d`, and what those tools write opens with openArchive. Also:
 * the pipeline streams (archive bytes flow before the dump has ended), a wrong key and a cut or
 * altered archive fail, and a dump that dies half-way fails the archive.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, describe, it } from "node:test";
import { openArchive, sealArchive } from "../../src/backup/index.ts";
import { run, skipUnless } from "../rig/index.ts";
import { ageKeys } from "../support/age-keys.ts";

const dir = mkdtempSync(join(tmpdir(), "slipway-backup-archive-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const tools = ["age", "zstd", "gzip"].every(
  (t) => spawnSync(t, ["--version"], { stdio: "ignore" }).status === 0,
);
const skip = skipUnless(
  tools ? { ok: true } : { ok: false, reason: "age or zstd missing (apt-get install age zstd)" },
);

/** Compressible, not trivially so: text lines with random parts, about 3 MB. */
function dumpLike(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++)
    lines.push(`INSERT INTO t VALUES (${i}, '${randomBytes(12).toString("hex")}', 'same text');`);
  return Buffer.from(`${lines.join("\n")}\n`);
}
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function keyPair(
  name: string,
): Promise<{ identity: string; recipient: string; file: string }> {
  const { identity, recipient } = await ageKeys();
  const file = join(dir, `${name}.key`);
  writeFileSync(file, `${identity}\n`, { mode: 0o600 });
  return { identity, recipient, file };
}

async function sealToFile(data: Buffer, file: string, options: Parameters<typeof sealArchive>[1]) {
  const { archive, stats } = sealArchive(Readable.from([data]), options);
  await pipeline(archive, createWriteStream(file));
  return stats;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe("archive: dump → zstd/gzip → age", { skip, timeout: 120_000 }, () => {
  it("seals to two recipients; Debian's age and zstd open it with either key", async () => {
    const a = await keyPair("a");
    const b = await keyPair("b");
    const data = dumpLike();
    const file = join(dir, "db.zst.age");
    const stats = await sealToFile(data, file, {
      compression: "zstd",
      sealing: { recipients: [a.recipient, b.recipient] },
    });
    const onDisk = readFileSync(file);
    assert.equal(stats.plainBytes, data.length);
    assert.equal(stats.plainSha256, sha256(data));
    assert.equal(stats.archiveBytes, onDisk.length);
    assert.equal(stats.archiveSha256, sha256(onDisk));
    assert.ok(onDisk.length < data.length / 1.5, `compressed: ${onDisk.length} of ${data.length}`);
    assert.ok(!onDisk.includes("same text"), "the archive holds no plain text");
    for (const key of [a, b]) {
      const out = spawnSync(
        "sh",
        ["-c", 'age -d -i "$1" "$2" | zstd -d -q', "sh", key.file, file],
        {
          maxBuffer: 64 << 20,
        },
      );
      assert.equal(out.status, 0, out.stderr.toString());
      assert.equal(sha256(out.stdout), sha256(data));
    }
    const stranger = await keyPair("stranger");
    const refused = await run("age", ["-d", "-i", stranger.file, file]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /no identity matched/);
  });

  it("gzip as an option opens with age and gzip -d", async () => {
    const a = await keyPair("gz");
    const data = dumpLike();
    const file = join(dir, "db.gz.age");
    await sealToFile(data, file, { compression: "gzip", sealing: { recipients: [a.recipient] } });
    const out = spawnSync("sh", ["-c", 'age -d -i "$1" "$2" | gzip -d', "sh", a.file, file], {
      maxBuffer: 64 << 20,
    });
    assert.equal(out.status, 0, out.stderr.toString());
    assert.equal(sha256(out.stdout), sha256(data));
  });

  it("opens what `zstd | age -r` wrote", async () => {
    const a = await keyPair("cli");
    const data = dumpLike();
    writeFileSync(join(dir, "plain"), data);
    const file = join(dir, "cli.zst.age");
    const made = spawnSync("sh", [
      "-c",
      'zstd -q -c "$1" | age -r "$2" -o "$3"',
      "sh",
      join(dir, "plain"),
      a.recipient,
      file,
    ]);
    assert.equal(made.status, 0, made.stderr.toString());
    const plain = await openArchive(createReadStream(file), {
      compression: "zstd",
      opening: { identities: [a.identity] },
    });
    assert.equal(sha256(await readAll(plain)), sha256(data));
  });

  it("round-trips with a passphrase (age's CLI asks for one on a terminal only: opened here)", async () => {
    const data = dumpLike();
    const file = join(dir, "pass.zst.age");
    await sealToFile(data, file, {
      compression: "zstd",
      sealing: { passphrase: "correct horse battery staple" },
    });
    // The header says scrypt: age -d would prompt for this passphrase.
    assert.match(readFileSync(file).subarray(0, 200).toString("latin1"), /^-> scrypt /m);
    const plain = await openArchive(createReadStream(file), {
      compression: "zstd",
      opening: { passphrase: "correct horse battery staple" },
    });
    assert.equal(sha256(await readAll(plain)), sha256(data));
    await assert.rejects(
      openArchive(createReadStream(file), {
        compression: "zstd",
        opening: { passphrase: "wrong one here" },
      }),
      /the archive cannot be opened/,
    );
  });

  it("streams: archive bytes come out while the dump is still being written", async () => {
    const a = await keyPair("stream");
    let produced = 0;
    let producedWhenFirstOut = -1;
    const total = 8 << 20;
    const source = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        // Random: incompressible, so the compressor cannot hold it all back.
        const chunk = randomBytes(256 << 10);
        produced += chunk.length;
        setImmediate(() => this.push(chunk));
      },
    });
    const { archive, stats } = sealArchive(source, {
      compression: "zstd",
      sealing: { recipients: [a.recipient] },
    });
    let out = 0;
    for await (const c of archive) {
      if (producedWhenFirstOut < 0) producedWhenFirstOut = produced;
      out += (c as Buffer).length;
    }
    assert.ok(
      producedWhenFirstOut < total / 2,
      `first archive bytes after ${producedWhenFirstOut} of ${total}`,
    );
    assert.equal((await stats).archiveBytes, out);
  });

  it("a dump that fails half-way fails the archive, and so do a cut or an altered archive", async () => {
    const a = await keyPair("fail");
    async function* dying() {
      yield Buffer.alloc(1 << 20, 1);
      throw new Error("pg_dump exited 1");
    }
    const { archive, stats } = sealArchive(Readable.from(dying()), {
      compression: "zstd",
      sealing: { recipients: [a.recipient] },
    });
    await assert.rejects(readAll(archive), /pg_dump exited 1/);
    await assert.rejects(stats, /pg_dump exited 1/);

    const data = dumpLike();
    const file = join(dir, "whole.zst.age");
    await sealToFile(data, file, { compression: "zstd", sealing: { recipients: [a.recipient] } });
    const whole = readFileSync(file);
    const open = (bytes: Buffer) =>
      openArchive(Readable.from([bytes]), {
        compression: "zstd",
        opening: { identities: [a.identity] },
      }).then(readAll);
    assert.equal(sha256(await open(whole)), sha256(data));
    await assert.rejects(
      open(whole.subarray(0, whole.length - 1000)),
      /invalid tag|decrypt|final chunk/i,
    );
    const altered = Buffer.from(whole);
    const middle = Math.floor(altered.length / 2);
    altered[middle] = (altered[middle] ?? 0) ^ 1;
    await assert.rejects(open(altered), /invalid tag|decrypt/i);
    const stranger = await keyPair("fail-stranger");
    await assert.rejects(
      openArchive(Readable.from([whole]), {
        compression: "zstd",
        opening: { identities: [stranger.identity] },
      }),
      /no identity matched/,
    );
  });

  it("refuses to seal without a recipient, or to a malformed one", () => {
    assert.throws(
      () => sealArchive(Readable.from([]), { compression: "zstd", sealing: { recipients: [] } }),
      /at least one age recipient/,
    );
    assert.throws(
      () =>
        sealArchive(Readable.from([]), {
          compression: "zstd",
          sealing: { recipients: ["age1nope"] },
        }),
      /"age1nope" is not an age recipient/,
    );
  });
});
