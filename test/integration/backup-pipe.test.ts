/**
 * A dump read through a FIFO (src/backup/pipe.ts), with real FIFOs and real writer processes on
 * this machine (the containers beside an accessory are in backup-engines.test.ts): every byte
 * arrives; a writer that fails, before its first byte or after, or never opens the FIFO, fails
 * the stream rather than leaving it waiting or passing for whole; a reader that stops stops the
 * writer; the ring's memory is read into again once the archive gave a batch back, and never
 * while a reader holds it; and the fallback takes over only when nothing was read yet.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, describe, it } from "node:test";
import {
  type EngineTarget,
  execStream,
  handOverOf,
  openArchive,
  PIPE_DIR,
  PIPE_FILE,
  type PipeWriter,
  planPipedDump,
  readThroughPipe,
  sealArchive,
  withFallback,
} from "../../src/backup/index.ts";
import { ageKeys } from "../support/age-keys.ts";

const dir = mkdtempSync(join(tmpdir(), "slipway-pipe-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A writer: `script` run by sh with $PIPE set to the FIFO in the mounted folder. */
const shell =
  (script: string): PipeWriter =>
  async (folder) => {
    const run = execStream(["sh", "-c", script.replaceAll("$PIPE", join(folder, "dump"))]);
    run.stdout.resume();
    await run.done;
  };

async function drain(stream: Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  return { bytes, sha256: hash.digest("hex") };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe("readThroughPipe", { timeout: 30_000 }, () => {
  it("hands on every byte the writer wrote, in order", async () => {
    assert.equal(PIPE_FILE, "/slipway-pipe/dump");
    const data = randomBytes(7_654_321);
    const file = join(dir, "data");
    writeFileSync(file, data);
    const run = readThroughPipe(shell(`cat ${file} > $PIPE`));
    const got = await drain(run.stdout);
    await run.done;
    assert.deepEqual(got, {
      bytes: data.length,
      sha256: createHash("sha256").update(data).digest("hex"),
    });
  });

  it("a writer that fails before opening the FIFO fails the stream, without hanging", async () => {
    const run = readThroughPipe(async () => {
      throw new Error("no such container");
    });
    await assert.rejects(drain(run.stdout), /no such container/);
    await assert.rejects(run.done, /no such container/);
  });

  it("a writer that ends well without ever opening the FIFO is no empty dump", async () => {
    const run = readThroughPipe(shell("true"));
    await assert.rejects(drain(run.stdout), /ended without writing to its pipe/);
  });

  it("a writer that fails half-way fails the stream after its bytes", async () => {
    const run = readThroughPipe(shell("head -c 3000000 /dev/zero > $PIPE; exit 3"));
    let bytes = 0;
    run.stdout.on("data", (c: Buffer) => {
      bytes += c.length;
    });
    await assert.rejects(once(run.stdout, "end"), /exit 3/);
    await assert.rejects(run.done, /exit 3/);
    assert.ok(bytes <= 3_000_000, `${bytes} bytes`);
  });

  it("a reader that stops ends a writer that would never end", async () => {
    let writer: Promise<void> | undefined;
    const run = readThroughPipe((folder, ended) => {
      writer = shell("exec yes 'a dump that never ends' > $PIPE")(folder, ended);
      return writer;
    });
    await once(run.stdout, "data");
    run.stdout.destroy();
    await assert.rejects(run.done);
    // yes dies of its broken pipe once the FIFO's reading end is closed.
    await assert.rejects(writer as Promise<void>, /signal SIGPIPE/);
  });
});

describe("readThroughPipe's hand-over: Postgres' dump beside, started before its snapshot", {
  timeout: 30_000,
}, () => {
  const pg: EngineTarget = { engine: "postgres", container: "db", user: "app", database: "app" };
  // planPipedDump's own shell, run here: its folder is the pipe's, and pg_dump a script that
  // writes its arguments, and whether stdbuf runs it.
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "pg_dump"),
    '#!/bin/sh\ncase "$LD_PRELOAD" in *stdbuf*) how=stdbuf;; *) how=plain;; esac\necho "$how" "$@"\n',
    { mode: 0o755 },
  );
  const step = planPipedDump(pg);
  /** Runs the step's shell with `path`; `started` settles once it runs. */
  function beside(started: () => void, path = `${bin}:${process.env.PATH}`): PipeWriter {
    assert.equal(step.entrypoint, "sh");
    return async (folder) => {
      const args = step.args.map((a) => a.replaceAll(PIPE_DIR, folder));
      const run = execStream(["env", `PATH=${path}`, "/bin/sh", ...args]);
      started();
      run.stdout.resume();
      await run.done;
    };
  }

  it("the dump's program is running before the snapshot is known, and dumps that snapshot", async () => {
    // The snapshot is known only once the program runs, and a moment later: were the program
    // started only once it is known, this would never end.
    let known: (snapshot: string) => void = () => {};
    const line = new Promise<string>((resolve) => {
      known = resolve;
    });
    const run = readThroughPipe(
      beside(() => setTimeout(() => known("00000003-0000001B-1"), 200)),
      handOverOf(step, line),
    );
    const out = await readAll(run.stdout);
    await run.done;
    // Through stdbuf (this machine has coreutils'), which makes its writes a MiB each.
    assert.match(
      out.toString(),
      /^stdbuf --snapshot=00000003-0000001B-1 --host=127\.0\.0\.1 --username app .*--dbname app\n$/,
    );
  });

  it("an image without stdbuf (busybox): pg_dump writes the FIFO itself", async () => {
    const run = readThroughPipe(
      beside(() => {}, bin),
      handOverOf(step, Promise.resolve("00000003-0000001B-1")),
    );
    assert.match((await readAll(run.stdout)).toString(), /^plain --snapshot=00000003-0000001B-1 /);
    await run.done;
  });

  it("a snapshot that never comes (the session failed): the program exits 1 and says why", async () => {
    const run = readThroughPipe(
      beside(() => {}),
      handOverOf(step, Promise.reject(new Error("no snapshot from db"))),
    );
    await assert.rejects(readAll(run.stdout), /exit 1.*no snapshot came through/s);
    await assert.rejects(run.done, /exit 1/);
  });

  it("a writer gone before it read its line: nothing waits on the line", async () => {
    const run = readThroughPipe(shell("exit 3"), handOverOf(step, new Promise<string>(() => {})));
    await assert.rejects(run.done, /exit 3/);
  });

  it("a step that awaits a line needs one", () => {
    assert.throws(() => handOverOf(step, undefined), /awaits a line on snapshot/);
    assert.equal(handOverOf({ name: "x" }, undefined), undefined);
    const line = Promise.resolve("x");
    assert.throws(() => handOverOf({ name: "x", awaits: "dump" }, line), /bad FIFO name dump/);
    assert.throws(() => handOverOf({ name: "x", awaits: "../x" }, line), /bad FIFO name/);
  });
});

describe("readThroughPipe's ring of batches", { timeout: 60_000 }, () => {
  const data = randomBytes(40 << 20); // 40 batches, more than the ring holds
  const file = join(dir, "ring-data");
  writeFileSync(file, data);
  const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  it("the archive gives every batch back, so the ring's memory is read into again: every byte survives a slow reader", async () => {
    const keys = await ageKeys();
    const run = readThroughPipe(shell(`cat ${file} > $PIPE`));
    const { archive, stats } = sealArchive(run.stdout, keys.seal);
    const sealed: Buffer[] = [];
    for await (const chunk of archive) {
      sealed.push(chunk as Buffer);
      await new Promise((r) => setTimeout(r, 2)); // behind the reader: batches wait in the stages
    }
    await run.done;
    assert.equal((await stats).plainSha256, sha256(data));
    const plain = await openArchive(Readable.from(sealed), {
      compression: "zstd",
      opening: keys.opening,
    });
    assert.equal((await drain(plain)).sha256, sha256(data));
    assert.deepEqual(run.batches, { fromRing: 40, fresh: 0 });
  });

  it("a reader that keeps its chunks gets fresh memory once the ring is lent out, never its chunks overwritten", async () => {
    const run = readThroughPipe(shell(`cat ${file} > $PIPE`));
    const kept: Buffer[] = [];
    for await (const chunk of run.stdout) kept.push(chunk as Buffer);
    await run.done;
    assert.equal(sha256(Buffer.concat(kept)), sha256(data));
    assert.ok(run.batches.fresh >= 40 - 16, JSON.stringify(run.batches));
  });
});

describe("withFallback", { timeout: 30_000 }, () => {
  it("takes the second way when the first fails before its first byte", async () => {
    let second = 0;
    const out = withFallback(
      () => readThroughPipe(shell("echo 'password authentication failed' >&2; exit 1")),
      () => {
        second++;
        return execStream(["sh", "-c", "printf 'the slower way'"]).stdout;
      },
    );
    let text = "";
    for await (const c of out) text += String(c);
    assert.equal(text, "the slower way");
    assert.equal(second, 1);
  });

  it("fails, and never starts the second way, when the first fails after bytes", async () => {
    let second = 0;
    const out = withFallback(
      () => readThroughPipe(shell("head -c 2000000 /dev/zero > $PIPE; exit 4")),
      () => {
        second++;
        return execStream(["true"]).stdout;
      },
    );
    await assert.rejects(drain(out), /exit 4/);
    assert.equal(second, 0);
  });

  it("the second way's failure is the stream's", async () => {
    const out = withFallback(
      () => readThroughPipe(shell("exit 1")),
      () => execStream(["sh", "-c", "echo 'no such database' >&2; exit 2"]).stdout,
    );
    await assert.rejects(drain(out), /no such database/);
  });
});
