/**
 * DNS providers for DNS-01: each adds a TXT record and returns how to remove it. Cloudflare
 * first (its v4 API with a scoped token); others implement the same interface.
 */
import { readFileSync } from "node:fs";
import type { Order } from "./order.ts";

/** Adds TXT `value` at `name`; resolves with the function that removes that record again. */
export interface DnsProvider {
  addTxt(name: string, value: string): Promise<() => Promise<void>>;
}

/** The order's provider, its token read from its file (never from argv, never printed). */
export function dnsProvider(dns: NonNullable<Order["dns"]>): DnsProvider {
  const token = readFileSync(dns.token_file, "utf8").trim();
  if (token === "") throw new Error(`the DNS provider's token file ${dns.token_file} is empty`);
  return new Cloudflare(token, dns.api_url ?? CLOUDFLARE_API);
}

export const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";

interface CloudflareAnswer<T> {
  success: boolean;
  errors?: { code?: number; message?: string }[];
  result: T;
}

/**
 * Cloudflare's v4 API: the zone is the longest suffix of the record's name that the token sees
 * (GET /zones?name=...), the record a TXT with a short TTL (POST .../dns_records), removed by id.
 */
export class Cloudflare implements DnsProvider {
  private readonly token: string;
  private readonly api: string;
  private readonly zones = new Map<string, string>();

  constructor(token: string, api = CLOUDFLARE_API) {
    this.token = token;
    this.api = api.replace(/\/+$/, "");
  }

  async addTxt(name: string, value: string): Promise<() => Promise<void>> {
    const zone = await this.zoneOf(name);
    const record = await this.call<{ id: string }>("POST", `/zones/${zone}/dns_records`, {
      type: "TXT",
      name,
      content: value,
      ttl: 60,
    });
    return async () => {
      await this.call("DELETE", `/zones/${zone}/dns_records/${encodeURIComponent(record.id)}`);
    };
  }

  private async zoneOf(name: string): Promise<string> {
    const labels = name.split(".");
    // _acme-challenge.www.example.com: try www.example.com, then example.com.
    for (let i = 1; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join(".");
      const known = this.zones.get(candidate);
      if (known !== undefined) return known;
      const found = await this.call<{ id: string; name: string }[]>(
        "GET",
        `/zones?name=${encodeURIComponent(candidate)}&status=active`,
      );
      const zone = found.find((z) => z.name === candidate);
      if (zone) {
        this.zones.set(candidate, zone.id);
        return zone.id;
      }
    }
    throw new Error(
      `Cloudflare: no zone for ${name} is visible to the token (it needs Zone.DNS edit on the zone)`,
    );
  }

  private async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let answer: CloudflareAnswer<T> | undefined;
    try {
      answer = JSON.parse(text) as CloudflareAnswer<T>;
    } catch {
      answer = undefined;
    }
    if (!response.ok || answer?.success !== true) {
      const why =
        answer?.errors
          ?.map((e) => `${e.message ?? "error"}${e.code ? ` (${e.code})` : ""}`)
          .join("; ") || text.slice(0, 200);
      throw new Error(`Cloudflare: ${method} ${path.split("?")[0]}: ${response.status}: ${why}`);
    }
    return answer.result;
  }
}
