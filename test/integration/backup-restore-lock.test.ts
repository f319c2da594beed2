/**
 * An in-place restore and the deploy lock, on a real filesystem through the local transport (as
 * root, like a host): while someone holds the lock (a deploy, `slipway lock acquire`, another
 * in-place restore) `backup restore --yes` is refused at once, naming the holder, exit 4, before
 * any safety backup or restore; a restore beside the target (`--to`) does not need the lock.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { chooseTargets, planRestore, restoreTarget } from "../../src/backup-ops/index.ts";
import { type SlipwayError, UserError } from "../../src/errors/index.ts";
import { acquireLock, lockStatus } from "../../src/lock/index.ts";
import { createReporter, Redactor } from "../../src/output/index.ts";
import { appDir } from "../../src/releases/index.ts";
import { Connections, LocalTransport } from "../../src/transport/index.ts";
import { load, yaml } from "../unit/config/helpers.ts";

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

describe("an in-place restore takes the deploy lock", () => {
  const service = `restorelock${randomBytes(3).toString("hex")}`;
  const local = new LocalTransport();
  const cleanup: string[] = [appDir(service)];
  after(async () => {
    spawnSync("rm", ["-rf", "--", ...cleanup]);
  });

  async function setup() {
    const store = await mkdtemp(join(tmpdir(), "slipway-restore-lock-"));
    cleanup.push(store);
    const loaded = await load({
      "slipway.yml": yaml`
service: ${service}
image: hello
servers:
  web:
    hosts: [local]
backups:
  store: ${store}
  recipients: [${RECIPIENT}]
  targets:
    files: { volume: ${join(store, "files")} }
`,
    });
    const commands: string[] = [];
    const connections = new Connections(
      {
        keys: [],
        knownHostsFile: join(store, "known_hosts"),
        userKnownHostsFiles: [],
        sshConfigFile: null,
        agentSocket: "",
      },
      { onCommand: (_host, rendered) => commands.push(rendered) },
    );
    const lines: string[] = [];
    const reporter = createReporter({ redactor: new Redactor(), write: (t) => lines.push(t) });
    const [target] = chooseTargets(loaded, ["files"]);
    assert.ok(target);
    return { loaded, connections, reporter, target, commands, store };
  }

  it("is refused while a deploy or `lock acquire` holds the lock: exit 4, the holder named, nothing run", async () => {
    const { loaded, connections, reporter, target, commands } = await setup();
    const plan = planRestore(loaded, target, { inPlace: true });
    for (const manual of [false, true]) {
      const held = await acquireLock(local, service, manual ? "maintenance" : "deploying v7", {
        manual,
      });
      commands.length = 0;
      try {
        await assert.rejects(
          restoreTarget({ loaded, connections, reporter }, plan, {
            backup: "20260101T000000Z",
            secrets: {},
          }),
          (error: SlipwayError) => {
            assert.equal(error.code, "lock.held");
            assert.equal(error.exitCode, 4);
            assert.match(
              error.message,
              new RegExp(
                `^${service} is locked by .* \\(pid ${process.pid}\\) since .*: ${manual ? "maintenance" : "deploying v7"}\\.$`,
              ),
            );
            return true;
          },
        );
        // Only the lock was read: no safety backup, no runner, the lock still the holder's.
        assert.equal(commands.length, 1, commands.join("\n"));
        assert.match(commands[0] ?? "", /^sh -c .*holder\.json/);
        const status = await lockStatus(local, service);
        assert.equal(status.holder?.message, manual ? "maintenance" : "deploying v7");
      } finally {
        await held.release();
      }
    }
    await connections.closeAll();
  });

  it("beside the target (--to) it goes on while the lock is held, and takes no lock", async () => {
    const { loaded, connections, reporter, target, commands, store } = await setup();
    const plan = planRestore(loaded, target, { inPlace: false, to: join(store, "beside") });
    const held = await acquireLock(local, service, "deploying v8", { heartbeat: true });
    try {
      // It gets as far as looking for the runner (there is none on this machine).
      await assert.rejects(
        restoreTarget({ loaded, connections, reporter }, plan, {
          backup: "20260101T000000Z",
          secrets: {},
        }),
        (error: UserError) => error instanceof UserError && error.code === "backup.no_runner",
      );
      assert.ok(
        !commands.some((c) => c.includes("holder.json")),
        `the lock was touched:\n${commands.join("\n")}`,
      );
      assert.equal((await lockStatus(local, service)).holder?.message, "deploying v8");
    } finally {
      await held.release();
      await connections.closeAll();
      await rm(join(store, "beside"), { recursive: true, force: true });
    }
  });
});
