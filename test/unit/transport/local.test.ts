import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HOSTILE_VALUES } from "../../../src/doctor/hostile-values.ts";
import { ExternalError } from "../../../src/errors/index.ts";
import { LocalTransport, pipe, runLocal } from "../../../src/transport/index.ts";

describe("local transport", () => {
  const local = new LocalTransport();
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-local-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("runs argv without a shell: hostile values arrive unchanged", async () => {
    const { stdout } = await local.run(["printf", "%s\\0", ...HOSTILE_VALUES]);
    assert.deepEqual(stdout.split("\0").slice(0, -1), [...HOSTILE_VALUES]);
  });

  it("runs pipes through sh with every value quoted", async () => {
    const { stdout } = await local.run(pipe(["printf", "%s", "a;b $(x)"], ["tr", "a", "A"]));
    assert.equal(stdout, "A;b $(x)");
  });

  it("streams output as it comes and feeds stdin", async () => {
    const chunks: string[] = [];
    const { stdout } = await local.run(["cat"], {
      stdin: "from stdin",
      onStdout: (c) => chunks.push(c.toString()),
    });
    assert.equal(stdout, "from stdin");
    assert.equal(chunks.join(""), "from stdin");
  });

  it("fails with the exit code, the command and the stderr tail", async () => {
    await assert.rejects(
      local.run(["sh", "-c", "echo oops >&2; exit 7"]),
      (error: unknown) =>
        error instanceof ExternalError &&
        error.status === 7 &&
        /exit code 7/.test(error.message) &&
        /oops/.test(error.message),
    );
    const result = await local.run(["false"], { check: false });
    assert.equal(result.code, 1);
  });

  it("without capture keeps only stderr's last lines, while every line reaches its callback", async () => {
    // 200,000 lines, about 2.3 MB of stderr: a long `logs -f` in a few seconds.
    const script =
      'i=0; while [ $i -lt 200000 ]; do echo "line $i" >&2; i=$((i+1)); done; echo "the end" >&2; exit 3';
    let streamed = 0;
    const result = await local.run(["sh", "-c", script], {
      check: false,
      capture: false,
      onStderr: (c) => {
        streamed += c.length;
      },
    });
    assert.equal(result.code, 3);
    assert.ok(streamed > 2_000_000, `streamed ${streamed} bytes`);
    assert.ok(result.stderr.length <= 16 * 1024, `kept ${result.stderr.length} bytes`);
    assert.ok(result.stderr.endsWith("line 199999\nthe end\n"), result.stderr.slice(-40));
    assert.match(result.stderr, /^line \d+\n/, "it begins at a whole line");
    // With capture (the default) stderr is whole.
    const whole = await local.run(["sh", "-c", "echo a >&2; echo b >&2"]);
    assert.equal(whole.stderr, "a\nb\n");
  });

  it("reports a missing program as exit 127", async () => {
    const result = await local.run(["slipway-no-such-program"], { check: false });
    assert.equal(result.code, 127);
  });

  it("kills a command at its timeout with a clear message", async () => {
    const started = Date.now();
    await assert.rejects(
      local.run(["sleep", "10"], { timeoutMs: 200 }),
      /timed out .* after 200ms/,
    );
    assert.ok(Date.now() - started < 5000);
  });

  it("uploads atomically with the mode set, into a new folder, hostile name included", async () => {
    const path = join(dir, "new dir", "it's $(x).env");
    await local.upload(path, "A=1\n", { mode: 0o600 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "new dir"))).mode & 0o777, 0o700);
    assert.equal((await local.readFile(path)).toString(), "A=1\n");
    await local.upload(path, "A=2\n", { mode: 0o640, owner: "root:root" });
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.equal((await local.readFile(path)).toString(), "A=2\n");
  });

  it("reports every command it runs, rendered", async () => {
    const seen: string[] = [];
    const t = new LocalTransport({ events: { onCommand: (_h, c) => seen.push(c) } });
    await t.run(["echo", "a b"]);
    assert.deepEqual(seen, ["echo 'a b'"]);
  });

  it("runLocal: as this user, in a folder, with an env; 127 when missing, 124 at its timeout", async () => {
    const here = await runLocal(["sh", "-c", 'pwd; echo "$X"; echo e >&2'], {
      cwd: dir,
      env: { PATH: process.env.PATH, X: "x y" },
    });
    assert.deepEqual(
      { ...here, stdout: here.stdout.toString("utf8") },
      { code: 0, stdout: `${dir}\nx y\n`, stderr: "e\n" },
    );
    const missing = await runLocal(["slipway-no-such-program"]);
    assert.deepEqual(missing, {
      code: 127,
      stdout: Buffer.alloc(0),
      stderr: "slipway-no-such-program: command not found\n",
    });
    const started = Date.now();
    assert.equal((await runLocal(["sleep", "10"], { timeoutMs: 200 })).code, 124);
    assert.ok(Date.now() - started < 5000);
  });
});
