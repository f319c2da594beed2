/**
 * The HTTPS edge, graded: a deploy to a fresh VPS box gets its certificate from pebble (inside
 * the box, as its ACME CA), then the endpoint on the box's published port 443 is probed as
 * scanners do: `openssl s_client` once per protocol (SSLv3 by a raw ClientHello: this
 * machine's openssl has no SSLv3), once per weak cipher suite it knows (no forward secrecy,
 * no AEAD, anonymous or null), OCSP stapling, and the security headers with curl. The baseline,
 * measured in the same run: this machine's nginx with its defaults (no ssl_* settings, no
 * headers) and a certificate of the same kind. Needs the rig (rig/install.sh) and the build.
 *
 * Last line: tls-check: protocols=<comma list> weak_ciphers=<n> hsts=<0|1> ocsp=<0|1> headers=<present>/<expected>
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  imagesAvailable,
  NGINX_IMAGE,
  NODE_IMAGE,
  rigAvailable,
  startVpsBox,
} from "../test/rig/index.ts";
import { helloProject } from "../test/support/hello-project.ts";
import { startLocalNginx } from "../test/support/local-nginx.ts";
import { issueCert, makeCa } from "../test/support/openssl.ts";
import { pebbleAvailable } from "../test/support/pebble.ts";
import { pebbleCaPath, startPebbleInBox } from "../test/support/pebble-box.ts";
import { curlHttps, headerOf, sClient, statusOf } from "../test/support/tls-probe.ts";
import { nginxAvailable } from "../test/unit/proxy/nginx-rig.ts";

for (const check of [rigAvailable(), imagesAvailable(), pebbleAvailable(), nginxAvailable()]) {
  if (!check.ok) {
    console.error(`tls-bench: ${check.reason} (run rig/install.sh as root)`);
    process.exit(1);
  }
}

/** The headers a hardened edge sends; Content-Security-Policy because the bench configures one. */
const EXPECTED_HEADERS = [
  "strict-transport-security",
  "x-content-type-options",
  "x-frame-options",
  "referrer-policy",
  "permissions-policy",
  "content-security-policy",
];

const PROTOCOLS: readonly { name: string; args: readonly string[] }[] = [
  { name: "TLSv1", args: ["-tls1", "-cipher", "ALL:@SECLEVEL=0"] },
  { name: "TLSv1.1", args: ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"] },
  { name: "TLSv1.2", args: ["-tls1_2"] },
  { name: "TLSv1.3", args: ["-tls1_3"] },
];

interface Grade {
  protocols: string[];
  weak: string[];
  hsts: boolean;
  ocsp: boolean;
  headers: string[];
}

/** Whether a server on 127.0.0.1:`port` answers an SSLv3 ClientHello with an SSLv3 ServerHello. */
function offersSsl3(port: number, servername: string): Promise<boolean> {
  const name = Buffer.from(servername);
  const sni = Buffer.concat([
    Buffer.from([0x00, 0x00]),
    u16(name.length + 5),
    u16(name.length + 3),
    Buffer.from([0x00]),
    u16(name.length),
    name,
  ]);
  // RSA and ECDHE suites with AES-CBC, 3DES and RC4: what an SSLv3 server would pick from.
  const suites = Buffer.from([
    0x00, 0x2f, 0x00, 0x35, 0x00, 0x0a, 0x00, 0x05, 0xc0, 0x09, 0xc0, 0x13,
  ]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x00]),
    Buffer.alloc(32, 7),
    Buffer.from([0x00]),
    u16(suites.length),
    suites,
    Buffer.from([0x01, 0x00]),
    u16(sni.length),
    sni,
  ]);
  const handshake = Buffer.concat([Buffer.from([0x01, 0x00]), u16(body.length), body]);
  const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x00]), u16(handshake.length), handshake]);
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (offered: boolean) => {
      socket.destroy();
      resolve(offered);
    };
    socket.setTimeout(5_000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
    socket.once("data", (data: Buffer) => {
      // A handshake record whose ServerHello (type 2) chose version 3.0.
      done(data[0] === 0x16 && data[5] === 0x02 && data[9] === 0x03 && data[10] === 0x00);
    });
    socket.write(record);
  });
}

function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

/** Cipher suites (before TLS 1.3) this openssl knows that are weak: no forward secrecy or no AEAD. */
function weakSuites(): string[] {
  const listed = spawnSync("openssl", ["ciphers", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], {
    encoding: "utf8",
  }).stdout;
  return listed
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([name, proto]) => name && proto !== "TLSv1.3")
    .filter((fields) => {
      const field = (key: string) =>
        fields.find((f) => f.startsWith(`${key}=`))?.slice(key.length + 1);
      const kx = field("Kx") ?? "";
      const au = field("Au") ?? "";
      const enc = field("Enc") ?? "";
      const forwardSecret = kx === "ECDH" || kx === "DH";
      return !forwardSecret || field("Mac") !== "AEAD" || au === "None" || enc === "None";
    })
    .map(([name]) => name as string);
}

async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>) {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  }
  return out;
}

async function grade(port: number, servername: string, caFile: string): Promise<Grade> {
  const protocols: string[] = [];
  if (await offersSsl3(port, servername)) protocols.push("SSLv3");
  for (const protocol of PROTOCOLS) {
    const run = await sClient(port, servername, undefined, ["-brief", ...protocol.args]);
    if (run.code === 0 && /Protocol version: /.test(run.stderr)) protocols.push(protocol.name);
  }
  const older = PROTOCOLS.filter((p) => p.name !== "TLSv1.3" && protocols.includes(p.name));
  const weak = (
    await inBatches(weakSuites(), 8, async (suite) => {
      for (const protocol of older) {
        const flag = protocol.args[0] as string;
        const run = await sClient(port, servername, undefined, [
          "-brief",
          flag,
          "-cipher",
          `${suite}:@SECLEVEL=0`,
        ]);
        if (run.code === 0 && /Protocol version: /.test(run.stderr)) return suite;
      }
      return undefined;
    })
  ).filter((s): s is string => s !== undefined);
  const status = await sClient(port, servername, caFile, ["-status"]);
  const page = await curlHttps(servername, port, "/", caFile);
  if (statusOf(page.stdout) === 0)
    throw new Error(`no HTTPS answer from ${servername}: ${page.stderr}`);
  return {
    protocols,
    weak,
    hsts: headerOf(page.stdout, "strict-transport-security") !== undefined,
    ocsp: /OCSP Response Status: successful/.test(status.stdout),
    headers: EXPECTED_HEADERS.filter((h) => headerOf(page.stdout, h) !== undefined),
  };
}

function line(g: Grade): string {
  return `protocols=${g.protocols.join(",")} weak_ciphers=${g.weak.length} hsts=${g.hsts ? 1 : 0} ocsp=${g.ocsp ? 1 : 0} headers=${g.headers.length}/${EXPECTED_HEADERS.length}`;
}

/** This machine's nginx with its defaults and a certificate like pebble's (ECDSA P-256). */
async function baseline(): Promise<Grade> {
  const prefix = mkdtempSync(join(tmpdir(), "slipway-tls-baseline-"));
  chmodSync(prefix, 0o755);
  const port = await freePort();
  const ca = makeCa("Slipway bench: baseline");
  const leaf = issueCert(ca, ["baseline.test"]);
  writeFileSync(join(prefix, "ca.pem"), ca.cert);
  writeFileSync(join(prefix, "site.pem"), leaf.key + leaf.cert, { mode: 0o600 });
  mkdirSync(join(prefix, "logs"));
  writeFileSync(
    join(prefix, "nginx.conf"),
    [
      "events {}",
      "http {",
      `  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;`,
      `  fastcgi_temp_path ${prefix}/fastcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;`,
      "  server {",
      `    listen 127.0.0.1:${port} ssl;`,
      "    server_name baseline.test;",
      `    ssl_certificate ${prefix}/site.pem;`,
      `    ssl_certificate_key ${prefix}/site.pem;`,
      "    location / { return 200 'baseline'; }",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  const nginx = await startLocalNginx(prefix, async () => {
    const r = await curlHttps("baseline.test", port, "/", join(prefix, "ca.pem"));
    if (statusOf(r.stdout) !== 200) throw new Error(r.stderr);
  });
  try {
    return await grade(port, "baseline.test", join(prefix, "ca.pem"));
  } finally {
    await nginx.stop();
    rmSync(prefix, { recursive: true, force: true });
  }
}

const box = await startVpsBox({ publish: [80, 443] });
let projectDir: string | undefined;
try {
  const hello = await helloProject(box, {
    proxyYaml: [
      "  domains: [hello.test, www.hello.test]",
      "  tls:",
      "    acme: { email: ops@hello.test, directory: https://pebble:14000/dir, ca: pebble-ca.pem }",
      `  csp: "default-src 'self'; frame-ancestors 'none'"`,
    ],
    extraYaml: ["monitoring:", `  image: ${NODE_IMAGE}`, "  host: false"],
  });
  projectDir = hello.dir;
  await hello.configure("bench");
  const must = async (args: string[]) => {
    const run = await hello.slipway(args);
    if (run.code !== 0)
      throw new Error(`slipway ${args.join(" ")} failed:\n${run.stdout}\n${run.stderr}`);
    return run;
  };
  await must(["server", "bootstrap"]);
  const pebble = await startPebbleInBox(box, NGINX_IMAGE);
  writeFileSync(pebbleCaPath(hello.dir), pebble.directoryCa);
  const deploy = await must(["deploy", "--version", "v1"]);
  if (!/certificate of hello issued/.test(deploy.stdout + deploy.stderr)) {
    throw new Error(`the deploy got no certificate:\n${deploy.stdout}\n${deploy.stderr}`);
  }
  const rootFile = join(hello.dir, "pebble-root.pem");
  writeFileSync(rootFile, await pebble.root());
  const httpsPort = box.ports[443] as number;
  const ours = await grade(httpsPort, "hello.test", rootFile);
  const base = await baseline();
  console.log(`nginx defaults: ${line(base)}`);
  console.log(`slipway:        ${line(ours)}`);
  if (base.weak.length > 0)
    console.log(`  weak suites the defaults accept: ${base.weak.join(" ")}`);
  if (ours.weak.length > 0) console.log(`  weak suites slipway accepts: ${ours.weak.join(" ")}`);
  const missing = EXPECTED_HEADERS.filter((h) => !ours.headers.includes(h));
  if (missing.length > 0) console.log(`  headers missing: ${missing.join(", ")}`);
  console.log(`tls-check: ${line(ours)}`);
} finally {
  await box.stop();
  if (projectDir) rmSync(projectDir, { recursive: true, force: true });
}
