/** A certificate sealed for a site's other web hosts opens only with its key, for its site. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  openCertificate,
  parseSharingKey,
  sealCertificate,
  sharedPath,
} from "../../../src/certs/index.ts";

describe("sealCertificate and openCertificate", () => {
  const key = randomBytes(32);
  const pem = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";

  it("round-trips, and the sealed bytes hold nothing readable", () => {
    const sealed = sealCertificate(pem, key, "hello");
    assert.equal(openCertificate(sealed, key, "hello"), pem);
    assert.ok(!sealed.toString("latin1").includes("PRIVATE KEY"));
    assert.notDeepEqual(sealCertificate(pem, key, "hello"), sealed, "a fresh nonce each time");
  });

  it("refuses another key, another site, or a changed byte", () => {
    const sealed = sealCertificate(pem, key, "hello");
    const refusal = /: the sealed certificate does not open with this site's key$/;
    assert.throws(() => openCertificate(sealed, randomBytes(32), "hello"), refusal);
    assert.throws(() => openCertificate(sealed, key, "hello-staging"), refusal);
    const changed = Buffer.from(sealed);
    changed[20] = (changed[20] ?? 0) ^ 1;
    assert.throws(() => openCertificate(changed, key, "hello"), refusal);
    assert.throws(() => openCertificate(sealed.subarray(0, 20), key, "hello"), /cut/);
  });

  it("reads the key file (base64url, 32 bytes) and serves beside the challenges", () => {
    assert.deepEqual(parseSharingKey(`${key.toString("base64url")}\n`), key);
    assert.throws(() => parseSharingKey("short"), /32 bytes/);
    assert.equal(sharedPath("hello"), "/.well-known/acme-challenge/slipway-hello.certificate");
  });
});
