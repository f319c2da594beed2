/**
 * A TLS certificate's days left, from a real handshake: failing when it expires within
 * `min_days`, when it is not for the name, or (unless verify is off) when its chain does not
 * verify. node:tls is loaded on first use, like https.
 */
import { loadTls } from "./builtins.ts";
import type { CheckConfig } from "./config.ts";
import type { ProbeResult } from "./probes.ts";

type TlsCheck = Extract<CheckConfig, { kind: "tls" }>;

const DAY_MS = 86_400_000;

export function probeTls(check: TlsCheck, now: () => number = Date.now): Promise<ProbeResult> {
  const tls = loadTls();
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const servername = check.servername ?? check.host;
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: check.host,
      port: check.port,
      servername,
      // Verified below, so an untrusted chain is reported as such rather than as an error.
      rejectUnauthorized: false,
    });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, ms: elapsed(), detail: `timeout after ${check.timeout_ms}ms` }),
      check.timeout_ms,
    );
    socket.once("secureConnect", () => {
      const certificate = socket.getPeerCertificate();
      if (!certificate?.valid_to) {
        finish({ ok: false, ms: elapsed(), detail: "no certificate" });
        return;
      }
      const days = Math.floor((Date.parse(certificate.valid_to) - now()) / DAY_MS);
      const left = days < 0 ? `expired ${-days} days ago` : `expires in ${days} days`;
      if (check.verify && !socket.authorized) {
        const why = String(socket.authorizationError ?? "not trusted");
        finish({
          ok: false,
          ms: elapsed(),
          detail: `certificate for ${servername} ${why} (${left})`,
        });
        return;
      }
      const nameError = tls.checkServerIdentity(servername, certificate);
      if (nameError) {
        finish({
          ok: false,
          ms: elapsed(),
          detail: `certificate is not for ${servername} (${left})`,
        });
        return;
      }
      const ok = days >= check.min_days;
      finish({
        ok,
        ms: elapsed(),
        detail: ok ? `certificate ${left}` : `certificate ${left}, within ${check.min_days} days`,
      });
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish({ ok: false, ms: elapsed(), detail: error.code ?? error.message }),
    );
  });
}
