/**
 * The agent's Engine API client against the real Podman Docker-API socket: a container made,
 * started, waited for, its logs read, found by label and inspected, then removed; the
 * container check that reads a role's container through it; and the streams the backup runner
 * uses: exec with stdin fed and closed, stdout and stderr apart, 64 MiB through with
 * backpressure, the exit code; a one-off container attached before its start, fed its stdin.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { after, describe, it } from "node:test";
import { checkSchema, EngineClient, type EngineError, probe } from "../../src/agent/index.ts";
import { REDIS_IMAGE } from "../rig/images.ts";
import { NODE_IMAGE, rigAvailable, skipUnless } from "../rig/index.ts";

const PODMAN_SOCKET = "/run/podman/podman.sock";

describe("the agent's engine client on Podman's socket", {
  skip:
    skipUnless(rigAvailable(NODE_IMAGE)) ||
    (existsSync(PODMAN_SOCKET) ? false : `${PODMAN_SOCKET} is missing`),
  timeout: 120_000,
}, () => {
  const engine = new EngineClient(PODMAN_SOCKET);
  const label = `slipway-test-engine-${randomBytes(4).toString("hex")}`;
  const made: string[] = [];
  after(async () => {
    for (const id of made) await engine.remove(id);
  });

  it("creates, starts, waits, reads logs, lists by label, inspects and removes a container", async () => {
    const id = await engine.create(label, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "console.log('out line'); console.error('err line'); process.exit(3)"],
      Env: ["GREETING=hi"],
      Labels: { "slipway.test": label },
    });
    made.push(id);
    await engine.start(id);
    assert.equal(await engine.wait(id), 3);
    const logs = await engine.logs(id);
    assert.match(logs, /out line\n/);
    assert.match(logs, /err line\n/);
    const listed = await engine.list({ "slipway.test": label }, { all: true });
    assert.deepEqual(
      listed.map((c) => c.Id),
      [id],
    );
    assert.equal((await engine.list({ "slipway.test": label })).length, 0, "none running");
    const info = await engine.inspect(id);
    assert.equal(info.State.ExitCode, 3);
    assert.ok(info.Config.Env?.includes("GREETING=hi"));
    assert.equal(info.Config.Labels?.["slipway.test"], label);
    await engine.remove(id);
    await engine.remove(id); // gone already: fine
    await assert.rejects(engine.inspect(id), (e: EngineError) => e.status === 404);
  });

  it("waiting on a container costs the engine no CPU, stops at its exit, and gives up on a signal", async () => {
    // Podman before 4.5 answers the API's /wait by polling every microsecond (podman#18150).
    const service = spawnSync("pgrep", ["-o", "-f", "podman system service"], { encoding: "utf8" });
    const pid = Number(service.stdout.trim());
    const cpu = () => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return (Number(fields[11]) + Number(fields[12])) / 100;
    };
    const id = await engine.create(`${label}-wait`, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "setTimeout(() => process.exit(7), 3000)"],
    });
    made.push(id);
    await engine.start(id);
    const before = pid > 0 ? cpu() : 0;
    const started = Date.now();
    assert.equal(await engine.wait(id), 7);
    const waited = Date.now() - started;
    assert.ok(waited > 2_000 && waited < 4_500, `waited ${waited} ms`);
    if (pid > 0) assert.ok(cpu() - before < 0.6, `the engine spent ${cpu() - before} CPU-s`);

    const long = await engine.create(`${label}-wait-long`, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "setTimeout(() => {}, 60000)"],
    });
    made.push(long);
    await engine.start(long);
    await assert.rejects(engine.wait(long, AbortSignal.timeout(500)), /TimeoutError|aborted/);
    await engine.kill(long, "SIGKILL");
  });

  it("told the exit is near, a wait stops pausing at once: a dump's end is not a second late", async () => {
    const id = await engine.create(`${label}-soon`, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "setTimeout(() => {}, 60000)"],
    });
    made.push(id);
    await engine.start(id);
    let tell: () => void = () => {};
    const soon = new Promise<void>((resolve) => {
      tell = resolve;
    });
    const waiting = engine.wait(id, undefined, soon);
    // By 1.7 s the waits have grown to 800 ms and then a second (50, 100, ... ms from the start).
    await new Promise((r) => setTimeout(r, 1_700));
    await engine.kill(id, "SIGKILL");
    const told = Date.now();
    tell();
    assert.equal(typeof (await waiting), "number");
    const late = Date.now() - told;
    assert.ok(late < 400, `the wait saw the exit ${late} ms after it was told`);
  });

  it("removes a one-off container with its anonymous volumes (an image's VOLUME), which nothing could reach again", {
    skip: skipUnless(rigAvailable(REDIS_IMAGE)),
  }, async () => {
    // The rig's Redis image declares VOLUME /data.
    const id = await engine.create(`${label}-volume`, { Image: REDIS_IMAGE, Cmd: ["true"] });
    made.push(id);
    const info = (await engine.inspect(id)) as {
      Mounts?: { Name?: string; Destination: string }[];
    };
    const volume = info.Mounts?.find((m) => m.Destination === "/data")?.Name;
    assert.ok(volume, `an anonymous volume at /data: ${JSON.stringify(info.Mounts)}`);
    const exists = () => spawnSync("podman", ["volume", "exists", volume]).status === 0;
    assert.ok(exists());
    await engine.remove(id);
    assert.equal(exists(), false, `volume ${volume} left behind`);
  });

  it("a container check: running, then restarted since the last look, then no container", async () => {
    const role = `${label}-worker`;
    const check = checkSchema.parse({
      name: "hello/container-worker",
      kind: "container",
      role: "worker",
      labels: { "slipway.test": role },
    });
    assert.deepEqual(await probe(check, engine).then((r) => [r.ok, r.detail]), [
      false,
      "no running container of worker",
    ]);
    // Exits after 2 s; the engine brings it back each time.
    const id = await engine.create(role, {
      Image: NODE_IMAGE,
      Cmd: ["node", "-e", "setTimeout(() => process.exit(1), 2000)"],
      Labels: { "slipway.test": role },
      HostConfig: { RestartPolicy: { Name: "always" } },
    });
    made.push(id);
    await engine.start(id);
    const first = await probe(check, engine);
    assert.deepEqual([first.ok, first.detail], [true, `${role} running, 0 restarts`]);
    let restarted = first;
    const deadline = Date.now() + 20_000;
    // Caught between its exit and its restart it is "no running container": look again.
    while (!/ restarted /.test(restarted.detail) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      restarted = await probe(check, engine);
    }
    assert.equal(restarted.ok, false, restarted.detail);
    assert.match(
      restarted.detail,
      new RegExp(`^${role} restarted (once|\\d+ times) since the last look$`),
    );
    await engine.remove(id);
    const gone = await probe(check, engine);
    assert.deepEqual([gone.ok, gone.detail], [false, "no running container of worker"]);
  });

  it("exec: stdin fed and closed, stdout and stderr apart, the exit code", async () => {
    const id = await engine.create(`${label}-exec`, {
      Image: NODE_IMAGE,
      Cmd: ["sleep", "600"],
      Labels: { "slipway.test": label },
    });
    made.push(id);
    await engine.start(id);
    const run = await engine.exec(
      id,
      ["sh", "-c", "tr a-z A-Z; echo 'to stderr' >&2; exit 3"],
      "fed on stdin\n",
    );
    const [out, err] = await Promise.all([text(run.stdout), text(run.stderr)]);
    assert.deepEqual([out, err, await run.exit], ["FED ON STDIN\n", "to stderr\n", 3]);
    const quiet = await engine.exec(id, ["true"]);
    quiet.stdout.resume();
    quiet.stderr.resume();
    assert.equal(await quiet.exit, 0);
  });

  it("exec: 64 MiB each way, read slowly, arrive whole", async () => {
    const id = (await engine.list({ "slipway.test": label }))[0]?.Id;
    assert.ok(id, "the container of the test before");
    const size = 64 * 1024 * 1024;
    const block = Buffer.alloc(1024 * 1024, 7);
    const sent = createHash("sha256");
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < size / block.length; i++) {
          block[0] = i;
          sent.update(block);
          yield Buffer.from(block);
        }
      })(),
    );
    const run = await engine.exec(id, ["cat"], source);
    const got = createHash("sha256");
    let bytes = 0;
    for await (const chunk of run.stdout as AsyncIterable<Buffer>) {
      got.update(chunk);
      bytes += chunk.length;
      if (bytes % (8 * 1024 * 1024) < chunk.length) await new Promise((r) => setTimeout(r, 20));
    }
    run.stderr.resume();
    assert.equal(await run.exit, 0);
    assert.equal(bytes, size);
    assert.equal(got.digest("hex"), sent.digest("hex"));
  });

  it("attach: a one-off container fed its stdin before it starts, then waited for", async () => {
    const id = await engine.create(`${label}-once`, {
      Image: NODE_IMAGE,
      Cmd: ["sh", "-c", "wc -c; echo done >&2"],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Labels: { "slipway.test": label },
    });
    made.push(id);
    const streams = await engine.attach(id, Readable.from([Buffer.alloc(100_000, 1)]));
    await engine.start(id);
    const [out, err] = await Promise.all([text(streams.stdout), text(streams.stderr)]);
    assert.equal(await engine.wait(id), 0);
    assert.deepEqual([out.trim(), err], ["100000", "done\n"]);
  });

  it("says clearly when there is no engine at the socket", async () => {
    await assert.rejects(
      new EngineClient("/nonexistent/docker.sock").list({}),
      /no container engine at \/nonexistent\/docker\.sock \(ENOENT\)/,
    );
  });
});
