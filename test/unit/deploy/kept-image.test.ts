/**
 * The kept image of a rollback: where it comes from (pure), and the exact commands a host that
 * lost it runs, through a stand-in host transport that records argv and answers like Docker
 * (a host engine cannot run in a unit test; test/e2e/registry.test.ts pulls from a real one).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ensureKeptImage, keptImageSource } from "../../../src/deploy/index.ts";
import { UserError } from "../../../src/errors/index.ts";
import type { RegistryLogin } from "../../../src/registry/index.ts";
import {
  type Command,
  isArgv,
  type RunOptions,
  type RunResult,
  type Transport,
} from "../../../src/transport/index.ts";

const IMAGE = "10.88.0.1:5000/hello:v1";
const CONFIG = "/var/lib/slipway/docker-config.abc123";
const INSPECT = JSON.stringify([
  { Id: "sha256:aa", RepoTags: [IMAGE], RootFS: { Layers: ["sha256:l1"] }, Size: 5 },
]);
const LOGIN: RegistryLogin = {
  server: "10.88.0.1:5000",
  username: "bot",
  password: "s3cret",
  secret: "REGISTRY_PASSWORD",
  secretsFile: ".slipway/secrets",
};

/** A stand-in host: records every argv (and stdin); has the image once it was pulled. */
class RecordingHost implements Transport {
  readonly host = "web-1";
  readonly runs: { argv: string[]; stdin?: string }[] = [];
  private has: boolean;
  constructor(has: boolean) {
    this.has = has;
  }
  async run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    assert.ok(isArgv(command));
    const argv = [...command];
    this.runs.push({
      argv,
      ...(typeof options.stdin === "string" ? { stdin: options.stdin } : {}),
    });
    const joined = argv.join(" ");
    if (joined.startsWith("docker image inspect")) {
      return this.has
        ? { code: 0, stdout: INSPECT, stderr: "" }
        : { code: 1, stdout: "[]", stderr: `Error: No such image: ${IMAGE}` };
    }
    if (argv[0] === "mktemp") return { code: 0, stdout: `${CONFIG}\n`, stderr: "" };
    if (argv.includes("pull")) this.has = true;
    return { code: 0, stdout: "", stderr: "" };
  }
  async upload(): Promise<void> {}
  async readFile(): Promise<Buffer> {
    return Buffer.alloc(0);
  }
  async close(): Promise<void> {}
}

const facts = { host: "web-1", image: IMAGE, version: "v1" };

describe("kept image of a rollback", () => {
  it("is left alone when present, pulled with a registry, else shipped when this machine has it", () => {
    const all = { onHost: true, registry: true, local: true };
    assert.equal(keptImageSource({ ...facts, ...all }), "present");
    assert.equal(keptImageSource({ ...facts, ...all, onHost: false }), "pull");
    assert.equal(keptImageSource({ ...facts, ...all, onHost: false, registry: false }), "ship");
  });

  it("without a registry or a local image: an error naming the host, image, version and what to do", () => {
    assert.throws(
      () => keptImageSource({ ...facts, onHost: false, registry: false, local: false }),
      (error: unknown) =>
        error instanceof UserError &&
        error.code === "rollback.no_image" &&
        error.message.includes(`web-1 no longer has the image ${IMAGE} of v1`) &&
        (error.hint ?? "").includes("slipway deploy --version v1"),
    );
  });

  it("a host that lost it logs in to the registry in a throwaway config and pulls (exact argv)", async () => {
    const host = new RecordingHost(false);
    const outcome = await ensureKeptImage({
      transport: host,
      image: IMAGE,
      version: "v1",
      registry: LOGIN,
      engine: async () => assert.fail("no local engine is asked for with a registry"),
    });
    assert.equal(outcome, "pulled");
    assert.deepEqual(host.runs, [
      { argv: ["docker", "image", "inspect", IMAGE] },
      { argv: ["docker", "image", "inspect", IMAGE] },
      { argv: ["mktemp", "-d", "/var/lib/slipway/docker-config.XXXXXXXXXX"] },
      {
        argv: [
          "env",
          `DOCKER_CONFIG=${CONFIG}`,
          "docker",
          "login",
          "--username=bot",
          "--password-stdin",
          "10.88.0.1:5000",
        ],
        stdin: "s3cret",
      },
      { argv: ["env", `DOCKER_CONFIG=${CONFIG}`, "docker", "pull", IMAGE] },
      { argv: ["rm", "-rf", "--", CONFIG] },
      { argv: ["docker", "image", "inspect", IMAGE] },
    ]);
  });

  it("a host that has it runs only the inspect, with or without a registry", async () => {
    for (const registry of [LOGIN, undefined]) {
      const host = new RecordingHost(true);
      const outcome = await ensureKeptImage({
        transport: host,
        image: IMAGE,
        version: "v1",
        registry,
        engine: async () => assert.fail("no local engine is asked for"),
      });
      assert.equal(outcome, "present");
      assert.deepEqual(
        host.runs.map((r) => r.argv),
        [["docker", "image", "inspect", IMAGE]],
      );
    }
  });

  it("without a registry, a host that lost it and no local engine: the clear error", async () => {
    await assert.rejects(
      ensureKeptImage({
        transport: new RecordingHost(false),
        image: IMAGE,
        version: "v1",
        registry: undefined,
        engine: async () => undefined,
      }),
      (error: unknown) => error instanceof UserError && error.code === "rollback.no_image",
    );
  });
});
