/**
 * Images through a real registry (the distribution registry, TLS and htpasswd auth, on the
 * Podman bridge): this machine's Podman logs in and pushes, Docker in a fresh VPS box logs in
 * over SSH and pulls. A wrong password gives the clear error on either side, and no login
 * stays behind on the box.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { detectLocalEngine, type LocalEngine, localTagArgv } from "../../src/build/index.ts";
import { ExternalError, UserError } from "../../src/errors/index.ts";
import { loginLocal, pullImage, pushImage, type RegistryLogin } from "../../src/registry/index.ts";
import { LocalTransport, type SshTransport } from "../../src/transport/index.ts";
import {
  imagesAvailable,
  registryAvailable,
  run,
  runOk,
  skipUnless,
  startRegistry,
  startVpsBox,
  type TestRegistry,
  type VpsBox,
} from "../rig/index.ts";
import { isolatedSshTransport } from "../support/transport.ts";

const LOCAL_NAME = "localhost/slipway-registry-test:1";

describe("images through a registry: push here, pull on a VPS box", {
  skip: skipUnless(registryAvailable()) || skipUnless(imagesAvailable()),
  timeout: 600_000,
}, () => {
  let registry: TestRegistry;
  let box: VpsBox;
  let ssh: SshTransport;
  let dir = "";
  let engine: LocalEngine;
  let image = "";
  const local = new LocalTransport();

  const login = (password = registry.password): RegistryLogin => ({
    server: registry.server,
    username: registry.username,
    password,
    secret: "REGISTRY_PASSWORD",
    secretsFile: ".slipway/secrets",
  });
  /** Requests the box made (this machine talks to the registry from its gateway address). */
  const fromBox = async () =>
    (await registry.requests()).filter((r) => r.client !== registry.address);
  const boxConfigDirs = async () =>
    (await box.exec(["find", "/var/lib/slipway", "-maxdepth", "1", "-name", "docker-config.*"]))
      .trim()
      .split("\n")
      .filter(Boolean);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-registry-it-"));
    engine = await detectLocalEngine();
    // A tiny image, built offline: one layer with one file.
    await writeFile(join(dir, "hello.txt"), `pushed through a registry ${Date.now()}\n`);
    await writeFile(join(dir, "Containerfile"), "FROM scratch\nCOPY hello.txt /hello.txt\n");
    // The box first: the registry listens on podman's bridge, which comes up with the box.
    [box] = await Promise.all([
      startVpsBox(),
      runOk(engine, ["build", "--tag", LOCAL_NAME, "--file", join(dir, "Containerfile"), dir]),
    ]);
    registry = await startRegistry();
    image = `${registry.server}/slipway/hello:1`;
    await registry.trustLocally();
    await box.exec(
      [
        "sh",
        "-c",
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io",
      ],
      { timeoutMs: 300_000 },
    );
    await box.exec(["install", "-d", "-m", "0700", "/var/lib/slipway"]);
    await registry.trustInBox(box);
    ssh = isolatedSshTransport(box, join(dir, "known_hosts"));
  });

  after(async () => {
    await ssh?.close();
    await box?.stop();
    await registry?.stop();
    for (const name of [LOCAL_NAME, image]) if (name) await run(engine, ["image", "rm", name]);
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a wrong password on this machine with a UserError naming registry.password", async () => {
    await assert.rejects(loginLocal(engine, login("not-the-password"), local), (error: unknown) => {
      assert.ok(error instanceof UserError, String(error));
      assert.equal(error.code, "registry.login_refused");
      assert.match(error.message, new RegExp(`${registry.server} refused the login`));
      assert.match(error.hint ?? "", /registry\.password names the secret REGISTRY_PASSWORD/);
      assert.match(error.hint ?? "", /\.slipway\/secrets/);
      assert.doesNotMatch(`${error.message}${error.hint}`, /not-the-password/);
      return true;
    });
  });

  it("says which image could not be pushed when this machine is not logged in", async () => {
    await runOk(engine, localTagArgv(engine, LOCAL_NAME, image).slice(1));
    await assert.rejects(pushImage(engine, image, local), (error: unknown) => {
      assert.ok(error instanceof ExternalError, String(error));
      assert.equal(error.code, "registry.push_failed");
      assert.match(error.message, new RegExp(`could not push ${image} from this machine`));
      return true;
    });
  });

  it("logs in and pushes: the registry stores the repository", async () => {
    await loginLocal(engine, login(), local);
    await pushImage(engine, image, local);
    assert.deepEqual(await registry.repositories(), ["slipway/hello"]);
  });

  it("refuses a wrong password on the box, and removes the login folder", async () => {
    await assert.rejects(
      pullImage({ image, remote: ssh, engine, login: login("wrong-on-the-box") }),
      (error: unknown) => {
        assert.ok(error instanceof UserError, String(error));
        assert.equal(error.code, "registry.login_refused");
        assert.match(error.message, /from 127\.0\.0\.1/);
        assert.match(error.hint ?? "", /REGISTRY_PASSWORD/);
        return true;
      },
    );
    assert.deepEqual(await boxConfigDirs(), []);
  });

  it("pulls into the box's Docker, the same image, and keeps no login there", async () => {
    assert.equal(await pullImage({ image, remote: ssh, engine, login: login() }), "pulled");
    const tags = await box.exec([
      "docker",
      "image",
      "inspect",
      "--format",
      "{{json .RepoTags}}",
      image,
    ]);
    assert.deepEqual(JSON.parse(tags), [image]);
    // Docker asks for the tag's manifest (HEAD), then fetches it by digest, then the blobs.
    const manifests = (await fromBox()).filter(
      (r) => r.path.startsWith("/v2/slipway/hello/manifests/") && r.status === 200,
    );
    assert.ok(manifests.length > 0, JSON.stringify(await fromBox()));
    assert.deepEqual(await boxConfigDirs(), []);
    const rootConfig = await ssh.run(["cat", "/root/.docker/config.json"], { check: false });
    assert.doesNotMatch(rootConfig.stdout, new RegExp(registry.server.replace(/\./g, "\\.")));
  });

  it("skips the pull (and the login) when the box has the image", async () => {
    const before = (await fromBox()).length;
    assert.equal(await pullImage({ image, remote: ssh, engine, login: login() }), "present");
    assert.equal((await fromBox()).length, before);
  });

  it("names the image and the host when a pull fails", async () => {
    const missing = `${registry.server}/slipway/hello:never-pushed`;
    await assert.rejects(
      pullImage({ image: missing, remote: ssh, login: login() }),
      (error: unknown) => {
        assert.ok(error instanceof ExternalError, String(error));
        assert.equal(error.code, "registry.pull_failed");
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1 could not pull ${missing}`));
        return true;
      },
    );
    assert.deepEqual(await boxConfigDirs(), []);
  });
});
