/**
 * Throwaway certificates made with this machine's openssl: a CA, and server certificates it
 * signs (ECDSA P-256). For nginx -t of HTTPS sites and for pebble's own HTTPS (Debian's pebble
 * package ships no test certificate).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCa {
  /** The CA's certificate (PEM): what a client trusts. */
  cert: string;
  key: string;
}

export interface TestCert {
  /** The leaf's certificate (PEM). */
  cert: string;
  key: string;
}

/** `req` arguments for a new ECDSA P-256 key, unencrypted, written to `keyout`. */
function newKey(keyout: string): string[] {
  return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyout];
}

function openssl(args: string[], dir: string): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function inTemp<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "slipway-openssl-"));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A CA valid for a year. */
export function makeCa(name = "Slipway test CA"): TestCa {
  return inTemp((dir) => {
    openssl(
      [
        "req",
        "-x509",
        ...newKey("ca.key"),
        "-out",
        "ca.pem",
        "-days",
        "365",
        "-subj",
        `/CN=${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      dir,
    );
    return {
      cert: readFileSync(join(dir, "ca.pem"), "utf8"),
      key: readFileSync(join(dir, "ca.key"), "utf8"),
    };
  });
}

/**
 * A server certificate for `names` (DNS names, or IP addresses) signed by `ca`, valid for
 * `days` days (at least 1), naming an OCSP responder when told one.
 */
export function issueCert(
  ca: TestCa,
  names: readonly string[],
  days = 90,
  options: { ocspUrl?: string } = {},
): TestCert {
  return inTemp((dir) => {
    writeFileSync(join(dir, "ca.pem"), ca.cert);
    writeFileSync(join(dir, "ca.key"), ca.key, { mode: 0o600 });
    const san = names
      .map((n) => (/^[0-9.]+$/.test(n) || n.includes(":") ? `IP:${n}` : `DNS:${n}`))
      .join(",");
    writeFileSync(
      join(dir, "ext.cnf"),
      `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n${options.ocspUrl ? `authorityInfoAccess=OCSP;URI:${options.ocspUrl}\n` : ""}`,
    );
    openssl(
      ["req", ...newKey("leaf.key"), "-out", "leaf.csr", "-subj", `/CN=${names[0] ?? "localhost"}`],
      dir,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        String(days),
        "-extfile",
        "ext.cnf",
      ],
      dir,
    );
    return {
      cert: readFileSync(join(dir, "leaf.pem"), "utf8"),
      key: readFileSync(join(dir, "leaf.key"), "utf8"),
    };
  });
}
