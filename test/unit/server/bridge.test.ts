/**
 * The proxy network's bridge pin: exact argv per engine, and its two scripts run by a real shell
 * against a stand-in `podman` (the bridge name it prints) and `ip` (prints what it was asked),
 * reading the real /sys/class/net of this machine (its loopback).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { EnsureStep, RunStep } from "../../../src/plan/index.ts";
import { type EngineFacts, planBootstrap, planBridgePin } from "../../../src/server/index.ts";
import { runWithStandIns } from "./stand-ins.ts";

const docker: EngineFacts = { engine: "docker", networkBackend: undefined };
const podman: EngineFacts = { engine: "podman", networkBackend: "netavark" };

const FIND =
  'br=$(podman network inspect --format "{{.NetworkInterface}}" -- "$1" 2>/dev/null) || exit 0\n' +
  '[ -n "$br" ] && [ -e "/sys/class/net/$br" ] || exit 0';
const CHECK = [
  "sh",
  "-c",
  `${FIND}\n[ "$(cat "/sys/class/net/$br/addr_assign_type")" = 3 ]`,
  "sh",
  "slipway",
];
const PIN = [
  "sh",
  "-c",
  `${FIND}\nip link set dev "$br" address "$(cat "/sys/class/net/$br/address")"`,
  "sh",
  "slipway",
];

function pinSteps(): { check: readonly string[]; pin: readonly string[] } {
  const [step] = planBridgePin(podman) as [EnsureStep];
  const [inner] = step.then as [RunStep];
  const argv = (command: unknown) => {
    assert.ok(Array.isArray(command), "an argv");
    return command as readonly string[];
  };
  return { check: argv(step.unless), pin: argv(inner.command) };
}

describe("planBridgePin", () => {
  it("gives a Docker host and a fresh one no step (Docker fixes its bridges' MACs)", () => {
    assert.deepEqual(planBridgePin(docker), []);
    assert.deepEqual(planBridgePin({ engine: "none", networkBackend: undefined }), []);
  });

  it("checks, then sets the slipway bridge's MAC to its current address on Podman", () => {
    const steps = planBridgePin(podman);
    assert.equal(steps.length, 1);
    const [step] = steps as [EnsureStep];
    assert.equal(step.kind, "ensure");
    assert.equal(step.title, "bridge MAC of network slipway fixed");
    assert.deepEqual(step.unless, CHECK);
    assert.deepEqual(step.then, [
      { kind: "run", title: "fix the bridge MAC of network slipway", command: PIN },
    ]);
  });

  it("comes last in bootstrap on Podman (the proxy makes the bridge), absent on Docker", () => {
    const titles = (facts: EngineFacts) =>
      planBootstrap("localhost/slipway-nginx:1", facts).map((s) => s.title);
    assert.equal(titles(podman).at(-1), "bridge MAC of network slipway fixed");
    assert.ok(!titles(docker).includes("bridge MAC of network slipway fixed"));
  });
});

describe("the bridge pin's scripts in a real shell", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-bridge-pin-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs argv with only `sh`, `cat` and the stand-ins on the PATH. */
  async function runWith(
    name: string,
    argv: readonly string[],
    programs: Record<string, string>,
  ): Promise<{ status: number | null; stdout: string }> {
    const { status, stdout } = await runWithStandIns(
      join(dir, name),
      argv,
      ["/bin/sh", "/bin/cat"],
      programs,
    );
    return { status, stdout };
  }

  // The loopback: a device with a permanent address (addr_assign_type 0, not 3).
  const lo = '[ "$*" = "network inspect --format {{.NetworkInterface}} -- slipway" ] && echo lo';

  it("says not pinned for a bridge whose address the kernel chose", async () => {
    const { check } = pinSteps();
    assert.equal((await runWith("unpinned", check, { podman: lo })).status, 1);
  });

  it("has nothing to pin when the network, or its bridge, is not there", async () => {
    const { check, pin } = pinSteps();
    const gone = { podman: "echo 'no such network' >&2; exit 125", ip: "echo ip ran" };
    assert.equal((await runWith("no-network", check, gone)).status, 0);
    assert.deepEqual(await runWith("no-network-pin", pin, gone), { status: 0, stdout: "" });
    const noBridge = { podman: "echo slipway-nosuch0" };
    assert.equal((await runWith("no-bridge", check, noBridge)).status, 0);
  });

  it("sets the bridge's own current address", async () => {
    const { pin } = pinSteps();
    const result = await runWith("pin", pin, { podman: lo, ip: 'echo "ip $*"' });
    assert.deepEqual(result, {
      status: 0,
      stdout: "ip link set dev lo address 00:00:00:00:00:00\n",
    });
  });
});
