/**
 * How long `slipway --version` takes to start, against bare `node -e 0` measured in the same
 * run on the same Node. Goal: ratio at most 2. Run with `npm run bench:startup` (builds first).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const cli = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (!existsSync(cli)) {
  console.error(`startup-bench: ${cli} is missing; run npm run build first`);
  process.exit(1);
}

function timeOnce(args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { encoding: "utf8" });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`);
  return elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

// Warm the file cache, then alternate so both see the same machine load.
timeOnce(["-e", "0"]);
timeOnce([cli, "--version"]);
const version: number[] = [];
const bare: number[] = [];
for (let i = 0; i < RUNS; i++) {
  version.push(timeOnce([cli, "--version"]));
  bare.push(timeOnce(["-e", "0"]));
}
const versionMs = median(version);
const nodeMs = median(bare);
console.log(`node ${process.version}, ${RUNS} runs each`);
console.log(
  `startup-bench: version_ms=${versionMs.toFixed(1)} node_ms=${nodeMs.toFixed(1)} ratio=${(versionMs / nodeMs).toFixed(2)}`,
);
