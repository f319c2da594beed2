/**
 * The agent's host, TLS and DNS checks against the real thing: this machine's /proc and
 * filesystem, a real TLS server with a certificate made by openssl that expires in 5 days, and a
 * real DNS server (dnsmasq) answering for app.test.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServer, type Server } from "node:tls";
import { checkSchema, probe } from "../../src/agent/index.ts";

const check = (fields: Record<string, unknown>) => checkSchema.parse({ name: "c", ...fields });

describe("host checks on this machine", () => {
  for (const metric of ["cpu", "memory", "disk", "load"] as const) {
    it(`${metric}: passes under a limit it cannot reach, fails over one it must be over`, async () => {
      const roomy = await probe(check({ kind: "host", metric, above: 1_000_000 }));
      assert.equal(roomy.ok, true, roomy.detail);
      const tight = await probe(check({ kind: "host", metric, above: 0.000001 }));
      // An idle machine may really be at 0% CPU or 0.00 load; memory and disk are never empty.
      if (metric === "memory" || metric === "disk") assert.equal(tight.ok, false, tight.detail);
      assert.match(
        tight.detail,
        metric === "load" ? /^load \d+\.\d\d per core/ : new RegExp(`^${metric} \\d+\\.\\d%`),
      );
    });
  }

  it("disk watches the filesystem of the folder given, and names it", async () => {
    const result = await probe(
      check({ kind: "host", metric: "disk", above: 0.000001, path: tmpdir() }),
    );
    assert.match(
      result.detail,
      new RegExp(`^disk \\d+\\.\\d% used \\(${tmpdir()}\\), above 0\\.000001%$`),
    );
    const missing = await probe(
      check({ kind: "host", metric: "disk", above: 90, path: "/no/such/dir" }),
    );
    assert.deepEqual([missing.ok, missing.detail], [false, "disk: ENOENT"]);
  });
});

describe("TLS certificate checks against a real TLS server", () => {
  let dir: string;
  let server: Server;
  let port = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "5",
        "-subj",
        "/CN=app.test",
        "-addext",
        "subjectAltName=DNS:app.test",
      ],
      { stdio: "ignore" },
    );
    server = createServer(
      {
        key: await readFile(join(dir, "key.pem")),
        cert: await readFile(join(dir, "cert.pem")),
      },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tls = (fields: Record<string, unknown>) =>
    probe(check({ kind: "tls", host: "127.0.0.1", port, servername: "app.test", ...fields }));

  it("fails when the certificate expires within min_days, passes when it does not", async () => {
    const soon = await tls({ verify: false, min_days: 14 });
    assert.deepEqual(
      [soon.ok, soon.detail],
      [false, "certificate expires in 4 days, within 14 days"],
    );
    const fine = await tls({ verify: false, min_days: 3 });
    assert.deepEqual([fine.ok, fine.detail], [true, "certificate expires in 4 days"]);
  });

  it("fails a chain nobody trusts (self-signed) unless verify is off", async () => {
    const result = await tls({ min_days: 3 });
    assert.equal(result.ok, false);
    assert.match(
      result.detail,
      /^certificate for app\.test (DEPTH_ZERO_)?SELF_SIGNED_CERT|self.signed/i,
    );
  });

  it("fails a certificate for another name", async () => {
    const result = await tls({ verify: false, min_days: 3, servername: "other.test" });
    assert.deepEqual(
      [result.ok, result.detail],
      [false, "certificate is not for other.test (expires in 4 days)"],
    );
  });

  it("a closed port fails with its error", async () => {
    const result = await probe(check({ kind: "tls", host: "127.0.0.1", port: 1 }));
    assert.deepEqual([result.ok, result.detail], [false, "ECONNREFUSED"]);
  });
});

const DNSMASQ = "/usr/sbin/dnsmasq";
const noDns = existsSync(DNSMASQ)
  ? false
  : `${DNSMASQ} is missing (rig/install.sh installs dnsmasq-base)`;
if (noDns) console.log(`# skipped: ${noDns}`);

describe("DNS checks against a real DNS server (dnsmasq)", { skip: noDns }, () => {
  let dnsmasq: ChildProcess;
  let server = "";

  before(async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    server = `127.0.0.1:${port}`;
    dnsmasq = spawn(
      DNSMASQ,
      [
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        `--port=${port}`,
        "--address=/app.test/10.1.2.3",
        "--mx-host=app.test,mail.app.test,10",
        "--txt-record=app.test,v=spf1 -all",
        "--user=root",
      ],
      { stdio: "ignore" },
    );
    // Ready once it answers.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const result = await probe(check({ kind: "dns", host: "app.test", server, timeout_ms: 500 }));
      if (result.ok) break;
      assert.ok(Date.now() < deadline, `dnsmasq does not answer: ${result.detail}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(() => {
    dnsmasq?.kill();
  });

  const dns = (fields: Record<string, unknown>) =>
    probe(check({ kind: "dns", host: "app.test", server, timeout_ms: 2_000, ...fields }));

  it("resolves A, MX and TXT records and finds the expected answers", async () => {
    assert.deepEqual(await dns({ expect: ["10.1.2.3"] }).then((r) => [r.ok, r.detail]), [
      true,
      "A app.test: 10.1.2.3",
    ]);
    assert.deepEqual(
      await dns({ record: "MX", expect: ["mail.app.test"] }).then((r) => r.ok),
      true,
    );
    assert.deepEqual(await dns({ record: "TXT", expect: ["v=spf1 -all"] }).then((r) => r.ok), true);
  });

  it("fails when an expected answer is missing, or the name does not resolve", async () => {
    const moved = await dns({ expect: ["10.9.9.9"] });
    assert.deepEqual([moved.ok, moved.detail], [false, "A app.test: 10.1.2.3, without 10.9.9.9"]);
    const missing = await dns({ host: "nothing.example" });
    assert.equal(missing.ok, false);
    assert.match(missing.detail, /^A nothing\.example: (ENOTFOUND|ESERVFAIL|EREFUSED|ENODATA)$/);
  });
});
