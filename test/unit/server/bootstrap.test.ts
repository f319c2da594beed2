/**
 * Bootstrap's engine choice and host plan: the probe run by a real shell against stand-in
 * `docker` and `podman` commands, its parser, and the steps each engine gets.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { EnsureStep, Step } from "../../../src/plan/index.ts";
import {
  ENGINE_PROBE,
  type EngineFacts,
  PODMAN_RESTART_DROP_IN,
  PODMAN_RESTART_DROP_IN_CONTENT,
  parseEngineProbe,
  planBootstrap,
  planHostBase,
} from "../../../src/server/index.ts";
import { LocalTransport } from "../../../src/transport/index.ts";
import { runWithStandIns } from "./stand-ins.ts";

const DOCKER_VERSION = "Docker version 20.10.24+dfsg1, build 297e128";
const PODMAN_SHIM_VERSION = "podman version 4.3.1";

/** Every title in a plan, nested ensure steps included. */
function titles(steps: readonly Step[]): string[] {
  return steps.flatMap((s) => [s.title, ...(s.kind === "ensure" ? titles(s.then) : [])]);
}

function top(steps: readonly Step[]): string[] {
  return steps.map((s) => s.title);
}

const docker: EngineFacts = { engine: "docker", networkBackend: undefined };
const podman: EngineFacts = { engine: "podman", networkBackend: "netavark" };

describe("parseEngineProbe", () => {
  it("takes Docker when `docker` is Docker, even beside Podman", () => {
    assert.deepEqual(parseEngineProbe(`docker=${DOCKER_VERSION}\n`), docker);
    assert.deepEqual(parseEngineProbe(`docker=${DOCKER_VERSION}\npodman=netavark\n`), docker);
  });

  it("takes Podman when there is no Docker, or `docker` is podman-docker's shim", () => {
    assert.deepEqual(parseEngineProbe("podman=netavark\n"), podman);
    assert.deepEqual(parseEngineProbe(`docker=${PODMAN_SHIM_VERSION}\npodman=netavark\n`), podman);
    assert.deepEqual(parseEngineProbe("podman=cni\n"), { engine: "podman", networkBackend: "cni" });
    assert.deepEqual(parseEngineProbe("podman=\n"), { engine: "podman", networkBackend: "cni" });
  });

  it("finds none on a fresh host, or a shim with no podman behind it", () => {
    const none = { engine: "none", networkBackend: undefined };
    assert.deepEqual(parseEngineProbe(""), none);
    assert.deepEqual(parseEngineProbe(`docker=${PODMAN_SHIM_VERSION}\n`), none);
  });
});

describe("ENGINE_PROBE in a real shell", () => {
  let dir = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-engine-probe-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the probe with only `sh`, `head` and these stand-in commands on the PATH. */
  async function probe(name: string, programs: Record<string, string>): Promise<string> {
    const tools = ["/bin/sh", "/usr/bin/head"];
    const result = await runWithStandIns(join(dir, name), ENGINE_PROBE, tools, programs);
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  }

  it("reports a Docker host", async () => {
    const out = await probe("docker", { docker: `echo "${DOCKER_VERSION}"` });
    assert.equal(out, `docker=${DOCKER_VERSION}\n`);
    assert.equal(parseEngineProbe(out).engine, "docker");
  });

  it("reports a Podman host with its network backend, quietly past the shim's notice", async () => {
    const out = await probe("podman", {
      podman: '[ "$1 $2 $3" = "info --format {{.Host.NetworkBackend}}" ] && echo netavark',
      docker: 'echo "Emulate Docker CLI using podman." >&2; echo "podman version 4.3.1"',
    });
    assert.equal(out, `docker=${PODMAN_SHIM_VERSION}\npodman=netavark\n`);
    assert.deepEqual(parseEngineProbe(out), podman);
  });

  it("reads a podman without a NetworkBackend field (Podman 3) as CNI", async () => {
    const out = await probe("podman3", {
      podman: "echo 'template: info:1:7: cannot evaluate field NetworkBackend' >&2; exit 125",
    });
    assert.equal(out, "podman=cni\n");
  });

  it("reports nothing on a fresh host", async () => {
    assert.equal(await probe("fresh", {}), "");
  });
});

describe("planHostBase", () => {
  it("keeps a Docker host's plan as it always was, and gives a fresh host Docker", () => {
    const expected = [
      "container engine (Docker)",
      "Docker running at boot",
      "Docker answering",
      "curl (health probes)",
      "state folder /var/lib/slipway",
    ];
    assert.deepEqual(top(planHostBase(docker)), expected);
    assert.deepEqual(top(planHostBase({ engine: "none", networkBackend: undefined })), expected);
    assert.deepEqual(top(planHostBase()), expected);
    assert.match(JSON.stringify(planHostBase(docker)), /"docker\.io"/);
  });

  it("sets up the host's Podman and never installs Docker", () => {
    const plan = planHostBase(podman);
    assert.deepEqual(top(plan), [
      "container engine (Podman)",
      "podman-docker notice off",
      "docker command for Podman (podman-docker)",
      "container names resolve on networks (aardvark-dns)",
      "D-Bus running (Podman's systemd cgroups)",
      "Podman restarts containers at boot (podman-restart.service)",
      "podman-restart.service starts Slipway's containers",
      "Podman answering",
      "curl (health probes)",
      "state folder /var/lib/slipway",
    ]);
    assert.doesNotMatch(JSON.stringify(plan), /docker\.io/);
    assert.ok(titles(plan).includes("install podman-docker"));
  });

  it("installs the DNS plugin of the host's network backend", () => {
    const cni = planHostBase({ engine: "podman", networkBackend: "cni" });
    assert.ok(titles(cni).includes("install golang-github-containernetworking-plugin-dnsname"));
    assert.ok(!titles(cni).includes("install aardvark-dns"));
    assert.ok(titles(planHostBase(podman)).includes("install aardvark-dns"));
  });

  it("starts the unless-stopped containers Slipway runs at boot, apps before the proxy", () => {
    const lines = PODMAN_RESTART_DROP_IN_CONTENT.split("\n").filter((l) =>
      l.startsWith("ExecStart="),
    );
    assert.deepEqual(lines, [
      "ExecStart=/usr/bin/podman $LOGGING start --all --filter restart-policy=unless-stopped --filter label=slipway.service",
      "ExecStart=/usr/bin/podman $LOGGING start --all --filter restart-policy=unless-stopped --filter label=slipway.proxy.spec",
    ]);
  });

  it("rewrites the drop-in only when the host's copy differs (checked by a real shell)", async () => {
    const step = planHostBase(podman).find(
      (s): s is EnsureStep => s.kind === "ensure" && s.then.some((t) => t.kind === "upload"),
    );
    assert.ok(step);
    const argv = step.unless as string[];
    assert.equal(argv[4], PODMAN_RESTART_DROP_IN);
    const dir = await mkdtemp(join(tmpdir(), "slipway-drop-in-"));
    try {
      const path = join(dir, "slipway.conf");
      const unless = [...argv.slice(0, 4), path, argv[5] as string];
      const local = new LocalTransport();
      assert.notEqual((await local.run(unless, { check: false })).code, 0, "missing file");
      await writeFile(path, `${PODMAN_RESTART_DROP_IN_CONTENT}# edited\n`);
      assert.notEqual((await local.run(unless, { check: false })).code, 0, "edited file");
      await writeFile(path, PODMAN_RESTART_DROP_IN_CONTENT);
      assert.equal((await local.run(unless, { check: false })).code, 0, "same file");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("boots the proxy after the host base", () => {
    const plan = top(planBootstrap("localhost/slipway-nginx:1", podman));
    assert.equal(plan[0], "container engine (Podman)");
    assert.ok(plan.indexOf("network slipway") > plan.indexOf("state folder /var/lib/slipway"));
  });
});
