/**
 * One ACME issuance (RFC 8555) with acme-client, loaded on first use (it is most of the
 * runner's code): the account (made once, with external account binding when the CA wants it),
 * an order for every domain of the site, each authorization proven by HTTP-01 (a file in the
 * webroot the proxy serves) or DNS-01 (a TXT record through the provider), a fresh key and CSR,
 * the chain. Challenge files and records are removed whatever happens. The result is checked
 * (checkCertificateFile) before anyone may put it in place.
 */

import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { type DnsProvider, dnsProvider } from "./dns.ts";
import type { Order } from "./order.ts";
import { accountKey, certificateKey, removeChallenge, writeChallenge } from "./store.ts";
import { type CertificateFacts, checkCertificateFile } from "./validate.ts";

/** The CA refused or failed something: its message, for people and for the state file. */
export class AcmeError extends Error {}

type AcmeModule = typeof import("acme-client");
type AcmeClient = InstanceType<AcmeModule["Client"]>;
type Authorization = Awaited<ReturnType<AcmeClient["getAuthorizations"]>>[number];
type Challenge = Authorization["challenges"][number];

let loaded: Promise<AcmeModule> | undefined;

/** acme-client (CommonJS), loaded once, its HTTP retries kept short (a failing CA fails fast). */
function loadAcme(): Promise<AcmeModule> {
  loaded ??= import("acme-client").then((module) => {
    const acme = ((module as { default?: AcmeModule }).default ?? module) as AcmeModule;
    // acme-client's own settings on its axios instance (not in axios's types).
    const settings = (acme.axios.defaults as { acmeSettings?: Record<string, number> })
      .acmeSettings;
    if (settings) {
      settings.retryMaxAttempts = 3;
      settings.retryDefaultDelay = 2;
    }
    return acme;
  });
  return loaded;
}

export interface Issued {
  /** The private key, then the chain (leaf first): the one file nginx reads. */
  pem: string;
  facts: CertificateFacts;
}

export interface IssueOptions {
  /** For people: what is happening ("authorizing example.com by http-01"). */
  log?: (line: string) => void;
  /** The DNS provider for dns-01 (default: the order's). */
  dns?: DnsProvider;
  /** The ARI identifier of the certificate this one replaces (a CA with ARI wants it). */
  replaces?: string;
}

/** Issues a certificate for the order's domains; throws AcmeError with the CA's words. */
export async function issueCertificate(order: Order, options: IssueOptions = {}): Promise<Issued> {
  const acme = await loadAcme();
  const log = options.log ?? (() => {});
  // A private CA's directory: trust its CA (and only it) for the ACME API's own HTTPS.
  acme.axios.defaults.httpsAgent =
    order.ca_file === undefined ? undefined : new Agent({ ca: readFileSync(order.ca_file) });
  const client = new acme.Client({
    directoryUrl: order.directory,
    accountKey: accountKey(order),
    backoffAttempts: 12,
    backoffMin: 1_000,
    backoffMax: 10_000,
    ...(order.eab === undefined
      ? {}
      : {
          externalAccountBinding: {
            kid: order.eab.kid,
            hmacKey: readFileSync(order.eab.hmac_key_file, "utf8").trim(),
          },
        }),
  });
  try {
    log(`account at ${order.directory}`);
    await ensureAccount(client, order);
    log(`ordering a certificate for ${order.domains.join(", ")}`);
    const placed = await client.createOrder({
      identifiers: order.domains.map((value) => ({ type: "dns", value })),
      ...(options.replaces === undefined ? {} : { replaces: options.replaces }),
    } as Parameters<AcmeClient["createOrder"]>[0]);
    await authorize(client, order, placed, log, options.dns);
    const key = certificateKey();
    // A common name holds at most 64 characters; the names are in subjectAltName anyway.
    const first = order.domains[0] ?? "";
    const [, csr] = await acme.crypto.createCsr(
      { ...(first.length <= 64 ? { commonName: first } : {}), altNames: order.domains },
      key,
    );
    log("finalizing the order");
    const finalized = await client.finalizeOrder(placed, csr);
    const chain = await client.getCertificate(finalized);
    const pem = `${key.trim()}\n${chain.trim()}\n`;
    try {
      return { pem, facts: checkCertificateFile(pem, order.domains) };
    } catch (error) {
      throw new AcmeError(`the CA's certificate is not usable: ${(error as Error).message}`);
    }
  } catch (error) {
    throw error instanceof AcmeError ? error : new AcmeError(describe(error));
  }
}

/**
 * The account of the key: found when the CA knows it (onlyReturnExisting, then a POST-as-GET),
 * else registered, agreeing to the CA's terms.
 */
async function ensureAccount(client: AcmeClient, order: Order): Promise<void> {
  try {
    await client.createAccount({ onlyReturnExisting: true });
    return;
  } catch (error) {
    if (
      !/accountDoesNotExist|does not exist|unable to find existing account/i.test(describe(error))
    )
      throw error;
  }
  await client.createAccount({
    termsOfServiceAgreed: true,
    ...(order.email === undefined ? {} : { contact: [`mailto:${order.email}`] }),
  });
}

/** Proves every pending authorization by the order's challenge, then cleans up. */
async function authorize(
  client: AcmeClient,
  order: Order,
  placed: Parameters<AcmeClient["getAuthorizations"]>[0],
  log: (line: string) => void,
  provider: DnsProvider | undefined,
): Promise<void> {
  const authorizations = (await client.getAuthorizations(placed)).filter(
    (a) => a.status !== "valid",
  );
  const cleanups: (() => Promise<void>)[] = [];
  const opened: { authorization: Authorization; challenge: Challenge }[] = [];
  const dns =
    order.challenge === "dns-01" && authorizations.length > 0
      ? (provider ?? dnsProvider(requireDns(order)))
      : undefined;
  try {
    for (const authorization of authorizations) {
      const name = authorization.identifier.value;
      const challenge = authorization.challenges.find((c) => c.type === order.challenge);
      if (challenge === undefined) {
        throw new AcmeError(
          `the CA offers no ${order.challenge} challenge for ${name} (it offers ${authorization.challenges.map((c) => c.type).join(", ")})`,
        );
      }
      const answer = await client.getChallengeKeyAuthorization(challenge);
      if (challenge.type === "http-01") {
        log(`authorizing ${name} by http-01`);
        writeChallenge(order, challenge.token, answer);
        cleanups.push(async () => removeChallenge(order, challenge.token));
      } else if (dns !== undefined) {
        // A wildcard is proven at the name it covers: *.example.com at example.com.
        const record = `_acme-challenge.${name.replace(/^\*\./, "")}`;
        log(`authorizing ${authorization.wildcard ? `*.${name}` : name} by dns-01 at ${record}`);
        cleanups.push(await dns.addTxt(record, answer));
      }
      opened.push({ authorization, challenge });
    }
    if (dns !== undefined && opened.length > 0 && order.dns !== undefined) {
      log(`waiting ${Math.round(order.dns.propagation_ms / 1000)}s for the records to spread`);
      await new Promise((r) => setTimeout(r, order.dns?.propagation_ms ?? 0));
    }
    for (const { challenge } of opened) await client.completeChallenge(challenge);
    for (const { authorization, challenge } of opened) {
      try {
        await client.waitForValidStatus(challenge);
      } catch (error) {
        throw new AcmeError(await challengeError(client, placed, authorization, error));
      }
    }
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
  }
}

/** The CA's own account of why a challenge failed: its problem type and detail. */
async function challengeError(
  client: AcmeClient,
  placed: Parameters<AcmeClient["getAuthorizations"]>[0],
  authorization: Authorization,
  error: unknown,
): Promise<string> {
  const name = authorization.identifier.value;
  try {
    const fresh = await client.getAuthorizations(placed);
    const same = fresh.find((a) => a.url === authorization.url);
    const problem = same?.challenges.find((c) => c.error !== undefined)?.error as
      | { type?: string; detail?: string }
      | undefined;
    if (problem) {
      const type = (problem.type ?? "").replace("urn:ietf:params:acme:error:", "");
      return `${name}: ${type ? `${type}: ` : ""}${problem.detail ?? "the challenge failed"}`;
    }
  } catch {
    // the error we have will do
  }
  return `${name}: ${describe(error)}`;
}

function requireDns(order: Order): NonNullable<Order["dns"]> {
  if (order.dns === undefined) throw new AcmeError("dns-01 needs a DNS provider in the order");
  return order.dns;
}

function describe(error: unknown): string {
  const e = error as { message?: string; code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const message = (e.message ?? String(error)).replace(/\s+/g, " ").trim();
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}
