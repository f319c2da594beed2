/**
 * Parsers against output captured from real engines: Docker 20.10 (Debian 12's docker.io, inside
 * the VPS box) and Podman 4.3 (this machine), in fixtures/ exactly as the commands printed it.
 * The containers ran the example app: a healthy web container, one failing its health check with
 * a published port, a release command that exited 1, and one that kept crashing (restart 5).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  containerIp,
  normalizeImageId,
  parseContainerInspect,
  parseContainerList,
  parseImageId,
  parseImageInspect,
  parseInspect,
  parseLoadOutput,
} from "../../../src/engine/index.ts";
import { BugError } from "../../../src/errors/index.ts";

function fixture(name: string): string {
  return readFileSync(new URL(`fixtures/${name}.stdout`, import.meta.url), "utf8");
}

const IMAGE_ID = "sha256:e3f226726538edbbc17ec5c5e295041057eed861729f3caf83450dfb652b6bae";

function only<T>(list: T[]): T {
  assert.equal(list.length, 1);
  return list[0] as T;
}

describe("parseContainerList", () => {
  it("reads Docker's JSON lines, labels included (the image's too)", () => {
    const [migrate, web] = parseContainerList(fixture("docker-20.10-ps"));
    assert.deepEqual(migrate, {
      id: "13b8a96b15ae223e2f2dec733ee9efb49eeba07cc73d998ec16715fed9887262",
      name: "hello-migrate",
      image: "localhost/hello:sample1",
      state: "exited",
      status: "Exited (1) 6 seconds ago",
      labels: {
        "io.buildah.version": "1.28.2",
        role: "migrate",
        service: "hello",
        "slipway.rig.context-sha256":
          "32ca6e6407bf3d7b84ee9d9820b1dc3b95cfda9d7122e80c0e3a7899f5eaa6f9",
      },
      networks: ["slipway"],
    });
    assert.equal(web?.name, "hello-web-abc");
    assert.equal(web?.state, "running");
    assert.equal(web?.status, "Up 7 seconds (healthy)");
    // Docker joined "note=a,b=c" with the other labels; the best reading keeps both pieces.
    assert.equal(web?.labels.role, "web");
    assert.equal(web?.labels.note, "a");
    assert.equal(web?.labels.b, "c");
  });

  it("reads Podman 4's JSON array (names as a list, labels as a map)", () => {
    const c = only(parseContainerList(fixture("podman-4.3-ps")));
    assert.equal(c.id, "817566d5801e7f354c8dc9e66f80feccfa2eeb96e1977d319c03d4479305cdcf");
    assert.equal(c.name, "pdsample");
    assert.equal(c.image, "localhost/slipway-node:24");
    assert.equal(c.state, "running");
    assert.equal(c.labels.service, "hello");
    assert.deepEqual(c.networks, ["podman"]);
  });

  it("returns nothing for empty output and refuses what is not JSON", () => {
    assert.deepEqual(parseContainerList(""), []);
    assert.deepEqual(parseContainerList("\n"), []);
    assert.throws(() => parseContainerList("CONTAINER ID   IMAGE"), BugError);
    assert.throws(() => parseContainerList('{"Names":"x"}'), BugError);
  });
});

describe("parseContainerInspect", () => {
  it("a running, healthy container: state, health, times, image, labels, IP on the network", () => {
    const c = only(parseContainerInspect(fixture("docker-20.10-inspect-healthy")));
    assert.equal(c.id, "f45ed3e9c0140837cdc0f974a73a4aaadc4c3abd3d98fcc6d680ca141e847d3d");
    assert.equal(c.name, "hello-web-abc");
    assert.equal(c.image, "localhost/hello:sample1");
    assert.equal(c.imageId, IMAGE_ID);
    assert.equal(c.state, "running");
    assert.equal(c.running, true);
    assert.equal(c.health, "healthy");
    assert.equal(c.restartCount, 0);
    assert.equal(c.exitCode, 0);
    assert.equal(c.startedAt, "2026-11-22T04:27:25.341342731Z");
    assert.equal(c.finishedAt, undefined);
    assert.deepEqual(
      { service: c.labels.service, role: c.labels.role, note: c.labels.note },
      { service: "hello", role: "web", note: "a,b=c" },
    );
    assert.equal(containerIp(c, "slipway"), "172.18.0.2");
    assert.equal(containerIp(c, "bridge"), undefined);
    assert.deepEqual(c.networks, { slipway: "172.18.0.2" });
    assert.deepEqual(parseInspect(fixture("docker-20.10-inspect-healthy")), c);
  });

  it("a running container failing its health check", () => {
    const c = only(parseContainerInspect(fixture("docker-20.10-inspect-unhealthy")));
    assert.equal(c.state, "running");
    assert.equal(c.health, "unhealthy");
    assert.equal(c.healthOutput, undefined, "its checks printed nothing");
    assert.equal(containerIp(c, "slipway"), "172.18.0.3");
  });

  it("what the last health check printed, trimmed, for the gate's message", () => {
    const raw = JSON.parse(fixture("docker-20.10-inspect-unhealthy"));
    raw[0].State.Health.Log.at(-1).Output = "heartbeat is 12s old\n";
    raw[0].State.Health.Log.at(0).Output = "an older line\n";
    const c = only(parseContainerInspect(JSON.stringify(raw)));
    assert.equal(c.healthOutput, "heartbeat is 12s old");
  });

  it("a release command that exited 1, without a health check", () => {
    const c = only(parseContainerInspect(fixture("docker-20.10-inspect-exited")));
    assert.equal(c.name, "hello-migrate");
    assert.equal(c.state, "exited");
    assert.equal(c.running, false);
    assert.equal(c.exitCode, 1);
    assert.equal(c.health, undefined);
    assert.match(c.finishedAt ?? "", /^2026-11-22T04:27:2\d/);
    assert.equal(containerIp(c, "slipway"), undefined, "no IP once stopped");
  });

  it("a crashing container with its restart count", () => {
    const c = only(parseContainerInspect(fixture("docker-20.10-inspect-restarting")));
    assert.equal(c.restartCount, 5);
    assert.equal(c.exitCode, 1);
    assert.equal(c.state, "exited");
  });

  it("Podman's inspect: no leading '/', bare image ID, empty health status means none", () => {
    const c = only(parseContainerInspect(fixture("podman-4.3-inspect")));
    assert.equal(c.name, "pdsample");
    assert.equal(c.image, "localhost/slipway-node:24");
    assert.equal(
      c.imageId,
      "sha256:9848dbc8a94e51e9c2b327ac0929b31911849728c98398c5ec62f5f3e1e9ffe0",
    );
    assert.equal(c.health, undefined);
    assert.equal(containerIp(c, "podman"), "10.88.0.36");
  });

  it("an absent container prints [] (and exits 1); anything else is refused", () => {
    assert.deepEqual(parseContainerInspect("[]\n"), []);
    assert.throws(() => parseInspect("[]\n"), BugError);
    assert.throws(() => parseContainerInspect("Error: No such container: nope"), BugError);
    assert.throws(() => parseContainerInspect('[{"Id":"x"}]'), BugError);
  });
});

describe("images", () => {
  it("image inspect from Docker and from Podman give the same ID and layers", () => {
    const docker = only(parseImageInspect(fixture("docker-20.10-image-inspect")));
    const podman = only(parseImageInspect(fixture("podman-4.3-image-inspect")));
    assert.equal(docker.id, IMAGE_ID);
    assert.equal(podman.id, IMAGE_ID);
    assert.deepEqual(docker.repoTags, ["localhost/hello:sample1"]);
    assert.equal(docker.layers.length, 5);
    assert.deepEqual(docker.layers, podman.layers);
    assert.ok(docker.sizeBytes > 100_000_000);
  });

  it("image IDs in both spellings", () => {
    assert.equal(parseImageId(`${IMAGE_ID}\n`), IMAGE_ID);
    assert.equal(parseImageId(`${IMAGE_ID.slice(7)}\n`), IMAGE_ID);
    assert.equal(normalizeImageId(IMAGE_ID.slice(7)), IMAGE_ID);
    assert.throws(() => parseImageId("\n"), BugError);
  });

  it("what docker load and podman load say they loaded", () => {
    assert.deepEqual(parseLoadOutput(fixture("docker-20.10-load-tagged")), {
      refs: ["localhost/hello:sample1"],
      ids: [],
    });
    assert.deepEqual(parseLoadOutput(fixture("docker-20.10-load-untagged")), {
      refs: [],
      ids: [IMAGE_ID],
    });
    assert.deepEqual(parseLoadOutput(fixture("podman-4.3-load")), {
      refs: ["localhost/hello:sample1"],
      ids: [],
    });
    assert.deepEqual(parseLoadOutput("Loaded image(s): localhost/a:1,localhost/b:2\n"), {
      refs: ["localhost/a:1", "localhost/b:2"],
      ids: [],
    });
  });
});
