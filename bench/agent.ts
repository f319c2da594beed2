/**
 * The agent's footprint: the built agent runs 1000 HTTP checks every 30 s against local targets
 * for at least two minutes, while its resident memory (peak) and CPU time are read from /proc.
 * The baseline, in the same run: the same agent with no checks at all, for 20 s.
 * Goal (issue 5): rss_mb at most 64 and cpu_pct (of one core) at most 5.
 *
 * BENCH_AGENT_SECONDS shortens or lengthens the measured run (default 130); BENCH_AGENT_FLAGS
 * replaces the agent's Node flags (src/agent/launch.ts), to compare.
 * Last line: agent-bench: monitors=1000 interval_s=30 rss_mb=<peak> cpu_pct=<average of one core>
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../src/agent/launch.ts";

const MONITORS = 1000;
const INTERVAL_S = 30;
const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 130);
const BASELINE_SECONDS = 20;
const TARGETS = 10;
const AGENT =
  process.env.BENCH_AGENT_FILE ??
  new URL("../dist/agent-bundle/agent.mjs", import.meta.url).pathname;
// The flags Slipway starts the agent with, unless BENCH_AGENT_FLAGS tries others.
const FLAGS =
  process.env.BENCH_AGENT_FLAGS === undefined
    ? AGENT_NODE_FLAGS
    : process.env.BENCH_AGENT_FLAGS.split(" ").filter(Boolean);
const TICKS = 100; // USER_HZ on Linux

interface Footprint {
  rssMb: number;
  cpuPct: number;
}

/** CPU seconds (user + system) the process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Peak resident memory so far (VmHWM), in MB. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

async function measure(configFile: string, stateDir: string, seconds: number): Promise<Footprint> {
  const agent: ChildProcess = spawn(
    process.execPath,
    [...FLAGS, AGENT, "--config", configFile, "--state", stateDir],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_NO_WARNINGS: "1" } },
  );
  await new Promise<void>((resolve, reject) => {
    agent.stdout?.on("data", (c: Buffer) => {
      if (c.toString().includes("listening")) resolve();
    });
    agent.once("exit", (code) => reject(new Error(`the agent exited with ${code}`)));
  });
  const pid = agent.pid as number;
  // Start-up (module loading) is not the steady state being measured.
  const cpuStart = await cpuSeconds(pid);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = (await cpuSeconds(pid)) - cpuStart;
  const wall = (performance.now() - started) / 1000;
  const rssMb = await peakRssMb(pid);
  agent.kill("SIGTERM");
  await new Promise((r) => agent.once("exit", r));
  return { rssMb, cpuPct: (cpu / wall) * 100 };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

const dir = await mkdtemp(join(tmpdir(), "slipway-agent-bench-"));
const targets: Server[] = [];
let answered = 0;
try {
  const ports: number[] = [];
  for (let i = 0; i < TARGETS; i++) {
    const server = createServer((_req, res) => {
      answered++;
      res.writeHead(200, { "content-type": "text/plain" }).end("ok ready\n");
    });
    targets.push(server);
    ports.push(await listen(server));
  }
  const base = { service: "bench", host: "bench", listen: { address: "127.0.0.1", port: 0 } };
  await writeFile(join(dir, "idle.json"), JSON.stringify({ ...base, checks: [] }));
  await writeFile(
    join(dir, "full.json"),
    JSON.stringify({
      ...base,
      checks: Array.from({ length: MONITORS }, (_, i) => ({
        name: `check-${i}`,
        kind: "http",
        url: `http://127.0.0.1:${ports[i % TARGETS]}/m/${i}`,
        interval_ms: INTERVAL_S * 1000,
        timeout_ms: 10_000,
        // Every tenth check looks for a keyword, so bodies are read too.
        ...(i % 10 === 0 ? { keyword: "ready" } : {}),
      })),
    }),
  );

  const idle = await measure(join(dir, "idle.json"), join(dir, "idle-state"), BASELINE_SECONDS);
  console.log(
    `baseline (no checks, ${BASELINE_SECONDS}s): rss_mb=${idle.rssMb.toFixed(1)} cpu_pct=${idle.cpuPct.toFixed(2)}`,
  );
  const full = await measure(join(dir, "full.json"), join(dir, "full-state"), SECONDS);
  const expected = Math.floor((SECONDS / INTERVAL_S) * MONITORS);
  console.log(
    `${MONITORS} checks every ${INTERVAL_S}s for ${SECONDS}s: ${answered} requests answered (about ${expected} expected)`,
  );
  console.log(
    `ratio to the baseline: rss x${(full.rssMb / idle.rssMb).toFixed(2)}, cpu +${(full.cpuPct - idle.cpuPct).toFixed(2)} points`,
  );
  console.log(
    `agent-bench: monitors=${MONITORS} interval_s=${INTERVAL_S} rss_mb=${full.rssMb.toFixed(1)} cpu_pct=${full.cpuPct.toFixed(2)}`,
  );
} finally {
  for (const server of targets) server.close();
  await rm(dir, { recursive: true, force: true });
}
