/**
 * Pebble, Let's Encrypt's test CA (Debian's package), on loopback with pebble-challtestsrv as its
 * DNS: every name resolves to 127.0.0.1 (or what the test sets), so HTTP-01 reaches the nginx of
 * the test on `httpPort`, and DNS-01's TXT records are the ones set through the management API.
 * Debian's package ships no test certificate for pebble's own HTTPS: one is made here (a CA
 * for "localhost", "pebble" and 127.0.0.1), and clients trust `directoryCa`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, onProcessExit, type RigCheck } from "../rig/index.ts";
import { issueCert, makeCa } from "./openssl.ts";

export const PEBBLE = "/usr/bin/pebble";
export const CHALLTESTSRV = "/usr/bin/pebble-challtestsrv";

export function pebbleAvailable(): RigCheck {
  const found = spawnSync("sh", ["-c", `test -x ${PEBBLE} && test -x ${CHALLTESTSRV}`]);
  return found.status === 0
    ? { ok: true }
    : { ok: false, reason: "pebble is not installed (apt-get install pebble)" };
}

export interface PebbleOptions {
  /** The port pebble's HTTP-01 validation connects to (the test's nginx). */
  httpPort: number;
  /** EAB: require it, with these key ids and HMAC keys (base64url). */
  eab?: Record<string, string>;
  /**
   * PEBBLE_VA_ALWAYS_VALID: every challenge passes without a look. Only for tests that say why.
   */
  alwaysValid?: boolean;
}

export interface Pebble {
  /** The ACME directory, https://127.0.0.1:PORT/dir. */
  directory: string;
  /** PEM of the CA of pebble's own HTTPS certificate, and a file holding it. */
  directoryCa: string;
  directoryCaFile: string;
  /** PEM of the root that signs issued certificates (from the management API). */
  root(): Promise<string>;
  /** Answers A queries for `host` with `address` only (challtestsrv's clear-a, add-a). */
  addA(host: string, address: string): Promise<void>;
  /** The TXT records challtestsrv holds for `host` are `value` (set-txt). */
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  /** What pebble and challtestsrv printed. */
  logs(): string;
  stop(): Promise<void>;
}

/** Starts challtestsrv and pebble on free loopback ports; resolves once the directory answers. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-pebble-"));
  const ca = makeCa("Slipway test: pebble's HTTPS");
  const leaf = issueCert(ca, ["localhost", "pebble", "127.0.0.1"]);
  writeFileSync(join(dir, "ca.pem"), ca.cert);
  writeFileSync(join(dir, "cert.pem"), leaf.cert);
  writeFileSync(join(dir, "key.pem"), leaf.key, { mode: 0o600 });
  const [listen, management, tlsPort, dns, challManagement] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  writeFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: join(dir, "cert.pem"),
        privateKey: join(dir, "key.pem"),
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: options.eab !== undefined,
        ...(options.eab === undefined ? {} : { externalAccountMACKeys: options.eab }),
      },
    }),
  );
  let output = "";
  const keep = (child: ChildProcess, name: string) => {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding("utf8").on("data", (d: string) => {
        output += d
          .split("\n")
          .filter(Boolean)
          .map((l) => `${name}: ${l}\n`)
          .join("");
        if (output.length > 200_000) output = output.slice(-100_000);
      });
    }
  };
  const chall = spawn(
    CHALLTESTSRV,
    [
      "-dns01",
      `127.0.0.1:${dns}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${challManagement}`,
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  keep(chall, "challtestsrv");
  const pebble = spawn(
    PEBBLE,
    ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dns}`],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PEBBLE_VA_NOSLEEP: "1",
        // Pebble rejects 5% of good nonces by default; the client retries, but tests stay exact.
        PEBBLE_WFE_NONCEREJECT: "0",
        // Every order proves its names again (pebble reuses half its valid authorizations).
        PEBBLE_AUTHZREUSE: "0",
        ...(options.alwaysValid ? { PEBBLE_VA_ALWAYS_VALID: "1" } : {}),
      },
    },
  );
  keep(pebble, "pebble");
  let stopped = false;
  const kill = () => {
    for (const child of [pebble, chall]) if (child.exitCode === null) child.kill("SIGKILL");
  };
  const unregister = onProcessExit(() => {
    kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (port: number, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path, ca: ca.cert, servername: "localhost", timeout: 5_000 },
        (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
    });
  const manage = async (path: string, body: unknown) => {
    const response = await fetch(`http://127.0.0.1:${challManagement}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`challtestsrv ${path}: ${response.status}`);
  };
  const handle: Pebble = {
    directory: `https://127.0.0.1:${listen}/dir`,
    directoryCa: ca.cert,
    directoryCaFile: join(dir, "ca.pem"),
    async root() {
      const answer = await get(management, "/roots/0");
      if (answer.status !== 200) throw new Error(`pebble /roots/0: ${answer.status}`);
      return answer.body;
    },
    // add-a adds to what the name had: clear it first.
    addA: async (host, address) => {
      await manage("/clear-a", { host });
      await manage("/add-a", { host, addresses: [address] });
    },
    setTxt: (host, value) => manage("/set-txt", { host: `${host}.`, value }),
    clearTxt: (host) => manage("/clear-txt", { host: `${host}.` }),
    logs: () => output,
    async stop() {
      if (stopped) return;
      stopped = true;
      kill();
      unregister();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await get(listen, "/dir").catch(() => undefined);
    if (ready?.status === 200) break;
    if (Date.now() > deadline || pebble.exitCode !== null) {
      await handle.stop();
      throw new Error(`pebble did not start:\n${output}`);
    }
    await sleep(100);
  }
  return handle;
}
