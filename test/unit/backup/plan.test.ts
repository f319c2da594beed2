/**
 * Backups planned from slipway.yml: each target's host, what the runner sees of it and mounts,
 * the runner's request and container, the agent's exact jobs (schedule, staleness, lock, mounts,
 * command), the files on the host and which secrets they hold.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fragmentSchema, jobSchema } from "../../../src/agent/index.ts";
import {
  cronPeriodMs,
  planBackupFiles,
  planBackupJobs,
  planRequest,
  planSecrets,
  planTargets,
  runnerContainer,
} from "../../../src/backup/index.ts";
import { dockerRun } from "../../../src/engine/index.ts";
import { planFragment } from "../../../src/monitor/index.ts";
import { load, yaml } from "../config/helpers.ts";

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const APP = yaml`
service: hello
image: hello
servers:
  web:
    hosts: [10.0.0.1, 10.0.0.2]
    volumes: ["data:/app/data", "/srv/uploads:/app/uploads"]
  worker:
    hosts: [10.0.0.3]
    volumes: ["cache:/cache"]
accessories:
  db: { engine: postgres, version: "16", host: 10.0.0.9 }
  cache: { engine: redis }
  docs: { engine: mongodb }
  metrics: { engine: influxdb }
`;
const placement = {
  image: "node:24-bookworm-slim",
  bundleDir: "/var/lib/slipway/agent/bundle",
  engineSocket: "/run/podman/podman.sock",
};

async function loaded(backups: string, secrets = "", environment?: string) {
  return load(
    {
      "slipway.yml": `${APP.trimEnd()}\nbackups:\n${backups}`,
      ".slipway/secrets": secrets,
      ".gitignore": ".slipway/secrets\n",
      ...(environment ? { [`slipway.${environment}.yml`]: "releases: { keep: 3 }\n" } : {}),
    },
    environment,
  );
}

describe("backups planned", () => {
  it("finds each target's host and what the runner sees of it", async () => {
    const l = await loaded(yaml`
  store: /var/backups/slipway
  recipients: [${RECIPIENT}]
  targets:
    db: {}
    cache: { accessory: cache }
    docs: {}
    metrics: {}
    files: { volume: data }
    uploads: { volume: /srv/uploads, host: 10.0.0.2 }
    jobs: { volume: cache }
    visits: { sqlite: /app/data/sub/hello.db }
    state: { config: true }
`);
    assert.deepEqual(
      planTargets(l).map((t) => [t.name, t.kind, t.host, t.source, t.mounts]),
      [
        [
          "db",
          "accessory",
          "10.0.0.9",
          {
            kind: "postgres",
            container: "hello-db",
            user: "hello",
            database: "hello",
            image: "postgres:16",
          },
          [],
        ],
        [
          "cache",
          "accessory",
          "10.0.0.1",
          {
            kind: "redis",
            container: "hello-cache",
            user: "hello",
            database: "hello",
            image: "redis:7",
          },
          [],
        ],
        [
          "docs",
          "accessory",
          "10.0.0.1",
          {
            kind: "mongodb",
            container: "hello-docs",
            user: "hello",
            database: "hello",
            image: "mongo:7",
          },
          [],
        ],
        [
          "metrics",
          "accessory",
          "10.0.0.1",
          {
            kind: "influxdb",
            container: "hello-metrics",
            user: "hello",
            database: "hello",
            image: "influxdb:2",
          },
          [],
        ],
        [
          "files",
          "volume",
          "10.0.0.1",
          { kind: "files", path: "/source", exclude: [] },
          [{ source: "hello-data", target: "/source", readOnly: true }],
        ],
        [
          "uploads",
          "volume",
          "10.0.0.2",
          { kind: "files", path: "/source", exclude: [] },
          [{ source: "/srv/uploads", target: "/source", readOnly: true }],
        ],
        [
          "jobs",
          "volume",
          "10.0.0.3",
          { kind: "files", path: "/source", exclude: [] },
          [{ source: "hello-cache", target: "/source", readOnly: true }],
        ],
        [
          "visits",
          "sqlite",
          "10.0.0.1",
          { kind: "sqlite", path: "/source/sub/hello.db" },
          [{ source: "hello-data", target: "/source" }],
        ],
        [
          "state",
          "config",
          "10.0.0.1",
          { kind: "files", path: "/source", exclude: ["lock", "backups/work"] },
          [{ source: "/var/lib/slipway/hello", target: "/source", readOnly: true }],
        ],
      ],
    );
    const staging = await loaded(
      yaml`
  store: s3://backups/slipway
  s3: { endpoint: "http://10.0.0.5:9000", access_key_id: KEY, secret_access_key: SECRET }
  recipients: [${RECIPIENT}]
  targets: { files: { volume: data } }
`,
      "KEY=k\nSECRET=s\n",
      "staging",
    );
    const [files] = planTargets(staging);
    assert.deepEqual(files?.mounts, [
      { source: "hello-staging-data", target: "/source", readOnly: true },
    ]);
    assert.deepEqual(planRequest(staging, "list", planTargets(staging)).store, {
      kind: "s3",
      bucket: "backups",
      prefix: "slipway/hello-staging",
      endpoint: "http://10.0.0.5:9000",
      region: "us-east-1",
      path_style: true,
    });
  });

  it("gives the agent of each target's host its backup and verification jobs, exactly", async () => {
    const l = await loaded(yaml`
  store: /var/backups/slipway
  recipients: [${RECIPIENT}]
  targets:
    db: { schedule: "0 3 * * 1-5", grace: 2h, timeout: 1h, keep: { last: 3 } }
    files: { volume: data, verify: false }
`);
    const jobs = planBackupJobs(l, "10.0.0.9", placement);
    const common = {
      kind: "runner",
      jitter_ms: 0,
      timeout_ms: 3_600_000,
      lock_path: "/var/lib/slipway/hello/lock",
      image: "node:24-bookworm-slim",
      env: ["TMPDIR=/var/lib/slipway/hello/backups/work"],
      result_prefix: "slipway-backup-result ",
    };
    const mounts = [
      {
        source: "/var/lib/slipway/agent/bundle",
        target: "/var/lib/slipway/agent/bundle",
        read_only: true,
      },
      { source: "/run/podman/podman.sock", target: "/var/run/docker.sock", read_only: false },
      {
        source: "/var/lib/slipway/hello/backups",
        target: "/var/lib/slipway/hello/backups",
        read_only: false,
      },
      {
        source: "/var/backups/slipway/hello",
        target: "/var/backups/slipway/hello",
        read_only: false,
      },
    ];
    const command = (action: string) => [
      "node",
      "--initial-old-space-size=128",
      "/var/lib/slipway/agent/bundle/runner.mjs",
      "--request",
      `/var/lib/slipway/hello/backups/jobs/db.${action}.json`,
      "--secrets",
      "/var/lib/slipway/hello/backups/secrets.json",
    ];
    const labels = (name: string) => ({
      "slipway.service": "hello",
      "slipway.environment": "",
      "slipway.backup": name,
    });
    assert.deepEqual(jobs, [
      {
        ...common,
        name: "backup.db",
        schedule: "0 3 * * 1-5",
        missed: "run_once",
        // Friday 03:00 to Monday 03:00, plus the grace.
        stale_ms: 3 * 86_400_000 + 7_200_000,
        command: command("backup"),
        mounts,
        labels: labels("hello-backup.db"),
      },
      {
        ...common,
        name: "verify.db",
        schedule: "0 4 * * 0",
        missed: "skip",
        command: command("verify"),
        mounts,
        labels: labels("hello-verify.db"),
      },
    ]);
    for (const job of jobs) assert.deepEqual(jobSchema.parse(job), job);
    // The volume's job is on its role's first host, with the volume mounted; no verification.
    const web = planBackupJobs(l, "10.0.0.1", placement);
    assert.deepEqual(
      web.map((j) => [j.name, j.kind === "runner" ? j.mounts.at(-1) : undefined]),
      [["backup.files", { source: "hello-data", target: "/source", read_only: true }]],
    );
    assert.deepEqual(planBackupJobs(l, "10.0.0.3", placement), []);
    // In the agent's fragment beside the cron jobs, valid as the agent reads it.
    const fragment = planFragment(
      "hello",
      { ...(l.config.monitoring ?? defaults()), image: "node:24-bookworm-slim" },
      {
        on: { host: "10.0.0.9", loaded: l, engine: "podman" },
      },
    );
    assert.deepEqual(fragment.jobs, jobs);
    assert.ok(fragmentSchema.safeParse(fragment).success);
  });

  it("writes each job's request and the secrets; the verification identity only when opted in", async () => {
    const secrets =
      "KEY=key-id\nSECRET=secret-key\nVERIFY=AGE-SECRET-KEY-1VERIFY\nMINE=AGE-SECRET-KEY-1MINE\n";
    const s3 = yaml`
  store: s3://backups
  s3: { endpoint: "http://10.0.0.5:9000", access_key_id: KEY, secret_access_key: SECRET }
  recipients: [${RECIPIENT}]
  identity: MINE
`;
    const plain = await loaded(`${s3}  targets: { db: {} }\n`, secrets);
    const files = planBackupFiles(plain, "10.0.0.9");
    assert.deepEqual(
      files.map((f) => f.path),
      [
        "/var/lib/slipway/hello/backups/jobs/db.backup.json",
        "/var/lib/slipway/hello/backups/jobs/db.verify.json",
        "/var/lib/slipway/hello/backups/secrets.json",
      ],
    );
    const [backup, verify, kept] = files.map(
      (f) => JSON.parse(f.content) as Record<string, unknown>,
    );
    assert.deepEqual(backup, {
      format: 1,
      action: "backup",
      host: "10.0.0.9",
      store: {
        kind: "s3",
        bucket: "backups",
        prefix: "hello",
        endpoint: "http://10.0.0.5:9000",
        region: "us-east-1",
        path_style: true,
      },
      compression: "zstd",
      recipients: [RECIPIENT],
      targets: [
        {
          name: "db",
          source: {
            kind: "postgres",
            container: "hello-db",
            user: "hello",
            database: "hello",
            image: "postgres:16",
          },
          keep: { keepLast: 7, daily: 7, weekly: 4, monthly: 6, yearly: 0 },
        },
      ],
    });
    assert.equal(verify?.action, "check", "no identity on the host: sizes and SHA-256 only");
    assert.deepEqual(kept, { s3: { access_key_id: "key-id", secret_access_key: "secret-key" } });
    assert.ok(!files.some((f) => f.content.includes("AGE-SECRET-KEY")), "no identity on the host");
    assert.deepEqual(planBackupFiles(plain, "10.0.0.1"), [], "no target there");

    const opted = await loaded(`${s3}  verify_identity: VERIFY\n  targets: { db: {} }\n`, secrets);
    const [, verifyOpted, keptOpted] = planBackupFiles(opted, "10.0.0.9").map(
      (f) => JSON.parse(f.content) as Record<string, unknown>,
    );
    assert.equal(verifyOpted?.action, "verify");
    assert.equal((keptOpted as { identity?: string }).identity, "AGE-SECRET-KEY-1VERIFY");
    // From this machine, for one run: the operator's own identity.
    assert.equal(planSecrets(opted, "open").identity, "AGE-SECRET-KEY-1MINE");
    // Listing and pruning open nothing: no identity goes to the host for them.
    assert.deepEqual(planSecrets(opted, "store"), {
      s3: { access_key_id: "key-id", secret_access_key: "secret-key" },
    });
  });

  it("runs the runner with its request on stdin for a run from this machine", async () => {
    const l = await loaded(yaml`
  store: /var/backups/slipway
  recipients: [${RECIPIENT}]
  targets: { visits: { sqlite: /app/data/hello.db } }
`);
    const [visits] = planTargets(l);
    assert.ok(visits);
    const spec = runnerContainer(l, placement, {
      name: "hello-backup-restore-1a2b",
      command: ["--stdin"],
      mounts: visits.mounts,
    });
    assert.deepEqual(dockerRun({ ...spec, detach: false, removeOnExit: true, interactive: true }), [
      "docker",
      "run",
      "--rm",
      "--interactive",
      "--name",
      "hello-backup-restore-1a2b",
      "--env",
      "TMPDIR=/var/lib/slipway/hello/backups/work",
      "--volume",
      "/var/lib/slipway/agent/bundle:/var/lib/slipway/agent/bundle:ro",
      "--volume",
      "/run/podman/podman.sock:/var/run/docker.sock",
      "--volume",
      "/var/lib/slipway/hello/backups:/var/lib/slipway/hello/backups",
      "--volume",
      "/var/backups/slipway/hello:/var/backups/slipway/hello",
      "--volume",
      "hello-data:/source",
      "--log-driver",
      "json-file",
      "--log-opt",
      "max-size=10m",
      "--log-opt",
      "max-file=3",
      "--label",
      "slipway.backup=hello-backup-restore-1a2b",
      "--label",
      "slipway.environment=",
      "--label",
      "slipway.service=hello",
      "node:24-bookworm-slim",
      "node",
      "--initial-old-space-size=128",
      "/var/lib/slipway/agent/bundle/runner.mjs",
      "--stdin",
    ]);
  });

  it("measures a schedule's longest gap", () => {
    assert.equal(cronPeriodMs("* * * * *"), 60_000);
    assert.equal(cronPeriodMs("0 3 * * *"), 86_400_000);
    assert.equal(cronPeriodMs("@hourly"), 3_600_000);
    assert.equal(cronPeriodMs("0 4 * * 0"), 7 * 86_400_000);
    assert.equal(cronPeriodMs("0 0 1 * *"), 31 * 86_400_000);
  });
});

function defaults() {
  return {
    image: "node:24-bookworm-slim",
    checks: [],
    notify: [],
    host: false as const,
    containers: false,
    public_status: false,
  };
}
