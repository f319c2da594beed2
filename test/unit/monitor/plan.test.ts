/**
 * The agent's plan from slipway.yml: this app's fragment (checks and notifiers, no secret in it)
 * and the agent's container (Slipway's Node flags, its folder, the token from a file).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AGENT_NODE_FLAGS, fragmentSchema } from "../../../src/agent/index.ts";
import { configSchema } from "../../../src/config/index.ts";
import { dockerRun } from "../../../src/engine/index.ts";
import {
  agentContainer,
  apiArgv,
  notifierSecretName,
  pingUrls,
  planFragment,
  planJobs,
} from "../../../src/monitor/index.ts";

const monitoringDefaults = () => configSchema.shape.monitoring.unwrap().parse({});

import { issuesOf, load, MINIMAL } from "../config/helpers.ts";

describe("the agent's plan", () => {
  it("turns monitoring into this app's fragment, keys as files, and the fragment is valid", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  checks:
    - { name: web, url: "http://slipway-proxy/up", keyword: ok, interval: 30s, open_after: 2, slo: 99.9 }
    - { name: db, tcp: "hello-db:5432" }
    - { name: cert, tls: "example.com:443", min_days: 21 }
    - { name: mx, dns: example.com, record: MX, expect: [mail.example.com] }
  notify:
    - { name: team, webhook: "https://hooks.example.com/x", secret: HOOK_KEY }
`,
      ".slipway/secrets": "HOOK_KEY=k3y-value\n",
    });
    const monitoring = loaded.config.monitoring;
    assert.ok(monitoring);
    const fragment = planFragment("hello-staging", monitoring);
    assert.ok(fragmentSchema.safeParse(fragment).success, JSON.stringify(fragment));
    const [web, db, cert, mx] = fragment.checks;
    assert.deepEqual(mx?.kind === "dns" ? [mx.host, mx.record, mx.expect] : [], [
      "example.com",
      "MX",
      ["mail.example.com"],
    ]);
    assert.deepEqual(cert?.kind === "tls" ? [cert.host, cert.port, cert.min_days] : [], [
      "example.com",
      443,
      21,
    ]);
    assert.deepEqual(
      {
        kind: web?.kind,
        interval: web?.interval_ms,
        open: web?.alerting.open_after,
        slo: web?.slo,
      },
      { kind: "http", interval: 30_000, open: 2, slo: 99.9 },
    );
    assert.deepEqual(db && db.kind === "tcp" ? [db.host, db.port] : [], ["hello-db", 5432]);
    assert.deepEqual(fragment.notifiers, [
      {
        name: "team",
        kind: "webhook",
        url: "https://hooks.example.com/x",
        secret_file: "/var/lib/slipway/agent/secrets/hello-staging/team",
      },
    ]);
    assert.ok(!JSON.stringify(fragment).includes("k3y-value"), "a key in the fragment");
    // The runbooks' host limits, each sustained for 5 minutes of 30 s readings.
    assert.deepEqual(
      fragment.checks
        .filter((c) => c.kind === "host")
        .map((c) => (c.kind === "host" ? [c.name, c.above, c.alerting.open_after] : [])),
      [
        ["host-cpu", 80, 10],
        ["host-memory", 85, 10],
        ["host-disk", 80, 10],
        ["host-load", 2, 10],
      ],
    );
  });

  it("puts heartbeat checks on the first host only, opening on one miss, their key in a file", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  host: false
  checks:
    - { name: backup, heartbeat: 1d, grace: 1h, key: BACKUP_PING }
    - { name: queue, heartbeat: 5m, open_after: 2 }
    - { name: web, url: "http://slipway-proxy/up" }
`,
      ".slipway/secrets": "BACKUP_PING=Zx8_k2-abcdefghijklmnop\n",
    });
    const monitoring = loaded.config.monitoring;
    assert.ok(monitoring);
    const fragment = planFragment("hello", monitoring);
    assert.ok(fragmentSchema.safeParse(fragment).success, JSON.stringify(fragment));
    assert.deepEqual(
      fragment.checks.map((c) => [
        c.name,
        c.kind,
        c.kind === "heartbeat" ? [c.period_ms, c.grace_ms, c.key_file] : [],
        c.alerting.open_after,
        c.alerting.resolve_after,
      ]),
      [
        [
          "backup",
          "heartbeat",
          [86_400_000, 3_600_000, "/var/lib/slipway/agent/heartbeats/hello/backup"],
          1,
          1,
        ],
        [
          "queue",
          "heartbeat",
          [300_000, 300_000, "/var/lib/slipway/agent/heartbeats/hello/queue"],
          2,
          1,
        ],
        ["web", "http", [], 3, 2],
      ],
    );
    assert.ok(!JSON.stringify(fragment).includes("Zx8_k2"), "a key in the fragment");
    assert.equal(
      loaded.secrets.values.get("BACKUP_PING"),
      "Zx8_k2-abcdefghijklmnop",
      "the ping key's secret is resolved for install",
    );
    assert.deepEqual(
      planFragment("hello", monitoring, { primary: false }).checks.map((c) => c.name),
      ["web"],
    );
    assert.deepEqual(pingUrls("Zx8_k2-abcdefghijklmnop", "10.89.0.7"), {
      network: "http://slipway-agent:9465/ping/Zx8_k2-abcdefghijklmnop",
      host: "http://10.89.0.7:9465/ping/Zx8_k2-abcdefghijklmnop",
    });
    assert.equal(pingUrls("k", undefined).host, undefined);
  });

  it("refuses a heartbeat with another kind, a key elsewhere, or a period past 10 days", async () => {
    const issues = await issuesOf({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  checks:
    - { name: both, heartbeat: 1h, url: "http://slipway-proxy/up" }
    - { name: keyed, tcp: "hello-db:5432", key: SOME_KEY }
    - { name: long, heartbeat: 11d, grace: 0s }
`,
      ".slipway/secrets": "SOME_KEY=abcdefghijklmnopqrst\n",
    });
    assert.deepEqual(
      issues.map((i) => `${i.path}: ${i.message}`),
      [
        "monitoring.checks[0].url: a check needs exactly one of url (HTTP), tcp or tls (HOST:PORT), dns (a name), heartbeat (a period)",
        "monitoring.checks[1].key: key is for heartbeat checks",
        "monitoring.checks[2].heartbeat: heartbeat must be from 1s to 10d",
      ],
    );
    const unset = await issuesOf({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  checks:
    - { name: nightly, heartbeat: 1d, key: NIGHTLY_PING }
`,
    });
    assert.deepEqual(
      unset.map((i) => `${i.path}: ${i.message}`),
      [
        'monitoring.checks[0].key: secret "NIGHTLY_PING" is not set: looked in .slipway/secrets (no such file)',
      ],
    );
  });

  it("passes an HTTP check's latency limits and redirects on, and refuses them elsewhere", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  host: false
  checks:
    - { name: web, url: "http://slipway-proxy/up", max_latency: 2s, p95: 500ms, p95_answers: 30, follow_redirects: 2 }
    - { name: plain, url: "http://slipway-proxy/" }
`,
    });
    const monitoring = loaded.config.monitoring;
    assert.ok(monitoring);
    const fragment = planFragment("hello", monitoring);
    assert.ok(fragmentSchema.safeParse(fragment).success, JSON.stringify(fragment));
    assert.deepEqual(
      fragment.checks.map((c) =>
        c.kind === "http"
          ? [c.name, c.max_latency_ms, c.p95_ms, c.p95_answers, c.follow_redirects]
          : [],
      ),
      [
        ["web", 2_000, 500, 30, 2],
        ["plain", undefined, undefined, 20, 0],
      ],
    );
    const issues = await issuesOf({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  checks:
    - { name: db, tcp: "hello-db:5432", p95: 500ms, follow_redirects: 1 }
    - { name: slow, url: "http://slipway-proxy/", max_latency: 10s }
    - { name: few, url: "http://slipway-proxy/", p95_answers: 5 }
`,
    });
    assert.deepEqual(
      issues.map((i) => `${i.path}: ${i.message}`),
      [
        "monitoring.checks[0].p95: p95 is for HTTP checks",
        "monitoring.checks[0].follow_redirects: follow_redirects is for HTTP checks",
        "monitoring.checks[1].max_latency: max_latency must be shorter than timeout",
        "monitoring.checks[2].p95_answers: p95_answers is for checks with p95",
      ],
    );
  });

  it("runs the bundle with Slipway's flags, the token from a file, restarted, on the proxy's network", () => {
    const argv = dockerRun(agentContainer("node:24-bookworm-slim", "vps1"));
    const from = argv.indexOf("node:24-bookworm-slim");
    assert.deepEqual(argv.slice(from + 1, from + 2 + AGENT_NODE_FLAGS.length), [
      "node",
      ...AGENT_NODE_FLAGS,
    ]);
    assert.ok(argv.includes("--token-file"));
    assert.equal(argv[argv.indexOf("--network") + 1], "slipway");
    assert.equal(argv[argv.indexOf("--restart") + 1], "unless-stopped");
    assert.ok(!argv.includes("--publish"), "the API is not published on the host");
  });

  it("checks the container of each role that runs on the host, by the labels deploys give it", async () => {
    const loaded = await load({
      "slipway.yml": `service: hello
image: hello
servers:
  web: { hosts: [vps1, vps2] }
  worker: { hosts: [vps2] }
monitoring: { host: false }
`,
    });
    const monitoring = loaded.config.monitoring;
    assert.ok(monitoring);
    const on = (host: string) =>
      planFragment("hello", monitoring, { on: { host, loaded } }).checks.map((c) =>
        c.kind === "container" ? [c.name, c.role, c.labels, c.alerting.open_after] : [],
      );
    const labels = (role: string) => ({
      "slipway.service": "hello",
      "slipway.environment": "",
      "slipway.role": role,
    });
    assert.deepEqual(on("vps1"), [["container-web", "web", labels("web"), 1]]);
    assert.deepEqual(on("vps2"), [
      ["container-web", "web", labels("web"), 1],
      ["container-worker", "worker", labels("worker"), 1],
    ]);
    assert.deepEqual(planFragment("hello", monitoring).checks, [], "no host: no container checks");
  });

  it("gives each cron job to the agent of its role's first host, once per app, waiting on the deploy lock", async () => {
    const loaded = await load({
      "slipway.yml": `service: hello
image: hello
servers:
  web: { hosts: [vps1, vps2] }
  worker: { hosts: [vps2, vps3] }
cron:
  report: { schedule: "0 3 * * *", command: "bin/report --all", jitter: 5m, missed: run_once }
  sweep: { schedule: "@hourly", command: [bin/sweep], role: worker, timeout: 10m }
`,
    });
    const names = (host: string) => planJobs("hello-staging", host, loaded).map((j) => j.name);
    assert.deepEqual([names("vps1"), names("vps2"), names("vps3")], [["report"], ["sweep"], []]);
    const [report] = planJobs("hello-staging", "vps1", loaded);
    assert.deepEqual(report, {
      name: "report",
      kind: "container",
      schedule: "0 3 * * *",
      jitter_ms: 300_000,
      missed: "run_once",
      timeout_ms: 3_600_000,
      lock_path: "/var/lib/slipway/hello-staging/lock",
      role: "web",
      labels: { "slipway.service": "hello", "slipway.environment": "", "slipway.role": "web" },
      command: ["bin/report", "--all"],
    });
    assert.equal(planJobs("hello-staging", "vps2", loaded)[0]?.timeout_ms, 600_000);
    const fragment = planFragment(
      "hello",
      { ...monitoringDefaults(), host: false },
      { on: { host: "vps1", loaded } },
    );
    assert.ok(fragmentSchema.safeParse(fragment).success, JSON.stringify(fragment));
    assert.deepEqual(
      fragment.jobs.map((j) => j.name),
      ["report"],
    );
  });

  it("mounts the host's engine socket where the agent looks for it: Docker's, or Podman's", () => {
    const mount = (engine?: "docker" | "podman") => {
      const argv = dockerRun(
        agentContainer("node:24-bookworm-slim", "vps1", engine ? { engine } : {}),
      );
      return argv.filter((word, i) => argv[i - 1] === "--volume" && word.endsWith(".sock"));
    };
    assert.deepEqual(mount(), ["/var/run/docker.sock:/var/run/docker.sock"]);
    const argv = dockerRun(agentContainer("node:24-bookworm-slim", "vps1"));
    const volumes = argv.filter((_, i) => argv[i - 1] === "--volume");
    assert.ok(volumes.includes("/var/lib/slipway:/var/lib/slipway:ro"), "deploy locks, read-only");
    assert.ok(volumes.includes("/var/lib/slipway/agent:/var/lib/slipway/agent"));
    assert.deepEqual(mount("podman"), ["/run/podman/podman.sock:/var/run/docker.sock"]);
  });

  it("calls the API with the token read inside the container, never in argv", () => {
    const argv = apiArgv("POST", "/api/incidents/3/ack");
    assert.deepEqual(argv.slice(0, 4), ["docker", "exec", "-i", "slipway-agent"]);
    assert.deepEqual(argv.slice(-2), ["POST", "/api/incidents/3/ack"]);
    assert.match(argv.join(" "), /readFileSync\('\/var\/lib\/slipway\/agent\/token'/);
  });

  it("maps every kind of notifier, each secret to its own file, and refuses one with two kinds", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  host: false
  notify:
    - { name: chat, slack: SLACK_URL }
    - { name: dev, discord: DISCORD_URL }
    - { name: phone, telegram: { chat_id: -100123, token: BOT_TOKEN } }
    - name: ops
      email: { to: ops@example.com, from: slipway@example.com, smtp: "smtp://alerts@mail.example.com:587", password: SMTP_PASSWORD }
`,
      ".slipway/secrets":
        "SLACK_URL=https://hooks.slack.com/x\nDISCORD_URL=https://discord.com/api/webhooks/1/y\nBOT_TOKEN=1:t\nSMTP_PASSWORD=p\n",
    });
    const monitoring = loaded.config.monitoring;
    assert.ok(monitoring);
    const fragment = planFragment("hello", monitoring);
    assert.ok(fragmentSchema.safeParse(fragment).success, JSON.stringify(fragment));
    assert.deepEqual(fragment.checks, [], "host: false turns the host checks off");
    const dir = "/var/lib/slipway/agent/secrets/hello";
    assert.deepEqual(fragment.notifiers, [
      { name: "chat", kind: "slack", url_file: `${dir}/chat` },
      { name: "dev", kind: "discord", url_file: `${dir}/dev` },
      {
        name: "phone",
        kind: "telegram",
        chat_id: "-100123",
        token_file: `${dir}/phone`,
        api_url: "https://api.telegram.org",
      },
      {
        name: "ops",
        kind: "email",
        to: ["ops@example.com"],
        from: "slipway@example.com",
        smtp_url: "smtp://alerts@mail.example.com:587",
        password_file: `${dir}/ops`,
      },
    ]);
    assert.deepEqual(monitoring.notify.map(notifierSecretName), [
      "SLACK_URL",
      "DISCORD_URL",
      "BOT_TOKEN",
      "SMTP_PASSWORD",
    ]);
    const issues = await issuesOf({
      "slipway.yml": `${MINIMAL.trimEnd()}
monitoring:
  notify:
    - { name: both, slack: SLACK_URL, discord: DISCORD_URL }
    - { name: bad, email: { to: a@b.c, from: d@e.f, smtp: "smtp://u:pw@host:587" } }
`,
      ".slipway/secrets": "SLACK_URL=x\nDISCORD_URL=y\n",
    });
    assert.deepEqual(
      issues.map((i) => `${i.path}: ${i.message}`),
      [
        "monitoring.notify[0].name: a notifier is exactly one of webhook, slack, discord, telegram, email, not slack and discord",
        "monitoring.notify[1].email.smtp: the SMTP URL holds a password",
      ],
    );
  });
});
