/**
 * The SSH transport against real OpenSSH servers on loopback (throwaway sshd instances).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HOSTILE_VALUES } from "../../src/doctor/index.ts";
import { ExternalError, SlipwayError } from "../../src/errors/index.ts";
import { createReporter, Redactor } from "../../src/output/index.ts";
import {
  Connections,
  onHosts,
  type SshOptions,
  type SshTransport,
} from "../../src/transport/index.ts";
import { freePort, makeKeyPair, type Sshd, startSshd } from "../rig/index.ts";
import { isolatedSshTransport } from "../support/transport.ts";

describe("SSH transport against a real sshd", () => {
  let sshd: Sshd;
  let dir = "";
  let knownHostsFile = "";
  const open: SshTransport[] = [];

  /** A transport to the test sshd with only its key, no agent, no ~/.ssh files. */
  function connectTo(server: Sshd, extra: Partial<SshOptions> = {}) {
    const transport = isolatedSshTransport(server, knownHostsFile, extra);
    open.push(transport);
    return transport;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-ssh-"));
    knownHostsFile = join(dir, "known_hosts");
    sshd = await startSshd();
  });

  after(async () => {
    await Promise.all(open.map((t) => t.close()));
    await sshd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("pins the host key on first use, in OpenSSH format", async () => {
    const info = await connectTo(sshd).connect();
    assert.equal(info.hostKey, "pinned");
    const pinned = await readFile(knownHostsFile, "utf8");
    const [type, key] = sshd.hostPublicKey.trim().split(/\s+/);
    assert.equal(pinned, `[127.0.0.1]:${sshd.port} ${type} ${key}\n`);
    // ssh-keygen can read what we wrote.
    const found = spawnSync("ssh-keygen", ["-F", `[127.0.0.1]:${sshd.port}`, "-f", knownHostsFile]);
    assert.equal(found.status, 0, found.stderr.toString());
    const again = await connectTo(sshd).connect();
    assert.equal(again.hostKey, "known");
  });

  it("runs argv: every hostile value arrives unchanged through the remote shell", async () => {
    const { stdout } = await connectTo(sshd).run(["printf", "%s\\0", ...HOSTILE_VALUES]);
    assert.deepEqual(stdout.split("\0").slice(0, -1), [...HOSTILE_VALUES]);
  });

  it("streams output while the command still runs", async () => {
    const t = connectTo(sshd);
    const started = Date.now();
    const arrivals: number[] = [];
    await t.run(["sh", "-c", "echo one; sleep 0.6; echo two"], {
      onStdout: () => arrivals.push(Date.now() - started),
    });
    const total = Date.now() - started;
    assert.ok(arrivals.length >= 2, `expected two chunks, got ${arrivals.length}`);
    assert.ok(
      (arrivals[0] as number) < total - 400,
      `first chunk at ${arrivals[0]}ms of ${total}ms`,
    );
  });

  it("carries binary stdin and stdout exactly (1 MiB)", async () => {
    const data = randomBytes(1024 * 1024);
    const t = connectTo(sshd);
    const path = `${dir}/binary.bin`;
    await t.upload(path, data, { mode: 0o644 });
    assert.ok((await t.readFile(path)).equals(data));
  });

  it("uploads with mode and owner, atomically replacing the old file", async () => {
    const t = connectTo(sshd);
    const path = `${dir}/sub dir/app's.env`;
    await t.upload(path, "SECRET=1\n", { mode: 0o600 });
    assert.equal((await t.run(["stat", "-c", "%a %U", path])).stdout.trim(), "600 root");
    await t.upload(path, "SECRET=2\n", { mode: 0o640, owner: "nobody:nogroup" });
    assert.equal(
      (await t.run(["stat", "-c", "%a %U:%G", path])).stdout.trim(),
      "640 nobody:nogroup",
    );
    assert.equal((await t.readFile(path)).toString(), "SECRET=2\n");
    const leftovers = (await t.run(["ls", "-A", `${dir}/sub dir`])).stdout.trim();
    assert.equal(leftovers, "app's.env", "no temp file left behind");
  });

  it("reuses one connection for many concurrent commands", async () => {
    const t = connectTo(sshd);
    const results = await Promise.all(
      Array.from({ length: 24 }, () => t.run(["sh", "-c", 'echo "$SSH_CONNECTION"'])),
    );
    const connections = new Set(results.map((r) => r.stdout.trim()));
    assert.equal(
      connections.size,
      1,
      `expected one connection, saw ${[...connections].join(" / ")}`,
    );
  });

  it("reports a failing command with its exit code and stderr", async () => {
    const t = connectTo(sshd);
    await assert.rejects(
      t.run(["sh", "-c", "echo broken >&2; exit 3"]),
      (error: unknown) =>
        error instanceof ExternalError && error.status === 3 && /broken/.test(error.message),
    );
    assert.equal((await t.run(["false"], { check: false })).code, 1);
  });

  it("kills a command at its timeout and keeps the connection usable", async () => {
    const t = connectTo(sshd);
    const started = Date.now();
    await assert.rejects(t.run(["sleep", "31.25"], { timeoutMs: 300 }), /timed out .* after 300ms/);
    assert.ok(Date.now() - started < 5000, "the timeout did not wait for the command");
    const left = await t.run(["pgrep", "-f", "sleep 31.25"], { check: false });
    assert.equal(left.code, 1, `the command still runs on the host: ${left.stdout}`);
    assert.equal((await t.run(["echo", "still here"])).stdout, "still here\n");
  });

  it("refuses a changed host key, naming the pinned file and line", async () => {
    const server = await startSshd();
    try {
      await connectTo(server).connect();
      const before = await readFile(knownHostsFile, "utf8");
      await server.restart({ newHostKey: true });
      await assert.rejects(connectTo(server).connect(), (error: unknown) => {
        assert.ok(error instanceof SlipwayError);
        assert.equal(error.code, "ssh.host_key_changed");
        assert.match(error.message, /has changed/);
        assert.match(error.message, new RegExp(`${knownHostsFile} line \\d+`));
        assert.match(error.hint ?? "", /ssh-keygen -R/);
        return true;
      });
      assert.equal(await readFile(knownHostsFile, "utf8"), before, "pins left untouched");
    } finally {
      await server.stop();
    }
  });

  it("in strict mode refuses a host that is not pinned", async () => {
    await assert.rejects(
      connectTo(sshd, {
        knownHostsFile: join(dir, "empty_known_hosts"),
        strictHostKeys: true,
      }).connect(),
      (error: unknown) => error instanceof SlipwayError && error.code === "ssh.host_key_unknown",
    );
  });

  it("reports a host that never answers within the connect timeout", async () => {
    // Accepts TCP but never speaks SSH: what a black-holed or overloaded host looks like.
    const silent: Server = createServer(() => {});
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, "127.0.0.1", () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      const started = Date.now();
      await assert.rejects(
        connectTo(sshd, { port, connectTimeoutMs: 1000 }).connect(),
        (error: unknown) => {
          assert.ok(error instanceof SlipwayError);
          assert.equal(error.code, "ssh.timeout");
          assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port} within 1s`));
          return true;
        },
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 900 && elapsed < 4000, `gave up after ${elapsed}ms`);
    } finally {
      silent.close();
    }
  });

  it("a connection dropped mid-command is an ssh.dropped error; the next command reconnects", async () => {
    const transport = connectTo(sshd);
    assert.equal((await transport.run(["echo", "before"])).stdout, "before\n");
    const running = transport.run(["sleep", "30"]);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(sshd.dropConnections() >= 1, "no connection to drop");
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof SlipwayError);
      assert.equal(error.code, "ssh.dropped");
      assert.match(error.message, /dropped while a command was running/);
      return true;
    });
    assert.equal((await transport.run(["echo", "after"])).stdout, "after\n");
  });

  it("reports a refused connection and a failed login clearly", async () => {
    const closed = await freePort();
    await assert.rejects(
      connectTo(sshd, { port: closed }).connect(),
      (error: unknown) => error instanceof SlipwayError && error.code === "ssh.refused",
    );
    const stranger = await makeKeyPair(dir, "stranger");
    await assert.rejects(
      connectTo(sshd, { keys: [stranger.privateKey] }).connect(),
      (error: unknown) => {
        assert.ok(error instanceof SlipwayError);
        assert.equal(error.code, "ssh.auth");
        assert.match(error.message, /stranger/);
        return true;
      },
    );
  });

  it("honours ~/.ssh/config: Host alias, HostName, User, Port, IdentityFile", async () => {
    const config = join(dir, "ssh_config");
    await writeFile(
      config,
      `Host box-alias\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n  IdentityFile ${sshd.clientKey}\n`,
    );
    const t = connectTo(sshd, {
      host: "box-alias",
      port: undefined,
      user: undefined,
      keys: [],
      sshConfigFile: config,
    });
    const info = await t.connect();
    assert.equal(info.target.hostname, "127.0.0.1");
    assert.equal(info.target.port, sshd.port);
    assert.equal(info.authenticatedWith, sshd.clientKey);
  });

  it("authenticates through ssh-agent", async () => {
    const socket = join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && spawnSync("test", ["-S", socket]).status !== 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const added = spawnSync("ssh-add", [sshd.clientKey], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
      });
      assert.equal(added.status, 0, added.stderr.toString());
      const info = await connectTo(sshd, { keys: [], agentSocket: socket }).connect();
      assert.equal(info.authenticatedWith, "ssh-agent");
    } finally {
      agent.kill();
    }
  });

  it("works on several hosts in parallel with a limit, output prefixed by host", async () => {
    const servers = [await startSshd(), await startSshd(), await startSshd()];
    try {
      const names = servers.map((s) => `127.0.0.1:${s.port}`);
      const byName = new Map(servers.map((s, i) => [names[i] as string, s]));
      const lines: string[] = [];
      const redactor = new Redactor();
      redactor.add("pa55word-xyz");
      const reporter = createReporter({ redactor, write: (text) => lines.push(text.trimEnd()) });
      let running = 0;
      let peak = 0;
      const outcomes = await onHosts(
        names,
        async (name) => {
          const server = byName.get(name) as Sshd;
          const t = connectTo(server, { host: server.host, port: server.port });
          running++;
          peak = Math.max(peak, running);
          const out = reporter.hostOutput(name);
          await t.run(["sh", "-c", "sleep 0.3; echo hello; cat"], {
            stdin: "the pa55word-xyz is here\n",
            onStdout: (chunk) => out.write(chunk),
          });
          out.flush();
          running--;
          return name;
        },
        { limit: 2 },
      );
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ["ok", "ok", "ok"],
      );
      assert.equal(peak, 2);
      for (const name of names) {
        assert.ok(lines.includes(`${name} | hello`), lines.join("\n"));
        assert.ok(lines.includes(`${name} | the [redacted] is here`), lines.join("\n"));
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it("Connections hands out one transport per host and closes them all", async () => {
    const connections = new Connections({
      port: sshd.port,
      keys: [sshd.clientKey],
      knownHostsFile,
      userKnownHostsFiles: [],
      sshConfigFile: null,
      agentSocket: "",
    });
    const a = connections.get("127.0.0.1");
    assert.equal(a, connections.get("127.0.0.1"));
    assert.equal((await a.run(["echo", "ok"])).stdout, "ok\n");
    assert.equal(connections.get("local").host, "local");
    await connections.closeAll();
    await connections.closeAll();
  });
});
