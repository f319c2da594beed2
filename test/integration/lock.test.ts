/** The deploy lock on a real filesystem, through the local transport (as root, like a host). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { LockedError } from "../../src/errors/index.ts";
import { acquireLock, lockPath, lockStatus, releaseLock } from "../../src/lock/index.ts";
import { appDir } from "../../src/releases/index.ts";
import { LocalTransport } from "../../src/transport/index.ts";

describe("deploy lock", () => {
  const local = new LocalTransport();
  const site = `locktest-${randomBytes(4).toString("hex")}`;
  after(() => {
    spawnSync("rm", ["-rf", "--", appDir(site)]);
  });

  it("is taken once; a second taker is refused, naming the holder and message", async () => {
    const held = await acquireLock(local, site, "deploying v2");
    await assert.rejects(acquireLock(local, site, "deploying v3"), (error: unknown) => {
      assert.ok(error instanceof LockedError);
      assert.equal(error.exitCode, 4);
      assert.match(
        error.message,
        new RegExp(`locked by .* \\(pid ${process.pid}\\) since .*: deploying v2`),
      );
      return true;
    });
    const status = await lockStatus(local, site);
    assert.equal(status.held, true);
    assert.equal(status.stale, false);
    assert.equal(status.holder?.message, "deploying v2");
    await held.release();
    assert.equal((await lockStatus(local, site)).held, false);
  });

  it("takes over a lock whose holder process on this machine is gone", async () => {
    const dead = spawnSync("sh", ["-c", "echo $$"]).stdout.toString().trim();
    await local.upload(
      `${lockPath(site)}/holder.json`,
      JSON.stringify({
        user: "bob",
        machine: (await import("node:os")).hostname(),
        pid: Number(dead),
        since: new Date().toISOString(),
        message: "killed deploy",
      }),
      { mode: 0o600 },
    );
    const status = await lockStatus(local, site);
    assert.equal(status.stale, true);
    assert.match(status.staleReason ?? "", new RegExp(`process ${dead} .* is gone`));
    const warned: string[] = [];
    const held = await acquireLock(local, site, "next deploy", { warn: (m) => warned.push(m) });
    assert.equal(held.tookOver?.holder?.message, "killed deploy");
    assert.equal(warned.length, 1);
    assert.match(
      warned[0] ?? "",
      /^took over a stale lock of .*killed deploy.*process \d+ .* is gone/,
    );
    await held.release();
  });

  it("takes over a lock without a heartbeat for a minute, but never a manual one", async () => {
    const record = (manual: boolean) =>
      JSON.stringify({
        user: "carol",
        machine: "elsewhere",
        pid: 1,
        since: "2026-01-01T00:00:00Z",
        message: "m",
        manual,
      });
    await local.upload(`${lockPath(site)}/holder.json`, record(false), { mode: 0o600 });
    spawnSync("touch", ["-d", "2 minutes ago", `${lockPath(site)}/holder.json`]);
    assert.match((await lockStatus(local, site)).staleReason ?? "", /no heartbeat for 1\d\ds/);

    await releaseLock(local, site);
    await local.upload(`${lockPath(site)}/holder.json`, record(true), { mode: 0o600 });
    spawnSync("touch", ["-d", "2 hours ago", `${lockPath(site)}/holder.json`]);
    assert.equal((await lockStatus(local, site)).stale, false);
    await assert.rejects(acquireLock(local, site, "deploy"), LockedError);
    await releaseLock(local, site);
  });

  it("keeps a held lock fresh with its heartbeat", async () => {
    const held = await acquireLock(local, site, "long deploy", {
      heartbeat: true,
      heartbeatMs: 100,
    });
    spawnSync("touch", ["-d", "2 minutes ago", `${lockPath(site)}/holder.json`]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const status = await lockStatus(local, site);
    assert.equal(status.stale, false, status.staleReason);
    assert.ok((status.heartbeatAgeMs ?? 99_000) <= 1000);
    await held.release();
  });
});
