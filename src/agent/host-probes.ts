/**
 * The host's CPU, memory, disk and load, read from /proc and statfs. In the agent's container
 * these are the host's own: /proc/stat, /proc/meminfo and /proc/loadavg are not namespaced, and
 * the disk is the filesystem of a folder the container mounts from the host.
 */
import { readFileSync, statfsSync } from "node:fs";
import type { CheckConfig } from "./config.ts";
import type { ProbeResult } from "./probes.ts";

type HostCheck = Extract<CheckConfig, { kind: "host" }>;

interface CpuSample {
  busy: number;
  total: number;
}

// CPU is a rate: each check keeps its previous sample (the first run measures over 1 s).
const lastCpu = new Map<string, CpuSample>();

function cpuSample(): CpuSample {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, ...fields] = line.trim().split(/\s+/);
  const values = fields.map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0); // without guest time, counted in user
  return { busy: total - idle, total };
}

async function cpuPercent(check: string): Promise<number> {
  let before = lastCpu.get(check);
  if (!before) {
    before = cpuSample();
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const now = cpuSample();
  lastCpu.set(check, now);
  const total = now.total - before.total;
  return total <= 0 ? 0 : ((now.busy - before.busy) / total) * 100;
}

function memoryPercent(): number {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  const total = kb("MemTotal");
  return total === 0 ? 0 : ((total - kb("MemAvailable")) / total) * 100;
}

function diskPercent(path: string): number {
  const stats = statfsSync(path);
  // Used as df shows it: of the blocks an unprivileged process may use.
  const used = stats.blocks - stats.bfree;
  const usable = used + stats.bavail;
  return usable === 0 ? 0 : (used / usable) * 100;
}

function loadPerCore(): number {
  const load = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  const cores = (readFileSync("/proc/stat", "utf8").match(/^cpu\d+ /gm) ?? []).length || 1;
  return load / cores;
}

export async function probeHost(check: HostCheck): Promise<ProbeResult> {
  const started = performance.now();
  let value: number;
  try {
    switch (check.metric) {
      case "cpu":
        value = await cpuPercent(check.name);
        break;
      case "memory":
        value = memoryPercent();
        break;
      case "disk":
        value = diskPercent(check.path);
        break;
      case "load":
        value = loadPerCore();
        break;
    }
  } catch (error) {
    const detail = `${check.metric}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    return { ok: false, ms: Math.round(performance.now() - started), detail };
  }
  const shown =
    check.metric === "load"
      ? `load ${value.toFixed(2)} per core`
      : `${check.metric} ${value.toFixed(1)}%${check.metric === "disk" ? ` used (${check.path})` : ""}`;
  const limit = check.metric === "load" ? `${check.above}` : `${check.above}%`;
  const ok = value <= check.above;
  return {
    ok,
    ms: Math.round(performance.now() - started),
    detail: ok ? shown : `${shown}, above ${limit}`,
  };
}
