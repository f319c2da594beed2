/**
 * `slipway server bootstrap`: makes a fresh Debian or Ubuntu host ready for deploys. A container
 * engine (Docker from the distribution's packages, or the host's Podman when it has that and no
 * Docker), curl for health probes, Slipway's state folder, the private network and the proxy.
 * Each step checks first, so a second run changes nothing and says so.
 */

import { ensure, run, type Step, upload } from "../plan/index.ts";
import { planProxyBoot } from "../proxy/index.ts";
import { planBridgePin } from "./bridge.ts";
import type { EngineFacts } from "./engine.ts";

export { proxyBridgePin } from "./bootstrap.ts";
export { ADDR_SET, planBridgePin } from "./bridge.ts";
export {
  ENGINE_PROBE,
  type EngineFacts,
  type HostEngine,
  parseEngineProbe,
} from "./engine.ts";

const APT_ENV = ["env", "DEBIAN_FRONTEND=noninteractive"];
const APT_TIMEOUT_MS = 15 * 60_000;

/** Installs Debian/Ubuntu packages without prompts (apt's lists refreshed first). */
function aptInstall(title: string, packages: string[]): Step[] {
  return [
    run("refresh package lists", [...APT_ENV, "apt-get", "update", "-q"], {
      timeoutMs: APT_TIMEOUT_MS,
    }),
    run(
      title,
      [...APT_ENV, "apt-get", "install", "-y", "-q", "--no-install-recommends", ...packages],
      {
        timeoutMs: APT_TIMEOUT_MS,
      },
    ),
  ];
}

/** Docker from the distribution's packages, enabled at boot and answering. */
function planDocker(): Step[] {
  return [
    ensure(
      "container engine (Docker)",
      ["sh", "-c", "command -v docker"],
      [...aptInstall("install Docker (docker.io)", ["docker.io"])],
    ),
    ensure(
      "Docker running at boot",
      ["systemctl", "is-enabled", "--quiet", "docker"],
      [run("enable and start Docker", ["systemctl", "enable", "--now", "docker"])],
    ),
    ensure(
      "Docker answering",
      ["docker", "info", "--format", "{{.ServerVersion}}"],
      [run("start Docker", ["systemctl", "start", "docker"])],
    ),
  ];
}

/** Where podman-docker's `docker` looks before printing its "Emulate Docker CLI" notice. */
export const PODMAN_NODOCKER_FILE = "/etc/containers/nodocker";
/** The drop-in that makes podman-restart.service start Slipway's containers at boot. */
export const PODMAN_RESTART_DROP_IN = "/etc/systemd/system/podman-restart.service.d/slipway.conf";

/**
 * Podman 4's podman-restart.service starts only `--restart always` containers at boot; Docker
 * starts `unless-stopped` ones too, and that is what Slipway runs its containers with. Rather
 * than another policy on Podman hosts (`always` would also bring back containers stopped on
 * purpose), this starts the `unless-stopped` ones Slipway made: apps (label slipway.service) and
 * the proxy (label slipway.proxy.spec). Slipway removes the containers it stops, so none of
 * these comes back by mistake. A oneshot unit runs every ExecStart line in turn.
 */
export const PODMAN_RESTART_DROP_IN_CONTENT = [
  "# Written by slipway server bootstrap. Podman's podman-restart.service starts only",
  "# --restart always containers at boot; also start the unless-stopped ones Slipway runs.",
  "[Service]",
  "ExecStart=/usr/bin/podman $LOGGING start --all --filter restart-policy=unless-stopped --filter label=slipway.service",
  "ExecStart=/usr/bin/podman $LOGGING start --all --filter restart-policy=unless-stopped --filter label=slipway.proxy.spec",
  "",
].join("\n");

/** Debian's package with the network backend's DNS (containers reach each other by name). */
function nameResolution(networkBackend: string | undefined): {
  title: string;
  check: string[];
  packageName: string;
} {
  if (networkBackend === "cni") {
    return {
      title: "container names resolve on networks (CNI dnsname plugin)",
      check: ["sh", "-c", "test -x /usr/lib/cni/dnsname || test -x /opt/cni/bin/dnsname"],
      packageName: "golang-github-containernetworking-plugin-dnsname",
    };
  }
  return {
    title: "container names resolve on networks (aardvark-dns)",
    check: [
      "sh",
      "-c",
      'for d in /usr/lib/podman /usr/libexec/podman /usr/local/lib/podman /usr/local/libexec/podman; do test -x "$d/aardvark-dns" && exit 0; done; exit 1',
    ],
    packageName: "aardvark-dns",
  };
}

/**
 * The host's Podman made to stand in for Docker: podman-docker's `docker` command (quiet), the
 * DNS the proxy relies on to reach app containers by name, D-Bus (Podman's systemd cgroup
 * manager and its health-check timers go through it), and containers started again at boot.
 */
function planPodman(networkBackend: string | undefined): Step[] {
  const dns = nameResolution(networkBackend);
  return [
    ensure(
      "container engine (Podman)",
      ["sh", "-c", "command -v podman"],
      [...aptInstall("install Podman", ["podman"])],
    ),
    // Before the shim exists, so that not one of its commands prints the notice.
    ensure(
      "podman-docker notice off",
      ["test", "-e", PODMAN_NODOCKER_FILE],
      [
        run(`create ${PODMAN_NODOCKER_FILE}`, [
          "install",
          "-D",
          "-m",
          "0644",
          "/dev/null",
          PODMAN_NODOCKER_FILE,
        ]),
      ],
    ),
    ensure(
      "docker command for Podman (podman-docker)",
      ["sh", "-c", "command -v docker"],
      [...aptInstall("install podman-docker", ["podman-docker"])],
    ),
    ensure(dns.title, dns.check, [...aptInstall(`install ${dns.packageName}`, [dns.packageName])]),
    ensure(
      "D-Bus running (Podman's systemd cgroups)",
      ["systemctl", "is-active", "--quiet", "dbus.socket"],
      [
        ensure(
          "D-Bus installed",
          ["sh", "-c", "command -v dbus-daemon || command -v dbus-broker"],
          [...aptInstall("install D-Bus", ["dbus"])],
        ),
        run("start D-Bus", ["systemctl", "start", "dbus.socket"]),
      ],
    ),
    ensure(
      "Podman restarts containers at boot (podman-restart.service)",
      ["systemctl", "is-enabled", "--quiet", "podman-restart.service"],
      // Enabled, not started: starting it now would start every stopped `always` container.
      [run("enable podman-restart.service", ["systemctl", "enable", "podman-restart.service"])],
    ),
    ensure(
      "podman-restart.service starts Slipway's containers",
      [
        "sh",
        "-c",
        'printf %s "$2" | cmp -s - "$1"',
        "sh",
        PODMAN_RESTART_DROP_IN,
        PODMAN_RESTART_DROP_IN_CONTENT,
      ],
      [
        upload(
          `write ${PODMAN_RESTART_DROP_IN}`,
          PODMAN_RESTART_DROP_IN,
          PODMAN_RESTART_DROP_IN_CONTENT,
          0o644,
        ),
        run("reload systemd", ["systemctl", "daemon-reload"]),
      ],
    ),
    run("Podman answering", ["docker", "version", "--format", "{{.Server.Version}}"], {
      readOnly: true,
    }),
  ];
}

/**
 * The host-level steps: engine, curl, state folder. `facts` come from ENGINE_PROBE on the host;
 * a host with neither engine gets Docker.
 */
export function planHostBase(
  facts: EngineFacts = { engine: "none", networkBackend: undefined },
): Step[] {
  return [
    ...(facts.engine === "podman" ? planPodman(facts.networkBackend) : planDocker()),
    ensure(
      "curl (health probes)",
      ["sh", "-c", "command -v curl"],
      [...aptInstall("install curl", ["curl", "ca-certificates"])],
    ),
    ensure(
      "state folder /var/lib/slipway",
      ["test", "-d", "/var/lib/slipway"],
      [run("create /var/lib/slipway", ["install", "-d", "-m", "0700", "/var/lib/slipway"])],
    ),
  ];
}

/**
 * Everything bootstrap does on a host with these engine facts, with the proxy image to run. The
 * bridge pin comes last: the proxy is on the network then, so its bridge exists.
 */
export function planBootstrap(proxyImage: string, facts?: EngineFacts): Step[] {
  const engine = facts ?? { engine: "none", networkBackend: undefined };
  return [...planHostBase(engine), ...planProxyBoot(proxyImage), ...planBridgePin(engine)];
}
