/**
 * shipImage against stand-in engines: shell scripts named podman (this machine) and docker (the
 * host, behind a transport that spawns them), so every way a ship can end is tried in seconds:
 * present, shipped and renamed, a local save that dies mid-way, a host load that gives up
 * without reading its input (which must not leave the local save hanging).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { type ShipProgress, shipImage } from "../../../src/build/index.ts";
import { ExternalError } from "../../../src/errors/index.ts";
import {
  type Command,
  isArgv,
  type RunOptions,
  type RunResult,
  type Transport,
} from "../../../src/transport/index.ts";

const ID = "e3f226726538edbbc17ec5c5e295041057eed861729f3caf83450dfb652b6bae";
const ARCHIVE_BYTES = 3_000_000;

// The local engine: `image inspect` knows hello:1 only; `save` writes an archive, or dies
// half-way when FAKE_SAVE=fail.
const PODMAN = `#!/bin/sh
case "$1 $2" in
  "image inspect")
    if [ "$3" = hello:1 ]; then
      echo '[{"Id":"${ID}","RepoTags":["localhost/hello:1"],"RootFS":{"Layers":["sha256:aa","sha256:bb"]},"Size":5}]'
    else
      echo "Error: $3: image not known" >&2; exit 125
    fi ;;
  "save --format")
    if [ "$FAKE_SAVE" = fail ]; then
      head -c 1000000 /dev/zero; echo "Error: writing layer: no space left on device" >&2; exit 125
    fi
    # forked: the output pipe is held by a process the shell started, which outlives the shell.
    if [ "$FAKE_SAVE" = forked ]; then head -c ${ARCHIVE_BYTES} /dev/zero | cat; exit; fi
    exec head -c ${ARCHIVE_BYTES} /dev/zero ;;
  *) echo "unexpected: podman $*" >&2; exit 99 ;;
esac
`;

// The host's engine, with its images as files in $FAKE_STATE. `load` stores its input, or
// refuses at once without reading it when FAKE_LOAD=fail.
const DOCKER = `#!/bin/sh
s="$FAKE_STATE"
case "$1 $2" in
  "image inspect")
    name=$(printf %s "$3" | tr '/:' '__')
    if [ -e "$s/image-$name" ]; then
      echo '[{"Id":"sha256:${ID}","RepoTags":["'"$3"'"],"RootFS":{"Layers":["sha256:aa","sha256:bb"]},"Size":5}]'
    else
      echo "Error: No such image: $3" >&2; exit 1
    fi ;;
  "load ")
    if [ "$FAKE_LOAD" = fail ]; then echo "Error processing tar file: no space left on device" >&2; exit 1; fi
    cat > "$s/archive" || exit 1
    size=$(wc -c < "$s/archive")
    if [ "$size" -lt 1000 ]; then echo "unexpected EOF" >&2; exit 1; fi
    touch "$s/image-localhost_hello_1"
    echo "Loaded image: localhost/hello:1" ;;
  "tag localhost/hello:1") touch "$s/image-$(printf %s "$3" | tr '/:' '__')" ;;
  "image rm") rm "$s/image-$(printf %s "$3" | tr '/:' '__')" ;;
  *) echo "unexpected: docker $*" >&2; exit 99 ;;
esac
echo "$*" >> "$s/log"
`;

/** A transport to "the host": spawns argv on this machine, stdin piped, like the SSH one. */
class SpawnTransport implements Transport {
  readonly host = "box";
  async run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    assert.ok(isArgv(command));
    const [program, ...args] = command as [string, ...string[]];
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      child.stdin.on("error", () => {});
      const input = options.stdin;
      if (input === undefined) child.stdin.end();
      else if (typeof input === "string" || input instanceof Uint8Array) child.stdin.end(input);
      else input.pipe(child.stdin);
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? 255, stdout, stderr }));
    });
  }
  async upload(): Promise<void> {}
  async readFile(): Promise<Buffer> {
    return Buffer.alloc(0);
  }
  async close(): Promise<void> {}
}

describe("shipImage", () => {
  let dir = "";
  let state = "";
  const savedPath = process.env.PATH;
  const remote = new SpawnTransport();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-ship-unit-"));
    await writeFile(join(dir, "podman"), PODMAN);
    await writeFile(join(dir, "docker"), DOCKER);
    await chmod(join(dir, "podman"), 0o755);
    await chmod(join(dir, "docker"), 0o755);
    process.env.PATH = `${dir}:${savedPath}`;
  });
  beforeEach(async () => {
    state = await mkdtemp(join(dir, "host-"));
    process.env.FAKE_STATE = state;
    delete process.env.FAKE_SAVE;
    delete process.env.FAKE_LOAD;
  });
  after(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  const hostLog = async () => (await readFile(join(state, "log"), "utf8").catch(() => "")).trim();

  it("streams the save into the host's load, names it as asked, drops the archive's name", async () => {
    const events: ShipProgress[] = [];
    const outcome = await shipImage({
      engine: "podman",
      image: "hello:1",
      remote,
      onProgress: (p) => events.push(p),
    });
    assert.equal(outcome, "shipped");
    const done = events.at(-1);
    assert.ok(done?.phase === "shipped");
    assert.equal(done.rawBytes, ARCHIVE_BYTES);
    assert.equal(done.imageId, `sha256:${ID}`);
    // Gzipped on the way (zeros shrink a thousandfold), unzipped on the host before its load.
    assert.ok(done.bytes < done.rawBytes / 100, `${done.bytes} bytes sent: not gzipped`);
    assert.equal(
      (await stat(join(state, "archive"))).size,
      ARCHIVE_BYTES,
      "the host's load received the whole archive, unzipped",
    );
    assert.deepEqual((await hostLog()).split("\n"), [
      "load",
      "tag localhost/hello:1 hello:1",
      "image inspect hello:1",
      "image rm localhost/hello:1",
    ]);
  });

  it("moves nothing when the host has the image", async () => {
    await writeFile(join(state, "image-hello_1"), "");
    const events: ShipProgress[] = [];
    const outcome = await shipImage({
      engine: "podman",
      image: "hello:1",
      remote,
      onProgress: (p) => events.push(p),
    });
    assert.equal(outcome, "present");
    assert.deepEqual(events, [{ phase: "present", imageId: `sha256:${ID}` }]);
  });

  it("uncompressed when asked: the host gets the archive as saved", async () => {
    await shipImage({ engine: "podman", image: "hello:1", remote, compress: false });
    assert.equal((await stat(join(state, "archive"))).size, ARCHIVE_BYTES);
  });

  it("an image missing here: a local-side error before anything moves", async () => {
    await assert.rejects(
      shipImage({ engine: "podman", image: "hello:2", remote }),
      (e: unknown) => {
        assert.ok(e instanceof ExternalError);
        assert.equal(e.code, "ship.local-image-missing");
        assert.equal(e.host, "local");
        assert.match(e.message, /hello:2: image not known/);
        return true;
      },
    );
    assert.equal(await hostLog(), "");
  });

  it("a local save that dies mid-way: a local-side error, whatever the host's load made of it", async () => {
    process.env.FAKE_SAVE = "fail";
    await assert.rejects(
      shipImage({ engine: "podman", image: "hello:1", remote }),
      (e: unknown) => {
        assert.ok(e instanceof ExternalError);
        assert.equal(e.code, "ship.local-failed");
        assert.equal(e.host, "local");
        assert.match(e.message, /local side/);
        assert.match(e.message, /no space left on device/);
        return true;
      },
    );
  });

  it("a host that refuses the load without reading: a remote-side error, and no hanging save", async () => {
    process.env.FAKE_LOAD = "fail";
    const started = Date.now();
    // Uncompressed, the archive is far larger than the pipes' buffers: the save blocks until killed.
    await assert.rejects(
      shipImage({ engine: "podman", image: "hello:1", remote, compress: false }),
      (e: unknown) => {
        assert.ok(e instanceof ExternalError);
        assert.equal(e.code, "ship.remote-failed");
        assert.equal(e.host, "box");
        assert.match(e.message, /remote side, box/);
        assert.match(e.message, /Error processing tar file/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000);
  });

  it("a save whose output outlives it (held by a child) does not hang the ship once the load failed", async () => {
    process.env.FAKE_LOAD = "fail";
    process.env.FAKE_SAVE = "forked";
    const started = Date.now();
    await assert.rejects(
      shipImage({ engine: "podman", image: "hello:1", remote, compress: false }),
      (e: unknown) => e instanceof ExternalError && e.code === "ship.remote-failed",
    );
    assert.ok(Date.now() - started < 10_000);
  });
});
