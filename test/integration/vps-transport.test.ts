/**
 * The SSH transport and `slipway doctor`'s checks against a "VPS in a box": a fresh Debian 12
 * server with systemd, reached only over SSH, as root and as a sudo user.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HOSTILE_VALUES, runDoctor } from "../../src/doctor/index.ts";
import type { SshTransport } from "../../src/transport/index.ts";
import { rigAvailable, skipUnless, startVpsBox, type VpsBox } from "../rig/index.ts";
import { isolatedSshTransport } from "../support/transport.ts";

describe("SSH transport against the VPS box", {
  skip: skipUnless(rigAvailable()),
  timeout: 300_000,
}, () => {
  let box: VpsBox;
  let dir = "";
  const open: SshTransport[] = [];

  function connect(user = "root") {
    const t = isolatedSshTransport({ ...box, user }, join(dir, "known_hosts"));
    open.push(t);
    return t;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-vps-"));
    box = await startVpsBox();
  });
  after(async () => {
    await Promise.all(open.map((t) => t.close()));
    await box?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs commands on a systemd host and passes hostile values through unchanged", async () => {
    const t = connect();
    const state = await t.run(["systemctl", "is-system-running"], { check: false });
    assert.match(state.stdout.trim(), /^(running|degraded)$/);
    const { stdout } = await t.run(["printf", "%s\\0", ...HOSTILE_VALUES]);
    assert.deepEqual(stdout.split("\0").slice(0, -1), [...HOSTILE_VALUES]);
  });

  it("uploads a root-owned 0600 file into a new folder under /var/lib", async () => {
    const t = connect();
    await t.upload("/var/lib/slipway-test/env/app.env", "DATABASE_PASSWORD=x\n", { mode: 0o600 });
    const stat = await box.exec(["stat", "-c", "%a %U:%G", "/var/lib/slipway-test/env/app.env"]);
    assert.equal(stat.trim(), "600 root:root");
    const dirMode = await box.exec(["stat", "-c", "%a", "/var/lib/slipway-test/env"]);
    assert.equal(dirMode.trim(), "700", "folders made for uploads are private");
  });

  it("as a non-root user, runs every command through sudo -n", async () => {
    const pub = await readFile(`${box.clientKey}.pub`, "utf8");
    await box.exec(["useradd", "--create-home", "--shell", "/bin/bash", "deploy"]);
    await box.exec(["sh", "-c", "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy"]);
    await box.exec([
      "install",
      "-d",
      "-m",
      "700",
      "-o",
      "deploy",
      "-g",
      "deploy",
      "/home/deploy/.ssh",
    ]);
    await box.exec(["tee", "/home/deploy/.ssh/authorized_keys"], { input: pub });
    await box.exec(["chown", "deploy:deploy", "/home/deploy/.ssh/authorized_keys"]);

    const t = connect("deploy");
    assert.equal((await t.run(["id", "-u"])).stdout.trim(), "0");
    await t.upload("/etc/slipway-sudo-test", "ok\n", { mode: 0o640 });
    assert.equal(
      (await box.exec(["stat", "-c", "%a %U", "/etc/slipway-sudo-test"])).trim(),
      "640 root",
    );
    assert.equal((await t.readFile("/etc/slipway-sudo-test")).toString(), "ok\n");
  });

  it("doctor passes every check on a fresh box and notes the missing engine", async () => {
    const t = connect();
    const [report] = await runDoctor({ hosts: [box.host], transportFor: () => t, limit: 1 });
    assert.ok(report);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    for (const name of [
      "connect",
      "system",
      "quoting",
      "upload",
      "stream",
      "privilege",
      "resources",
    ]) {
      assert.equal(byName[name]?.status, "ok", `${name}: ${byName[name]?.detail}`);
    }
    assert.match(byName.system?.detail ?? "", /Debian GNU\/Linux 12/);
    assert.equal(byName.engine?.status, "warn");
    assert.match(byName.engine?.detail ?? "", /no container engine/);
  });
});
