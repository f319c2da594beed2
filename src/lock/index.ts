/**
 * The deploy lock: one per app and environment, on the app's primary host, so two teammates (or
 * CI and a teammate) never deploy at once. `mkdir` is atomic on every filesystem, so taking the
 * lock is a single command. The holder keeps a heartbeat; a lock whose holder died (same machine
 * and its process is gone, or no heartbeat for LOCK_STALE_MS) is visibly stale and taken over.
 */
import { hostname, userInfo } from "node:os";
import { LockedError } from "../errors/index.ts";
import type { Transport } from "../transport/index.ts";

export const LOCK_HEARTBEAT_MS = 10_000;
export const LOCK_STALE_MS = 60_000;

export interface LockHolder {
  /** Who: the local user name (and git user when known). */
  user: string;
  /** The machine the holder runs on. */
  machine: string;
  pid: number;
  /** ISO time the lock was taken. */
  since: string;
  message: string;
  /** Taken by `slipway lock acquire`: held until released by hand, never stale. */
  manual?: boolean;
}

export interface LockStatus {
  held: boolean;
  holder?: LockHolder;
  /** Milliseconds since the holder's last heartbeat. */
  heartbeatAgeMs?: number;
  stale?: boolean;
  /** Why it is stale, for people. */
  staleReason?: string;
}

/** The lock folder of an app (site = service plus -environment). */
export function lockPath(site: string): string {
  return `/var/lib/slipway/${site}/lock`;
}

/** Who is asking, as recorded in the lock and the release log. */
export function currentHolder(message: string): LockHolder {
  return {
    user: process.env.SLIPWAY_USER ?? userInfo().username,
    machine: hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    message,
  };
}

// Takes the lock: mkdir fails if it exists. The holder record arrives on stdin.
const ACQUIRE =
  'mkdir -p -- "$(dirname -- "$1")" && mkdir -m 700 -- "$1" 2>/dev/null && cat > "$1/holder.json"';
// Prints the holder record and the age of its heartbeat in seconds; exit 3 when not held.
const STATUS =
  '[ -d "$1" ] || exit 3; cat -- "$1/holder.json" 2>/dev/null || echo "{}"; echo; echo $(( $(date +%s) - $(stat -c %Y -- "$1/holder.json" 2>/dev/null || stat -c %Y -- "$1") ))';

/** Reads the lock's state on the host. */
export async function lockStatus(transport: Transport, site: string): Promise<LockStatus> {
  const result = await transport.run(["sh", "-c", STATUS, "sh", lockPath(site)], { check: false });
  if (result.code === 3) return { held: false };
  const [json = "{}", age = "0"] = result.stdout.trim().split("\n");
  let holder: LockHolder | undefined;
  try {
    holder = JSON.parse(json) as LockHolder;
  } catch {
    holder = undefined;
  }
  const heartbeatAgeMs = Number(age) * 1000;
  const status: LockStatus = { held: true, heartbeatAgeMs };
  if (holder?.since) status.holder = holder;
  const reason = staleReason(holder, heartbeatAgeMs);
  status.stale = reason !== undefined;
  if (reason) status.staleReason = reason;
  return status;
}

function staleReason(holder: LockHolder | undefined, ageMs: number): string | undefined {
  if (!holder?.since) return "it records no holder";
  if (holder.manual) return undefined;
  if (holder.machine === hostname() && holder.pid !== process.pid && !processAlive(holder.pid)) {
    return `process ${holder.pid} on ${holder.machine} is gone`;
  }
  if (ageMs > LOCK_STALE_MS) return `no heartbeat for ${Math.round(ageMs / 1000)}s`;
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A held lock: keep it alive with its heartbeat, release it when done. */
export interface HeldLock {
  release(): Promise<void>;
  /** Set when a stale lock was taken over, to tell the user. */
  tookOver?: LockStatus;
}

/**
 * Takes the lock or throws LockedError naming the holder. A stale lock is taken over (the caller
 * is told through `tookOver`, and `warn` says whose it was). With `heartbeat`, the record is
 * touched until release.
 */
export async function acquireLock(
  transport: Transport,
  site: string,
  message: string,
  options: {
    heartbeat?: boolean;
    heartbeatMs?: number;
    manual?: boolean;
    warn?: (message: string) => void;
  } = {},
): Promise<HeldLock> {
  const path = lockPath(site);
  const holder = { ...currentHolder(message), ...(options.manual ? { manual: true } : {}) };
  let tookOver: LockStatus | undefined;
  let taken = await tryTake(transport, path, holder);
  if (!taken) {
    const status = await lockStatus(transport, site);
    if (!status.held) {
      taken = await tryTake(transport, path, holder); // released in between
    } else if (status.stale) {
      await transport.run(["rm", "-rf", "--", path]);
      taken = await tryTake(transport, path, holder);
      tookOver = status;
      if (taken)
        options.warn?.(
          `took over a stale lock of ${describeHolder(status.holder)} (${status.staleReason})`,
        );
    }
    if (!taken) throw lockedError(site, status);
  }

  let timer: NodeJS.Timeout | undefined;
  if (options.heartbeat) {
    timer = setInterval(() => {
      transport.run(["touch", "--", `${path}/holder.json`], { check: false }).catch(() => {});
    }, options.heartbeatMs ?? LOCK_HEARTBEAT_MS);
    timer.unref();
  }
  const held: HeldLock = {
    release: async () => {
      if (timer) clearInterval(timer);
      timer = undefined;
      await releaseLock(transport, site);
    },
  };
  if (tookOver) held.tookOver = tookOver;
  return held;
}

async function tryTake(transport: Transport, path: string, holder: LockHolder): Promise<boolean> {
  const result = await transport.run(["sh", "-c", ACQUIRE, "sh", path], {
    stdin: JSON.stringify(holder),
    check: false,
  });
  return result.code === 0;
}

/**
 * Throws LockedError naming the holder when the lock is held now (a stale one is nobody's): for
 * work that must not start during a deploy, before it takes the lock itself.
 */
export async function assertUnlocked(transport: Transport, site: string): Promise<void> {
  const status = await lockStatus(transport, site);
  if (status.held && !status.stale) throw lockedError(site, status);
}

/** Removes the lock whoever holds it. */
export async function releaseLock(transport: Transport, site: string): Promise<void> {
  await transport.run(["rm", "-rf", "--", lockPath(site)]);
}

/** Describes a holder for people: "alice on laptop (pid 42) since 10:02:03: deploying v2". */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "an unknown holder";
  return `${holder.user} on ${holder.machine} (pid ${holder.pid}) since ${holder.since}${holder.message ? `: ${holder.message}` : ""}`;
}

function lockedError(site: string, status: LockStatus): LockedError {
  return new LockedError(
    `${site} is locked by ${describeHolder(status.holder)}.`,
    "Wait for that deploy to finish. If it is gone for good, run `slipway lock release` (it is taken over automatically once its heartbeat is a minute old).",
  );
}
