/**
 * The two nginx includes that change with a site's certificate, so that placing a first
 * certificate, or a renewed one, needs no new site file: whoever places the certificate (the CLI,
 * the runner on the host, the agent's renewal) writes them beside it. The site file (src/proxy)
 * includes `<site>.tls.conf` in its HTTPS server and `<site>.http.conf` in its HTTP server.
 */
import { certificateFiles } from "./paths.ts";

// An absolute directory of letters, digits and ._/- only: nothing nginx would read as syntax.
const DIR_PATTERN = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;

/** What the includes say: the certificate (with OCSP stapling when it names a responder), or none yet. */
export interface IncludeFacts {
  /**
   * Absent: no certificate yet (handshakes are refused, HTTP serves the app). With an OCSP
   * responder, `resolver` is the DNS server the proxy finds it with (its network's).
   */
  certificate?: { ocsp: boolean; resolver?: string | undefined };
  /** Where the proxy sees the certificates' directory (PROXY_CERTS_DIR). */
  proxyCertsDir: string;
  /** The HTTPS port HTTP redirects to (443 unless a test says otherwise). */
  httpsPort: number;
}

/** `<site>.tls.conf`: the HTTPS server's certificate lines, or a refusal of every handshake. */
export function renderTlsInclude(site: string, facts: IncludeFacts): string {
  const dir = facts.proxyCertsDir;
  if (!DIR_PATTERN.test(dir) || dir.includes("//") || dir.includes("..")) {
    throw new Error(`certs: ${JSON.stringify(dir)} is not a plain absolute directory`);
  }
  const { pem } = certificateFiles(site);
  if (facts.certificate === undefined) {
    return [
      `# Site ${site} has no certificate yet: HTTPS handshakes are refused, HTTP serves the app.`,
      "# Written by Slipway when the certificate changes, do not edit.",
      "ssl_reject_handshake on;",
      "",
    ].join("\n");
  }
  return [
    `# The certificate of site ${site}: written by Slipway with it, do not edit.`,
    "# One file holds the private key and the chain, so the two are replaced together.",
    `ssl_certificate ${dir}/${pem};`,
    `ssl_certificate_key ${dir}/${pem};`,
    ...(facts.certificate.ocsp
      ? [
          "# The certificate names an OCSP responder: its answers are stapled to handshakes.",
          "ssl_stapling on;",
          "ssl_stapling_verify on;",
          ...resolverLines(facts.certificate.resolver),
        ]
      : []),
    "",
  ].join("\n");
}

/** `<site>.http.conf`: once there is a certificate, HTTP redirects to HTTPS (challenges exempt). */
export function renderHttpInclude(site: string, facts: IncludeFacts): string {
  const port = facts.httpsPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`certs: HTTPS port ${port} is not a port`);
  }
  certificateFiles(site);
  if (facts.certificate === undefined) {
    return [
      `# Site ${site} has no certificate yet: HTTP serves the app.`,
      "# Written by Slipway when the certificate changes, do not edit.",
      "",
    ].join("\n");
  }
  const target = port === 443 ? "https://$host$request_uri" : `https://$host:${port}$request_uri`;
  return [
    `# Site ${site} has its certificate: HTTP redirects to HTTPS, except ACME's challenges.`,
    "# Written by Slipway when the certificate changes, do not edit.",
    `if ($uri !~ "^/\\.well-known/acme-challenge/") {`,
    `    return 301 ${target};`,
    "}",
    "",
  ].join("\n");
}

// An IPv4 or IPv6 address, nothing nginx would read as syntax.
const ADDRESS = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F:]{2,39})$/;

/** The proxy's DNS server for the OCSP responder's name (nginx needs one named to staple). */
function resolverLines(resolver: string | undefined): string[] {
  if (resolver === undefined) return [];
  if (!ADDRESS.test(resolver))
    throw new Error(`certs: ${JSON.stringify(resolver)} is not an address`);
  return [
    `resolver ${resolver.includes(":") ? `[${resolver}]` : resolver} valid=300s;`,
    "resolver_timeout 5s;",
  ];
}

/** The first nameserver of a resolv.conf: the DNS server of the network it was written for. */
export function firstNameserver(resolvConf: string): string | undefined {
  const found = /^\s*nameserver\s+(\S+)/m.exec(resolvConf)?.[1];
  return found !== undefined && ADDRESS.test(found) ? found : undefined;
}
