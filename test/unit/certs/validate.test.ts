/** A certificate is checked before it may replace the one in place: each refusal, and the facts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CertificateError,
  certificateFacts,
  checkCertificateFile,
  covers,
} from "../../../src/certs/index.ts";
import { issueCert, makeCa } from "../../support/openssl.ts";

const ca = makeCa("Slipway test: validate");
const leaf = issueCert(ca, ["example.com", "*.example.com"]);
const other = issueCert(ca, ["example.com"]);

function refuses(pem: string, domains: string[], pattern: RegExp, now?: number) {
  assert.throws(
    () => checkCertificateFile(pem, domains, now),
    (error: unknown) => error instanceof CertificateError && pattern.test(error.message),
  );
}

describe("checkCertificateFile", () => {
  it("takes the key and the chain (leaf first) for names the certificate covers, valid now", () => {
    const facts = checkCertificateFile(leaf.key + leaf.cert + ca.cert, [
      "example.com",
      "www.example.com",
      "*.example.com",
    ]);
    assert.deepEqual(facts.names, ["example.com", "*.example.com"]);
    assert.equal(facts.issuer, "Slipway test: validate");
    assert.equal(facts.ocsp, false);
    assert.ok(facts.notAfter > Date.now() + 80 * 86_400_000);
    assert.deepEqual(certificateFacts(leaf.cert), facts);
  });

  it("refuses a key that is not the certificate's, a name it lacks, a chain out of order", () => {
    refuses(other.key + leaf.cert, ["example.com"], /^the private key is not the certificate's$/);
    refuses(leaf.key + leaf.cert, ["example.org"], /^it is not for example\.org \(it names/);
    refuses(leaf.key + leaf.cert, ["a.b.example.com"], /^it is not for a\.b\.example\.com/);
    refuses(
      leaf.key + ca.cert + leaf.cert,
      ["example.com"],
      /^the private key is not the certificate's$/,
    );
    refuses(
      leaf.key + leaf.cert + other.cert,
      ["example.com"],
      /^the chain is out of order: certificate 1 is not signed by certificate 2$/,
    );
  });

  it("refuses one without a certificate or a key, or one no longer valid", () => {
    refuses(leaf.key, ["example.com"], /^there is no certificate in it$/);
    refuses(leaf.cert, ["example.com"], /^there is no private key in it$/);
    refuses(
      leaf.key + leaf.cert,
      ["example.com"],
      /^it expired on /,
      Date.now() + 400 * 86_400_000,
    );
    refuses(
      leaf.key + leaf.cert,
      ["example.com"],
      /^it is not valid before /,
      Date.now() - 86_400_000,
    );
  });
});

describe("covers", () => {
  it("matches names exactly, and a wildcard one level down only", () => {
    assert.ok(covers("example.com", "EXAMPLE.com"));
    assert.ok(covers("*.example.com", "www.example.com"));
    assert.ok(!covers("*.example.com", "example.com"));
    assert.ok(!covers("*.example.com", "a.b.example.com"));
    assert.ok(covers("*.example.com", "*.example.com"));
    assert.ok(!covers("www.example.com", "*.example.com"));
  });
});
