/**
 * What a certificate is, read with node:crypto, and whether it may replace the one in place: it
 * parses, its key is the private key beside it, it names every domain, it is valid now. Nothing
 * is swapped in before this says yes (a proxy that cannot load its certificate serves nothing).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/** The facts `certs status` and the renewal read off a certificate. */
export interface CertificateFacts {
  /** DNS names of its subjectAltName (wildcards as written: "*.example.com"). */
  names: string[];
  /** The issuer's common name, else its whole subject line. */
  issuer: string;
  notBefore: number;
  notAfter: number;
  /** Serial number, upper-case hex. */
  serial: string;
  /** It names an OCSP responder (Authority Information Access). */
  ocsp: boolean;
  /** SHA-256 fingerprint, as openssl prints it. */
  fingerprint: string;
}

/** A certificate that cannot be used, and why (for people). */
export class CertificateError extends Error {}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/** The PEM blocks of a file: its certificates (in order) and its private key, if any. */
export function splitPem(pem: string): { certificates: string[]; key: string | undefined } {
  const certificates: string[] = [];
  let key: string | undefined;
  for (const match of pem.matchAll(PEM_BLOCK)) {
    if (match[1] === "CERTIFICATE") certificates.push(`${match[0]}\n`);
    else if (match[1]?.endsWith("PRIVATE KEY")) key ??= `${match[0]}\n`;
  }
  return { certificates, key };
}

/** The facts of the first certificate in `pem` (the leaf). */
export function certificateFacts(pem: string): CertificateFacts {
  const [leaf] = splitPem(pem).certificates;
  if (leaf === undefined) throw new CertificateError("there is no certificate in it");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(leaf);
  } catch (error) {
    throw new CertificateError(`the certificate does not parse: ${(error as Error).message}`);
  }
  return factsOf(cert);
}

function factsOf(cert: X509Certificate): CertificateFacts {
  const names = (cert.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4).toLowerCase());
  const issuerCn = /^CN=(.*)$/m.exec(cert.issuer)?.[1];
  return {
    names,
    issuer: issuerCn ?? cert.issuer.replaceAll("\n", ", "),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    serial: cert.serialNumber.toUpperCase(),
    ocsp: /^OCSP - URI:/m.test(cert.infoAccess ?? ""),
    fingerprint: cert.fingerprint256,
  };
}

/** Whether a certificate name (maybe a wildcard) covers a domain (maybe a wildcard). */
export function covers(name: string, domain: string): boolean {
  const n = name.toLowerCase();
  const d = domain.toLowerCase();
  if (n === d) return true;
  if (!n.startsWith("*.") || d.startsWith("*.")) return false;
  const dot = d.indexOf(".");
  return dot > 0 && d.slice(dot + 1) === n.slice(2);
}

/** The domains no name of the certificate covers. */
export function uncovered(facts: Pick<CertificateFacts, "names">, domains: readonly string[]) {
  return domains.filter((domain) => !facts.names.some((name) => covers(name, domain)));
}

/**
 * Checks a certificate file (the private key and the chain, leaf first) before it is put in
 * place: every certificate parses, each is signed by the next, the key is the leaf's, the names
 * cover `domains`, and it is valid at `now`. Returns the leaf's facts; throws CertificateError.
 */
export function checkCertificateFile(
  pem: string,
  domains: readonly string[],
  now = Date.now(),
): CertificateFacts {
  const { certificates, key } = splitPem(pem);
  if (certificates.length === 0) throw new CertificateError("there is no certificate in it");
  if (key === undefined) throw new CertificateError("there is no private key in it");
  let chain: X509Certificate[];
  try {
    chain = certificates.map((text) => new X509Certificate(text));
  } catch (error) {
    throw new CertificateError(`a certificate does not parse: ${(error as Error).message}`);
  }
  const leaf = chain[0] as X509Certificate;
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new CertificateError(`the private key does not parse: ${(error as Error).message}`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CertificateError("the private key is not the certificate's");
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const [cert, issuer] = [chain[i] as X509Certificate, chain[i + 1] as X509Certificate];
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      throw new CertificateError(
        `the chain is out of order: certificate ${i + 1} is not signed by certificate ${i + 2}`,
      );
    }
  }
  const facts = factsOf(leaf);
  const missing = uncovered(facts, domains);
  if (missing.length > 0) {
    throw new CertificateError(
      `it is not for ${missing.join(", ")} (it names ${facts.names.join(", ") || "no DNS name"})`,
    );
  }
  if (now < facts.notBefore) {
    throw new CertificateError(`it is not valid before ${new Date(facts.notBefore).toISOString()}`);
  }
  if (now >= facts.notAfter) {
    throw new CertificateError(`it expired on ${new Date(facts.notAfter).toISOString()}`);
  }
  return facts;
}
