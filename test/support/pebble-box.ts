/**
 * Pebble inside a VPS box, as the box's own ACME CA: a container named `pebble` on the box's
 * `slipway` network (so the certificate runner and the agent reach https://pebble:14000/dir by
 * name, as they would reach Let's Encrypt), running this machine's pebble and
 * pebble-challtestsrv binaries (Debian's, copied in) in the proxy's image. challtestsrv is its
 * DNS: every name resolves to the proxy container, so HTTP-01 reaches the proxy as it would
 * from the internet; a test points a name elsewhere with setA. Nothing leaves the box.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runOk, type VpsBox } from "../rig/index.ts";
import { issueCert, makeCa } from "./openssl.ts";
import { CHALLTESTSRV, PEBBLE } from "./pebble.ts";

export interface BoxPebble {
  /** The directory URL as the box's containers reach it. */
  directory: string;
  /** PEM of the CA of pebble's own HTTPS (slipway.yml's tls.acme.ca). */
  directoryCa: string;
  /** The proxy container's address on the `slipway` network (where names resolve by default). */
  proxyAddress: string;
  /** PEM of the root that signs what pebble issues. */
  root(): Promise<string>;
  /** Answers A queries for `host` with `address`. */
  setA(host: string, address: string): Promise<void>;
}

const DIR = "/opt/pebble";

/** Starts pebble in the box (the proxy must run: bootstrap first); resolves once it answers. */
export async function startPebbleInBox(box: VpsBox, image: string): Promise<BoxPebble> {
  const ca = makeCa("Slipway test: pebble's HTTPS");
  const leaf = issueCert(ca, ["pebble", "localhost", "127.0.0.1"]);
  await box.exec(["mkdir", "-p", DIR]);
  for (const [name, content] of [
    ["cert.pem", leaf.cert],
    ["key.pem", leaf.key],
    [
      "pebble.json",
      JSON.stringify({
        pebble: {
          listenAddress: "0.0.0.0:14000",
          managementListenAddress: "0.0.0.0:15000",
          certificate: `${DIR}/cert.pem`,
          privateKey: `${DIR}/key.pem`,
          httpPort: 80,
          tlsPort: 443,
          ocspResponderURL: "",
          externalAccountBindingRequired: false,
        },
      }),
    ],
  ] as const) {
    await box.exec(["sh", "-c", `cat > ${DIR}/${name}`], { input: content });
  }
  for (const binary of [PEBBLE, CHALLTESTSRV]) {
    await runOk("podman", ["cp", binary, `${box.name}:/usr/local/bin/`]);
  }
  const proxyAddress = (
    await box.exec([
      "docker",
      "inspect",
      "--format",
      '{{(index .NetworkSettings.Networks "slipway").IPAddress}}',
      "slipway-proxy",
    ])
  ).trim();
  const script = [
    `pebble-challtestsrv -dns01 127.0.0.1:8053 -http01 '' -https01 '' -tlsalpn01 '' -management 127.0.0.1:8055 -defaultIPv4 ${proxyAddress} -defaultIPv6 '' &`,
    `exec pebble -config ${DIR}/pebble.json -dnsserver 127.0.0.1:8053`,
  ].join("\n");
  await box.exec([
    "docker",
    "run",
    "--detach",
    "--name",
    "pebble",
    "--network",
    "slipway",
    "--env",
    "PEBBLE_VA_NOSLEEP=1",
    "--env",
    "PEBBLE_WFE_NONCEREJECT=0",
    "--env",
    "PEBBLE_AUTHZREUSE=0",
    "--volume",
    `${DIR}:${DIR}:ro`,
    "--volume",
    "/usr/local/bin/pebble:/usr/local/bin/pebble:ro",
    "--volume",
    `/usr/local/bin/${CHALLTESTSRV.split("/").at(-1)}:/usr/local/bin/pebble-challtestsrv:ro`,
    image,
    "sh",
    "-c",
    script,
  ]);
  const inPebble = (argv: string[], input?: string) =>
    box.exec(["docker", "exec", ...(input === undefined ? [] : ["-i"]), "pebble", ...argv], {
      ...(input === undefined ? {} : { input }),
    });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await inPebble(["curl", "-sfk", "https://127.0.0.1:14000/dir"]).catch(() => "");
    if (ok.includes("newOrder")) break;
    if (Date.now() > deadline) {
      const logs = await box.exec(["docker", "logs", "pebble"]).catch((e) => String(e));
      throw new Error(`pebble did not start in the box:\n${logs}`);
    }
    await sleep(300);
  }
  return {
    directory: "https://pebble:14000/dir",
    directoryCa: ca.cert,
    proxyAddress,
    root: () => inPebble(["curl", "-sfk", "https://127.0.0.1:15000/roots/0"]),
    setA: async (host, address) => {
      // add-a adds to what the name had: clear it first.
      for (const [path, body] of [
        ["clear-a", { host }],
        ["add-a", { host, addresses: [address] }],
      ] as const) {
        await inPebble([
          "curl",
          "-sf",
          "-X",
          "POST",
          "-d",
          JSON.stringify(body),
          `http://127.0.0.1:8055/${path}`,
        ]);
      }
    },
  };
}

/** Where the test writes pebble's CA beside slipway.yml. */
export function pebbleCaPath(projectDir: string): string {
  return join(projectDir, "pebble-ca.pem");
}
