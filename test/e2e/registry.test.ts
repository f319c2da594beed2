/**
 * `registry:` end to end: a fresh VPS box, bootstrapped by Slipway, gets the hello app through a
 * real registry (TLS, htpasswd) instead of over SSH: this machine pushes, the box pulls. The
 * password never shows in the output or in a process list, no login stays on the box, a
 * second deploy of the same version pulls nothing, and a rollback to a version whose image the
 * box lost pulls it again.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  imagesAvailable,
  registryAvailable,
  rigAvailable,
  run,
  skipUnless,
  startRegistry,
  startVpsBox,
  type TestRegistry,
  type VpsBox,
} from "../rig/index.ts";
import { type HelloProject, helloProject, type SlipwayRun } from "../support/hello-project.ts";

/** Samples the process lists of the box and of this machine until stopped; returns all it saw. */
function watchProcessLists(box: VpsBox): { stop(): Promise<string> } {
  let running = true;
  let seen = "";
  const loop = (async () => {
    while (running) {
      const [inBox, here] = await Promise.all([
        run("podman", ["exec", box.name, "ps", "-eo", "args"]),
        run("ps", ["-eo", "args"]),
      ]);
      seen += inBox.stdout + here.stdout;
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

describe("slipway deploy through a registry, end to end", {
  skip:
    skipUnless(rigAvailable()) || skipUnless(imagesAvailable()) || skipUnless(registryAvailable()),
  timeout: 900_000,
}, () => {
  let registry: TestRegistry;
  let box: VpsBox;
  let hello: HelloProject;
  let url = "";
  let image = "";

  /** Runs a slipway command while watching process lists; the password shows in neither. */
  async function slipway(args: string[]): Promise<SlipwayRun> {
    const watch = watchProcessLists(box);
    const result = await hello.slipway(args);
    const seen = await watch.stop();
    assert.ok(seen.includes("ps -eo args"), "the process lists were sampled");
    assert.ok(!seen.includes(registry.password), "the password showed in a process list");
    assert.ok(
      !(result.stdout + result.stderr).includes(registry.password),
      "the password showed in the output",
    );
    return result;
  }

  /** Manifest requests the box made (this machine talks from the bridge's gateway address). */
  async function boxManifestRequests(): Promise<number> {
    return (await registry.requests()).filter(
      (r) => r.client !== registry.address && r.path.startsWith("/v2/hello/manifests/"),
    ).length;
  }

  before(async () => {
    // The box first: the registry listens on podman's bridge, which comes up with the box.
    box = await startVpsBox({ publish: [80] });
    registry = await startRegistry();
    image = `${registry.server}/hello:v1`;
    await registry.trustLocally();
    await registry.trustInBox(box);
    hello = await helloProject(box, {
      registry: {
        server: registry.server,
        username: registry.username,
        password: registry.password,
      },
    });
    url = `http://127.0.0.1:${box.ports[80]}/`;
    await hello.configure("through a registry");
  });

  after(async () => {
    await box?.stop();
    await registry?.stop();
    if (image) await run("podman", ["image", "rm", image, image.replace(/:v1$/, ":v2")]);
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("bootstraps the box", async () => {
    const result = await slipway(["server", "bootstrap"]);
    assert.equal(result.code, 0, result.stderr);
  });

  it("deploys v1 by pushing it to the registry and pulling it on the box", async () => {
    const result = await slipway(["deploy", "--version", "v1"]);
    assert.equal(result.code, 0, result.stderr);
    const output = result.stdout + result.stderr;
    assert.match(output, new RegExp(`pushing ${image} to ${registry.server}`));
    assert.match(output, new RegExp(`image ${image} pulled`));

    const response = await fetch(url, { headers: { connection: "close" } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { version: string; message: string };
    assert.equal(body.version, "v1");
    assert.equal(body.message, "through a registry");

    const running = await box.exec([
      "docker",
      "ps",
      "--filter",
      "label=slipway.role=web",
      "--format",
      "{{.Image}}",
    ]);
    assert.equal(running.trim(), image);
    assert.deepEqual(await registry.repositories(), ["hello"]);
    assert.ok((await boxManifestRequests()) > 0, "the box pulled from the registry");

    // The box's login lived in a throwaway folder: nothing is left of it.
    const left = await box.exec(["find", "/var/lib/slipway", "-name", "docker-config.*"]);
    assert.equal(left.trim(), "");
    const rootConfig = await box.exec([
      "sh",
      "-c",
      "cat /root/.docker/config.json 2>/dev/null || true",
    ]);
    assert.ok(!rootConfig.includes(registry.server), rootConfig);
  });

  it("deploys v1 again without pulling it", async () => {
    const before = await boxManifestRequests();
    const result = await slipway(["deploy", "--version", "v1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout + result.stderr, new RegExp(`image ${image} already there`));
    assert.equal(await boxManifestRequests(), before);
    const response = await fetch(url, { headers: { connection: "close" } });
    assert.equal(((await response.json()) as { version: string }).version, "v1");
  });

  it("rolls back to v1 after the box lost its image, pulling it from the registry", async () => {
    const deployed = await slipway(["deploy", "--version", "v2"]);
    assert.equal(deployed.code, 0, deployed.stderr);
    // As after a prune or on a new host: v1's image is gone (its stopped container only
    // keeps the layers, without the name).
    await box.exec(["docker", "image", "rm", "--force", image]);
    const before = await boxManifestRequests();
    const result = await slipway(["rollback", "v1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout + result.stderr, new RegExp(`image ${image} pulled`));
    assert.ok((await boxManifestRequests()) > before, "the box pulled v1 from the registry");
    const response = await fetch(url, { headers: { connection: "close" } });
    assert.equal(((await response.json()) as { version: string }).version, "v1");
    const left = await box.exec(["find", "/var/lib/slipway", "-name", "docker-config.*"]);
    assert.equal(left.trim(), "");
  });
});
