/** Registry naming rules and the argv of login, push and pull: what runs, and that no password does. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageRef, withVersion } from "../../../src/deploy/names.ts";
import { BugError, UserError } from "../../../src/errors/index.ts";
import {
  hostDockerConfigArgv,
  hostLoginArgv,
  hostPullArgv,
  hostRemoveDockerConfigArgv,
  localLoginArgv,
  localPushArgv,
  loginFor,
  loginServer,
  type RegistryLogin,
  referenceDomain,
  registryOf,
  registryRepository,
} from "../../../src/registry/index.ts";

describe("registry naming", () => {
  it("reads the registry host of a reference the way Docker does", () => {
    assert.equal(referenceDomain("hello"), undefined);
    assert.equal(referenceDomain("acme/hello:1"), undefined);
    assert.equal(referenceDomain("ghcr.io/acme/hello:1"), "ghcr.io");
    assert.equal(referenceDomain("registry:5000/hello"), "registry:5000");
    assert.equal(referenceDomain("localhost/hello"), "localhost");
    assert.equal(registryOf("nginx:1.27"), "docker.io");
    assert.equal(registryOf("index.docker.io/library/nginx"), "docker.io");
    assert.equal(registryOf("GHCR.io/acme/hello"), "ghcr.io");
  });

  it("puts the image under registry.server unless it already starts with it", () => {
    const registry = { server: "registry.example.com:5000", username: "bot" };
    assert.equal(registryRepository("hello", registry), "registry.example.com:5000/hello");
    assert.equal(registryRepository("team/app", registry), "registry.example.com:5000/team/app");
    assert.equal(
      registryRepository("registry.example.com:5000/team/app", registry),
      "registry.example.com:5000/team/app",
    );
    assert.equal(loginServer("hello", registry), "registry.example.com:5000");
  });

  it("refuses an image on another registry than registry.server, with a hint", () => {
    assert.throws(
      () => registryRepository("ghcr.io/acme/hello", { server: "quay.io", username: "bot" }),
      (error: unknown) =>
        error instanceof UserError &&
        /names the registry ghcr.io, but registry.server is quay.io/.test(error.message) &&
        /image: acme\/hello/.test(error.hint ?? ""),
    );
  });

  it("without a server: the image's own registry, else Docker Hub under the user's namespace", () => {
    assert.equal(
      registryRepository("ghcr.io/acme/hello", { username: "bot" }),
      "ghcr.io/acme/hello",
    );
    assert.equal(loginServer("ghcr.io/acme/hello", { username: "bot" }), "ghcr.io");
    assert.equal(registryRepository("hello", { username: "Alice" }), "docker.io/alice/hello");
    assert.equal(registryRepository("acme/hello", { username: "alice" }), "docker.io/acme/hello");
    assert.equal(loginServer("hello", { username: "alice" }), "docker.io");
    assert.equal(
      registryRepository("hello", { server: "docker.io", username: "alice" }),
      "docker.io/alice/hello",
    );
    assert.throws(
      () => registryRepository("hello", { username: "alice@example.com" }),
      (error: unknown) => error instanceof UserError && /image: acme\/hello/.test(error.hint ?? ""),
    );
  });

  it("imageRef is the one name of a version: plain without a registry, on it with one", () => {
    assert.equal(imageRef({ image: "hello" }, "v1"), "hello:v1");
    assert.equal(
      imageRef({ image: "hello", registry: { server: "10.88.0.1:5000", username: "u" } }, "v1"),
      "10.88.0.1:5000/hello:v1",
    );
    assert.equal(withVersion("10.88.0.1:5000/hello:v2", "v1"), "10.88.0.1:5000/hello:v1");
  });

  it("logs in for an image only when it lives on the configured registry", () => {
    const login: RegistryLogin = {
      server: "docker.io",
      username: "alice",
      password: "pw",
      secret: "REGISTRY_PASSWORD",
      secretsFile: ".slipway/secrets",
    };
    assert.equal(loginFor("nginx:1.27", login), login);
    assert.equal(loginFor("ghcr.io/acme/proxy:1", login), undefined);
    assert.equal(loginFor("nginx:1.27", undefined), undefined);
  });
});

describe("registry argv", () => {
  it("logs in with the password on stdin and the user in one word", () => {
    assert.deepEqual(localLoginArgv("podman", "10.88.0.1:5000", "-bot"), [
      "podman",
      "login",
      "--username=-bot",
      "--password-stdin",
      "10.88.0.1:5000",
    ]);
    assert.deepEqual(localPushArgv("docker", "10.88.0.1:5000/hello:v1"), [
      "docker",
      "push",
      "10.88.0.1:5000/hello:v1",
    ]);
  });

  it("keeps a host's login in its own DOCKER_CONFIG folder under /var/lib/slipway", () => {
    assert.deepEqual(hostDockerConfigArgv(), [
      "mktemp",
      "-d",
      "/var/lib/slipway/docker-config.XXXXXXXXXX",
    ]);
    const dir = "/var/lib/slipway/docker-config.AbC123xyz0";
    assert.deepEqual(hostLoginArgv(dir, "ghcr.io", "bot"), [
      "env",
      `DOCKER_CONFIG=${dir}`,
      "docker",
      "login",
      "--username=bot",
      "--password-stdin",
      "ghcr.io",
    ]);
    assert.deepEqual(hostPullArgv("ghcr.io/acme/hello:v1", dir), [
      "env",
      `DOCKER_CONFIG=${dir}`,
      "docker",
      "pull",
      "ghcr.io/acme/hello:v1",
    ]);
    assert.deepEqual(hostPullArgv("nginx:1.27"), ["docker", "pull", "nginx:1.27"]);
    assert.deepEqual(hostRemoveDockerConfigArgv(dir), ["rm", "-rf", "--", dir]);
  });

  it("refuses values that could be read as options or escape the folder", () => {
    assert.throws(() => hostRemoveDockerConfigArgv("/"), BugError);
    assert.throws(() => hostRemoveDockerConfigArgv("/var/lib/slipway/../etc"), BugError);
    assert.throws(() => hostLoginArgv("/tmp/x", "ghcr.io", "bot"), BugError);
    assert.throws(() => localLoginArgv("docker", "--insecure", "bot"), BugError);
    assert.throws(() => localLoginArgv("docker", "ghcr.io", "bot\nx"), BugError);
    assert.throws(() => hostPullArgv("--all-tags"), BugError);
  });
});
