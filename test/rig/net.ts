/** Network helpers for the test rig: free loopback ports and waiting for an SSH server. */
import { createConnection, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** Reads the first line a server sends on host:port, or rejects on error, close or timeout. */
export function readBanner(host: string, port: number, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    let buf = "";
    const done = (err: Error | null, line?: string) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(line ?? "");
    };
    sock.setTimeout(timeoutMs, () =>
      done(new Error(`no banner from ${host}:${port} in ${timeoutMs} ms`)),
    );
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(null, buf.slice(0, nl).replace(/\r$/, ""));
    });
    sock.on("error", (e) => done(e));
    sock.on("close", () =>
      done(new Error(`${host}:${port} closed before a full banner: ${JSON.stringify(buf)}`)),
    );
  });
}

/**
 * Waits until host:port answers with an "SSH-2.0-" banner and returns it; rejects after
 * timeoutMs with the last error, or at once when `abort()` (checked between tries) says why.
 */
export async function waitForSshBanner(
  host: string,
  port: number,
  timeoutMs = 30_000,
  abort?: () => string | undefined,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "no attempt";
  for (;;) {
    const why = abort?.();
    if (why) throw new Error(`gave up waiting for SSH on ${host}:${port}: ${why}`);
    try {
      const line = await readBanner(host, port);
      if (line.startsWith("SSH-2.0-")) return line;
      last = `unexpected banner ${JSON.stringify(line)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `no SSH-2.0 banner on ${host}:${port} within ${timeoutMs} ms (last: ${last})`,
      );
    }
    await sleep(200);
  }
}
