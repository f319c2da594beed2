/**
 * A throwaway OpenSSH server on 127.0.0.1, run as this (root) user from a temp dir with its own
 * host key, config and authorized_keys. For tests of the SSH transport against a real sshd.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { makeKeyPair } from "./keys.ts";
import { freePort, waitForSshBanner } from "./net.ts";
import { onProcessExit, pidAlive, type RigCheck } from "./proc.ts";
import type { SshTarget } from "./ssh.ts";

const SSHD = "/usr/sbin/sshd";
const SETPRIV = "/usr/bin/setpriv";

/** Options for {@link startSshd}. */
export interface SshdOptions {
  /** More public key lines to accept besides the generated client key. */
  authorizedKeys?: string[];
  /** More sshd_config lines, put first so they win over the defaults (sshd keeps a keyword's first value); no Match blocks. */
  extraConfig?: string[];
  /** How long to wait for the banner; default 15 s. */
  startTimeoutMs?: number;
}

/** A running throwaway sshd. */
export interface Sshd extends SshTarget {
  host: "127.0.0.1";
  user: "root";
  /** The server's temp dir (config, keys, authorized_keys). */
  dir: string;
  /** Private host key path. */
  hostKeyPath: string;
  /** The host's public key line ("ssh-ed25519 AAAA... comment"); changes after restart({ newHostKey: true }). */
  hostPublicKey: string;
  /** Path of the authorized_keys file sshd reads. */
  authorizedKeysPath: string;
  /** The server's line for an OpenSSH known_hosts file: "[127.0.0.1]:PORT ssh-ed25519 AAAA...". */
  knownHostsLine(): string;
  /** Stops sshd and its sessions and removes the temp dir; safe to call more than once. */
  stop(): Promise<void>;
  /** Stops and starts sshd again on the same port, with a freshly generated host key if asked. */
  restart(opts?: { newHostKey: boolean }): Promise<void>;
  /**
   * Kills every open connection (the per-connection sshd processes and what they run) while
   * the server keeps listening: a dropped network, as the client sees it. Returns how many.
   */
  dropConnections(): number;
}

/** Whether this machine can run {@link startSshd}: root, sshd and ssh-keygen installed. */
export function sshdAvailable(): RigCheck {
  if (process.getuid?.() !== 0) return { ok: false, reason: "the throwaway sshd needs root" };
  if (!existsSync(SSHD)) return { ok: false, reason: `${SSHD} missing (run rig/install.sh)` };
  if (!existsSync("/usr/bin/ssh-keygen")) {
    return { ok: false, reason: "ssh-keygen missing (run rig/install.sh)" };
  }
  return { ok: true };
}

/** PIDs of the direct children of pid (sshd forks one per connection, each in its own session). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Sends signal to a process and all its descendants now; returns their pids (sync, for exit handlers too). */
function killTree(pid: number, signal: NodeJS.Signals): number[] {
  const pids = [pid];
  for (const child of childrenOf(pid)) pids.push(...killTree(child, signal));
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
  return pids;
}

/** Whether sshd may log root in with UsePAM no: OpenSSH refuses accounts whose password is locked ("!"). */
function rootPasswordLocked(): boolean {
  try {
    const line = readFileSync("/etc/shadow", "utf8")
      .split("\n")
      .find((l) => l.startsWith("root:"));
    return line?.split(":")[1]?.startsWith("!") ?? false;
  } catch {
    return false;
  }
}

/** Starts a throwaway OpenSSH server on 127.0.0.1 on a free port, accepting a generated client key as root. */
export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const check = sshdAvailable();
  if (!check.ok) throw new Error(`cannot start sshd: ${check.reason}`);
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), "slipway-sshd-"));
  const hostKeyPath = join(dir, "ssh_host_ed25519_key");
  const configPath = join(dir, "sshd_config");
  const authorizedKeysPath = join(dir, "authorized_keys");
  const port = await freePort();
  const client = await makeKeyPair(dir, "client_ed25519", "slipway-rig-client");
  await makeKeyPair(dir, "ssh_host_ed25519_key", "slipway-rig-host");
  await writeFile(
    authorizedKeysPath,
    `${[client.publicKeyLine, ...(opts.authorizedKeys ?? [])].join("\n")}\n`,
    { mode: 0o600 },
  );
  const config = [
    ...(opts.extraConfig ?? []),
    "ListenAddress 127.0.0.1",
    `Port ${port}`,
    `HostKey ${hostKeyPath}`,
    `AuthorizedKeysFile ${authorizedKeysPath}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    `PidFile ${join(dir, "sshd.pid")}`,
    // OpenSSH without PAM refuses a locked ("!") root account even for keys; PAM does not.
    `UsePAM ${rootPasswordLocked() ? "yes" : "no"}`,
    "StrictModes no",
    "MaxSessions 20",
    "LogLevel ERROR",
    "Subsystem sftp internal-sftp",
  ];
  await writeFile(configPath, `${config.join("\n")}\n`, { mode: 0o600 });

  let child: ChildProcess | undefined;
  let stderr = "";
  let exited: string | undefined;
  let stopped = false;

  const killNow = () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      killTree(child.pid, "SIGKILL");
    }
  };
  const unregister = onProcessExit(() => {
    killNow();
    rmSync(dir, { recursive: true, force: true });
  });

  const launch = async () => {
    stderr = "";
    exited = undefined;
    const argv = [SSHD, "-D", "-e", "-f", configPath];
    // setpriv --pdeathsig: sshd dies with this process even when it is SIGKILLed.
    const [program, ...args] = existsSync(SETPRIV)
      ? [SETPRIV, "--pdeathsig", "KILL", "--", ...argv]
      : argv;
    const proc = spawn(program as string, args, { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-8_000);
    });
    proc.on("error", (e) => {
      exited = `could not spawn: ${e.message}`;
    });
    proc.on("exit", (code, signal) => {
      exited = `sshd exited (${signal ?? `code ${code}`}): ${stderr.trim()}`;
    });
    await waitForSshBanner("127.0.0.1", port, opts.startTimeoutMs ?? 15_000, () => exited);
  };

  const halt = async () => {
    const proc = child;
    if (proc?.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = once(proc, "exit");
    const pids = killTree(proc.pid, "SIGTERM");
    const timer = setTimeout(() => killNow(), 5_000);
    await gone;
    clearTimeout(timer);
    // Sessions forked before the stop end on their own SIGTERM; give them a moment.
    for (let i = 0; i < 50 && pids.some(pidAlive); i++) await sleep(20);
    for (const pid of pids.filter(pidAlive)) killTree(pid, "SIGKILL");
  };

  const server: Sshd = {
    host: "127.0.0.1",
    port,
    user: "root",
    clientKey: client.privateKey,
    dir,
    hostKeyPath,
    hostPublicKey: (await readFile(`${hostKeyPath}.pub`, "utf8")).trim(),
    authorizedKeysPath,
    dropConnections() {
      const listener = child?.pid;
      if (listener === undefined) return 0;
      // setpriv execs sshd, so the listener's direct children are its per-connection processes.
      const sessions = childrenOf(listener);
      for (const pid of sessions) killTree(pid, "SIGKILL");
      return sessions.length;
    },
    knownHostsLine() {
      const [type, key] = server.hostPublicKey.split(" ");
      return `[127.0.0.1]:${port} ${type} ${key}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      unregister();
      await rm(dir, { recursive: true, force: true });
    },
    async restart(restartOpts = { newHostKey: false }) {
      if (stopped) throw new Error("sshd was stopped; start a new one");
      await halt();
      if (restartOpts.newHostKey) {
        await makeKeyPair(dir, "ssh_host_ed25519_key", "slipway-rig-host");
        server.hostPublicKey = (await readFile(`${hostKeyPath}.pub`, "utf8")).trim();
      }
      await launch();
    },
  };

  try {
    await launch();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
