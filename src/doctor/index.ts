/**
 * `slipway doctor`: proves that Slipway can work on each host before anything is changed there.
 * Every check runs a real command through the same transport a deploy uses.
 */
import { randomBytes } from "node:crypto";
import {
  type HostOutcome,
  onHosts,
  renderCommand,
  SshTransport,
  type Transport,
} from "../transport/index.ts";
import { HOSTILE_VALUES } from "./hostile-values.ts";

export { HOSTILE_VALUES } from "./hostile-values.ts";

export type CheckStatus = "ok" | "warn" | "fail";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface HostReport {
  host: string;
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  hosts: readonly string[];
  transportFor: (host: string) => Transport;
  /** Hosts checked at once. */
  limit: number;
}

/** Runs every check on every host; a host that cannot be reached gets one failed check. */
export async function runDoctor(options: DoctorOptions): Promise<HostReport[]> {
  const outcomes = await onHosts(options.hosts, (host) => checkHost(options.transportFor(host)), {
    limit: options.limit,
  });
  return outcomes.map(toReport);
}

function toReport(outcome: HostOutcome<DoctorCheck[]>): HostReport {
  if (outcome.status === "ok") return { host: outcome.host, checks: outcome.value };
  const error = outcome.status === "failed" ? outcome.error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const hint = (error as { hint?: string } | undefined)?.hint;
  return {
    host: outcome.host,
    checks: [{ name: "connect", status: "fail", detail: hint ? `${message} (${hint})` : message }],
  };
}

async function checkHost(transport: Transport): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  // Connecting first makes an unreachable host one clear failure, not eight.
  checks.push(await connectCheck(transport));
  for (const check of [systemCheck, quotingCheck, uploadCheck, streamCheck, privilegeCheck]) {
    checks.push(await guarded(check.name.replace(/Check$/, ""), () => check(transport)));
  }
  checks.push(await guarded("engine", () => engineCheck(transport)));
  checks.push(await guarded("resources", () => resourcesCheck(transport)));
  return checks;
}

async function guarded(name: string, check: () => Promise<DoctorCheck>): Promise<DoctorCheck> {
  try {
    return await check();
  } catch (error) {
    return { name, status: "fail", detail: error instanceof Error ? error.message : String(error) };
  }
}

async function connectCheck(transport: Transport): Promise<DoctorCheck> {
  if (!(transport instanceof SshTransport)) {
    return { name: "connect", status: "ok", detail: "this machine (no SSH)" };
  }
  const info = await transport.connect();
  const { user, hostname, port } = info.target;
  const pinned = info.hostKey === "pinned" ? ", pinned now" : ", matches the pinned key";
  return {
    name: "connect",
    status: "ok",
    detail: `${user}@${hostname}:${port} in ${info.connectMs}ms, ${info.serverVersion}, ${info.hostKeyType} ${info.hostKeyFingerprint}${pinned}, authenticated with ${info.authenticatedWith}`,
  };
}

async function systemCheck(transport: Transport): Promise<DoctorCheck> {
  const kernel = (await transport.run(["uname", "-srm"])).stdout.trim();
  const osRelease = (await transport.readFile("/etc/os-release")).toString("utf8");
  const field = (key: string) =>
    osRelease.match(new RegExp(`^${key}="?([^"\\n]*)"?$`, "m"))?.[1] ?? "";
  const id = field("ID");
  const supported = id === "debian" || id === "ubuntu";
  return {
    name: "system",
    status: supported ? "ok" : "warn",
    detail: `${field("PRETTY_NAME") || "unknown system"}, ${kernel}${supported ? "" : " (Slipway sets up Debian and Ubuntu hosts; others may need manual steps)"}`,
  };
}

async function quotingCheck(transport: Transport): Promise<DoctorCheck> {
  const { stdout } = await transport.run(["printf", "%s\\0", ...HOSTILE_VALUES]);
  const received = stdout.split("\0").slice(0, -1);
  const changed = HOSTILE_VALUES.filter((value, index) => received[index] !== value);
  if (changed.length > 0 || received.length !== HOSTILE_VALUES.length) {
    return {
      name: "quoting",
      status: "fail",
      detail: `the remote shell changed ${changed.length} of ${HOSTILE_VALUES.length} values (first: ${JSON.stringify(changed[0])}); its login shell may not be POSIX`,
    };
  }
  return {
    name: "quoting",
    status: "ok",
    detail: `${HOSTILE_VALUES.length} hostile values (quotes, $(), backticks, newlines, globs, unicode) arrived unchanged`,
  };
}

async function uploadCheck(transport: Transport): Promise<DoctorCheck> {
  const dir = (await transport.run(["mktemp", "-d", "/tmp/slipway-doctor.XXXXXX"])).stdout.trim();
  try {
    const path = `${dir}/probe 'quoted' $(name).env`;
    const content = randomBytes(48 * 1024);
    await transport.upload(path, content, { mode: 0o600 });
    const stat = (await transport.run(["stat", "-c", "%a %U:%G %s", "--", path])).stdout.trim();
    const back = await transport.readFile(path);
    const [mode] = stat.split(" ");
    if (mode !== "600" || !back.equals(content)) {
      return {
        name: "upload",
        status: "fail",
        detail: `wrote mode 0600, found "${stat}"; content ${back.equals(content) ? "identical" : "differs"}`,
      };
    }
    return {
      name: "upload",
      status: "ok",
      detail: `48 KiB written atomically with mode 0600 (${stat.split(" ")[1]}), read back identical`,
    };
  } finally {
    await transport.run(["rm", "-rf", "--", dir], { check: false });
  }
}

async function streamCheck(transport: Transport): Promise<DoctorCheck> {
  const started = performance.now();
  let firstLineMs: number | undefined;
  await transport.run(["sh", "-c", "echo one; sleep 0.5; echo two"], {
    onStdout: () => {
      firstLineMs ??= performance.now() - started;
    },
  });
  const totalMs = performance.now() - started;
  const streamed = firstLineMs !== undefined && firstLineMs < totalMs - 300;
  return {
    name: "stream",
    status: streamed ? "ok" : "fail",
    detail: streamed
      ? `first line after ${Math.round(firstLineMs ?? 0)}ms, command done after ${Math.round(totalMs)}ms`
      : "output arrived only when the command ended (something buffers it)",
  };
}

async function privilegeCheck(transport: Transport): Promise<DoctorCheck> {
  // The transport adds `sudo -n` for non-root users, so `id -u` says whether that works.
  const result = await transport.run(["id", "-u"], { check: false });
  if (result.code === 0 && result.stdout.trim() === "0") {
    return { name: "privilege", status: "ok", detail: "commands run as root" };
  }
  return {
    name: "privilege",
    status: "fail",
    detail: `cannot run commands as root (${result.stderr.trim() || `uid ${result.stdout.trim()}`})`,
  };
}

async function engineCheck(transport: Transport): Promise<DoctorCheck> {
  const found = await transport.run(
    ["sh", "-c", "for e in docker podman; do command -v $e >/dev/null && echo $e; done; true"],
    { check: false },
  );
  const engines = found.stdout.split("\n").filter(Boolean);
  if (engines.length === 0) {
    return {
      name: "engine",
      status: "warn",
      detail: "no container engine yet (server bootstrap installs Docker)",
    };
  }
  const engine = engines[0] as string;
  const version = await transport.run([engine, "--version"], { check: false });
  return { name: "engine", status: "ok", detail: version.stdout.trim() || engine };
}

async function resourcesCheck(transport: Transport): Promise<DoctorCheck> {
  const cpus = (await transport.run(["nproc"])).stdout.trim();
  const meminfo = (await transport.readFile("/proc/meminfo")).toString("utf8");
  const memKb = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const df = (await transport.run(["df", "-Pk", "/"])).stdout.trim().split("\n").at(-1) ?? "";
  const freeKb = Number(df.split(/\s+/)[3] ?? 0);
  const gib = (kb: number) => `${(kb / 1024 / 1024).toFixed(1)} GiB`;
  const low = freeKb < 2 * 1024 * 1024;
  return {
    name: "resources",
    status: low ? "warn" : "ok",
    detail: `${cpus} CPUs, ${gib(memKb)} memory, ${gib(freeKb)} free on /${low ? " (under 2 GiB: images and backups need room)" : ""}`,
  };
}

/** Formats reports for people: one line per check, hosts aligned. */
export function formatDoctorReport(reports: readonly HostReport[]): string {
  const symbol: Record<CheckStatus, string> = { ok: "✓", warn: "!", fail: "✗" };
  const width = Math.max(...reports.map((r) => r.host.length));
  const nameWidth = Math.max(...reports.flatMap((r) => r.checks.map((c) => c.name.length)));
  const lines: string[] = [];
  for (const report of reports) {
    report.checks.forEach((check, index) => {
      const host = index === 0 ? report.host : "";
      lines.push(
        `${host.padEnd(width)}  ${symbol[check.status]} ${check.name.padEnd(nameWidth)}  ${check.detail}`,
      );
    });
  }
  return lines.join("\n");
}

/** Renders the exact command doctor uses to test quoting, for documentation and tests. */
export function quotingProbe(): string {
  return renderCommand(["printf", "%s\\0", ...HOSTILE_VALUES]);
}
