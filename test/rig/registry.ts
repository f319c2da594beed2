/**
 * A throwaway container registry: the CNCF distribution registry (Debian's docker-registry),
 * with TLS from a self-signed certificate and htpasswd auth, storage in a temp dir, on a free
 * port of the Podman bridge's gateway address, the one address of this machine that VPS boxes
 * (containers on that bridge) reach. Its certificate is its own CA: trusting it is test setup,
 * as a user with a private CA would do (certs.d files for Podman here, Docker in a box).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { onProcessExit, type RigCheck, run, runOk } from "./proc.ts";
import type { VpsBox } from "./vps.ts";

const REGISTRY_BIN = "/usr/bin/docker-registry";
const HTPASSWD_BIN = "/usr/bin/htpasswd";
const OPENSSL_BIN = "/usr/bin/openssl";
const PODMAN_CERTS = "/etc/containers/certs.d";
const DOCKER_CERTS = "/etc/docker/certs.d";

/** Options for {@link startRegistry}. */
export interface RegistryOptions {
  /** Default "slipway-test". */
  username?: string;
  /** Default: random. */
  password?: string;
  /** How long to wait for it to answer; default 15 s. */
  startTimeoutMs?: number;
}

/** One line of the registry's access log. */
export interface RegistryRequest {
  /** The client's IP address. */
  client: string;
  method: string;
  path: string;
  status: number;
}

/** A running throwaway registry. */
export interface TestRegistry {
  /** The address it listens on (the Podman bridge's gateway, e.g. 10.88.0.1). */
  address: string;
  port: number;
  /** "ADDRESS:PORT": how `docker login` and image references name it. */
  server: string;
  username: string;
  password: string;
  /** Its certificate (PEM), which is also its CA. */
  caPem: string;
  /** Where the registry keeps its blobs and repositories. */
  storageDir: string;
  /** Repository names in its storage, e.g. ["hello"] (sorted). */
  repositories(): Promise<string[]>;
  /** The requests it served so far, from its access log. */
  requests(): Promise<RegistryRequest[]>;
  /** The registry's own log (access and errors), for failure messages. */
  log(): Promise<string>;
  /**
   * Lets this machine's Podman trust it (/etc/containers/certs.d/SERVER/ca.crt); stop() removes
   * that again and logs Podman out of it.
   */
  trustLocally(): Promise<void>;
  /** Lets the Docker of a box trust it (/etc/docker/certs.d/SERVER/ca.crt in the box). */
  trustInBox(box: VpsBox): Promise<void>;
  /** Stops it and removes its files; safe to call more than once. */
  stop(): Promise<void>;
}

/** Whether this machine can run {@link startRegistry}: root, the registry, htpasswd, openssl. */
export function registryAvailable(): RigCheck {
  if (process.getuid?.() !== 0) return { ok: false, reason: "the throwaway registry needs root" };
  for (const [bin, pkg] of [
    [REGISTRY_BIN, "docker-registry"],
    [HTPASSWD_BIN, "apache2-utils"],
    [OPENSSL_BIN, "openssl"],
  ] as const) {
    if (!existsSync(bin)) return { ok: false, reason: `${bin} missing (apt package ${pkg})` };
  }
  if (bridgeGatewaySync() === undefined) {
    return { ok: false, reason: "podman's default network has no gateway address" };
  }
  return { ok: true };
}

/** The gateway address of podman's default bridge network ("podman"), e.g. 10.88.0.1. */
function bridgeGatewaySync(): string | undefined {
  const r = spawnSync("podman", ["network", "inspect", "podman"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.status !== 0) return undefined;
  try {
    const [network] = JSON.parse(r.stdout) as { subnets?: { gateway?: string }[] }[];
    return network?.subnets?.find((s) => s.gateway)?.gateway;
  } catch {
    return undefined;
  }
}

/** A TCP port on `address` that was free a moment ago (the OS picks it). */
function freePortOn(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, address, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** The HTTP status of GET /v2/ (401 without credentials), or undefined when nothing answers. */
function probe(address: string, port: number, ca: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host: address, port, path: "/v2/", method: "GET", ca, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

// The combined log format the registry writes for each request:
// 10.88.0.5 - - [22/Nov/2026:07:38:34 +0000] "GET /v2/ HTTP/1.1" 401 87 "" "docker/20.10"
const ACCESS_LINE = /^(\S+) \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) /;

/** Starts a throwaway registry with TLS and one htpasswd user, and waits until it answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const check = registryAvailable();
  if (!check.ok) throw new Error(`cannot start the registry: ${check.reason}`);
  const address = bridgeGatewaySync() as string;
  // Podman brings its bridge (and so this address) up with the first container on it and down
  // with the last: a box must be running before the registry can listen there.
  const assigned = Object.values(networkInterfaces()).some((list) =>
    list?.some((i) => i.address === address),
  );
  if (!assigned) {
    throw new Error(
      `cannot start the registry: ${address} (podman's bridge) is not up; start a VPS box first`,
    );
  }
  const username = opts.username ?? "slipway-test";
  const password = opts.password ?? `pw-${randomBytes(12).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "slipway-registry-"));
  const storageDir = join(dir, "storage");
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const htpasswdPath = join(dir, "htpasswd");
  const logPath = join(dir, "registry.log");
  const port = await freePortOn(address);
  const server = `${address}:${port}`;

  let child: ChildProcess | undefined;
  let trustedLocally = false;
  let stopped = false;
  const cleanupSync = () => {
    if (child?.pid !== undefined && child.exitCode === null) child.kill("SIGKILL");
    if (trustedLocally) {
      rmSync(join(PODMAN_CERTS, server), { recursive: true, force: true });
      spawnSync("podman", ["logout", server], { stdio: "ignore", timeout: 30_000 });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onProcessExit(cleanupSync);

  try {
    await mkdir(storageDir);
    await runOk(OPENSSL_BIN, [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      "/CN=slipway-test-registry",
      "-addext",
      `subjectAltName=IP:${address}`,
    ]);
    // -i: the password comes on stdin, never in this machine's process list.
    const hash = await runOk(HTPASSWD_BIN, ["-Bin", username], { input: password });
    await writeFile(htpasswdPath, hash, { mode: 0o600 });
    await writeFile(
      join(dir, "config.yml"),
      [
        "version: 0.1",
        "log:",
        "  level: info",
        "  accesslog:",
        "    disabled: false",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${storageDir}`,
        "http:",
        `  addr: ${server}`,
        `  secret: ${randomBytes(16).toString("hex")}`,
        "  tls:",
        `    certificate: ${certPath}`,
        `    key: ${keyPath}`,
        "auth:",
        "  htpasswd:",
        "    realm: slipway-test",
        `    path: ${htpasswdPath}`,
        "",
      ].join("\n"),
    );
    const logFd = openSync(logPath, "a");
    child = spawn(REGISTRY_BIN, ["serve", join(dir, "config.yml")], {
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    const caPem = await readFile(certPath, "utf8");
    const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      const status = await probe(address, port, caPem);
      if (status === 401) break;
      if (Date.now() > deadline) throw new Error(`no answer on ${server} (last: ${status})`);
      await sleep(100);
    }

    const registry: TestRegistry = {
      address,
      port,
      server,
      username,
      password,
      caPem,
      storageDir,
      async repositories() {
        const root = join(storageDir, "docker/registry/v2/repositories");
        if (!existsSync(root)) return [];
        const entries = await readdir(root, { recursive: true, withFileTypes: true });
        return entries
          .filter((e) => e.isDirectory() && e.name === "_manifests")
          .map((e) => relative(root, e.parentPath))
          .sort();
      },
      async requests() {
        return (await registry.log()).split("\n").flatMap((line) => {
          const m = ACCESS_LINE.exec(line);
          if (!m) return [];
          const [, client, method, path, status] = m as unknown as string[];
          return [
            {
              client: client ?? "",
              method: method ?? "",
              path: path ?? "",
              status: Number(status),
            },
          ];
        });
      },
      log: () => readFile(logPath, "utf8"),
      async trustLocally() {
        await mkdir(join(PODMAN_CERTS, server), { recursive: true });
        await writeFile(join(PODMAN_CERTS, server, "ca.crt"), caPem);
        trustedLocally = true;
      },
      async trustInBox(box) {
        const certsDir = `${DOCKER_CERTS}/${server}`;
        await box.exec(["mkdir", "-p", certsDir]);
        await box.exec(["sh", "-c", 'cat > "$1/ca.crt"', "sh", certsDir], { input: caPem });
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        const exited =
          child && child.exitCode === null
            ? new Promise((resolve) => child?.once("exit", resolve))
            : Promise.resolve();
        child?.kill("SIGTERM");
        await Promise.race([exited, sleep(5_000)]);
        if (trustedLocally) {
          await rm(join(PODMAN_CERTS, server), { recursive: true, force: true });
          await run("podman", ["logout", server]);
          trustedLocally = false;
        }
        cleanupSync();
        unregister();
      },
    };
    return registry;
  } catch (error) {
    const log = existsSync(logPath) ? await readFile(logPath, "utf8").catch(() => "") : "";
    cleanupSync();
    unregister();
    throw new Error(
      `throwaway registry on ${server}: ${(error as Error).message}${log ? `\n--- registry log ---\n${log.slice(-4000)}` : ""}`,
    );
  }
}
