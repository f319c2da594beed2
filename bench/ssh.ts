/**
 * The cost of one remote command, which every deploy step pays: Slipway's SSH transport (one
 * ssh2 connection, a channel per command) against OpenSSH as scripts use it, multiplexed over a
 * ControlMaster connection (the fast baseline) and a fresh `ssh` per command (the usual one), on
 * one fresh VPS box in the same run. Needs the test rig (rig/install.sh).
 *
 * Last line: ssh-bench: slipway_ms=<ms> openssh_mux_ms=<ms> openssh_fresh_ms=<ms> mux_ratio=<openssh_mux/slipway>
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connections } from "../src/transport/index.ts";
import { rigAvailable, sshArgs, startVpsBox } from "../test/rig/index.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const check = rigAvailable();
if (!check.ok) {
  console.error(`ssh-bench: ${check.reason} (run rig/install.sh as root)`);
  process.exit(1);
}

/** Milliseconds per call of `once`, over RUNS sequential calls after one warm-up. */
async function perCommand(once: () => Promise<unknown> | unknown): Promise<number> {
  await once();
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) await once();
  return (performance.now() - started) / RUNS;
}

function openssh(args: string[]): void {
  const result = spawnSync("ssh", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ssh ${args.join(" ")}: ${result.stderr}`);
}

const box = await startVpsBox();
const dir = await mkdtemp(join(tmpdir(), "slipway-ssh-bench-"));
const connections = new Connections({
  port: box.port,
  user: "root",
  keys: [box.clientKey],
  knownHostsFile: join(dir, "known_hosts"),
  sshConfigFile: null,
  agentSocket: "",
});
try {
  const transport = connections.get(box.host);
  const slipway = await perCommand(() => transport.run(["true"]));

  const socket = join(dir, "mux");
  const mux = [
    "-o",
    "ControlMaster=auto",
    "-o",
    `ControlPath=${socket}`,
    "-o",
    "ControlPersist=60",
  ];
  const muxed = await perCommand(() => openssh([...mux, ...sshArgs(box, ["true"])]));
  spawnSync("ssh", ["-o", `ControlPath=${socket}`, "-O", "exit", "x"], { stdio: "ignore" });

  const fresh = await perCommand(() => openssh(sshArgs(box, ["true"])));

  console.log(
    `slipway transport  ${slipway.toFixed(1)} ms/command  (one connection, ${RUNS} runs)`,
  );
  console.log(`openssh mux        ${muxed.toFixed(1)} ms/command  (ControlMaster)`);
  console.log(`openssh fresh      ${fresh.toFixed(1)} ms/command  (a connection each)`);
  console.log(
    `ssh-bench: slipway_ms=${slipway.toFixed(1)} openssh_mux_ms=${muxed.toFixed(1)} openssh_fresh_ms=${fresh.toFixed(1)} mux_ratio=${(muxed / slipway).toFixed(1)}`,
  );
} finally {
  await connections.closeAll();
  await box.stop();
  await rm(dir, { recursive: true, force: true });
}
