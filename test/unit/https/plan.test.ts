/** The CLI's certificate steps: the order and its secret files, the runner, the checked switch. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  CERT_SWITCH_SCRIPT,
  planCertificatePlacement,
  planOrder,
  runnerArgv,
} from "../../../src/https/index.ts";
import type { Step } from "../../../src/plan/index.ts";

const settings = {
  site: "hello-staging",
  domains: ["staging.example.com", "*.staging.example.com"],
  directory: "https://ca.example/dir",
  email: "ops@example.com",
  directoryCa: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
  eab: { kid: "kid-1", hmacKey: "hmac-secret-value" },
  challenge: "dns-01" as const,
  dns: { provider: "cloudflare" as const, token: "cf-secret-token", propagationMs: 20_000 },
  renewBeforeMs: 30 * 86_400_000,
};

function uploads(steps: readonly Step[]) {
  return steps.flatMap((s) => (s.kind === "upload" ? [s] : []));
}

describe("planOrder", () => {
  const steps = planOrder(settings);

  it("writes each secret to its own 0600 file, then the order naming the files", () => {
    assert.deepEqual(
      uploads(steps).map((u) => `${u.path} ${u.mode.toString(8)}`),
      [
        "/var/lib/slipway/tls/secrets/hello-staging/directory-ca.pem 600",
        "/var/lib/slipway/tls/secrets/hello-staging/eab-hmac-key 600",
        "/var/lib/slipway/tls/secrets/hello-staging/dns-token 600",
        "/var/lib/slipway/tls/orders/hello-staging.json 600",
      ],
    );
    const order = JSON.parse(uploads(steps).at(-1)?.content ?? "{}");
    assert.deepEqual(order, {
      site: "hello-staging",
      domains: ["staging.example.com", "*.staging.example.com"],
      directory: "https://ca.example/dir",
      challenge: "dns-01",
      renew_before_ms: 2_592_000_000,
      tls_dir: "/var/lib/slipway/tls",
      proxy_certs_dir: "/etc/slipway/certs",
      https_port: 443,
      email: "ops@example.com",
      ca_file: "/var/lib/slipway/tls/secrets/hello-staging/directory-ca.pem",
      eab: {
        kid: "kid-1",
        hmac_key_file: "/var/lib/slipway/tls/secrets/hello-staging/eab-hmac-key",
      },
      dns: {
        provider: "cloudflare",
        token_file: "/var/lib/slipway/tls/secrets/hello-staging/dns-token",
        propagation_ms: 20_000,
      },
    });
  });

  it("with other web hosts, writes the key the certificate is sealed with for them, and names it", () => {
    const shared = planOrder({ ...settings, shareKey: "c2hhcmluZy1rZXk" });
    const share = uploads(shared).find((u) => u.path.endsWith("/share-key"));
    assert.deepEqual(
      [share?.path, share?.mode.toString(8), share?.content],
      ["/var/lib/slipway/tls/secrets/hello-staging/share-key", "600", "c2hhcmluZy1rZXk\n"],
    );
    const order = JSON.parse(uploads(shared).at(-1)?.content ?? "{}");
    assert.equal(order.share_key_file, "/var/lib/slipway/tls/secrets/hello-staging/share-key");
  });

  it("puts no secret in the order, and none in any argv", () => {
    const order = uploads(steps).at(-1)?.content ?? "";
    for (const secret of ["hmac-secret-value", "cf-secret-token"]) {
      assert.ok(!order.includes(secret));
      assert.ok(!steps.some((s) => s.kind === "run" && JSON.stringify(s.command).includes(secret)));
    }
  });
});

describe("runnerArgv", () => {
  it("runs certs.mjs once in the agent's image on the proxy's network, staging what it issues", () => {
    assert.deepEqual(runnerArgv("node:24-bookworm-slim", "hello", { force: true }), [
      "docker",
      "run",
      "--rm",
      "--name",
      "slipway-certs-hello",
      "--network",
      "slipway",
      "--volume",
      "/var/lib/slipway/tls:/var/lib/slipway/tls",
      "--log-driver",
      "json-file",
      "--log-opt",
      "max-size=10m",
      "--log-opt",
      "max-file=3",
      "--label",
      "slipway.certs=hello",
      "node:24-bookworm-slim",
      "node",
      "/var/lib/slipway/tls/runner/certs.mjs",
      "issue",
      "--order",
      "/var/lib/slipway/tls/orders/hello.json",
      "--stage",
      "--force",
    ]);
  });
});

describe("CERT_SWITCH_SCRIPT, run for real with a stand-in docker", () => {
  const root = mkdtempSync(join(tmpdir(), "slipway-cert-switch-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Runs the switch in a fresh folder whose `docker exec ... nginx -t` exits `nginxT`. */
  function switchWith(nginxT: number, reload: number) {
    const dir = mkdtempSync(join(root, "case-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(
      join(bin, "docker"),
      `#!/bin/sh\nif [ "$3" = nginx ]; then exit ${nginxT}; fi\nexit ${reload}\n`,
    );
    chmodSync(join(bin, "docker"), 0o755);
    for (const name of ["hello.pem", "hello.tls.conf", "hello.http.conf"]) {
      writeFileSync(join(dir, name), `old ${name}`);
      writeFileSync(join(dir, `${name}.next`), `new ${name}`);
    }
    const result = spawnSync(
      "sh",
      ["-c", CERT_SWITCH_SCRIPT, "sh", dir, "hello", "proxy", "true"],
      {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      },
    );
    const read = (name: string) => readFileSync(join(dir, name), "utf8");
    return { result, read, dir };
  }

  it("moves the new files in, keeping the old ones as .previous, when nginx takes them", () => {
    const { result, read, dir } = switchWith(0, 0);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(read("hello.pem"), "new hello.pem");
    assert.equal(read("hello.tls.conf"), "new hello.tls.conf");
    assert.equal(read("hello.pem.previous"), "old hello.pem");
    assert.ok(!existsSync(join(dir, "hello.pem.next")));
  });

  it("puts the old files back when nginx -t refuses, or the reload does not take", () => {
    for (const [nginxT, reload] of [
      [1, 0],
      [0, 1],
    ] as const) {
      const { result, read } = switchWith(nginxT, reload);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /previous one is back/);
      for (const name of ["hello.pem", "hello.tls.conf", "hello.http.conf"]) {
        assert.equal(read(name), `old ${name}`);
      }
    }
  });

  it("stages the three files as .next (0600) before the switch", () => {
    const steps = planCertificatePlacement("hello", { pem: "P", tls: "T", http: "H" });
    assert.deepEqual(
      steps.map((s) => (s.kind === "upload" ? `${s.path} ${s.mode.toString(8)}` : s.title)),
      [
        "/var/lib/slipway/tls/certs/hello.pem.next 600",
        "/var/lib/slipway/tls/certs/hello.tls.conf.next 600",
        "/var/lib/slipway/tls/certs/hello.http.conf.next 600",
        "put the new certificate of hello in place",
      ],
    );
  });
});
