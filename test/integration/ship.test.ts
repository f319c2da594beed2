/**
 * Build here, ship over SSH, run there: the example app's image is built with this machine's
 * engine (Podman here), streamed into Docker on a fresh VPS box without a registry, and run on
 * the box with the engine argv builders. The box and its Docker are set up once for the file.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  buildArgv,
  detectLocalEngine,
  type LocalEngine,
  readGitVersion,
  type ShipProgress,
  shipImage,
} from "../../src/build/index.ts";
import {
  type ContainerSpec,
  containerIp,
  dockerInspect,
  dockerListContainers,
  dockerNetworkCreate,
  dockerNetworkInspect,
  dockerRemoveImage,
  dockerRun,
  dockerStop,
  parseContainerList,
  parseInspect,
} from "../../src/engine/index.ts";
import { ExternalError } from "../../src/errors/index.ts";
import type { SshTransport } from "../../src/transport/index.ts";
import {
  imagesAvailable,
  NODE_IMAGE,
  run,
  runOk,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { isolatedSshTransport } from "../support/transport.ts";

const APP_DIR = fileURLToPath(new URL("../../examples/hello/", import.meta.url));
const NETWORK = "slipway";
const LABELS = { "slipway.service": "hello", "slipway.role": "web" };

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

describe("ship the example app to a VPS box without a registry", {
  skip: skipUnless(imagesAvailable(NODE_IMAGE)),
  timeout: 600_000,
}, () => {
  let box: VpsBox;
  let ssh: SshTransport;
  let dir = "";
  let engine: LocalEngine;
  let image = "";
  let version = "";
  const timings: string[] = [];

  async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await fn();
    timings.push(`${what}: ${seconds(Date.now() - started)}`);
    return result;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-ship-"));
    engine = await detectLocalEngine();
    version = await readGitVersion(APP_DIR);
    image = `hello:${version}`;
    const build = buildArgv(engine, {
      context: APP_DIR,
      dockerfile: join(APP_DIR, "Dockerfile"),
      tag: image,
      args: { BASE: NODE_IMAGE },
    });
    const [boxReady] = await Promise.all([
      timed("boot the VPS box", () => startVpsBox()),
      timed(`build ${image} with ${engine}`, () =>
        runOk(build[0] as string, build.slice(1), { timeoutMs: 300_000 }),
      ),
    ]);
    box = boxReady;
    await timed("apt-get install docker.io in the box", () =>
      box.exec(
        [
          "sh",
          "-c",
          "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io",
        ],
        { timeoutMs: 300_000 },
      ),
    );
    ssh = isolatedSshTransport(box, join(dir, "known_hosts"));
  });

  after(async (t) => {
    for (const line of timings) t.diagnostic(line);
    await ssh?.close();
    await box?.stop();
    if (image) await run(engine, ["image", "rm", image]);
    await rm(dir, { recursive: true, force: true });
  });

  it("Docker in the box stores images with overlay2 (the box has a volume at /var/lib/docker)", async () => {
    const driver = await ssh.run(["docker", "info", "--format", "{{.Driver}}"]);
    assert.equal(driver.stdout.trim(), "overlay2");
  });

  it("ships the image ('shipped'), then finds it there ('present') without moving a byte", async () => {
    const events: ShipProgress[] = [];
    const outcome = await timed("ship the app image (gzip)", () =>
      shipImage({ engine, image, remote: ssh, onProgress: (p) => events.push(p) }),
    );
    assert.equal(outcome, "shipped");
    const done = events.at(-1);
    assert.ok(done?.phase === "shipped", `last event: ${JSON.stringify(done)}`);
    assert.ok(done.bytes > 1_000_000 && done.bytes < done.rawBytes, JSON.stringify(done));
    timings.push(
      `  ${mb(done.rawBytes)} archive, ${mb(done.bytes)} sent in ${seconds(done.elapsedMs)}`,
    );

    // Podman's archive names it localhost/hello:...; the host knows it by the name asked for only.
    const tags = await ssh.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert.deepEqual(tags.stdout.trim().split("\n"), [image]);

    const again: ShipProgress[] = [];
    const second = await timed("ship again (present)", () =>
      shipImage({ engine, image, remote: ssh, onProgress: (p) => again.push(p) }),
    );
    assert.equal(second, "present");
    assert.deepEqual(
      again.map((p) => p.phase),
      ["present"],
    );
  });

  it("ships uncompressed too", async () => {
    await ssh.run(dockerRemoveImage(image));
    const events: ShipProgress[] = [];
    const outcome = await timed("ship the app image (uncompressed)", () =>
      shipImage({ engine, image, remote: ssh, compress: false, onProgress: (p) => events.push(p) }),
    );
    assert.equal(outcome, "shipped");
    const done = events.at(-1);
    assert.ok(done?.phase === "shipped");
    assert.equal(done.bytes, done.rawBytes);
    timings.push(`  ${mb(done.bytes)} sent in ${seconds(done.elapsedMs)}`);
  });

  it("runs the shipped image on the box network: /up and / answer, SIGTERM exits 0", async () => {
    const network = await ssh.run(dockerNetworkInspect(NETWORK), { check: false });
    if (network.code !== 0) await ssh.run(dockerNetworkCreate(NETWORK));
    const spec: ContainerSpec = {
      name: "hello-web-test",
      image,
      network: NETWORK,
      networkAlias: "hello-web",
      labels: { ...LABELS, "slipway.version": version },
      env: { SLIPWAY_VERSION: version, MESSAGE: "shipped without a registry" },
      restart: "unless-stopped",
      stopTimeoutS: 10,
    };
    await ssh.run(dockerRun(spec));

    const listed = parseContainerList((await ssh.run(dockerListContainers(LABELS))).stdout);
    assert.deepEqual(
      listed.map((c) => [c.name, c.state, c.labels["slipway.version"]]),
      [["hello-web-test", "running", version]],
    );

    const info = parseInspect((await ssh.run(dockerInspect(spec.name))).stdout);
    const ip = containerIp(info, NETWORK);
    assert.ok(ip, `no IP on ${NETWORK}: ${JSON.stringify(info.networks)}`);
    const curl = (path: string) =>
      box.exec([
        "curl",
        "-fsS",
        "--retry",
        "20",
        "--retry-connrefused",
        "--retry-delay",
        "1",
        `http://${ip}:3000${path}`,
      ]);
    assert.equal(await curl("/up"), "ok\n");
    const body = JSON.parse(await curl("/"));
    assert.equal(body.version, version);
    assert.equal(body.message, "shipped without a registry");
    assert.equal(body.hostname, info.id.slice(0, 12));

    await ssh.run(dockerStop(spec.name, 10));
    const stopped = parseInspect((await ssh.run(dockerInspect(spec.name))).stdout);
    assert.equal(stopped.state, "exited");
    assert.equal(stopped.exitCode, 0, "the app drains and exits 0 on SIGTERM");
  });

  it("runs the release command: exit 0, and exit 1 with its message when MIGRATE=fail", async () => {
    const release = (env: Record<string, string>) =>
      dockerRun({
        name: "hello-release-test",
        image,
        network: NETWORK,
        labels: { ...LABELS, "slipway.role": "release" },
        env,
        cmd: ["node", "server.mjs", "migrate"],
        detach: false,
        removeOnExit: true,
      });
    const ok = await ssh.run(release({ SLIPWAY_VERSION: version }), { check: false });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /migrations applied/);

    const failed = await ssh.run(release({ MIGRATE: "fail" }), { check: false });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /migrate: failed on purpose \(MIGRATE=fail\)/);
  });

  it("says which side failed: an image missing here, Docker stopped there", async () => {
    await assert.rejects(
      shipImage({ engine, image: "hello:not-built-here", remote: ssh }),
      (error: unknown) => {
        assert.ok(error instanceof ExternalError);
        assert.equal(error.code, "ship.local-image-missing");
        assert.equal(error.host, "local");
        return true;
      },
    );
    await ssh.run(["systemctl", "stop", "docker.socket", "docker.service"]);
    await assert.rejects(shipImage({ engine, image, remote: ssh }), (error: unknown) => {
      assert.ok(error instanceof ExternalError);
      assert.equal(error.code, "ship.remote-failed");
      assert.equal(error.host, ssh.host);
      assert.match(error.message, /remote side/);
      return true;
    });
  });
});
