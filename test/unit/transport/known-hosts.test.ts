import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  checkHostKey,
  fingerprint,
  knownHostsToken,
  parseKnownHosts,
} from "../../../src/transport/index.ts";

/** An SSH public key blob: string type, then key bytes, as sshd sends it. */
function blob(type: string, body: string): Buffer {
  const typeBytes = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(typeBytes.length);
  return Buffer.concat([length, typeBytes, Buffer.from(body)]);
}

const ed = blob("ssh-ed25519", "key-one");
const edOther = blob("ssh-ed25519", "key-two");
const rsa = blob("ssh-rsa", "rsa-key");

describe("known hosts", () => {
  it("names hosts the way OpenSSH does", () => {
    assert.equal(knownHostsToken("example.com", 22), "example.com");
    assert.equal(knownHostsToken("10.0.0.5", 2222), "[10.0.0.5]:2222");
  });

  it("accepts a pinned key and spots a changed one with its line", () => {
    const text = `# comment\n\n[127.0.0.1]:2222 ssh-ed25519 ${ed.toString("base64")}\n`;
    const entries = parseKnownHosts(text, "/p/known_hosts");
    assert.equal(checkHostKey(entries, "[127.0.0.1]:2222", ed).status, "known");
    const changed = checkHostKey(entries, "[127.0.0.1]:2222", edOther);
    assert.equal(changed.status, "changed");
    assert.equal(changed.status === "changed" && changed.entry.line, 3);
    assert.equal(checkHostKey(entries, "127.0.0.1", ed).status, "unknown", "other port");
  });

  it("treats a key of another type as unknown, not changed", () => {
    const entries = parseKnownHosts(`h ssh-rsa ${rsa.toString("base64")}`, "f");
    assert.equal(checkHostKey(entries, "h", ed).status, "unknown");
  });

  it("matches hashed entries, patterns, negations and @revoked", () => {
    const salt = randomBytes(20);
    const hash = createHmac("sha1", salt).update("secret.example").digest("base64");
    const text = [
      `|1|${salt.toString("base64")}|${hash} ssh-ed25519 ${ed.toString("base64")}`,
      `*.internal,!db.internal ssh-ed25519 ${ed.toString("base64")}`,
      `@revoked bad.example ssh-ed25519 ${edOther.toString("base64")}`,
      `@cert-authority *.example ssh-ed25519 ${edOther.toString("base64")}`,
    ].join("\n");
    const entries = parseKnownHosts(text, "f");
    assert.equal(checkHostKey(entries, "secret.example", ed).status, "known");
    assert.equal(checkHostKey(entries, "web.internal", ed).status, "known");
    assert.equal(checkHostKey(entries, "db.internal", ed).status, "unknown");
    assert.equal(checkHostKey(entries, "bad.example", edOther).status, "revoked");
  });

  it("prints fingerprints like ssh-keygen -l", () => {
    assert.match(fingerprint(ed), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
