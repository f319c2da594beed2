/**
 * This machine's nginx in the foreground with a test's prefix (its nginx.conf, pid, temporary
 * files), for integration tests of rendered HTTPS sites: start it, reload it, stop it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { applySteps } from "../../src/plan/index.ts";
import { type ProxyOptions, type ProxySite, planProxyFiles } from "../../src/proxy/index.ts";
import { LocalTransport } from "../../src/transport/index.ts";
import { onProcessExit, runOk } from "../rig/index.ts";
import { NGINX, nginxArgs } from "../unit/proxy/nginx-rig.ts";

/**
 * A site's proxy files in `prefix` as a deploy plans them, for an nginx on 127.0.0.1 at these
 * ports, its certificates and ACME webroot in `tlsDir` (made as on a host: the webroot open to
 * nginx's workers, the certificates root's; the folders above `prefix` must let them through).
 * The site's one upstream is 127.0.0.1:`ports.app`.
 */
export async function writeHttpsSite(
  prefix: string,
  tlsDir: string,
  site: ProxySite,
  ports: { http: number; https: number; app: number },
): Promise<ProxyOptions> {
  // nginx's workers (not root) read the temporary folders and the webroot.
  chmodSync(prefix, 0o755);
  mkdirSync(join(tlsDir, "webroot/.well-known/acme-challenge"), { recursive: true, mode: 0o755 });
  mkdirSync(join(tlsDir, "certs"), { mode: 0o700 });
  const options: ProxyOptions = {
    hostDir: prefix,
    confDir: prefix,
    tempDir: prefix,
    listenAddress: "127.0.0.1",
    listenPort: ports.http,
    tlsListenPort: ports.https,
    certsDir: join(tlsDir, "certs"),
    hostCertsDir: join(tlsDir, "certs"),
    webroot: join(tlsDir, "webroot"),
  };
  const target = { container: "127.0.0.1", port: ports.app };
  const upstream = `${site.site}-${site.role}`;
  await applySteps(
    new LocalTransport(),
    planProxyFiles([site], new Map([[upstream, target]]), options),
  );
  return options;
}

export interface LocalNginx {
  /** `nginx -s reload` (graceful); resolves once nginx took the signal. */
  reload(): Promise<void>;
  /** What nginx printed on stderr lately. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts nginx on `prefix/nginx.conf`; resolves once `ready()` does. */
export async function startLocalNginx(
  prefix: string,
  ready: () => Promise<unknown>,
): Promise<LocalNginx> {
  // The access log goes to nginx's stdout (/dev/stdout), here a file; a socket would not do.
  const accessLog = openSync(join(prefix, "access.log"), "a");
  const nginx: ChildProcess = spawn(NGINX, nginxArgs(prefix), {
    stdio: ["ignore", accessLog, "pipe"],
  });
  closeSync(accessLog);
  const unregister = onProcessExit(() => nginx.kill("SIGTERM"));
  let stderr = "";
  nginx.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = `${stderr}${d}`.slice(-20_000);
  });
  const handle: LocalNginx = {
    reload: async () => {
      await runOk(NGINX, [...nginxArgs(prefix), "-s", "reload"]);
    },
    stderr: () => stderr,
    stop: async () => {
      if (nginx.exitCode === null) {
        const exited = new Promise((resolve) => nginx.once("exit", resolve));
        nginx.kill("SIGTERM");
        await Promise.race([exited, sleep(5_000)]);
      }
      unregister();
    },
  };
  for (let attempt = 0; ; attempt++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await ready();
      return handle;
    } catch (error) {
      if (attempt >= 50) {
        await handle.stop();
        throw new Error(`nginx never answered: ${String(error)}\n${stderr}`);
      }
      await sleep(100);
    }
  }
}
