/**
 * Proves the test rig itself works: a "VPS in a box" boots with systemd and answers the system
 * ssh client with a key only, has no Docker yet, and a throwaway sshd serves commands and can
 * change its host key on the same port. Outside CI a missing rig skips with the reason; in CI
 * (CI=true) it fails.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  makeKeyPair,
  readBanner,
  rigAvailable,
  run,
  runSsh,
  type Sshd,
  skipUnless,
  sshArgs,
  sshdAvailable,
  startSshd,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";

describe("VPS in a box", { skip: skipUnless(rigAvailable()), timeout: 240_000 }, () => {
  let box: VpsBox;
  before(async () => {
    box = await startVpsBox();
  });
  after(async () => {
    await box?.stop();
  });

  test("boots systemd to 'running' and answers the system ssh client as root with the key", async () => {
    const r = await runSsh(box, "systemctl is-system-running");
    let failed = "";
    if (r.stdout.trim() !== "running") {
      failed = (await runSsh(box, "systemctl --failed --no-legend --plain")).stdout;
    }
    assert.equal(r.stdout.trim(), "running", `stderr: ${r.stderr}\nfailed units: ${failed}`);
    assert.equal(r.code, 0);
    assert.equal((await runSsh(box, "id -un")).stdout.trim(), "root");
  });

  test("is a server nobody prepared: no docker installed", async () => {
    const r = await runSsh(box, "command -v docker dockerd; echo rc=$?");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "rc=1", `docker found on a fresh box: ${r.stdout}`);
    assert.match(await box.exec(["cat", "/etc/os-release"]), /VERSION_CODENAME=bookworm/);
  });

  test("accepts public keys only: another key is refused, no password method offered", async () => {
    const stranger = await makeKeyPair(join(box.clientKey, ".."), "stranger");
    const r = await runSsh({ ...box, clientKey: stranger.privateKey }, "true");
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  test("stop() removes the container and may be called again", async () => {
    const { name, port } = box;
    await box.stop();
    await box.stop();
    const exists = await run("podman", ["container", "exists", name]);
    assert.equal(exists.code, 1, `container ${name} still exists`);
    await assert.rejects(readBanner("127.0.0.1", port, 1_000));
  });
});

describe("throwaway sshd", { skip: skipUnless(sshdAvailable()), timeout: 60_000 }, () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });

  test("runs `echo hi` for the system ssh client", async () => {
    const r = await run("ssh", sshArgs(sshd, ["echo", "hi"]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
  });

  test("restart({ newHostKey: true }) keeps the port, and a pinned client refuses the new key", async () => {
    const knownHosts = join(sshd.dir, "known_hosts_client");
    await writeFile(knownHosts, `${sshd.knownHostsLine()}\n`);
    const pinned = (target: Sshd) => runSsh(target, "echo pinned", { knownHostsFile: knownHosts });
    assert.equal((await pinned(sshd)).stdout, "pinned\n");

    const oldKey = sshd.hostPublicKey;
    const port = sshd.port;
    await sshd.restart({ newHostKey: true });
    assert.equal(sshd.port, port);
    assert.notEqual(sshd.hostPublicKey, oldKey);
    const refused = await pinned(sshd);
    assert.equal(refused.code, 255);
    assert.match(
      refused.stderr,
      /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/,
    );

    await writeFile(knownHosts, `${sshd.knownHostsLine()}\n`);
    assert.equal((await pinned(sshd)).stdout, "pinned\n");
  });

  test("stop() frees the port and may be called again", async () => {
    const { port } = sshd;
    await sshd.stop();
    await sshd.stop();
    await assert.rejects(readBanner("127.0.0.1", port, 1_000));
  });
});
