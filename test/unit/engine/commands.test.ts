/** The argv of every engine command, word for word, as it reaches `docker` on a host. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ContainerSpec,
  dockerExec,
  dockerImageId,
  dockerImageInspect,
  dockerInspect,
  dockerListContainers,
  dockerLoad,
  dockerLogs,
  dockerNetworkCreate,
  dockerNetworkInspect,
  dockerRemove,
  dockerRemoveImage,
  dockerRun,
  dockerStart,
  dockerStop,
  dockerTag,
  parseDockerExec,
} from "../../../src/engine/index.ts";
import { renderCommand } from "../../../src/transport/index.ts";

const web: ContainerSpec = {
  name: "hello-web-0123456789ab",
  image: "hello:0123456789ab",
  network: "slipway",
  networkAlias: "hello-web",
  labels: { "slipway.service": "hello", "slipway.role": "web", "slipway.version": "0123456789ab" },
  envFile: "/var/lib/slipway/hello/env/web-0123456789ab.env",
  env: { SLIPWAY_VERSION: "0123456789ab", NODE_ENV: "production" },
  restart: "unless-stopped",
  stopTimeoutS: 30,
  memoryBytes: 512 * 1024 * 1024,
  cpus: 0.5,
};

describe("dockerRun", () => {
  it("starts a web container: detached, named, on the network, env file, sorted env and labels, rotated logs", () => {
    assert.equal(
      dockerRun(web).join(" "),
      "docker run --detach --name hello-web-0123456789ab --network slipway --network-alias hello-web" +
        " --restart unless-stopped --stop-timeout 30 --memory 536870912 --cpus 0.5" +
        " --env-file /var/lib/slipway/hello/env/web-0123456789ab.env" +
        " --env NODE_ENV=production --env SLIPWAY_VERSION=0123456789ab" +
        " --log-driver json-file --log-opt max-size=10m --log-opt max-file=3" +
        " --label slipway.role=web --label slipway.service=hello --label slipway.version=0123456789ab" +
        " hello:0123456789ab",
    );
  });

  it("runs a one-off release command attached, removed on exit, with the given command", () => {
    const argv = dockerRun({
      name: "hello-release-0123456789ab",
      image: "hello:0123456789ab",
      network: "slipway",
      labels: { "slipway.service": "hello", "slipway.role": "release" },
      envFile: "/var/lib/slipway/hello/env/web-0123456789ab.env",
      cmd: ["node", "server.mjs", "migrate"],
      detach: false,
      removeOnExit: true,
    });
    assert.equal(
      argv.join(" "),
      "docker run --rm --name hello-release-0123456789ab --network slipway" +
        " --env-file /var/lib/slipway/hello/env/web-0123456789ab.env" +
        " --log-driver json-file --log-opt max-size=10m --log-opt max-file=3" +
        " --label slipway.role=release --label slipway.service=hello" +
        " hello:0123456789ab node server.mjs migrate",
    );
  });

  it("publishes ports on a host address (IPv6 in brackets) and mounts volumes, read-only when asked", () => {
    const argv = dockerRun({
      name: "slipway-proxy",
      image: "localhost/slipway-nginx:1",
      labels: {},
      publish: [
        { hostIp: "0.0.0.0", hostPort: 80, containerPort: 80 },
        { hostIp: "::", hostPort: 443, containerPort: 443 },
      ],
      volumes: [
        { source: "/etc/slipway/nginx", target: "/etc/nginx/conf.d", readOnly: true },
        { source: "slipway-certs", target: "/certs" },
      ],
      logMaxSize: "50m",
      logMaxFiles: 5,
      restart: "no",
    });
    assert.equal(
      argv.join(" "),
      "docker run --detach --name slipway-proxy --restart no" +
        " --publish 0.0.0.0:80:80 --publish [::]:443:443" +
        " --volume /etc/slipway/nginx:/etc/nginx/conf.d:ro --volume slipway-certs:/certs" +
        " --log-driver json-file --log-opt max-size=50m --log-opt max-file=5" +
        " localhost/slipway-nginx:1",
    );
  });

  it("keeps hostile values as single words: a command after the image is never an option", () => {
    const argv = dockerRun({
      name: "x",
      image: "hello:1",
      labels: { note: "a b;$(rm -rf /)" },
      env: { MESSAGE: "hello; rm -rf / $HOME 'quoted'\nnext line" },
      cmd: ["--privileged", "-v", "/:/host"],
    });
    assert.deepEqual(argv.slice(-6), [
      "--label",
      "note=a b;$(rm -rf /)",
      "hello:1",
      "--privileged",
      "-v",
      "/:/host",
    ]);
    assert.ok(argv.includes("MESSAGE=hello; rm -rf / $HOME 'quoted'\nnext line"));
    assert.equal(
      renderCommand(argv),
      "docker run --detach --name x --env 'MESSAGE=hello; rm -rf / $HOME '\\''quoted'\\''\nnext line'" +
        " --log-driver json-file --log-opt max-size=10m --log-opt max-file=3" +
        " --label 'note=a b;$(rm -rf /)' hello:1 --privileged -v /:/host",
    );
  });

  it("gives the same argv whatever order labels and env were written in", () => {
    const reordered: ContainerSpec = {
      ...web,
      labels: Object.fromEntries(Object.entries(web.labels).reverse()),
      env: Object.fromEntries(Object.entries(web.env ?? {}).reverse()),
    };
    assert.deepEqual(dockerRun(reordered), dockerRun(web));
  });
});

describe("container lifecycle", () => {
  it("start, stop with a timeout, remove (forced or not)", () => {
    assert.equal(dockerStart("hello-web-1").join(" "), "docker start hello-web-1");
    assert.equal(dockerStop("hello-web-1", 30).join(" "), "docker stop -t 30 hello-web-1");
    assert.equal(dockerRemove("hello-web-1").join(" "), "docker rm --volumes hello-web-1");
    assert.equal(
      dockerRemove("hello-web-1", { force: true }).join(" "),
      "docker rm --force --volumes hello-web-1",
    );
  });

  it("lists containers by labels, sorted, full IDs, one JSON object per line", () => {
    assert.equal(
      dockerListContainers(
        { "slipway.service": "hello", "slipway.role": "web" },
        { all: true },
      ).join(" "),
      "docker ps --all --no-trunc --filter label=slipway.role=web --filter label=slipway.service=hello" +
        " --format {{json .}}",
    );
    assert.equal(
      renderCommand(dockerListContainers({ "slipway.service": "hello" })),
      "docker ps --no-trunc --filter label=slipway.service=hello --format '{{json .}}'",
    );
  });

  it("inspects a container, reads its logs, runs a command in it", () => {
    assert.equal(
      dockerInspect("hello-web-1").join(" "),
      "docker inspect --type container hello-web-1",
    );
    assert.equal(dockerLogs("hello-web-1").join(" "), "docker logs hello-web-1");
    assert.equal(
      dockerLogs("hello-web-1", { tail: 100, follow: true, since: "10m", timestamps: true }).join(
        " ",
      ),
      "docker logs --follow --timestamps --since 10m --tail 100 hello-web-1",
    );
    assert.equal(
      dockerLogs("hello-web-1", { since: "2026-01-02T03:04:05Z", tail: 0 }).join(" "),
      "docker logs --since 2026-01-02T03:04:05Z --tail 0 hello-web-1",
    );
    assert.equal(
      dockerExec("hello-web-1", ["node", "-e", "console.log(1)"]).join(" "),
      "docker exec hello-web-1 node -e console.log(1)",
    );
    assert.equal(
      dockerExec("hello-web-1", ["sh"], { interactive: true, tty: true }).join(" "),
      "docker exec --interactive --tty hello-web-1 sh",
    );
  });

  it("parseDockerExec takes apart what dockerExec built, and nothing else", () => {
    const cmd = ["sh", "-c", "pg_dump --dbname hello", "--interactive"];
    assert.deepEqual(parseDockerExec(dockerExec("hello-db", cmd, { interactive: true })), {
      container: "hello-db",
      cmd,
      interactive: true,
      tty: false,
    });
    assert.deepEqual(parseDockerExec(dockerExec("hello-db", ["psql"])), {
      container: "hello-db",
      cmd: ["psql"],
      interactive: false,
      tty: false,
    });
    for (const other of [
      ["docker", "run", "hello"],
      ["docker", "exec", "hello-db"],
      ["docker", "exec", "--user", "root", "hello-db", "sh"],
      ["podman", "exec", "hello-db", "sh"],
    ])
      assert.equal(parseDockerExec(other), undefined, other.join(" "));
  });
});

describe("images and networks", () => {
  it("image ID, inspect, load, tag, remove", () => {
    assert.equal(
      renderCommand(dockerImageId("hello:0123456789ab")),
      "docker image inspect --format '{{.Id}}' hello:0123456789ab",
    );
    assert.equal(
      dockerImageInspect("ghcr.io/acme/hello:1.2.3").join(" "),
      "docker image inspect ghcr.io/acme/hello:1.2.3",
    );
    assert.deepEqual(dockerLoad(), ["sh", "-c", "gzip -cdf | docker load"]);
    assert.equal(
      dockerTag("localhost/hello:abc", "hello:abc").join(" "),
      "docker tag localhost/hello:abc hello:abc",
    );
    assert.equal(dockerRemoveImage("hello:abc").join(" "), "docker image rm hello:abc");
    const id = `sha256:${"e3f2".repeat(16)}`;
    assert.equal(dockerRemoveImage(id).join(" "), `docker image rm ${id}`);
  });

  it("network create and inspect", () => {
    assert.equal(dockerNetworkCreate("slipway").join(" "), "docker network create slipway");
    assert.equal(dockerNetworkInspect("slipway").join(" "), "docker network inspect slipway");
  });
});
