/**
 * "VPS in a box": a container running systemd as PID 1 and sshd, built by rig/install.sh from
 * rig/images/vps/Containerfile. A fresh Debian 12 server nobody prepared (no Docker), reached
 * over SSH on a loopback port, like a new VPS.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { makeKeyPair } from "./keys.ts";
import { freePort, waitForSshBanner } from "./net.ts";
import { onProcessExit, pidAlive, type RigCheck, run, runOk } from "./proc.ts";
import type { SshTarget } from "./ssh.ts";

/** The image rig/install.sh builds; keep its tag in step with VPS_IMAGE there. */
export const VPS_IMAGE = "localhost/slipway-vps:1";
/** Label on every box container, valued with the pid of the process that started it. */
const OWNER_LABEL = "slipway.rig.owner-pid";

/** Options for {@link startVpsBox}. */
export interface VpsBoxOptions {
  /** Image to run; default {@link VPS_IMAGE}. */
  image?: string;
  /** Container ports to publish on 127.0.0.1 besides 22 (found in `ports`). */
  publish?: number[];
  /** How long to wait for systemd and sshd; default 120 s. */
  bootTimeoutMs?: number;
  /**
   * Extra anonymous volumes (paths in the box), removed with it. An engine inside the box needs
   * its storage on one (overlay on overlay is refused): `/var/lib/docker` always is; Podman's
   * `/var/lib/containers` is added by tests of Podman hosts.
   */
  volumes?: string[];
}

/** A running box. */
export interface VpsBox extends SshTarget {
  /** The container's name ("slipway-test-vps-<random>"). */
  name: string;
  host: "127.0.0.1";
  user: "root";
  /** Host port on 127.0.0.1 for each published container port (22 included). */
  ports: Record<number, number>;
  /** Runs argv inside the box (podman exec, as root) and resolves with stdout; rejects unless exit 0. */
  exec(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** The last lines of the container's console log (systemd's boot messages). */
  logs(lines?: number): Promise<string>;
  /**
   * Shuts the box down cleanly (systemd stops every service, as on `reboot`) and boots it again
   * on the same disk, volumes and ports; resolves once systemd and sshd are up.
   */
  reboot(): Promise<void>;
  /** Removes the container at once (no shutdown wait); safe to call more than once. */
  stop(): Promise<void>;
}

/** Whether this machine can run {@link startVpsBox}: root, podman and the box image present. */
export function rigAvailable(image: string = VPS_IMAGE): RigCheck {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: "the VPS box needs root (rootful podman)" };
  const r = spawnSync("podman", ["image", "exists", image], { stdio: "ignore", timeout: 30_000 });
  if (r.error) return { ok: false, reason: `podman is not usable: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `image ${image} is missing` };
  return { ok: true };
}

// --volumes: the anonymous /var/lib/docker volume goes with the box (--rm alone does not remove
// it when the container is removed with `podman rm`).
function removeContainerSync(name: string): void {
  spawnSync("podman", ["rm", "--force", "--volumes", "--time", "0", name], {
    stdio: "ignore",
    timeout: 60_000,
  });
}

/** Removes boxes left behind by test processes that died without cleaning up (SIGKILL, OOM). */
async function sweepOrphans(): Promise<void> {
  const r = await run("podman", [
    "ps",
    "--all",
    "--filter",
    `label=${OWNER_LABEL}`,
    "--format",
    `{{.Names}} {{index .Labels "${OWNER_LABEL}"}}`,
  ]);
  if (r.code !== 0) return;
  const orphans = r.stdout
    .split("\n")
    .map((l) => l.trim().split(" "))
    .filter(([name, pid]) => name && pid && !pidAlive(Number(pid)))
    .map(([name]) => name as string);
  if (orphans.length > 0)
    await run("podman", ["rm", "--force", "--volumes", "--time", "0", ...orphans]);
}

/** Boots a fresh VPS box, lets a generated client key log in as root, and waits for systemd and sshd. */
export async function startVpsBox(opts: VpsBoxOptions = {}): Promise<VpsBox> {
  const image = opts.image ?? VPS_IMAGE;
  const check = rigAvailable(image);
  if (!check.ok)
    throw new Error(`test rig not available: ${check.reason} (run rig/install.sh as root)`);
  await sweepOrphans();

  const name = `slipway-test-vps-${randomBytes(5).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "slipway-vps-"));
  const client = await makeKeyPair(dir, "client_ed25519", `slipway-rig-client@${name}`);
  const ports: Record<number, number> = {};
  for (const p of [22, ...(opts.publish ?? [])]) ports[p] = await freePort();

  let stopped = false;
  const unregister = onProcessExit(() => {
    removeContainerSync(name);
    rmSync(dir, { recursive: true, force: true });
  });

  const exec = (argv: readonly string[], o: { input?: string; timeoutMs?: number } = {}) =>
    runOk("podman", ["exec", ...(o.input === undefined ? [] : ["-i"]), name, ...argv], o);
  const logs = async (lines = 60) => {
    const r = await run("podman", ["logs", "--tail", String(lines), name]);
    return (r.stdout + r.stderr).trim() || "(no log: the container is gone)";
  };

  /** Waits until systemd has booted and sshd answers, or throws saying which did not. */
  const booted = async (timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let state = "";
    for (;;) {
      const r = await run("podman", ["exec", name, "systemctl", "is-system-running"]);
      state = r.stdout.trim();
      if (state === "running" || state === "degraded") break;
      if (r.code !== 0 && !state) {
        const running = await run("podman", ["inspect", "--format", "{{.State.Running}}", name]);
        if (running.stdout.trim() !== "true") throw new Error("the container exited while booting");
      }
      if (Date.now() >= deadline)
        throw new Error(`systemd did not finish booting (state: ${state || "unknown"})`);
      await sleep(250);
    }
    await waitForSshBanner("127.0.0.1", box.port, Math.max(5_000, deadline - Date.now()));
  };

  const box: VpsBox = {
    name,
    host: "127.0.0.1",
    port: ports[22] as number,
    user: "root",
    clientKey: client.privateKey,
    ports,
    exec,
    logs,
    async reboot() {
      // The image's STOPSIGNAL (SIGRTMIN+3) is systemd's "shut down"; then a boot on the same disk.
      await runOk("podman", ["restart", "--time", "120", name], { timeoutMs: 240_000 });
      await booted(opts.bootTimeoutMs ?? 120_000);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await run("podman", ["rm", "--force", "--volumes", "--time", "0", name]);
      unregister();
      await rm(dir, { recursive: true, force: true });
    },
  };

  const fail = async (what: string): Promise<never> => {
    const tail = await logs();
    await box.stop();
    throw new Error(`VPS box ${name}: ${what}\n--- podman logs (tail) ---\n${tail}`);
  };

  const runArgs = [
    "run",
    "--detach",
    // No --rm: a reboot stops the container and starts it again. stop() and the sweep of
    // orphans remove it (with its volumes) instead.
    "--name",
    name,
    "--label",
    `${OWNER_LABEL}=${process.pid}`,
    "--privileged",
    "--cgroupns=host",
    "--volume",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    // An anonymous volume (removed with the box, see removeContainerSync): Docker inside then uses overlay2 on it
    // instead of falling back to vfs (overlay on overlay is refused), which copies every layer.
    "--volume",
    "/var/lib/docker",
    ...(opts.volumes ?? []).flatMap((path) => ["--volume", path]),
    "--systemd=always",
    ...Object.entries(ports).flatMap(([inner, outer]) => [
      "--publish",
      `127.0.0.1:${outer}:${inner}`,
    ]),
    image,
  ];
  const started = await run("podman", runArgs, { timeoutMs: 120_000 });
  if (started.code !== 0) await fail(`podman run failed: ${started.stderr.trim()}`);

  try {
    await exec(
      ["sh", "-c", "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys"],
      {
        input: `${client.publicKeyLine}\n`,
      },
    );
    await exec(["chmod", "700", "/root/.ssh"]);
    await exec(["chmod", "600", "/root/.ssh/authorized_keys"]);
  } catch (err) {
    await fail(`could not install the client key: ${(err as Error).message}`);
  }

  try {
    await booted(opts.bootTimeoutMs ?? 120_000);
  } catch (err) {
    await fail((err as Error).message);
  }
  return box;
}
