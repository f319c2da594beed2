/** When a certificate is due, the backoff after failures, and ARI's certificate identifier. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { authorityKeyId, certId, certIdFromParts } from "../../../src/certs/ari.ts";
import { renewalDue, retryDelay } from "../../../src/certs/index.ts";
import { afterAttempt } from "../../../src/certs/renewal.ts";
import { issueCert, makeCa } from "../../support/openssl.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-01T00:00:00Z");
const facts = (daysLeft: number, names = ["example.com", "*.example.com"]) => ({
  names,
  issuer: "Test CA",
  notBefore: NOW - 30 * DAY,
  notAfter: NOW + daysLeft * DAY,
  serial: "01",
  ocsp: false,
  fingerprint: "AA",
});

describe("renewalDue", () => {
  it("is due without a certificate, with one missing a domain, or within renew_before", () => {
    assert.deepEqual(renewalDue(undefined, ["example.com"], 30 * DAY, {}, NOW), {
      due: true,
      reason: "no certificate yet",
    });
    assert.deepEqual(renewalDue(facts(80), ["example.com", "a.b.example.com"], 30 * DAY, {}, NOW), {
      due: true,
      reason: "it does not cover a.b.example.com",
    });
    assert.deepEqual(renewalDue(facts(29), ["www.example.com"], 30 * DAY, {}, NOW), {
      due: true,
      reason: "it expires in 29 days",
    });
    assert.deepEqual(renewalDue(facts(-1), ["example.com"], 30 * DAY, {}, NOW), {
      due: true,
      reason: "it has expired",
    });
    assert.deepEqual(renewalDue(facts(31), ["example.com"], 30 * DAY, {}, NOW), {
      due: false,
      reason: "it expires in 31 days",
    });
  });

  it("is due once the moment chosen in the CA's renewal window (ARI) has come", () => {
    const ari = {
      renewAt: NOW - 1,
      windowStart: NOW - DAY,
      windowEnd: NOW + DAY,
      retryAfterAt: NOW + 6 * 3_600_000,
    };
    assert.deepEqual(renewalDue(facts(60), ["example.com"], 30 * DAY, { ari }, NOW), {
      due: true,
      reason:
        "the CA asks for renewal between 2026-05-31T00:00:00.000Z and 2026-06-02T00:00:00.000Z",
    });
    const later = { ...ari, renewAt: NOW + 1 };
    assert.equal(renewalDue(facts(60), ["example.com"], 30 * DAY, { ari: later }, NOW).due, false);
  });
});

describe("backoff after failed attempts", () => {
  it("waits 15 minutes, doubling, at most 12 hours; a success forgets the failures", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 7, 50].map((n) => retryDelay(n) / 60_000),
      [0, 15, 30, 60, 720, 720],
    );
    const failed = afterAttempt({ failures: 0 }, NOW, { ok: false, error: "refused" }, NOW + 5);
    assert.deepEqual(failed, {
      failures: 1,
      lastAttemptAt: NOW,
      lastError: "refused",
      nextAttemptAt: NOW + 5 + 15 * 60_000,
    });
    assert.deepEqual(afterAttempt(failed, NOW + 10, { ok: true }, NOW + 20), {
      failures: 0,
      lastAttemptAt: NOW + 10,
      lastSuccessAt: NOW + 20,
    });
  });
});

describe("ARI's certificate identifier (RFC 9773)", () => {
  it("is the key identifier and the serial's DER content, base64url, as in the RFC's example", () => {
    const aki = Buffer.from("69885B6B87464041E1B37B847BA0AE2CDE01C8D4", "hex");
    assert.equal(certIdFromParts(aki, "0087654321"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert.equal(certIdFromParts(aki, "87654321"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  });

  it("reads the authority key identifier as openssl does", () => {
    const leaf = issueCert(makeCa(), ["example.com"]);
    const printed = execFileSync("openssl", ["x509", "-noout", "-ext", "authorityKeyIdentifier"], {
      input: leaf.cert,
      encoding: "utf8",
    });
    const hex = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(printed)?.[1]?.replaceAll(":", "");
    assert.ok(hex, printed);
    const der = new Uint8Array(new X509Certificate(leaf.cert).raw);
    assert.equal(
      Buffer.from(authorityKeyId(der) ?? [])
        .toString("hex")
        .toUpperCase(),
      hex,
    );
    assert.match(certId(leaf.cert) ?? "", /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });
});
