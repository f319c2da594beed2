/**
 * HTTPS across two fresh VPS boxes (one site, web role on both): a deploy issues the certificate
 * once, on the first box (pebble inside it as the CA), and places the same certificate on the
 * second; when the first box's agent renews, the second box's agent takes the new certificate,
 * sealed, from the first box's proxy, and both serve it.
 */
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import {
  imagesAvailable,
  NGINX_IMAGE,
  NODE_IMAGE,
  rigAvailable,
  skipUnless,
  startVpsBox,
  type VpsBox,
} from "../rig/index.ts";
import { type HelloProject, helloProject } from "../support/hello-project.ts";
import { pebbleAvailable } from "../support/pebble.ts";
import { type BoxPebble, pebbleCaPath, startPebbleInBox } from "../support/pebble-box.ts";
import { sshAliases } from "../support/ssh-aliases.ts";
import { served } from "../support/tls-probe.ts";

const JOB = "hello/certificate renewal";

describe("one certificate on two web hosts, renewed by the agents", {
  skip:
    skipUnless(rigAvailable()) || skipUnless(imagesAvailable()) || skipUnless(pebbleAvailable()),
  timeout: 1_200_000,
}, () => {
  let boxes: Record<"box-a" | "box-b", VpsBox>;
  let hello: HelloProject;
  let pebble: BoxPebble;
  let root = "";
  const proxyYaml: string[] = [];
  const tlsLines = (renewBefore: string) => [
    "  domains: [hello.test]",
    "  tls:",
    `    acme: { directory: https://pebble:14000/dir, ca: pebble-ca.pem, renew_before: ${renewBefore} }`,
  ];
  const fingerprint = async (alias: "box-a" | "box-b") =>
    (await served(boxes[alias].ports[443] as number, "hello.test", root)).fingerprint;
  const jobOn = async (alias: "box-a" | "box-b") => {
    const run = await hello.ok([
      "monitor",
      "api",
      "POST",
      `/api/jobs/run?job=${encodeURIComponent(JOB)}`,
      "--host",
      alias,
    ]);
    return JSON.parse(run.stdout.slice(run.stdout.indexOf("{"))) as {
      outcome: string;
      detail: string;
    };
  };

  before(async () => {
    const [a, b] = await Promise.all([
      startVpsBox({ publish: [80, 443] }),
      startVpsBox({ publish: [80, 443] }),
    ]);
    boxes = { "box-a": a, "box-b": b };
    proxyYaml.push(...tlsLines("30d"));
    hello = await helloProject(a, {
      sshConfig: sshAliases(boxes),
      servers: ["servers:", "  web: [box-a, box-b]"],
      proxyYaml,
      extraYaml: ["monitoring:", `  image: ${NODE_IMAGE}`, "  host: false", "  containers: false"],
    });
    await hello.configure("two hosts");
    await hello.ok(["server", "bootstrap"]);
    pebble = await startPebbleInBox(a, NGINX_IMAGE);
    await writeFile(pebbleCaPath(hello.dir), pebble.directoryCa);
    root = await pebble.root();
  });

  after(async () => {
    await Promise.all(Object.values(boxes ?? {}).map((b) => b.stop()));
    if (hello) await rm(hello.dir, { recursive: true, force: true });
  });

  it("a deploy issues once, on the first host, and places the same certificate on the second", async () => {
    const run = await hello.ok(["deploy", "--version", "v1"]);
    const said = run.stdout + run.stderr;
    assert.match(said, /box-a: certificate of hello issued: /);
    assert.match(said, /box-b: certificate of hello placed: /);
    const [a, b] = [await fetchAuthorized("box-a"), await fetchAuthorized("box-b")];
    assert.equal(a, b, "one certificate");
  });

  it("the first host's agent renews; the second's takes the new one, sealed, from the first's proxy", async () => {
    await hello.ok(["agent", "install"]);
    proxyYaml.splice(0, proxyYaml.length, ...tlsLines("36500d"));
    await hello.configure("two hosts");
    // The order with the new renew_before, on both hosts (and a certificate placed on both).
    await hello.ok(["certs", "issue"]);
    const before = await fingerprint("box-b");
    const renewed = await jobOn("box-a");
    assert.equal(renewed.outcome, "ok", renewed.detail);
    assert.match(renewed.detail, /^renewed /);
    const fresh = await fingerprint("box-a");
    assert.notEqual(fresh, before);
    assert.equal(await fingerprint("box-b"), before, "not yet on the second host");
    const taken = await jobOn("box-b");
    assert.equal(taken.outcome, "ok", taken.detail);
    assert.match(taken.detail, /^took the issuing host's certificate: valid until /);
    assert.equal(await fetchAuthorized("box-b"), fresh, "the same certificate on both");
  });

  /** The fingerprint each box serves, checked against pebble's root. */
  async function fetchAuthorized(alias: "box-a" | "box-b"): Promise<string> {
    const seen = await served(boxes[alias].ports[443] as number, "hello.test", root);
    assert.ok(seen.authorized, `${alias}: ${seen.authorizationError}`);
    return seen.fingerprint;
  }
});
