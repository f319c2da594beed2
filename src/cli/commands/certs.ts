/** `slipway certs issue|renew|status`: the site's HTTPS certificate on its web hosts. */
import { ExitCode, UserError } from "../../errors/index.ts";
import { table } from "../../output/index.ts";
import { withConnections } from "../connections.ts";
import type { CommandContext } from "../context.ts";

type Loaded = Awaited<ReturnType<CommandContext["loadConfig"]>>;
type Result = NonNullable<
  Awaited<ReturnType<typeof import("../../https/index.ts").ensureCertificates>>
>;

function requireTls(loaded: Loaded): void {
  if (loaded.config.proxy.tls === undefined) {
    throw new UserError({
      code: "certs.no_tls",
      message: `${loaded.file} has no proxy.tls: the site serves HTTP only.`,
      hint: "add proxy.tls (acme: { email: you@example.com }, or certificate: { cert, key }) and proxy.domains",
      exitCode: ExitCode.usage,
    });
  }
}

/** Prints what happened per host; a failure becomes the command's error. */
export function reportCertificates(context: CommandContext, result: Result): void {
  for (const host of result.hosts) {
    context.reporter.info(
      `${host.host}: certificate of ${result.site} ${host.outcome}: ${host.detail}`,
    );
  }
}

async function ensure(context: CommandContext, force: boolean): Promise<number> {
  const { ensureCertificates } = await import("../../https/index.ts");
  return withConnections(context, async (loaded, connections) => {
    requireTls(loaded);
    const result = await ensureCertificates(loaded, connections, context.reporter, { force });
    if (result === undefined) return ExitCode.ok;
    if (context.flags.json) context.print(JSON.stringify(result, null, 2));
    else reportCertificates(context, result);
    if (!result.ok) {
      throw new UserError({
        code: "certs.failed",
        message: `No new certificate for ${result.site}: ${result.error ?? "unknown error"}`,
        hint: "The certificate in place (if any) keeps serving, and HTTP serves without one. Check that the domains point at the web hosts (http-01) or the DNS token (dns-01); slipway certs status shows the last attempt.",
      });
    }
    return ExitCode.ok;
  });
}

export function issue(context: CommandContext): Promise<number> {
  return ensure(context, false);
}

export function renew(context: CommandContext, options: Record<string, unknown>): Promise<number> {
  return ensure(context, options.force === true);
}

const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().slice(0, 19));

export async function status(context: CommandContext): Promise<number> {
  const { certificatesStatus } = await import("../../https/index.ts");
  return withConnections(context, async (loaded, connections) => {
    requireTls(loaded);
    const rows = await certificatesStatus(loaded, connections);
    if (context.flags.json) {
      context.print(JSON.stringify(rows, null, 2));
    } else {
      context.print(
        table([
          ["HOST", "SITE", "NAMES", "ISSUER", "EXPIRES", "LAST ATTEMPT", "NEXT ATTEMPT", "PROBLEM"],
          ...rows.map((r) => [
            r.host,
            r.site,
            r.certificate?.names.join(",") ?? "-",
            r.certificate?.issuer ?? "-",
            r.certificate
              ? `${new Date(r.certificate.notAfter).toISOString().slice(0, 10)} (${r.certificate.daysLeft}d)`
              : "-",
            when(r.lastAttemptAt),
            when(r.nextAttemptAt),
            r.problem ?? "-",
          ]),
        ]),
      );
      for (const r of rows) {
        if (r.lastError) context.print(`${r.host}: last error: ${r.lastError}`);
      }
    }
    return rows.some((r) => r.problem !== null) ? ExitCode.failure : ExitCode.ok;
  });
}
