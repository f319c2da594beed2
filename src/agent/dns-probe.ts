/**
 * A DNS check: the name resolves (through the system's resolvers, or one server), and every
 * expected answer is among the records. node:dns talks the protocol itself for resolve*, so the
 * answer is the server's, not a hosts-file entry.
 */
import type { Resolver } from "node:dns/promises";
import type { CheckConfig } from "./config.ts";
import type { ProbeResult } from "./probes.ts";

type DnsCheck = Extract<CheckConfig, { kind: "dns" }>;

async function answers(resolver: Resolver, check: DnsCheck): Promise<string[]> {
  switch (check.record) {
    case "A":
      return resolver.resolve4(check.host);
    case "AAAA":
      return resolver.resolve6(check.host);
    case "CNAME":
      return resolver.resolveCname(check.host);
    case "NS":
      return resolver.resolveNs(check.host);
    case "MX":
      return (await resolver.resolveMx(check.host)).map((mx) => mx.exchange);
    case "TXT":
      return (await resolver.resolveTxt(check.host)).map((parts) => parts.join(""));
  }
}

export async function probeDns(check: DnsCheck): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // Loaded on first use: an agent without DNS checks does not pay for it.
  const { Resolver } = await import("node:dns/promises");
  const resolver = new Resolver({ timeout: check.timeout_ms, tries: 1 });
  if (check.server !== undefined) resolver.setServers([check.server]);
  let found: string[];
  try {
    found = await answers(resolver, check);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { ok: false, ms: elapsed(), detail: `${check.record} ${check.host}: ${code}` };
  }
  const missing = check.expect.filter((want) => !found.includes(want));
  const shown = `${check.record} ${check.host}: ${found.join(", ")}`;
  return missing.length === 0
    ? { ok: true, ms: elapsed(), detail: shown }
    : { ok: false, ms: elapsed(), detail: `${shown}, without ${missing.join(", ")}` };
}
