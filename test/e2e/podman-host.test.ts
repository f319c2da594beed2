/**
 * A host that runs Podman, not Docker, end to end: a fresh VPS box with Debian's podman installed
 * (and nothing else), bootstrapped by Slipway without installing Docker, then deploys under load
 * with no failed request, a broken release that never takes traffic, a rollback, and containers
 * that come back when the host boots (podman-restart.service) with their logs capped.
 */
import assert from "node:assert/strict";
import { appendFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  NODE_IMAGE,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { type HelloProject, helloProject, type SlipwayRun } from "../support/hello-project.ts";
import { type LoadReport, startLoad } from "../support/load.ts";

const APT = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"];

// What the box's network and proxy look like while a request hangs: each hop tried on its own.
const HANG_SNAPSHOT = `
t() { curl -sS -m 4 -o /dev/null -w "%{http_code} connect=%{time_connect} total=%{time_total}\\n" "$@" 2>&1; }
echo "== $(date +%T.%N) curl 127.0.0.1:80 in the box: $(t http://127.0.0.1/)"
for ip in $(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' slipway-proxy); do
  echo "== curl the proxy at $ip: $(t http://$ip/)"
done
echo "== upstreams"; cat /var/lib/slipway/proxy/upstreams/*.conf
echo "== containers"
for c in $(docker ps -aq); do
  docker inspect -f '{{.Name}} {{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}' "$c"
done
echo "== nginx processes"
docker exec slipway-proxy sh -c 'for d in /proc/[0-9]*; do echo "\${d#/proc/} $(tr "\\000" " " < $d/cmdline)"; done' | grep nginx
echo "== proxy log"; docker logs --since 30s slipway-proxy 2>&1 | tail -30
echo "== nat"; iptables-save -t nat 2>&1 || nft list ruleset 2>&1
echo "== conntrack port 80"; grep -w "dport=80" /proc/net/nf_conntrack 2>&1 | tail -30
echo "== ss in the box"; ss -tan 2>&1 | grep -v LISTEN | tail -20
`;

describe("a Podman host end to end", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;
  let url = "";
  const slipway = (args: string[]) => hello.slipway(args);

  async function current(): Promise<{ version: string; message: string }> {
    const response = await fetch(url, { headers: { connection: "close" } });
    assert.equal(response.status, 200);
    return (await response.json()) as { version: string; message: string };
  }

  /** The app's answer once the proxy gives one (the app may still be starting). */
  async function answerWithin(ms: number): Promise<{ version: string; message: string }> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        const { version, message } = await current();
        return { version, message };
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Runs a slipway command while the load runs, and returns both. A request that hangs makes a
   * snapshot of the box's network and proxy at that moment (a known flake to pin down).
   */
  async function underLoad(
    args: string[],
  ): Promise<{ run: SlipwayRun; load: LoadReport; snapshot: string }> {
    let snapshot: Promise<string> = Promise.resolve("");
    const load = startLoad(url, {
      concurrency: 4,
      maxMs: 180_000,
      onSlow: (sentAt) => {
        snapshot = hangSnapshot(sentAt);
      },
    });
    await new Promise((r) => setTimeout(r, 500));
    const run = await slipway(args);
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    return { run, load: report, snapshot: await snapshot };
  }

  async function hangSnapshot(sentAt: number): Promise<string> {
    const started = Date.now();
    const direct = await fetch(url, { signal: AbortSignal.timeout(4_000) }).then(
      (r) => `HTTP ${r.status} in ${Date.now() - started}ms`,
      (e: Error) => `${e.message} after ${Date.now() - started}ms`,
    );
    const inBox = await box
      .exec(["sh", "-c", HANG_SNAPSHOT], { timeoutMs: 60_000 })
      .catch((e: Error) => e.message);
    return `== a request sent at +${sentAt}ms hangs; from the test: ${direct}\n${inBox}`;
  }

  /** `docker inspect --format` of one container, through the host's docker command. */
  async function inspect(name: string, format: string): Promise<string> {
    return (await box.exec(["docker", "inspect", "--format", format, name])).trim();
  }

  /**
   * The slipway network's bridge: its MAC and addr_assign_type (3: set, so the kernel no longer
   * moves it to the lowest port's MAC when a container leaves; see src/server/bridge.ts).
   */
  async function bridge(): Promise<{ mac: string; assign: string }> {
    const out = await box.exec([
      "sh",
      "-c",
      'br=$(podman network inspect --format "{{.NetworkInterface}}" slipway) && cat "/sys/class/net/$br/address" "/sys/class/net/$br/addr_assign_type"',
    ]);
    const [mac = "", assign = ""] = out.trim().split("\n");
    return { mac, assign };
  }

  async function running(role: string): Promise<string[]> {
    const out = await box.exec([
      "docker",
      "ps",
      "--filter",
      `label=slipway.role=${role}`,
      "--format",
      "{{.Names}}",
    ]);
    return out.trim().split("\n").filter(Boolean);
  }

  before(async () => {
    // Podman keeps its storage on a volume: overlay on the box's own overlay is refused.
    box = await startVpsBox({ publish: [80], volumes: ["/var/lib/containers"] });
    // A host that has Podman: Debian's package, as `apt-get install podman` brings it.
    await box.exec([...APT, "update", "-q"], { timeoutMs: 300_000 });
    await box.exec([...APT, "install", "-y", "-q", "podman"], { timeoutMs: 600_000 });
    hello = await helloProject(box);
    url = `http://127.0.0.1:${box.ports[80]}/`;
    await hello.configure("first");
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("bootstraps with the host's Podman, installs no Docker, and a second run changes nothing", async () => {
    const first = await slipway(["server", "bootstrap"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout + first.stderr, /container engine \(Podman\)/);
    assert.doesNotMatch(first.stdout + first.stderr, /Docker/);
    assert.match(first.stdout, /docker command for Podman \(podman-docker\)/);
    const dockerIo = await box.exec([
      "sh",
      "-c",
      "if dpkg -s docker.io >/dev/null 2>&1; then echo installed; else echo absent; fi",
    ]);
    assert.equal(dockerIo.trim(), "absent");
    assert.match(await box.exec(["docker", "--version"]), /^podman version/);
    assert.match(first.stderr, /✓ done: bridge MAC of network slipway fixed/);
    assert.equal((await bridge()).assign, "3");

    const second = await slipway(["server", "bootstrap"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already set up, nothing changed/);
    assert.match(second.stderr, /· already: container engine \(Podman\)/);
  });

  it("deploys v1", async () => {
    const run = await slipway(["deploy", "--version", "v1"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /migrations applied \(version v1\)/);
    assert.equal((await current()).version, "v1");
    // Nothing printed podman-docker's "Emulate Docker CLI" notice into the output.
    assert.doesNotMatch(run.stdout + run.stderr, /Emulate Docker CLI/);
  });

  it("deploys v2 under load: no failed request, answers move from v1 to v2", async () => {
    await hello.configure("second");
    const before = await bridge();
    assert.equal(before.assign, "3");
    const { run, load, snapshot } = await underLoad(["deploy", "--version", "v2"]);
    assert.equal(run.code, 0, run.stderr);
    // The gateway the proxy answers off-subnet clients through kept its MAC across the switch.
    assert.deepEqual(await bridge(), before);
    assert.equal(
      load.failed,
      0,
      // The deploy's steps too (it started 500 ms after the load): a known flake to pin down.
      `${load.failed} of ${load.requests} failed: ${load.failures.join("; ")}\n${run.stderr}\n${snapshot}`,
    );
    assert.ok(load.requests > 50, `only ${load.requests} requests`);
    assert.deepEqual(load.versions, ["v1", "v2"]);
    assert.equal(load.lastVersion, "v2");
    assert.equal((await running("web")).length, 1);
  });

  it("refuses v3 whose health check fails: exit 3, its logs shown, v2 keeps serving", async () => {
    await hello.configure("third", { HEALTH: "fail" });
    const { run, load } = await underLoad(["deploy", "--version", "v3"]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /v3 failed its health check/);
    assert.match(run.stderr, /hello-web-v3-[0-9a-f]{6} \| .*listening/);
    assert.equal(load.failed, 0, load.failures.join("; "));
    assert.deepEqual(load.versions, ["v2"]);
    assert.equal((await current()).version, "v2");
  });

  it("rolls back to v1 under load with v1's env", async () => {
    const { run, load } = await underLoad(["rollback", "v1"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(load.failed, 0, load.failures.join("; "));
    assert.deepEqual(load.versions, ["v2", "v1"]);
    assert.deepEqual(await current(), { ...(await current()), version: "v1", message: "first" });
  });

  it("runs the app with restart policy unless-stopped and logs capped at 10 MB", async () => {
    const [web] = await running("web");
    assert.ok(web, "no web container runs");
    assert.equal(await inspect(web, "{{.HostConfig.RestartPolicy.Name}}"), "unless-stopped");
    // Podman takes json-file as its k8s-file driver; conmon truncates the file at max-size.
    assert.equal(await inspect(web, "{{.HostConfig.LogConfig.Type}}"), "json-file");
    assert.equal(await inspect(web, "{{.HostConfig.LogConfig.Size}}"), "10MB");
    assert.equal(
      await inspect("slipway-proxy", "{{.HostConfig.RestartPolicy.Name}}"),
      "unless-stopped",
    );
  });

  it("brings the proxy and the app back at boot (podman-restart.service)", async () => {
    await box.exec(["systemctl", "is-enabled", "--quiet", "podman-restart.service"]);
    // What a shutdown leaves: every container down. Then what boot runs.
    const ids = (await box.exec(["docker", "ps", "--quiet"])).trim().split("\n").filter(Boolean);
    assert.equal(ids.length, 3, "proxy, web and worker run");
    await box.exec(["docker", "stop", "-t", "5", ...ids], { timeoutMs: 120_000 });
    assert.deepEqual(await running("web"), []);
    await box.exec(["systemctl", "restart", "podman-restart.service"], { timeoutMs: 120_000 });
    assert.equal((await running("web")).length, 1);
    assert.equal((await running("worker")).length, 1);
    assert.equal(await inspect("slipway-proxy", "{{.State.Running}}"), "true");
    assert.deepEqual(await answerWithin(30_000), { version: "v1", message: "first" });
  });

  it("pins the bridge netavark made anew at boot on the next rollout, quietly", async () => {
    // Every container went down above, so netavark removed the bridge and made a new one.
    assert.notEqual((await bridge()).assign, "3");
    const run = await slipway(["restart"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await bridge()).assign, "3");
    assert.doesNotMatch(run.stdout + run.stderr, /bridge MAC/);
  });

  it("pins it on agent install too: the agent's container is on the proxy's network", async () => {
    // A boot again (every container down, then what boot starts): a new, unpinned bridge.
    const ids = (await box.exec(["docker", "ps", "--quiet"])).trim().split("\n").filter(Boolean);
    await box.exec(["docker", "stop", "-t", "5", ...ids], { timeoutMs: 120_000 });
    await box.exec(["systemctl", "restart", "podman-restart.service"], { timeoutMs: 120_000 });
    assert.notEqual((await bridge()).assign, "3");
    await appendFile(join(hello.dir, "slipway.yml"), `monitoring:\n  image: ${NODE_IMAGE}\n`);
    const run = await slipway(["agent", "install"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await inspect("slipway-agent", "{{.State.Running}}"), "true");
    assert.equal((await bridge()).assign, "3");
    assert.deepEqual(await answerWithin(30_000), { version: "v1", message: "first" });
  });
});
