/**
 * HTTPS of an app from the CLI (at deploy, and `slipway certs`): one certificate per site for
 * all its domains, issued once on the first host of its web role and placed on every one of
 * them, each behind `nginx -t` with the previous certificate kept. ACME runs on that host (the
 * certificate runner in a one-off container), where the agent's renewals will run too, so both
 * reach the CA from the same place; a certificate of the user's own is checked here and copied.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { detectLocalEngine } from "../build/index.ts";
import {
  CERTS_DIR,
  CertificateError,
  type CertificateFacts,
  type CertState,
  certificateFacts,
  certificateFiles,
  checkCertificateFile,
  checkSite,
  firstNameserver,
  PROXY_CERTS_DIR,
  parseSharingKey,
  RUNNER_DIR,
  type RunResult,
  renderHttpInclude,
  renderTlsInclude,
  STATE_DIR,
  shareKeyFile,
  uncovered,
} from "../certs/index.ts";
import { ACME_DIRECTORIES, configSchema, type LoadedConfig } from "../config/index.ts";
import { placeImage, siteName, webHosts } from "../deploy/index.ts";
import { dockerRemove } from "../engine/index.ts";
import { ExternalError, UserError } from "../errors/index.ts";
import { agentBundle } from "../monitor/index.ts";
import { type Reporter, redactor } from "../output/index.ts";
import { applySteps, run, upload } from "../plan/index.ts";
import { PROXY_CONTAINER } from "../proxy/index.ts";
import { registryLogin } from "../registry/index.ts";
import type { Connections, Transport } from "../transport/index.ts";
import {
  type AcmeSettings,
  planCertificatePlacement,
  planCertificateSwitch,
  planOrder,
  runnerArgv,
  runnerContainer,
} from "./plan.ts";

export { CERT_SWITCH_SCRIPT, planCertificatePlacement, planOrder, runnerArgv } from "./plan.ts";

/** What happened to a site's certificate on one host. */
export interface CertificateOutcome {
  host: string;
  /** issued: a new one from the CA; placed: copied here; unchanged; failed. */
  outcome: "issued" | "placed" | "unchanged" | "failed";
  detail: string;
}

export interface CertificatesResult {
  site: string;
  ok: boolean;
  /** The CA's (or nginx's) words when it failed. */
  error?: string;
  hosts: CertificateOutcome[];
}

/** The site and the hosts of its web roles (the first issues). */
export function httpsHosts(loaded: LoadedConfig): { site: string; hosts: string[] } {
  return {
    site: siteName(loaded.config.service, loaded.environment),
    hosts: webHosts(loaded.config),
  };
}

/**
 * Makes every web host of the app serve a good certificate for its domains: for ACME, issued on
 * the first host when it has none, one that misses a domain, or one due for renewal (`force`:
 * in any case); then copied to the other hosts that lack it. Never throws for the CA's refusal:
 * the result says what failed, and HTTP keeps serving.
 */
export async function ensureCertificates(
  loaded: LoadedConfig,
  connections: Connections,
  reporter: Reporter,
  options: { force?: boolean } = {},
): Promise<CertificatesResult | undefined> {
  const tls = loaded.config.proxy.tls;
  if (tls === undefined) return undefined;
  const { site, hosts } = httpsHosts(loaded);
  const [primary, ...others] = hosts;
  if (primary === undefined) return undefined;
  if (tls.certificate !== undefined) {
    const outcomes = [];
    for (const host of hosts) {
      const transport = connections.get(host);
      const files = ownCertificate(loaded, await proxyResolver(transport));
      outcomes.push(await placeFiles(transport, site, files, "placed"));
    }
    return { site, ok: true, hosts: outcomes };
  }
  const transport = connections.get(primary);
  // Several web hosts: the first seals each new certificate for the others' agents (share.ts).
  const shareKey = others.length > 0 ? await sharingKey(transport, site) : undefined;
  const settings = { ...acmeSettings(loaded, site), shareKey };
  for (const host of others) {
    // Their agents read the order (the domains) and the key; the CA's secrets stay on the first.
    const order = { ...settings, eab: undefined, dns: undefined, directoryCa: undefined };
    await applySteps(connections.get(host), planOrder(order));
  }
  const result = await issueOnHost(loaded, transport, settings, reporter, options);
  if (result.outcome !== "issued" && result.outcome !== "not-due") {
    const error = result.outcome === "waiting" || result.outcome === "failed" ? result.error : "";
    return { site, ok: false, error, hosts: [{ host: primary, outcome: "failed", detail: error }] };
  }
  const first: CertificateOutcome = { host: primary, outcome: "unchanged", detail: result.detail };
  if (result.outcome === "issued") {
    try {
      await applySteps(transport, [planCertificateSwitch(site)]);
    } catch (error) {
      const why = error instanceof ExternalError ? error.stderr.trim() : String(error);
      return { site, ok: false, error: why, hosts: [{ ...first, outcome: "failed", detail: why }] };
    }
    first.outcome = "issued";
    first.detail = `${describeFacts(result.facts)} (${result.detail})`;
  }
  const outcomes = [first];
  if (others.length > 0) {
    const files = await readFiles(transport, site);
    if (files === undefined) return { site, ok: true, hosts: outcomes };
    for (const host of others) {
      outcomes.push(await placeFiles(connections.get(host), site, files, "placed"));
    }
  }
  return { site, ok: true, hosts: outcomes };
}

/** The runner on the first web host: its bundle, the order, the image, one run. */
async function issueOnHost(
  loaded: LoadedConfig,
  transport: Transport,
  settings: AcmeSettings,
  reporter: Reporter,
  options: { force?: boolean },
): Promise<RunResult> {
  const site = settings.site;
  const image = runnerImage(loaded);
  await placeRunner(transport);
  await applySteps(transport, planOrder(settings));
  const engine = await detectLocalEngine().catch(() => undefined);
  await placeImage(image, transport, engine, reporter, registryLogin(loaded));
  // A runner a killed CLI left behind would hold the name.
  await transport.run(dockerRemove(runnerContainer(site), { force: true }), { check: false });
  const progress = reporter.hostOutput(`${transport.host} certs`);
  const ran = await transport.run(runnerArgv(image, site, options), {
    check: false,
    onStderr: (chunk) => progress.write(chunk),
    timeoutMs: 15 * 60_000,
  });
  progress.flush();
  const last = ran.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as RunResult;
  } catch {
    throw new UserError({
      code: "certs.runner_failed",
      message: `${transport.host}: the certificate runner did not finish (exit ${ran.code}): ${(ran.stderr || ran.stdout).trim().split("\n").slice(-3).join(" ")}`,
      hint: "Run again with --verbose; the runner needs the agent's image (monitoring.image) on the host.",
    });
  }
}

/** The site's sharing key as the first web host keeps it, made there when it has none. */
async function sharingKey(transport: Transport, site: string): Promise<string> {
  const kept = await transport.run(["cat", "--", shareKeyFile(site)], { check: false });
  const text = kept.stdout.trim();
  try {
    if (kept.code === 0) {
      parseSharingKey(text);
      redactor.add(text);
      return text;
    }
  } catch {
    // not a key: a new one
  }
  const key = randomBytes(32).toString("base64url");
  redactor.add(key);
  return key;
}

/** The agent's image runs the runner (Node 22 or newer, nothing else needed). */
function runnerImage(loaded: LoadedConfig): string {
  return loaded.config.monitoring?.image ?? configSchema.shape.monitoring.unwrap().parse({}).image;
}

/** certs.mjs and its chunks in RUNNER_DIR, as this Slipway ships them (old chunks removed). */
async function placeRunner(transport: Transport): Promise<void> {
  const bundle = agentBundle();
  await applySteps(transport, [
    ...[...bundle].map(([name, content]) =>
      upload(`certificate runner ${name}`, `${RUNNER_DIR}/${name}`, content, 0o644),
    ),
    run("remove old runner chunks", [
      "find",
      RUNNER_DIR,
      "-maxdepth",
      "1",
      "-type",
      "f",
      "-name",
      "*.mjs",
      ...[...bundle.keys()].flatMap((name) => ["!", "-name", name]),
      "-delete",
    ]),
  ]);
}

/** The ACME settings of slipway.yml with the secrets and files they name. */
function acmeSettings(loaded: LoadedConfig, site: string): AcmeSettings {
  const acme = loaded.config.proxy.tls?.acme;
  if (acme === undefined) throw new Error("no ACME settings");
  const secret = (name: string) => loaded.secrets.values.get(name) ?? "";
  const directory =
    acme.directory in ACME_DIRECTORIES
      ? ACME_DIRECTORIES[acme.directory as keyof typeof ACME_DIRECTORIES]
      : acme.directory;
  return {
    site,
    domains: loaded.config.proxy.domains,
    directory,
    email: acme.email,
    directoryCa:
      acme.ca === undefined ? undefined : readLocal(loaded, acme.ca, "proxy.tls.acme.ca"),
    eab: acme.eab && { kid: acme.eab.kid, hmacKey: secret(acme.eab.hmac_key) },
    challenge: acme.challenge,
    dns: acme.dns && {
      provider: acme.dns.provider,
      token: secret(acme.dns.api_token),
      propagationMs: acme.dns.propagation,
    },
    renewBeforeMs: acme.renew_before,
  };
}

type CertificateFiles = { pem: string; tls: string; http: string };

/** The DNS server of the proxy's container (for OCSP stapling), if it runs. */
async function proxyResolver(transport: Transport): Promise<string | undefined> {
  const read = await transport.run(["docker", "exec", PROXY_CONTAINER, "cat", "/etc/resolv.conf"], {
    check: false,
  });
  return read.code === 0 ? firstNameserver(read.stdout) : undefined;
}

/**
 * The user's own certificate (tls.certificate), checked here, as the three files a host gets;
 * `resolver`: the proxy's DNS server, for stapling when the certificate names a responder.
 */
function ownCertificate(loaded: LoadedConfig, resolver: string | undefined): CertificateFiles {
  const own = loaded.config.proxy.tls?.certificate;
  if (own === undefined) throw new Error("no certificate settings");
  const site = siteName(loaded.config.service, loaded.environment);
  const cert = readLocal(loaded, own.cert, "proxy.tls.certificate.cert");
  const key = readLocal(loaded, own.key, "proxy.tls.certificate.key");
  const pem = `${key.trim()}\n${cert.trim()}\n`;
  let facts: CertificateFacts;
  try {
    facts = checkCertificateFile(pem, loaded.config.proxy.domains);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new UserError({
      code: "certs.bad_certificate",
      message: `The certificate in ${own.cert} cannot be used: ${error.message}.`,
      hint: "Give the certificate with its chain (leaf first) and its own key, for every name of proxy.domains, valid now.",
    });
  }
  const include = {
    certificate: { ocsp: facts.ocsp, resolver },
    proxyCertsDir: PROXY_CERTS_DIR,
    httpsPort: 443,
  };
  return { pem, tls: renderTlsInclude(site, include), http: renderHttpInclude(site, include) };
}

/** A file named in slipway.yml (relative to it), or a UserError naming the key. */
function readLocal(loaded: LoadedConfig, path: string, key: string): string {
  const absolute = isAbsolute(path) ? path : resolve(dirname(loaded.file), path);
  try {
    return readFileSync(absolute, "utf8");
  } catch (error) {
    throw new UserError({
      code: "certs.file",
      message: `${key}: cannot read ${absolute} (${(error as NodeJS.ErrnoException).code ?? String(error)}).`,
      hint: "Paths are relative to slipway.yml.",
    });
  }
}

/** A host's copy of the site's three files, or undefined when it has no certificate. */
async function readFiles(
  transport: Transport,
  site: string,
): Promise<CertificateFiles | undefined> {
  const names = certificateFiles(site);
  const read = async (name: string) => {
    const result = await transport.run(["cat", "--", `${CERTS_DIR}/${name}`], { check: false });
    return result.code === 0 ? result.stdout : undefined;
  };
  const [pem, tls, http] = await Promise.all([read(names.pem), read(names.tls), read(names.http)]);
  if (pem === undefined || tls === undefined || http === undefined) return undefined;
  return { pem, tls, http };
}

/** Places the files on a host unless it has exactly them (switched behind nginx -t). */
async function placeFiles(
  transport: Transport,
  site: string,
  files: CertificateFiles,
  verb: "placed",
): Promise<CertificateOutcome> {
  const names = certificateFiles(site);
  const digest = (text: string) => createHash("sha256").update(text).digest("hex");
  const current = await transport.run(
    ["sha256sum", "--", ...[names.pem, names.tls, names.http].map((n) => `${CERTS_DIR}/${n}`)],
    { check: false },
  );
  const have = current.stdout.split("\n").map((line) => line.split(" ")[0]);
  const want = [files.pem, files.tls, files.http].map(digest);
  const facts = describeFacts(certificateFacts(files.pem));
  if (current.code === 0 && want.every((d, i) => have[i] === d)) {
    return { host: transport.host, outcome: "unchanged", detail: facts };
  }
  await applySteps(transport, planCertificatePlacement(site, files));
  return { host: transport.host, outcome: verb, detail: facts };
}

function describeFacts(facts: CertificateFacts): string {
  const days = Math.floor((facts.notAfter - Date.now()) / 86_400_000);
  return `${facts.names.join(", ")} from ${facts.issuer}, expires ${new Date(facts.notAfter).toISOString().slice(0, 10)} (${days} days)`;
}

/** A site's certificate on one host, as `slipway certs status` shows it. */
export interface CertificateStatus {
  host: string;
  site: string;
  certificate: (CertificateFacts & { daysLeft: number }) | null;
  lastAttemptAt: number | null;
  lastError: string | null;
  nextAttemptAt: number | null;
  /** A problem to act on: none, expired, a name missing, or the last attempt failed. */
  problem: string | null;
}

/** The certificate each web host serves for the site, and the last attempt's state. */
export async function certificatesStatus(
  loaded: LoadedConfig,
  connections: Connections,
): Promise<CertificateStatus[]> {
  const { site, hosts } = httpsHosts(loaded);
  const names = certificateFiles(site);
  const domains = loaded.config.proxy.domains;
  return Promise.all(
    hosts.map(async (host) => {
      const transport = connections.get(host);
      // The certificates only (the key comes first in the file and never leaves the host).
      const chain = await transport.run(
        ["sed", "-n", "/-----BEGIN CERTIFICATE-----/,$p", `${CERTS_DIR}/${names.pem}`],
        { check: false },
      );
      const stateText = await transport.run(["cat", `${STATE_DIR}/${checkSite(site)}.json`], {
        check: false,
      });
      let state: Partial<CertState> = {};
      try {
        state = stateText.code === 0 ? (JSON.parse(stateText.stdout) as CertState) : {};
      } catch {
        state = {};
      }
      let facts: CertificateFacts | undefined;
      try {
        facts =
          chain.code === 0 && chain.stdout.trim() ? certificateFacts(chain.stdout) : undefined;
      } catch {
        facts = undefined;
      }
      const now = Date.now();
      const missing = facts ? uncovered(facts, domains) : [];
      const problem =
        facts === undefined
          ? "no certificate"
          : now >= facts.notAfter
            ? "expired"
            : missing.length > 0
              ? `not for ${missing.join(", ")}`
              : state.lastError !== undefined
                ? "the last attempt failed"
                : null;
      return {
        host,
        site,
        certificate: facts
          ? { ...facts, daysLeft: Math.floor((facts.notAfter - now) / 86_400_000) }
          : null,
        lastAttemptAt: state.lastAttemptAt ?? null,
        lastError: state.lastError ?? null,
        nextAttemptAt: state.nextAttemptAt ?? null,
        problem,
      };
    }),
  );
}
