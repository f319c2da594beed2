import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createReporter,
  HostLineWriter,
  Redactor,
  visibleControls,
} from "../../../src/output/index.ts";

describe("redaction", () => {
  it("replaces every occurrence of every registered value", () => {
    const r = new Redactor();
    r.add("s3cr3t-pass", "tok.en$with(regex)chars");
    assert.equal(
      r.redact("pw=s3cr3t-pass; again s3cr3t-pass; tok.en$with(regex)chars!"),
      "pw=[redacted]; again [redacted]; [redacted]!",
    );
  });

  it("replaces a longer secret whole even when it contains a shorter one", () => {
    const r = new Redactor();
    r.add("abcd", "abcdefgh");
    assert.equal(r.redact("x abcdefgh y abcd"), "x [redacted] y [redacted]");
  });

  it("redacts each line of a multi-line secret", () => {
    const r = new Redactor();
    r.add("-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----");
    assert.equal(r.redact("got AAAABBBBCCCC here"), "got [redacted] here");
  });

  it("ignores values too short to be secrets", () => {
    const r = new Redactor();
    r.add("1", "ab");
    assert.equal(r.size, 0);
    assert.equal(r.redact("1 ab"), "1 ab");
  });

  it("catches a secret split across two streamed chunks", () => {
    const r = new Redactor();
    r.add("hunter2-password");
    const lines: string[] = [];
    const w = new HostLineWriter("web-1 | ", r, (line) => lines.push(line));
    w.write(Buffer.from("connecting with hunter2-pa"));
    w.write(Buffer.from("ssword ok\nsecond"));
    w.flush();
    assert.deepEqual(lines, ["web-1 | connecting with [redacted] ok", "web-1 | second"]);
  });

  it("keeps multi-byte characters split across chunks intact", () => {
    const lines: string[] = [];
    const w = new HostLineWriter("h | ", new Redactor(), (line) => lines.push(line));
    const bytes = Buffer.from("🚀 ok\n");
    w.write(bytes.subarray(0, 2));
    w.write(bytes.subarray(2));
    assert.deepEqual(lines, ["h | 🚀 ok"]);
  });

  it("redacts reporter messages, warnings and verbose commands", () => {
    const r = new Redactor();
    r.add("topsecret");
    let out = "";
    const reporter = createReporter({ redactor: r, verbose: true, write: (t) => (out += t) });
    reporter.info("using topsecret");
    reporter.warn("topsecret leaked?");
    reporter.command("web-1", "echo topsecret");
    assert.equal(out, "using [redacted]\nwarning: [redacted] leaked?\nweb-1 $ echo [redacted]\n");
  });
});

describe("traced commands", () => {
  it("show control characters and bidi overrides as escapes, on one line", () => {
    assert.equal(
      visibleControls("a\nb\tc\r\u001b[31mred\u202eevil"),
      "a\\nb\\tc\\r\\u001b[31mred\\u202eevil",
    );
    let out = "";
    const reporter = createReporter({
      redactor: new Redactor(),
      verbose: true,
      write: (t) => (out += t),
    });
    reporter.command("h", "sh -c 'one\ntwo'");
    assert.equal(out, "h $ sh -c 'one\\ntwo'\n");
  });
});
