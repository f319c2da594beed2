import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BugError } from "../../../src/errors/index.ts";
import type { RunStep, Step } from "../../../src/plan/index.ts";
import {
  CHECKED_RELOAD_SCRIPT,
  DEFAULT_PROXY_IMAGE,
  FFDHE2048,
  PROXY_CONTAINER,
  PROXY_DIR,
  PROXY_NETWORK,
  PROXY_SPEC_LABEL,
  type ProxySite,
  planProxyBoot,
  planProxyFiles,
  planProxyReload,
  planProxySwitch,
  RELOAD_SCRIPT,
  renderNginxConf,
  renderSite,
  renderUpstream,
  SWITCH_SCRIPT,
  SWITCHED_MARK,
} from "../../../src/proxy/index.ts";
import { type Command, isArgv, renderCommand } from "../../../src/transport/index.ts";

const hello: ProxySite = {
  site: "hello",
  role: "web",
  domains: ["example.com"],
  appPort: 3000,
  healthPath: "/up",
  maxBodySize: 1024,
};
const api: ProxySite = { ...hello, site: "api-staging", domains: [] };

/** argv joined by spaces, Kamal-style; a compound is rendered with its operators. */
function joined(command: Command): string {
  return isArgv(command) ? command.join(" ") : renderCommand(command);
}

/** One line per step, nested steps indented: what a --dry-run would show. */
function outline(steps: readonly Step[], indent = ""): string[] {
  return steps.flatMap((step): string[] => {
    if (step.kind === "run") return [`${indent}run ${joined(step.command)}`];
    if (step.kind === "upload") return [`${indent}upload ${step.path} ${step.mode.toString(8)}`];
    return [`${indent}unless ${joined(step.unless)}`, ...outline(step.then, `${indent}  `)];
  });
}

describe("proxy constants", () => {
  it("names the container, network, directory and default image", () => {
    assert.equal(PROXY_CONTAINER, "slipway-proxy");
    assert.equal(PROXY_NETWORK, "slipway");
    assert.equal(PROXY_DIR, "/var/lib/slipway/proxy");
    assert.equal(DEFAULT_PROXY_IMAGE, "nginx:1.27-bookworm");
  });
});

describe("planProxyFiles", () => {
  const steps = planProxyFiles(
    [hello, api],
    new Map([["hello-web", { container: "hello-web-abc-k3x9", port: 3000 }]]),
  );

  it("creates the directories, then writes nginx.conf, the upstreams, then the sites (0644)", () => {
    assert.deepEqual(outline(steps), [
      "unless test -d /var/lib/slipway/proxy/sites && test -d /var/lib/slipway/proxy/upstreams",
      "  run mkdir -p /var/lib/slipway/proxy/sites /var/lib/slipway/proxy/upstreams",
      "upload /var/lib/slipway/proxy/ffdhe2048.pem 644",
      "upload /var/lib/slipway/proxy/nginx.conf 644",
      "upload /var/lib/slipway/proxy/upstreams/hello-web.conf 644",
      "unless test -e /var/lib/slipway/proxy/upstreams/api-staging-web.conf",
      "  upload /var/lib/slipway/proxy/upstreams/api-staging-web.conf 644",
      "upload /var/lib/slipway/proxy/sites/hello.conf 644",
      "upload /var/lib/slipway/proxy/sites/api-staging.conf 644",
    ]);
  });

  it("uploads exactly what the renderers produce", () => {
    const uploads = new Map(
      steps
        .flatMap((s) => (s.kind === "ensure" ? s.then : [s]))
        .flatMap((s) => (s.kind === "upload" ? [[s.path, s.content] as const] : [])),
    );
    assert.equal(uploads.get(`${PROXY_DIR}/nginx.conf`), renderNginxConf());
    assert.equal(uploads.get(`${PROXY_DIR}/sites/hello.conf`), renderSite(hello));
    assert.equal(
      uploads.get(`${PROXY_DIR}/upstreams/hello-web.conf`),
      renderUpstream(hello, { container: "hello-web-abc-k3x9", port: 3000 }),
    );
    // Only when no upstream exists yet: a live one is never replaced by "no container".
    assert.equal(
      uploads.get(`${PROXY_DIR}/upstreams/api-staging-web.conf`),
      renderUpstream(api, undefined),
    );
  });

  it("writes under another directory and renders for another listen port when told", () => {
    const test = planProxyFiles([hello], new Map(), {
      hostDir: "/tmp/p",
      confDir: "/tmp/p",
      listenPort: 18080,
    });
    const conf = test.find((s) => s.kind === "upload" && s.path === "/tmp/p/nginx.conf");
    assert.ok(conf?.kind === "upload");
    assert.match(conf.content, /include \/tmp\/p\/sites\/\*\.conf;/);
    assert.match(conf.content, /listen 18080;/);
  });

  it("with an HTTPS site, puts its certificate includes ('none yet') unless there, and the default HTTPS server", () => {
    const secure: ProxySite = { ...hello, https: { acme: true } };
    const withTls = planProxyFiles([secure, api], new Map());
    assert.deepEqual(outline(withTls).slice(8), [
      "unless test -e /var/lib/slipway/tls/certs/hello.tls.conf && test -e /var/lib/slipway/tls/certs/hello.http.conf",
      "  upload /var/lib/slipway/tls/certs/hello.tls.conf 600",
      "  upload /var/lib/slipway/tls/certs/hello.http.conf 600",
      "upload /var/lib/slipway/proxy/sites/_default-tls.conf 644",
      "upload /var/lib/slipway/proxy/sites/hello.conf 644",
      "upload /var/lib/slipway/proxy/sites/api-staging.conf 644",
    ]);
    const includes = withTls.find((s) => s.kind === "ensure" && s.title.includes("includes"));
    assert.ok(includes?.kind === "ensure");
    const [tls] = includes.then;
    assert.ok(tls?.kind === "upload");
    assert.match(tls.content, /^ssl_reject_handshake on;$/m);
    assert.doesNotMatch(
      outline(planProxyFiles([hello, api], new Map())).join("\n"),
      /_default-tls|tls\/certs/,
      "no HTTPS site: no TLS port, no includes",
    );
  });

  it("refuses two web roles of one site, which would share one site file", () => {
    assert.throws(
      () => planProxyFiles([hello, { ...hello, role: "admin" }], new Map()),
      (error: unknown) => error instanceof BugError && /share one site file/.test(error.message),
    );
  });
});

describe("planProxyBoot", () => {
  const steps = planProxyBoot("localhost/slipway-nginx:1");
  const outlined = outline(steps);
  const spec = /slipway\.proxy\.spec=([0-9a-f]{12}) /.exec(outlined.join("\n"))?.[1] ?? "";

  it("ensures the network, the files it mounts, the container, then checks the config", () => {
    assert.equal(PROXY_SPEC_LABEL, "slipway.proxy.spec");
    assert.match(spec, /^[0-9a-f]{12}$/);
    assert.deepEqual(outlined, [
      "unless docker network inspect slipway",
      "  run docker network create slipway",
      "unless test -d /var/lib/slipway/proxy/sites && test -d /var/lib/slipway/proxy/upstreams",
      "  run mkdir -p /var/lib/slipway/proxy/sites /var/lib/slipway/proxy/upstreams",
      "unless test -d /var/lib/slipway/tls/certs && test -d /var/lib/slipway/tls/webroot/.well-known/acme-challenge",
      "  run mkdir -p -m 0700 /var/lib/slipway/tls/certs",
      "  run mkdir -p -m 0755 /var/lib/slipway/tls/webroot/.well-known/acme-challenge",
      "  run chmod 0755 /var/lib/slipway/tls/webroot /var/lib/slipway/tls/webroot/.well-known /var/lib/slipway/tls/webroot/.well-known/acme-challenge",
      "upload /var/lib/slipway/proxy/ffdhe2048.pem 644",
      "upload /var/lib/slipway/proxy/nginx.conf 644",
      `unless sh -c ${steps[5]?.kind === "ensure" && isArgv(steps[5].unless) ? steps[5].unless[2] : "?"} sh slipway-proxy ${spec}`,
      `  run sh -c if docker container inspect "$1" >/dev/null 2>&1; then docker rm --force "$1" >/dev/null; fi sh slipway-proxy`,
      `  run docker run --detach --label slipway.proxy.spec=${spec} --name slipway-proxy --network slipway --publish 80:80 --publish 443:443 --restart unless-stopped --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 --volume /var/lib/slipway/proxy:/etc/nginx:ro --volume /var/lib/slipway/tls/certs:/etc/slipway/certs:ro --volume /var/lib/slipway/tls/webroot:/var/www/slipway-acme:ro localhost/slipway-nginx:1`,
      "run docker exec slipway-proxy nginx -t",
    ]);
  });

  it("counts the container as current only when it runs with this exact spec", () => {
    const ensureStep = steps[5];
    assert.ok(ensureStep?.kind === "ensure" && isArgv(ensureStep.unless));
    assert.equal(
      ensureStep.unless[2],
      `test "$(docker container inspect --format '{{.State.Running}} {{index .Config.Labels "slipway.proxy.spec"}}' "$1" 2>/dev/null)" = "true $2"`,
    );
  });

  it("changes the spec with the image, so another image replaces the container", () => {
    const other = outline(planProxyBoot(DEFAULT_PROXY_IMAGE)).join("\n");
    const otherSpec = /slipway\.proxy\.spec=([0-9a-f]{12}) /.exec(other)?.[1];
    assert.ok(otherSpec && otherSpec !== spec);
    assert.match(other, / nginx:1\.27-bookworm$/m);
  });

  it("mounts nginx.conf that the boot itself uploads (the container must never start without it)", () => {
    const [dh, conf] = [steps[3], steps[4]];
    assert.ok(conf?.kind === "upload" && dh?.kind === "upload");
    assert.equal(conf.content, renderNginxConf());
    assert.equal(dh.content, FFDHE2048);
  });
});

describe("planProxyReload", () => {
  it("checks, then reloads gracefully", () => {
    assert.deepEqual(outline(planProxyReload()), [
      "run docker exec slipway-proxy nginx -t",
      `run docker exec slipway-proxy sh -c ${RELOAD_SCRIPT}`,
    ]);
  });

  it("waits until the old workers of its own nginx master stop accepting: the new configuration serves when it returns", () => {
    assert.equal(
      RELOAD_SCRIPT,
      [
        'pid_file="$SLIPWAY_NGINX_PID_FILE"',
        "[ -n \"$pid_file\" ] || pid_file=\"$(nginx -V 2>&1 | tr ' ' '\\n' | sed -n 's/^--pid-path=//p')\"",
        "master=''",
        'read -r master 2>/dev/null < "$pid_file"',
        'if [ -z "$master" ]; then',
        "  echo \"slipway: no nginx master pid in the pid file '$pid_file'; is nginx running?\" >&2",
        "  exit 1",
        "fi",
        'parent() { ppid=\'\'; while read -r key value; do if [ "$key" = PPid: ]; then ppid="$value"; return; fi; done 2>/dev/null < "/proc/$1/status"; }',
        "serving() { [ \"$(tr -d '\\000' 2>/dev/null < \"/proc/$1/cmdline\")\" = 'nginx: worker process' ]; }",
        'alive() { parent "$1"; [ "$ppid" = "$master" ]; }',
        "old=''",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
        'for d in /proc/[0-9]*; do p="${d#/proc/}"; parent "$p"; if [ "$ppid" = "$master" ] && serving "$p"; then old="$old $p"; fi; done',
        "nginx -s reload || exit $?",
        "i=0",
        "while :; do",
        "  busy=''",
        '  for p in $old; do if serving "$p"; then busy=1; fi; done',
        '  [ -z "$busy" ] && break',
        "  i=$((i + 1))",
        '  if [ "$i" -ge 100 ]; then',
        '    echo "slipway: nginx did not take the new configuration: its old workers still serve after 5s" >&2',
        "    exit 1",
        "  fi",
        "  sleep 0.05",
        "done",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
        'drain="${1:-0}"',
        '[ "$drain" -gt 0 ] || exit 0',
        "echo 'slipway: switched'",
        "waited=0",
        'while [ "$waited" -lt "$drain" ]; do',
        "  left=''",
        '  for p in $old; do if alive "$p"; then left=1; fi; done',
        '  [ -z "$left" ] && exit 0',
        "  waited=$((waited + 50))",
        "  sleep 0.05",
        "done",
      ].join("\n"),
    );
    assert.ok(RELOAD_SCRIPT.includes(`echo '${SWITCHED_MARK}'`));
  });

  it("checks the configuration in the same exec as the switch's reload, with its own exit code", () => {
    assert.equal(CHECKED_RELOAD_SCRIPT, `nginx -t || exit 78\n${RELOAD_SCRIPT}`);
  });

  it("fails before any reload when nginx's pid file names no master", () => {
    const root = mkdtempSync(join(tmpdir(), "slipway-reload-"));
    try {
      // An `nginx` that records its calls: none must come.
      mkdirSync(join(root, "bin"));
      writeFileSync(join(root, "bin/nginx"), `#!/bin/sh\necho "$*" >> '${root}/calls'\n`);
      chmodSync(join(root, "bin/nginx"), 0o755);
      const result = spawnSync("sh", ["-c", RELOAD_SCRIPT], {
        env: {
          ...process.env,
          PATH: `${root}/bin:${process.env.PATH}`,
          SLIPWAY_NGINX_PID_FILE: join(root, "nginx.pid"),
        },
        encoding: "utf8",
      });
      assert.equal(result.status, 1);
      assert.equal(
        result.stderr,
        `slipway: no nginx master pid in the pid file '${join(root, "nginx.pid")}'; is nginx running?\n`,
      );
      assert.equal(existsSync(join(root, "calls")), false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("planProxySwitch", () => {
  const target = { container: "hello-web-3f2a9c1d0e4b-k3x9", port: 3000 };
  const steps = planProxySwitch(hello, target);

  it("is one run step: the constant script, values as positional parameters, upstream on stdin", () => {
    assert.equal(steps.length, 1);
    const step = steps[0] as RunStep;
    assert.equal(step.kind, "run");
    assert.equal(step.title, "switch hello-web to hello-web-3f2a9c1d0e4b-k3x9:3000");
    assert.deepEqual(step.command, [
      "sh",
      "-c",
      SWITCH_SCRIPT,
      "sh",
      "/var/lib/slipway/proxy/upstreams",
      "hello-web",
      "slipway-proxy",
      CHECKED_RELOAD_SCRIPT,
      "0",
    ]);
    assert.equal(step.stdin, renderUpstream(hello, target));
    assert.equal(step.timeoutMs, 60_000);
    assert.ok(!step.allowFailure);
  });

  it("passes the drain time to the reload, and gives the step that much longer", () => {
    const step = planProxySwitch(hello, target, { drainMs: 3_000 })[0] as RunStep;
    assert.ok(isArgv(step.command));
    assert.deepEqual(step.command.slice(-2), [CHECKED_RELOAD_SCRIPT, "3000"]);
    assert.equal(step.timeoutMs, 63_000);
  });

  it("keeps every value out of the script text", () => {
    for (const value of ["hello", "web", "hello-web", "3f2a9c1d0e4b", "3000", "/var/lib"]) {
      assert.ok(!SWITCH_SCRIPT.includes(value), `the script contains ${value}`);
    }
  });

  it("spells the script: stage, back up, move into place, nginx -t and reload in one exec, restore on failure", () => {
    assert.equal(
      SWITCH_SCRIPT,
      [
        "set -eu",
        'current="$1/$2.conf"',
        'next="$1/$2.conf.next"',
        'previous="$1/$2.conf.previous"',
        'cat > "$next"',
        'chmod 0644 "$next"',
        'if [ -e "$current" ]; then cp -p "$current" "$previous"; else rm -f "$previous"; fi',
        'mv -f "$next" "$current"',
        "rc=0",
        'docker exec "$3" sh -c "$4" sh "$5" || rc=$?',
        'if [ "$rc" -ne 0 ]; then',
        '  if [ -e "$previous" ]; then mv -f "$previous" "$current"; else rm -f "$current"; fi',
        '  if [ "$rc" -eq 78 ]; then',
        '    echo "slipway: nginx refused the new upstream $2; the previous one is back in place" >&2',
        "  else",
        '    echo "slipway: the reload of $2 did not take; the previous upstream is back in place" >&2',
        "  fi",
        "  exit 1",
        "fi",
      ].join("\n"),
    );
  });
});

// The script's logic with a fake docker that only records its calls (the integration test runs
// it against a real nginx). A directory name is hostile on purpose: values are never code.
describe("the switch script, with a recording fake docker", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-switch-"));
  const bin = join(root, "bin");
  const log = join(root, "docker.log");
  after(() => rmSync(root, { recursive: true, force: true }));

  /**
   * Runs the planned step (its script and parameters, with this test's upstreams directory) with
   * a docker that logs its arguments and exits `testCode` for `nginx -t`, `reloadCode` for `-s`.
   */
  function runSwitch(dir: string, content: string, testCode: number, reloadCode = 0) {
    mkdirSync(bin, { recursive: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(bin, "docker"),
      [
        "#!/bin/sh",
        `printf '%s\\n' "$1 $2 $3 $4 [$7]" >> '${log}'`,
        // The checked reload: nginx -t first (exit 78 when it refuses), then the reload.
        `if [ "$3" = sh ]; then [ ${testCode} -eq 0 ] || exit 78; exit ${reloadCode}; fi`,
        "exit 99",
        "",
      ].join("\n"),
    );
    chmodSync(join(bin, "docker"), 0o755);
    rmSync(log, { force: true });
    const step = planProxySwitch(hello, { container: "hello-web-2", port: 3000 })[0] as RunStep;
    assert.ok(isArgv(step.command));
    const [program, ...args] = step.command;
    assert.equal(args[3], "/var/lib/slipway/proxy/upstreams");
    args[3] = dir;
    const result = spawnSync(program ?? "sh", args, {
      input: content,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: "utf8",
    });
    const calls = existsSync(log) ? readFileSync(log, "utf8").trimEnd().split("\n") : [];
    return { code: result.status, stderr: result.stderr, calls };
  }

  it("moves the new upstream into place and reloads when nginx -t passes", () => {
    const dir = join(root, "ok $(touch pwned) 'q'");
    mkdirSync(dir);
    writeFileSync(join(dir, "hello-web.conf"), "old\n");
    const r = runSwitch(dir, "new\n", 0);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.calls, ["exec slipway-proxy sh -c [0]"]);
    assert.equal(readFileSync(join(dir, "hello-web.conf"), "utf8"), "new\n");
    assert.equal(readFileSync(join(dir, "hello-web.conf.previous"), "utf8"), "old\n");
    assert.equal(existsSync(join(dir, "hello-web.conf.next")), false);
    assert.equal(statSync(join(dir, "hello-web.conf")).mode & 0o777, 0o644);
    assert.equal(existsSync(join(root, "pwned")), false);
    assert.equal(existsSync("pwned"), false);
  });

  it("restores the previous upstream and exits 1 when nginx -t refuses it (exit 78 from the checked reload)", () => {
    const dir = join(root, "refused");
    mkdirSync(dir);
    writeFileSync(join(dir, "hello-web.conf"), "old\n");
    const r = runSwitch(dir, "broken\n", 1);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /nginx refused the new upstream hello-web; the previous one is back in place/,
    );
    assert.deepEqual(r.calls, ["exec slipway-proxy sh -c [0]"]);
    assert.equal(readFileSync(join(dir, "hello-web.conf"), "utf8"), "old\n");
  });

  it("removes a first upstream that nginx refuses, leaving no file behind", () => {
    const dir = join(root, "first");
    const r = runSwitch(dir, "broken\n", 1);
    assert.equal(r.code, 1);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("fails when the reload does not take, putting back the upstream nginx still runs", () => {
    const dir = join(root, "no-reload");
    mkdirSync(dir);
    writeFileSync(join(dir, "hello-web.conf"), "old\n");
    const r = runSwitch(dir, "new\n", 0, 1);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the reload of hello-web did not take; the previous upstream is back/);
    assert.deepEqual(r.calls, ["exec slipway-proxy sh -c [0]"]);
    assert.equal(readFileSync(join(dir, "hello-web.conf"), "utf8"), "old\n");
  });
});
