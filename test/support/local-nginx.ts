/**
 * This machine's nginx in the foreground with a test's prefix (its nginx.conf, pid, temporary
 * files), for integration tests of rendered HTTPS sites: start it, reload it, stop it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { onProcessExit, runOk } from "../rig/index.ts";
import { NGINX, nginxArgs } from "../unit/proxy/nginx-rig.ts";

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
