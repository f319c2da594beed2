/** No value an argv builder is given can be read by `docker` as an option or a second word. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkImageRef,
  dockerExec,
  dockerListContainers,
  dockerLogs,
  dockerNetworkCreate,
  dockerRemove,
  dockerRun,
  dockerStop,
  dockerTag,
} from "../../../src/engine/index.ts";
import { BugError } from "../../../src/errors/index.ts";

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BugError, `expected a BugError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

const base = { name: "hello-web-1", image: "hello:1", labels: {} };

describe("engine argument checks", () => {
  it("refuses container and network names that could be options or are not names", () => {
    for (const name of ["-d", "--privileged", "", "a b", "a/b", "_x", "x;y", "ünï"]) {
      refused(() => dockerRemove(name), /invalid container name/);
      refused(() => dockerRun({ ...base, name }), /invalid container name/);
    }
    refused(() => dockerNetworkCreate("--driver=host"), /invalid network/);
    refused(() => dockerRun({ ...base, network: "-x" }), /invalid network/);
    refused(() => dockerRun({ ...base, networkAlias: "web" }), /network alias .* needs a network/);
  });

  it("accepts image references of every legal shape, refuses the rest", () => {
    for (const ref of [
      "hello",
      "hello:0123456789ab",
      "hello:0123456789ab-dirty-a1b2c3",
      "acme/hello:1.2.3",
      "ghcr.io/acme/hello:v1",
      "localhost/hello:1",
      "localhost:5000/a/b_c__d-e:latest",
      "[::1]:5000/hello:1",
      `hello@sha256:${"a".repeat(64)}`,
      `hello:1@sha256:${"a".repeat(64)}`,
      `sha256:${"0".repeat(64)}`,
    ]) {
      assert.equal(checkImageRef(ref), ref);
    }
    for (const ref of [
      "-hello",
      "--privileged",
      "Hello",
      "hello:",
      ":1",
      "hello:-1",
      "hello world",
      "hello:1 --rm",
      "hello/",
      "a//b",
      `hello:${"x".repeat(129)}`,
      "hello@sha256:abc",
    ]) {
      refused(() => checkImageRef(ref), /invalid image reference/);
    }
    refused(() => dockerTag("hello:1", "-x"), /invalid image reference/);
    refused(() => dockerRun({ ...base, image: "-v" }), /invalid image reference/);
  });

  it("refuses label keys with '=' or ',' and label values with ',' or control characters", () => {
    refused(() => dockerRun({ ...base, labels: { "a=b": "c" } }), /invalid label key/);
    refused(() => dockerRun({ ...base, labels: { "-a": "c" } }), /invalid label key/);
    refused(() => dockerRun({ ...base, labels: { a: "b,c=d" } }), /invalid label value.*','/);
    refused(() => dockerRun({ ...base, labels: { a: "line\nbreak" } }), /invalid label value/);
    refused(() => dockerListContainers({ "": "x" }), /invalid label key/);
  });

  it("refuses env names that are not names, relative env files and volume paths with ':'", () => {
    refused(() => dockerRun({ ...base, env: { "A=B": "c" } }), /environment variable name/);
    refused(() => dockerRun({ ...base, env: { "1A": "c" } }), /environment variable name/);
    refused(() => dockerRun({ ...base, envFile: "app.env" }), /invalid env file/);
    refused(
      () => dockerRun({ ...base, volumes: [{ source: "/a:b", target: "/c" }] }),
      /volume source/,
    );
    refused(
      () => dockerRun({ ...base, volumes: [{ source: "data", target: "relative" }] }),
      /volume target/,
    );
    refused(
      () => dockerRun({ ...base, volumes: [{ source: "-data", target: "/d" }] }),
      /volume name/,
    );
  });

  it("refuses out-of-range numbers and malformed ports, sizes and times", () => {
    const port = { hostIp: "127.0.0.1", hostPort: 8080, containerPort: 3000 };
    refused(() => dockerRun({ ...base, publish: [{ ...port, hostPort: 0 }] }), /host port/);
    refused(() => dockerRun({ ...base, publish: [{ ...port, containerPort: 70000 }] }), /port/);
    refused(() => dockerRun({ ...base, publish: [{ ...port, hostIp: "localhost" }] }), /host IP/);
    refused(() => dockerRun({ ...base, stopTimeoutS: -1 }), /stop timeout/);
    refused(() => dockerRun({ ...base, memoryBytes: 1.5 }), /memory limit/);
    refused(() => dockerRun({ ...base, cpus: 0 }), /cpus/);
    refused(() => dockerRun({ ...base, cpus: Number.NaN }), /cpus/);
    refused(() => dockerRun({ ...base, logMaxSize: "10 MB" }), /log max size/);
    refused(() => dockerRun({ ...base, logMaxFiles: 0 }), /log max files/);
    refused(() => dockerStop("x", 1.5), /stop timeout/);
    refused(() => dockerLogs("x", { since: "--follow" }), /logs since/);
    refused(() => dockerLogs("x", { tail: -1 }), /tail/);
  });

  it("refuses an empty command and NUL bytes in one", () => {
    refused(() => dockerExec("x", []), /exec command/);
    refused(() => dockerExec("x", ["a\0b"]), /exec command/);
    refused(() => dockerRun({ ...base, cmd: [] }), /container command/);
  });
});
