/**
 * The agent on a fresh VPS box, end to end: `slipway agent install` puts it beside the hello app,
 * it checks the app through the proxy, and when the app's web container hangs (paused) it opens
 * an incident and a webhook receiver on the box gets the signed alert; acknowledged from the CLI;
 * the agent restarted mid-incident resolves that same incident when the app comes back, and the
 * receiver gets the resolve notice. Its API is not published on the host. `monitor api` changes a
 * check through SSH (the token never shows); the status domain serves the page through the proxy
 * and nothing else; `agent upgrade` is a no-op when current and keeps the state when not.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { signature } from "../../src/agent/index.ts";
import {
  imagesAvailable,
  NODE_IMAGE,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { boxHooks, boxHookWithin, startBoxHooks } from "../support/box-hooks.ts";
import { BIN, type HelloProject, helloProject, type SlipwayRun } from "../support/hello-project.ts";

const HOOK_KEY = "e2e-hook-key-0123456789";

describe("the agent on a VPS box", {
  skip: skipUnless(rigAvailable()) || skipUnless(imagesAvailable()),
  timeout: 900_000,
}, () => {
  let box: VpsBox;
  let hello: HelloProject;

  const ok = (args: string[]) => hello.ok(args);

  const hooks = () => boxHooks(box);
  const hookWithin = (event: string, ms: number) =>
    boxHookWithin(box, (h) => h.event === event, ms, `${event} notice`);

  /** A GET through the box's proxy (port 80) for a domain: its status and body. */
  function viaProxy(domain: string, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: box.ports[80], path, headers: { host: domain }, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => {
            body += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  async function webContainer(): Promise<string> {
    const names = await box.exec([
      "docker",
      "ps",
      "--all",
      "--filter",
      "label=slipway.role=web",
      "--format",
      "{{.Names}}",
    ]);
    const [name] = names.trim().split("\n");
    assert.ok(name, "a web container");
    return name;
  }

  before(async () => {
    box = await startVpsBox({ publish: [80] });
    hello = await helloProject(box, {
      extraYaml: [
        "monitoring:",
        `  image: ${NODE_IMAGE}`,
        // Limits a busy test machine never reaches: the incidents here are the app's.
        "  host: { interval: 2s, for: 10s, cpu: 100, load: 1000 }",
        "  status_domain: status.test",
        "  public_status: true",
        "  checks:",
        "    - name: web",
        "      url: http://slipway-proxy/up",
        "      interval: 1s",
        "      timeout: 2s",
        "      open_after: 2",
        "      resolve_after: 2",
        "    - name: proxy-port",
        '      tcp: "slipway-proxy:80"',
        "      interval: 2s",
        "    - { name: nightly, heartbeat: 1h }",
        "  notify:",
        "    - name: hooks",
        "      webhook: http://hooks:8080/",
        "      secret: HOOK_KEY",
      ],
    });
    await hello.configure("first");
    const { appendFile } = await import("node:fs/promises");
    await appendFile(`${hello.dir}/.slipway/secrets`, `HOOK_KEY=${HOOK_KEY}\n`);
    await ok(["server", "bootstrap"]);
    await ok(["deploy", "--version", "v1"]);
  });

  after(async () => {
    await box?.stop();
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("installs the agent, then a second install changes nothing; its API is not on the host", async () => {
    const first = await ok(["agent", "install"]);
    assert.match(first.stdout, /127\.0\.0\.1: agent started, 3 checks of hello/);
    assert.match(first.stderr, /agent: made its API token/);
    const again = await ok(["agent", "install"]);
    assert.match(again.stdout, /127\.0\.0\.1: agent already up to date/);
    assert.match((await ok(["agent", "status"])).stdout, /127\.0\.0\.1: agent running since/);
    const listening = await box.exec(["sh", "-c", "ss -Hltn | awk '{print $4}'"]);
    assert.doesNotMatch(listening, /:9465$/m, "the agent's API is published on the host");
    assert.match(await box.exec(["stat", "-c", "%a", "/var/lib/slipway/agent/token"]), /^600$/m);
    assert.ok(!(first.stdout + first.stderr).includes(HOOK_KEY), "the webhook key in the output");
  });

  it("monitor status shows both checks up, and the host's resources", async () => {
    // The receiver joins the proxy's network, where the agent sends to http://hooks:8080/.
    await startBoxHooks(box);
    // The container check's first look comes within its 30 s interval (a random offset).
    const deadline = Date.now() + 60_000;
    let run: SlipwayRun;
    for (;;) {
      run = await hello.slipway(["monitor", "status"]);
      const ran = !/not run yet/.test(run.stdout);
      const up = ["web", "proxy-port", "container-web"].every((c) =>
        new RegExp(`^127\\.0\\.0\\.1 ${c}: up`, "m").test(run.stdout),
      );
      if (run.code === 0 && ran && up) break;
      assert.ok(Date.now() < deadline, `${run.stdout}\n${run.stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(run.stdout, /^127\.0\.0\.1 web: up, HTTP 200 in \d+ms$/m);
    assert.match(run.stdout, /^127\.0\.0\.1 proxy-port: up, connected to port 80 in \d+ms$/m);
    assert.match(run.stdout, /^127\.0\.0\.1 nightly: unknown, no ping yet$/m);
    assert.match(
      run.stdout,
      /^127\.0\.0\.1 container-web: up, hello-web-\S+ running(, healthy)?, 0 restarts in \d+ms$/m,
    );
    // The host's own resources, with the runbooks' limits, read inside the agent's container.
    assert.match(run.stdout, /^127\.0\.0\.1 host-memory: (up|down), memory \d+\.\d%/m);
    assert.match(
      run.stdout,
      /^127\.0\.0\.1 host-disk: (up|down), disk \d+\.\d% used \(\/var\/lib\/slipway\/agent\)/m,
    );
    assert.match(run.stdout, /^127\.0\.0\.1 host-load: (up|down), load \d+\.\d\d per core/m);
  });

  it("monitor open serves the agent's status page on this machine, through SSH", async () => {
    const child = spawn(process.execPath, [BIN, "monitor", "open"], {
      cwd: hello.dir,
      env: hello.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c) => {
          out += c;
          const found = /(http:\/\/127\.0\.0\.1:\d+\/status)/.exec(out)?.[1];
          if (found) resolve(found);
        });
        child.once("exit", (code) => reject(new Error(`monitor open exited with ${code}: ${out}`)));
      });
      const page = await fetch(url);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<title>Status · 127\.0\.0\.1<\/title>/);
      assert.match(html, /data-check="hello\/web" data-status="up"/);
      const api = await fetch(url.replace("/status", "/api/status"));
      assert.equal(((await api.json()) as { host: string }).host, "127.0.0.1");
    } finally {
      child.kill("SIGINT");
    }
  });

  it("the app hangs: an incident opens and the webhook gets a signed alert; it can be acknowledged", async () => {
    // Paused: it takes connections but never answers, the way a stuck app does.
    await box.exec(["docker", "pause", await webContainer()]);
    const open = await hookWithin("open", 20_000);
    assert.equal(
      open.signature,
      signature(HOOK_KEY, open.timestamp, open.body),
      "signed with the key",
    );
    const notice = JSON.parse(open.body) as { check: string; service: string; message: string };
    assert.equal(notice.check, "hello/web");
    assert.equal(notice.service, "hello");
    assert.match(notice.message, /^hello\/web is down: (timeout after 2000ms|HTTP 50\d)$/);

    const status = await hello.slipway(["monitor", "status"]);
    assert.equal(status.code, 1, "a check is down");
    assert.match(
      status.stdout,
      /web: down, (timeout after 2000ms|HTTP 50\d) in \d+ms, incident #1 open/,
    );
    const incidents = await ok(["monitor", "incidents"]);
    assert.match(
      incidents.stdout,
      /^127\.0\.0\.1 #1 web \(critical\): (timeout after 2000ms|HTTP 50\d), since .*, open$/m,
    );
    await ok(["monitor", "ack", "1", "--by", "ana"]);
    assert.match(
      (await ok(["monitor", "incidents"])).stdout,
      /#1 web .* open, acknowledged by ana/,
    );
  });

  it("restarted mid-incident, the agent resolves the same incident when the app is back", async () => {
    await box.exec(["docker", "restart", "--time", "5", "slipway-agent"]);
    await box.exec(["docker", "unpause", await webContainer()]);
    const resolve = await hookWithin("resolve", 30_000);
    assert.equal(resolve.signature, signature(HOOK_KEY, resolve.timestamp, resolve.body));
    const notice = JSON.parse(resolve.body) as { incident: { id: number }; message: string };
    assert.equal(notice.incident.id, 1, "the incident opened before the restart");
    assert.match(notice.message, /^hello\/web is up again after \d+s$/);
    assert.equal((await hooks()).filter((h) => h.event === "open").length, 1);
    const all = (await ok(["monitor", "incidents", "--all"])).stdout;
    assert.match(all, /#1 web .* resolved after \d+s/);
    assert.match(
      all,
      /^127\.0\.0\.1 mean time to recovery: hello \d+(s|m|h\d+m) over \d+ incidents?; .*\bweb \d+(s|m|h\d+m) \(1\)/m,
    );
  });

  it("a deploy silences the app's checks while it rolls out, then they notify again", async () => {
    await hello.configure("second");
    const run = await ok(["deploy", "--version", "v2"]);
    assert.match(run.stderr, /127\.0\.0\.1 agent: hello\/\* silenced during the deploy/);
    assert.match(run.stderr, /127\.0\.0\.1 agent: checks of hello\/\* notify again/);
    // Silenced before the release command runs, heard again after the switch.
    const [silenced = -1, migrated = -1, again = -1] = [
      /silenced during the deploy/,
      /migrations applied \(version v2\)/,
      /notify again/,
    ].map((re) => run.stderr.search(re));
    assert.ok(0 <= silenced && silenced < migrated && migrated < again, run.stderr);
  });

  it("test-notify reaches the receiver; a silence keeps notices away", async () => {
    assert.match((await ok(["monitor", "test-notify"])).stdout, /^127\.0\.0\.1 hooks: sent$/m);
    assert.ok((await hooks()).some((h) => h.event === "test"));
    // A maintenance window tomorrow is scheduled, and silences nothing today.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
    assert.match(
      (await ok(["monitor", "silence", "proxy-port", "--from", tomorrow, "--for", "1h"])).stdout,
      new RegExp(
        `^proxy-port: no notifications from ${tomorrow.replace("Z", ".000Z")} for 60 minutes`,
        "m",
      ),
    );
    await ok(["monitor", "silence", "web", "--for", "10m", "--reason", "e2e"]);
    const before = (await hooks()).length;
    await box.exec(["docker", "pause", await webContainer()]);
    const deadline = Date.now() + 15_000;
    let open = "";
    while (Date.now() < deadline && !/#2 web/.test(open)) {
      open = (await ok(["monitor", "incidents"])).stdout;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(open, /#2 web/, "the incident is recorded");
    assert.equal((await hooks()).length, before, "nothing sent while silenced");
    await box.exec(["docker", "unpause", await webContainer()]);
  });

  it("a heartbeat: ping-url gives its URLs, pinged from the host and from the app's network", async () => {
    const key = "/var/lib/slipway/agent/heartbeats/hello/nightly";
    assert.match(await box.exec(["stat", "-c", "%a", key]), /^600$/m, "the key made at install");
    const secret = (await box.exec(["cat", key])).trim();
    const urls = (await ok(["monitor", "ping-url", "nightly"])).stdout;
    const inside = /from the app's containers: (\S+)/.exec(urls)?.[1] ?? "";
    const onHost = /from the host itself: +(\S+)/.exec(urls)?.[1] ?? "";
    assert.equal(inside, `http://slipway-agent:9465/ping/${secret}`, urls);
    assert.match(onHost, new RegExp(`^http://[\\d.]+:9465/ping/${secret}$`), urls);
    // A failed run from the host, reported with its first line: an incident at once.
    await box.exec(["curl", "-fsS", "-m", "10", "--data-raw", "e2e: disk full", `${onHost}/fail`]);
    const deadline = Date.now() + 15_000;
    const nightly = async () =>
      (await hooks())
        .map((h) => JSON.parse(h.body) as { event: string; check: string; message: string })
        .filter((n) => n.check === "hello/nightly");
    while (!(await nightly()).some((n) => n.event === "open")) {
      assert.ok(
        Date.now() < deadline,
        `no open notice for nightly: ${JSON.stringify(await hooks())}`,
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(
      (await nightly()).find((n) => n.event === "open")?.message,
      "hello/nightly is down: fail ping: e2e: disk full",
    );
    // A good run from a container on the app's network resolves it.
    await box.exec([
      "docker",
      "exec",
      "hooks",
      "node",
      "-e",
      `fetch(${JSON.stringify(inside)}).then((r) => process.exit(r.ok ? 0 : 1))`,
    ]);
    while (!(await nightly()).some((n) => n.event === "resolve")) {
      assert.ok(Date.now() < deadline, `no resolve for nightly: ${JSON.stringify(await hooks())}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // Not ok(): another check's incident may be open (exit 1); this one is up.
    const status = (await hello.slipway(["monitor", "status"])).stdout;
    assert.match(status, /^127\.0\.0\.1 nightly: up, ping at \S+Z$/m);
    assert.ok(!status.includes(secret), "the key in monitor status");
  });

  it("monitor api reads the settings and changes a check through SSH; the token never shows", async () => {
    const token = (await box.exec(["cat", "/var/lib/slipway/agent/token"])).trim();
    const settings = await ok(["monitor", "api", "GET", "/api/settings"]);
    assert.match(settings.stdout, /^127\.0\.0\.1: 200$/m);
    const body = JSON.parse(settings.stdout.slice(settings.stdout.indexOf("\n"))) as {
      checks: { name: string; source: string }[];
      notifiers: Record<string, unknown>[];
    };
    assert.deepEqual(body.checks.find((c) => c.name === "hello/web")?.source, "file");
    assert.deepEqual(body.notifiers, [
      { name: "hello/hooks", kind: "webhook", url: "http://hooks:8080/", signed: true },
    ]);
    const patch = await ok([
      "monitor",
      "api",
      "PATCH",
      "/api/checks/hello/proxy-port",
      "--data",
      '{"interval_ms": 3000}',
    ]);
    assert.match(patch.stdout, /^127\.0\.0\.1: 200$/m);
    assert.match(patch.stdout, /"interval_ms": 3000/);
    const bad = await hello.slipway([
      "monitor",
      "api",
      "PATCH",
      "/api/checks/hello/proxy-port",
      "--data",
      '{"interval_ms": 0}',
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^127\.0\.0\.1: 400$/m);
    assert.match(bad.stdout, /interval_ms: must be at least 1/);
    for (const run of [settings, patch, bad]) {
      assert.ok(!(run.stdout + run.stderr).includes(token), "the token in the output");
    }
  });

  it("the status domain serves the page, its JSON and /healthz through the proxy, nothing else", async () => {
    const page = await viaProxy("status.test", "/status");
    assert.equal(page.status, 200);
    assert.match(page.body, /data-check="hello\/web"/);
    const model = JSON.parse((await viaProxy("status.test", "/api/status")).body) as {
      host: string;
    };
    assert.equal(model.host, "127.0.0.1");
    assert.equal((await viaProxy("status.test", "/healthz")).body, "ok\n");
    for (const path of ["/metrics", "/api/checks", "/api/settings"]) {
      assert.equal((await viaProxy("status.test", path)).status, 404, path);
    }
  });

  it("agent upgrade: a no-op when current; from an older agent, its state kept", async () => {
    const current = await ok(["agent", "upgrade"]);
    assert.match(
      current.stdout,
      /^127\.0\.0\.1: agent 0\.\d+\.\d+\+[0-9a-f]{12}, already current$/m,
    );
    const before = (await ok(["monitor", "incidents", "--all"])).stdout;
    // An older agent: another version on record, other code in its bundle.
    await box.exec([
      "sh",
      "-c",
      "echo 0.0.1+000000000000 > /var/lib/slipway/agent/version && echo '// old' >> /var/lib/slipway/agent/bundle/agent.mjs",
    ]);
    const run = await ok(["agent", "upgrade"]);
    assert.match(
      run.stdout,
      /^127\.0\.0\.1: agent 0\.0\.1\+000000000000 → 0\.\d+\.\d+\+[0-9a-f]{12}$/m,
    );
    assert.doesNotMatch(
      await box.exec(["tail", "-c", "20", "/var/lib/slipway/agent/bundle/agent.mjs"]),
      /old/,
    );
    const after = (await ok(["monitor", "incidents", "--all"])).stdout;
    const ids = (text: string) => [...text.matchAll(/#(\d+) /g)].map((m) => m[1]);
    assert.deepEqual(ids(after), ids(before), "the incidents are kept");
    const settings = await ok(["monitor", "api", "GET", "/api/settings"]);
    assert.match(settings.stdout, /"source": "override"/, "the API's override is kept");
    assert.match((await ok(["agent", "upgrade"])).stdout, /already current/);
  });
});
