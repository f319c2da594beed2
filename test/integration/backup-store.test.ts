/**
 * Backup runs into real stores: a directory, and s3rver (an S3-compatible server, in its own
 * process on loopback) with a prefix and multipart uploads. The manifest appears only once every
 * part is confirmed; a dump that dies and an S3 outage mid-upload (s3rver killed while parts are
 * in flight) fail clearly and leave no manifest and no object. s3rver does not implement
 * AbortMultipartUpload (it answers 405): the test checks that the abort request reached it. A
 * proxy that flips one byte of a part on its way shows that the size-and-ETag check catches it.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type BackupStore,
  directoryStore,
  listBackups,
  openArchive,
  pruneBackups,
  readManifest,
  runBackup,
  type SealOptions,
  s3Store,
} from "../../src/backup/index.ts";
import { freePort, onProcessExit } from "../rig/index.ts";
import { ageKeys } from "../support/age-keys.ts";
import { killAllS3rvers, S3rver } from "../support/s3rver.ts";

const dir = mkdtempSync(join(tmpdir(), "slipway-backup-store-"));
const unregister = onProcessExit(() => {
  killAllS3rvers();
  rmSync(dir, { recursive: true, force: true });
});
after(() => {
  killAllS3rvers();
  rmSync(dir, { recursive: true, force: true });
  unregister();
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const MiB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

let identity = "";
let seal: SealOptions;
before(async () => {
  ({ identity, seal } = await ageKeys());
});

/** A run at a given time, so that ids (and retention) are under the test's control. */
function backupAt(
  store: BackupStore,
  at: string,
  parts: Record<string, Buffer | (() => Readable)>,
) {
  return runBackup({
    store,
    accessory: "db",
    engine: "postgres",
    engineVersion: "15.8",
    sourceHost: "web-1",
    parts: Object.entries(parts).map(([name, data]) => ({
      name,
      open: () => (typeof data === "function" ? data() : Readable.from([data])),
    })),
    seal,
    facts: async () => ({ tables: { "public.t": 3 } }),
    now: () => new Date(at),
  });
}

/** What every store must do, the same way. */
async function roundTrip(store: BackupStore): Promise<void> {
  const globals = Buffer.from("CREATE ROLE app;\n");
  const database = randomBytes(7 * MiB); // two parts on S3
  const m = await backupAt(store, "2026-03-01T03:00:00Z", { globals, database });
  assert.equal(m.id, "20260301T030000Z");
  assert.deepEqual(
    m.parts.map((p) => [p.name, p.key, p.plainBytes, p.plainSha256]),
    [
      ["globals", "db/20260301T030000Z/globals.zst.age", globals.length, sha256(globals)],
      ["database", "db/20260301T030000Z/database.zst.age", database.length, sha256(database)],
    ],
  );
  assert.deepEqual(await readManifest(store, "db", m.id), m);
  assert.deepEqual(m.verify, { tables: { "public.t": 3 } });
  assert.equal(m.sourceHost, "web-1");
  const part = m.parts[1];
  assert.ok(part);
  const stored = await readAll(await store.read(part.key));
  assert.equal(stored.length, part.archiveBytes);
  assert.equal(sha256(stored), part.archiveSha256);
  const plain = await openArchive(Readable.from([stored]), {
    compression: "zstd",
    opening: { identities: [identity] },
  });
  assert.equal(sha256(await readAll(plain)), sha256(database));

  await backupAt(store, "2026-03-02T03:00:00Z", { globals, database: Buffer.from("small") });
  await backupAt(store, "2026-03-03T03:00:00Z", { globals, database: Buffer.from("small") });
  assert.deepEqual(
    (await listBackups(store, "db")).map((r) => [r.id, r.ok]),
    [
      ["20260303T030000Z", true],
      ["20260302T030000Z", true],
      ["20260301T030000Z", true],
    ],
  );
  const plan = await pruneBackups(store, "db", { keepLast: 2 });
  assert.deepEqual(
    plan.remove.map((r) => r.id),
    ["20260301T030000Z"],
  );
  assert.deepEqual((await store.list("db/")).map((o) => o.key).sort(), [
    "db/20260302T030000Z/database.zst.age",
    "db/20260302T030000Z/globals.zst.age",
    "db/20260302T030000Z/manifest.json",
    "db/20260303T030000Z/database.zst.age",
    "db/20260303T030000Z/globals.zst.age",
    "db/20260303T030000Z/manifest.json",
  ]);
}

/** A dump that writes some data, then fails as a dying pg_dump does. */
function dyingDump(bytes: number): () => Readable {
  return () =>
    Readable.from(
      (async function* () {
        for (let sent = 0; sent < bytes; sent += MiB) {
          yield randomBytes(MiB);
          await sleep(10);
        }
        throw new Error("pg_dump: error: connection to server lost");
      })(),
    );
}

describe("directory store", () => {
  it("runs, lists, reads and prunes backups; files are 0600", async () => {
    const root = join(dir, "dir-store");
    await roundTrip(directoryStore(root));
    const file = join(root, "db/20260303T030000Z/manifest.json");
    assert.equal(JSON.parse(readFileSync(file, "utf8")).engine, "postgres");
    const { statSync } = await import("node:fs");
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it("a dump that fails leaves no manifest and no part, not even a .partial", async () => {
    const root = join(dir, "dir-fail");
    const store = directoryStore(root);
    await assert.rejects(
      backupAt(store, "2026-03-04T03:00:00Z", {
        globals: Buffer.from("x"),
        database: dyingDump(3 * MiB),
      }),
      /connection to server lost/,
    );
    assert.deepEqual(await store.list(""), []);
    assert.ok(!existsSync(join(root, "db/20260304T030000Z/manifest.json")));
  });
  it("runs the parts of a backup at once: the first waits for the second to start", async () => {
    const store = directoryStore(join(dir, "dir-parallel"));
    let databaseOpened = () => {};
    const opened = new Promise<void>((resolve) => {
      databaseOpened = resolve;
    });
    const m = await backupAt(store, "2026-03-08T03:00:00Z", {
      globals: () =>
        Readable.from(
          (async function* () {
            const late = sleep(10_000).then(() => {
              throw new Error("the database part had not started: parts ran one after another");
            });
            await Promise.race([opened, late]);
            yield Buffer.from("CREATE ROLE app;\n");
          })(),
        ),
      database: () => {
        databaseOpened();
        return Readable.from([Buffer.from("data")]);
      },
    });
    assert.deepEqual(
      m.parts.map((p) => p.name),
      ["globals", "database"],
    );
  });

  it("a seal that is refused stops the dump it was given and opens no other", async () => {
    const store = directoryStore(join(dir, "dir-refused"));
    const opened: Readable[] = [];
    const part = (name: string) => ({
      name,
      open: () => {
        const s = Readable.from([Buffer.from(name)]);
        opened.push(s);
        return s;
      },
    });
    await assert.rejects(
      runBackup({
        store,
        accessory: "db",
        engine: "postgres",
        engineVersion: "15.8",
        sourceHost: "web-1",
        parts: [part("globals"), part("database")],
        seal: { compression: "zstd", sealing: { recipients: ["age1nope"] } },
      }),
      /"age1nope" is not an age recipient/,
    );
    assert.equal(opened.length, 1, "the second part was not opened");
    assert.ok(opened[0]?.destroyed, "the first part's dump was stopped");
    assert.deepEqual(await store.list(""), []);
  });

  it("the first part to fail stops the others and is what the run reports; nothing is left", {
    timeout: 30_000,
  }, async () => {
    const store = directoryStore(join(dir, "dir-stop"));
    let endlessStopped = false;
    const endless = () =>
      Readable.from(
        (async function* () {
          try {
            for (;;) {
              yield randomBytes(64 << 10);
              await sleep(10);
            }
          } finally {
            endlessStopped = true;
          }
        })(),
      );
    await assert.rejects(
      backupAt(store, "2026-03-09T03:00:00Z", { globals: endless, database: dyingDump(2 * MiB) }),
      (err: Error) => {
        assert.match(err.message, /^pg_dump: error: connection to server lost$/);
        return true;
      },
    );
    // Its generator stops at its next step, after the run has settled.
    for (let i = 0; i < 100 && !endlessStopped; i++) await sleep(20);
    assert.ok(endlessStopped, "the other part's dump was stopped");
    assert.deepEqual(await store.list(""), []);
  });
});

describe("S3 store (s3rver on loopback)", { timeout: 120_000 }, () => {
  let s3: S3rver;
  before(async () => {
    s3 = new S3rver(await freePort(), join(dir, "s3rver"));
    await s3.start();
  });
  after(() => s3.kill());

  it("runs, lists, reads and prunes backups under a prefix, multipart for big parts", async () => {
    await roundTrip(s3.store());
    // Two parts of 5 MiB and the rest: a multipart upload, not one PUT.
    assert.match(s3.log, /Stored part 2 of [0-9a-f]+ in bucket "backups"/);
    // Under the prefix, and nowhere else.
    assert.deepEqual(await s3.store("other").list(""), []);
  });

  it("a dump that dies mid-upload: a clear error, the abort sent, no manifest, no object", async () => {
    const store = s3.store("dying");
    s3.log = "";
    await assert.rejects(
      backupAt(store, "2026-03-05T03:00:00Z", { database: dyingDump(12 * MiB) }),
      (err: Error) => {
        assert.match(
          err.message,
          /s3:\/\/backups\/dying\/db\/20260305T030000Z\/database\.zst\.age: upload failed/,
        );
        assert.match(err.message, /connection to server lost/);
        return true;
      },
    );
    assert.match(s3.log, /Stored part 1 of/, "parts had been uploaded before the dump died");
    assert.match(s3.log, /x-id=AbortMultipartUpload/, "the abort was sent");
    assert.deepEqual(await store.list(""), []);
    assert.deepEqual(await listBackups(store, "db"), []);
  });

  it("an outage mid-upload (s3rver killed): a clear error, nothing that claims success", async () => {
    const store = s3.store("outage");
    s3.log = "";
    // A dump that is still running when the store goes away.
    const slow = () =>
      Readable.from(
        (async function* () {
          for (let i = 0; i < 40; i++) {
            yield randomBytes(MiB);
            await sleep(50);
          }
        })(),
      );
    const running = backupAt(store, "2026-03-06T03:00:00Z", { database: slow });
    const failed = running.then(
      () => undefined,
      (err: Error) => err,
    );
    const deadline = Date.now() + 30_000;
    while (!/Stored part 1 of/.test(s3.log)) {
      assert.ok(Date.now() < deadline, `no part arrived:\n${s3.log}`);
      await sleep(20);
    }
    await s3.kill();
    const err = await failed;
    assert.ok(err, "the backup must fail");
    assert.match(
      err.message,
      /outage\/db\/20260306T030000Z\/database\.zst\.age: upload failed: .*ECONNREFUSED/,
    );
    assert.match(err.message, /could not be aborted either/);
    assert.ok(err instanceof Error && "hint" in err && /lifecycle rule/.test(String(err.hint)));
    // The store is back: nothing was completed and no manifest was written.
    await s3.start();
    assert.deepEqual(await store.list(""), []);
    assert.deepEqual(await listBackups(store, "db"), []);
  });

  // Multipart (part 2 of three) and one PUT (a part smaller than partSize, whose ETag the meter
  // takes from its only part's MD5).
  for (const [how, size, flipped] of [
    ["a multipart upload's part", 11 * MiB, /partNumber=2&/],
    ["a single PUT", 1 * MiB, /database\.zst\.age\?x-id=PutObject/],
  ] as const)
    it(`bytes altered on their way in ${how} (a proxy flips one): the ETag check catches it, the object is removed`, async () => {
      // Between the client and s3rver: forwards every request, flipping one byte of one body.
      const proxy = createServer((req, res) => {
        const flip = req.method === "PUT" && flipped.test(req.url ?? "");
        let seen = 0;
        const up = request(
          {
            host: "127.0.0.1",
            port: s3.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        req.on("data", (chunk: Buffer) => {
          const at = 1000 - seen;
          if (flip && at >= 0 && at < chunk.length) chunk[at] = (chunk[at] ?? 0) ^ 0xff;
          seen += chunk.length;
          up.write(chunk);
        });
        req.on("end", () => up.end());
      });
      await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
      const address = proxy.address();
      const port = typeof address === "object" && address ? address.port : 0;
      try {
        const store = s3Store({
          bucket: "backups",
          prefix: `altered-${size}`,
          endpoint: `http://127.0.0.1:${port}`,
          forcePathStyle: true,
          credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
          partSize: 5 * MiB,
        });
        await assert.rejects(
          backupAt(store, "2026-03-07T03:00:00Z", { database: randomBytes(size) }),
          /database\.zst\.age: the store holds \d+ bytes with ETag [0-9a-f]+(-\d+)?, but \d+ bytes were sent/,
        );
        assert.deepEqual(await store.list(""), [], "the damaged object is removed, no manifest");
      } finally {
        proxy.close();
      }
    });
});
