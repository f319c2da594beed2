/**
 * Looking at an HTTPS endpoint on loopback as clients do: a node:tls handshake (what certificate,
 * trusted or not), `openssl s_client`, `curl --cacert`. Only 127.0.0.1 is ever contacted.
 */
import { execFile } from "node:child_process";
import { connect } from "node:tls";

export interface Served {
  authorized: boolean;
  authorizationError: string | undefined;
  protocol: string | null;
  fingerprint: string;
  serial: string;
  names: string;
}

/** The certificate 127.0.0.1:`port` serves for `servername`, checked against `ca`. */
export function served(port: number, servername: string, ca: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, ca, rejectUnauthorized: false });
    socket.setTimeout(5_000, () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      resolve({
        authorized: socket.authorized,
        authorizationError:
          socket.authorizationError === null ? undefined : String(socket.authorizationError),
        protocol: socket.getProtocol(),
        fingerprint: cert.fingerprint256,
        serial: cert.serialNumber,
        names: cert.subjectaltname ?? "",
      });
      socket.end();
    });
    socket.once("error", reject);
  });
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with a timeout; never throws on a non-zero exit. */
export function tool(program: string, args: readonly string[], input = ""): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = execFile(
      program,
      [...args],
      { timeout: 20_000, maxBuffer: 8 << 20 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
    // openssl may exit before it reads its stdin.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

/** `openssl s_client` to 127.0.0.1:`port` for `servername`, with extra options (-tls1_2...). */
export function sClient(
  port: number,
  servername: string,
  caFile: string | undefined,
  extra: readonly string[] = [],
): Promise<ToolRun> {
  return tool("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    servername,
    ...(caFile === undefined ? [] : ["-CAfile", caFile, "-verify_return_error"]),
    ...extra,
  ]);
}

/** curl, quiet but for errors, bounded in time, printing the headers (-D -) first. */
function curl(args: readonly string[]): Promise<ToolRun> {
  return tool("curl", ["-sS", "--max-time", "10", "-D", "-", ...args]);
}

/** `curl` of https://`host`:`port``path` resolved to 127.0.0.1, trusting `caFile`; headers too. */
export function curlHttps(
  host: string,
  port: number,
  path: string,
  caFile: string,
  extra: readonly string[] = [],
): Promise<ToolRun> {
  return curl([
    "--cacert",
    caFile,
    "--resolve",
    `${host}:${port}:127.0.0.1`,
    ...extra,
    `https://${host}:${port}${path}`,
  ]);
}

/** `curl` of http://127.0.0.1:`port``path` with Host `host`, not following redirects. */
export function curlHttp(host: string, port: number, path: string): Promise<ToolRun> {
  return curl(["-o", "/dev/null", "-H", `Host: ${host}`, `http://127.0.0.1:${port}${path}`]);
}

/** The status code of the first response in curl -D output. */
export function statusOf(headers: string): number {
  return Number(/^HTTP\/[0-9.]+ ([0-9]{3})/m.exec(headers)?.[1] ?? 0);
}

/** A header's value in curl -D output (the last response's), case-insensitive. */
export function headerOf(headers: string, name: string): string | undefined {
  const blocks = headers.split(/\r?\n\r?\n/).filter((b) => /^HTTP\//.test(b));
  const last = blocks.at(-1) ?? "";
  const line = last
    .split(/\r?\n/)
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
