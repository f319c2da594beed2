/** Which agents renew a site's certificate, and which take it from the host that issues it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobSchema } from "../../../src/agent/index.ts";
import { agentContainer, planCertificateJobs } from "../../../src/monitor/index.ts";
import { load } from "../config/helpers.ts";

const config = (tls: string) => `service: hello
image: hello
servers:
  web: { hosts: [vps1, vps2] }
  worker: { hosts: [vps3] }
proxy:
  domains: [hello.example, www.hello.example]
${tls}`;

describe("planCertificateJobs", () => {
  it("the first web host renews from the CA; the other takes it, sealed, from the first's proxy", async () => {
    const loaded = await load({ "slipway.yml": config("  tls: { acme: {} }\n") });
    const jobs = (host: string) =>
      planCertificateJobs("hello", host, loaded, "node:24", "10.0.0.1");
    const [renewal] = jobs("vps1");
    assert.deepEqual(renewal, {
      name: "certificate renewal",
      kind: "certificate",
      schedule: "*/15 * * * *",
      jitter_ms: 120_000,
      missed: "skip",
      timeout_ms: 900_000,
      lock_path: "/var/lib/slipway/hello/lock",
      order: "/var/lib/slipway/tls/orders/hello.json",
      image: "node:24",
      runner: "/var/lib/slipway/agent/bundle/certs.mjs",
      proxy: "slipway-proxy",
      network: "slipway",
      serves: "slipway-proxy:443",
    });
    const [taking] = jobs("vps2");
    assert.deepEqual(taking?.kind === "certificate" ? taking.from : undefined, {
      url: "http://10.0.0.1/.well-known/acme-challenge/slipway-hello.certificate",
      host: "hello.example",
      key_file: "/var/lib/slipway/tls/secrets/hello/share-key",
    });
    assert.deepEqual(jobs("vps3"), [], "not a web host");
    for (const job of [renewal, taking]) assert.ok(jobSchema.safeParse(job).success);
    const [v6] = planCertificateJobs("hello", "vps2", loaded, "node:24", "2001:db8::5");
    assert.equal(
      v6?.kind === "certificate" ? v6.from?.url : undefined,
      "http://[2001:db8::5]/.well-known/acme-challenge/slipway-hello.certificate",
    );
  });

  it("none without ACME, and none on the other hosts when the issuer's address is unknown", async () => {
    const own = await load({
      "slipway.yml": config("  tls: { certificate: { cert: c.pem, key: k.pem } }\n"),
    });
    assert.deepEqual(planCertificateJobs("hello", "vps1", own, "node:24"), []);
    const acme = await load({ "slipway.yml": config("  tls: { acme: {} }\n") });
    assert.deepEqual(planCertificateJobs("hello", "vps2", acme, "node:24"), []);
  });

  it("the agent's container mounts the certificates' folder writable", () => {
    const spec = agentContainer("node:24", "vps2");
    assert.ok(
      spec.volumes?.some(
        (v) => v.source === "/var/lib/slipway/tls/certs" && v.target === v.source && !v.readOnly,
      ),
    );
  });
});
