/**
 * An order: what the certificate runner issues for one site, as the CLI writes it on the host
 * (`orders/<site>.json`, 0600). Secrets are not in it, only the files that hold them.
 */
// zod/mini, as the agent's own config: the agent reads orders too.
import * as z from "zod/mini";
import { checkSite, TLS_DIR } from "./paths.ts";

const text = (max = 1_000) => z.string().check(z.minLength(1), z.maxLength(max));
const path = text(4_096).check(z.regex(/^\//, "an absolute path"));
const whole = (min: number) => z.int().check(z.gte(min));

export const orderSchema = z.strictObject({
  site: text(200).check(z.refine((s) => /^[a-z0-9][a-z0-9_-]*$/.test(s), "a plain name")),
  /** The names of the certificate, in order (the first is its common name when it fits). */
  domains: z.array(text(253)).check(z.minLength(1), z.maxLength(100)),
  /** The ACME directory URL. */
  directory: z.url({ protocol: /^https$/ }),
  /** A PEM file of the CA the directory's own HTTPS certificate is signed by. */
  ca_file: z.optional(path),
  email: z.optional(text(254)),
  eab: z.optional(z.strictObject({ kid: text(), hmac_key_file: path })),
  challenge: z.enum(["http-01", "dns-01"]),
  dns: z.optional(
    z.strictObject({
      provider: z.enum(["cloudflare"]),
      token_file: path,
      propagation_ms: whole(0),
      /** The provider's API (another only for tests). */
      api_url: z.optional(z.url({ protocol: /^https?$/ })),
    }),
  ),
  /**
   * The site has other web hosts: each new certificate is sealed with the key in this file and
   * left where their agents fetch it (share.ts).
   */
  share_key_file: z.optional(path),
  /** Renew when the certificate expires within this long. */
  renew_before_ms: whole(0),
  /** The host folder of certificates, webroot, accounts and state (TLS_DIR; tests: a temp one). */
  tls_dir: z._default(path, TLS_DIR),
  /** Where the proxy sees `<tls_dir>/certs`, for the include's certificate path. */
  proxy_certs_dir: z._default(path, "/etc/slipway/certs"),
  /** The HTTPS port HTTP redirects to. */
  https_port: z._default(whole(1).check(z.lte(65_535)), 443),
});

export type Order = z.infer<typeof orderSchema>;

/** Parses an order file's text; the error names each bad key. */
export function parseOrder(textValue: string, file: string): Order {
  let data: unknown;
  try {
    data = JSON.parse(textValue);
  } catch (error) {
    throw new Error(`${file}: not JSON: ${(error as Error).message}`);
  }
  const parsed = orderSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(top)"}: ${i.message}`);
    throw new Error(`${file}: not a valid certificate order:\n${lines.join("\n")}`);
  }
  checkSite(parsed.data.site);
  return parsed.data;
}
