/**
 * `slipway render prometheus` against the real promtool: the rendered prometheus.yml and alert
 * rules pass `promtool check config` and `promtool check rules`, and the rules' thresholds are
 * the agent's (a check down for open_after × interval, the burn rates of an slo, a p95 limit).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";

const BIN = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const PROMTOOL = "/usr/bin/promtool";
const skip = existsSync(PROMTOOL)
  ? false
  : `${PROMTOOL} is missing (rig/install.sh installs Debian's prometheus)`;
if (skip) console.log(`# skipped: ${skip}`);

describe("slipway render prometheus, checked by promtool", { skip }, () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "slipway-prom-"));
    await writeFile(
      join(dir, "slipway.yml"),
      [
        "service: hello",
        "image: hello",
        "servers:",
        "  web: [127.0.0.1]",
        "monitoring:",
        "  checks:",
        '    - { name: web, url: "http://slipway-proxy/up", interval: 30s, open_after: 3, slo: 99.9, p95: 500ms }',
        '    - { name: db, tcp: "hello-db:5432", interval: 1m, open_after: 2 }',
        "",
      ].join("\n"),
    );
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes a config and rules that promtool accepts", async () => {
    const out = join(dir, "prom");
    const run = spawnSync(process.execPath, [BIN, "render", "prometheus", "--out", out], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    // The token file the scrape job names exists where Prometheus would run.
    const config = (await readFile(join(out, "prometheus.yml"), "utf8")).replace(
      "/var/lib/slipway/agent/token",
      join(dir, "token"),
    );
    await writeFile(join(out, "prometheus.yml"), config);
    await writeFile(join(dir, "token"), "t\n");
    const rules = spawnSync(
      PROMTOOL,
      ["check", "rules", "--lint-fatal", join(out, "slipway-rules.yml")],
      {
        encoding: "utf8",
      },
    );
    assert.equal(rules.status, 0, `${rules.stdout}${rules.stderr}`);
    assert.match(rules.stdout + rules.stderr, /SUCCESS: 9 rules found/);
    const checked = spawnSync(PROMTOOL, ["check", "config", join(out, "prometheus.yml")], {
      encoding: "utf8",
    });
    assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
  });

  it("alerts when the agent would: down for open_after × interval, and the slo's burn rates", async () => {
    const text = await readFile(join(dir, "prom", "slipway-rules.yml"), "utf8");
    const doc = parse(text) as {
      groups: {
        name: string;
        rules: { alert: string; expr: string; for?: string; labels: Record<string, string> }[];
      }[];
    };
    const [group] = doc.groups;
    assert.equal(group?.name, "slipway-hello");
    const down = group?.rules.filter((r) => r.alert === "SlipwayCheckDown") ?? [];
    assert.deepEqual(
      down.map((r) => [r.expr, r.for]),
      [
        ['slipway_check_up{check="hello/web"} == 0', "90s"],
        ['slipway_check_up{check="hello/db"} == 0', "2m"],
        ['slipway_check_up{check="hello/host-cpu"} == 0', "5m"],
        ['slipway_check_up{check="hello/host-memory"} == 0', "5m"],
        ['slipway_check_up{check="hello/host-disk"} == 0', "5m"],
        ['slipway_check_up{check="hello/host-load"} == 0', "5m"],
      ],
    );
    const slow = group?.rules.filter((r) => r.alert === "SlipwayLatencyP95") ?? [];
    assert.deepEqual(
      slow.map((r) => [r.expr, r.labels.severity]),
      [
        [
          'quantile_over_time(0.95, slipway_check_last_duration_seconds{check="hello/web"}[10m]) > 0.5',
          "warning",
        ],
      ],
      "the p95 over the last 20 answers of 30 s",
    );
    const burns = group?.rules.filter((r) => r.alert === "SlipwayErrorBudgetBurn") ?? [];
    assert.deepEqual(
      burns.map((r) => r.labels.severity),
      ["critical", "warning"],
    );
    assert.match(
      burns[0]?.expr ?? "",
      /\[1h\].* > 14\.4 \* 0\.00100000.*\[5m\].* > 14\.4 \* 0\.00100000/,
    );
  });
});
