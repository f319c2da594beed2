/** The local engine: which one is used, and the build and save argv for each. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildArgv,
  detectLocalEngine,
  localImageInspectArgv,
  type Probe,
  saveArgv,
} from "../../../src/build/index.ts";
import { BugError, UserError } from "../../../src/errors/index.ts";

const spec = {
  context: "/src/hello",
  dockerfile: "/src/hello/Dockerfile",
  tag: "hello:0123456789ab",
  args: { NODE_ENV: "production", BASE: "localhost/slipway-node:24" },
};

describe("buildArgv", () => {
  it("docker: no forced pull, the Dockerfile, the tag, sorted build args, the context last", () => {
    assert.equal(
      buildArgv("docker", spec).join(" "),
      "docker build --pull=false --file /src/hello/Dockerfile --tag hello:0123456789ab" +
        " --build-arg BASE=localhost/slipway-node:24 --build-arg NODE_ENV=production /src/hello",
    );
  });

  it("podman: Podman's spelling of 'pull only when missing', and Docker's format (HEALTHCHECK kept)", () => {
    assert.equal(
      buildArgv("podman", { ...spec, args: {}, target: "runtime" }).join(" "),
      "podman build --pull=missing --format docker --file /src/hello/Dockerfile --tag hello:0123456789ab" +
        " --target runtime /src/hello",
    );
  });

  it("a platform and image labels when asked", () => {
    assert.equal(
      buildArgv("docker", {
        ...spec,
        args: {},
        platform: "linux/amd64",
        labels: { "slipway.service": "hello" },
      }).join(" "),
      "docker build --pull=false --platform linux/amd64 --file /src/hello/Dockerfile" +
        " --tag hello:0123456789ab --label slipway.service=hello /src/hello",
    );
  });

  it("refuses relative paths, bad tags, build arg names and targets", () => {
    assert.throws(() => buildArgv("docker", { ...spec, context: "." }), BugError);
    assert.throws(() => buildArgv("docker", { ...spec, context: "-q" }), BugError);
    assert.throws(() => buildArgv("docker", { ...spec, dockerfile: "Dockerfile" }), BugError);
    assert.throws(() => buildArgv("docker", { ...spec, tag: "--push" }), BugError);
    assert.throws(() => buildArgv("docker", { ...spec, args: { "A=B": "x" } }), BugError);
    assert.throws(() => buildArgv("docker", { ...spec, target: "-x" }), BugError);
    assert.throws(() => buildArgv("docker", { ...spec, platform: "--load" }), BugError);
  });
});

describe("saveArgv and localImageInspectArgv", () => {
  it("docker save, and podman save in the docker-archive format docker load reads", () => {
    assert.equal(saveArgv("docker", "hello:1").join(" "), "docker save hello:1");
    assert.equal(
      saveArgv("podman", "hello:1").join(" "),
      "podman save --format docker-archive hello:1",
    );
    assert.equal(
      localImageInspectArgv("podman", "hello:1").join(" "),
      "podman image inspect hello:1",
    );
    assert.throws(() => saveArgv("docker", "-o"), BugError);
  });
});

/** A probe answering from a table: argv joined by spaces to code and output. */
function probeFrom(table: Record<string, { code: number; stdout?: string; stderr?: string }>) {
  const asked: string[] = [];
  const probe: Probe = async (argv) => {
    const key = argv.join(" ");
    asked.push(key);
    const r = table[key] ?? { code: 127, stderr: `${argv[0]}: command not found\n` };
    return { code: r.code, stdout: Buffer.from(r.stdout ?? ""), stderr: r.stderr ?? "" };
  };
  return { probe, asked };
}

const DOCKER_VERSION = "docker version --format {{.Server.Version}}";

describe("detectLocalEngine", () => {
  it("docker when its daemon answers", async () => {
    const { probe, asked } = probeFrom({ [DOCKER_VERSION]: { code: 0, stdout: "27.3.1\n" } });
    assert.equal(await detectLocalEngine(probe), "docker");
    assert.deepEqual(asked, [DOCKER_VERSION]);
  });

  it("podman when docker has no daemon (or is not installed) and podman is installed", async () => {
    const { probe } = probeFrom({
      [DOCKER_VERSION]: {
        code: 1,
        stdout: "\n",
        stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n",
      },
      "podman --version": { code: 0, stdout: "podman version 4.3.1\n" },
    });
    assert.equal(await detectLocalEngine(probe), "podman");
    assert.equal(
      await detectLocalEngine(
        probeFrom({ "podman --version": { code: 0, stdout: "podman version 5.2.0\n" } }).probe,
      ),
      "podman",
    );
  });

  it("a UserError saying to start Docker when its daemon is down and there is no podman", async () => {
    const { probe } = probeFrom({
      [DOCKER_VERSION]: { code: 1, stderr: "Cannot connect to the Docker daemon.\n" },
    });
    await assert.rejects(detectLocalEngine(probe), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, "build.no-engine");
      assert.match(error.message, /daemon does not answer \(Cannot connect/);
      assert.match(error.hint ?? "", /Start the Docker daemon/);
      return true;
    });
  });

  it("a UserError saying to install one when there is neither", async () => {
    await assert.rejects(detectLocalEngine(probeFrom({}).probe), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /neither Docker nor Podman/);
      assert.match(error.hint ?? "", /Install Docker/);
      return true;
    });
  });

  it("on this machine: one of the two, or the UserError", async () => {
    try {
      assert.match(await detectLocalEngine(), /^(docker|podman)$/);
    } catch (error) {
      assert.ok(error instanceof UserError);
    }
  });
});
