/**
 * Which container engine a host runs Slipway's containers with. Docker when the host has it,
 * else Podman when the host has that, else none yet (bootstrap installs Docker). Pure: the probe
 * is an argv, and what it prints is parsed here.
 *
 * Why one `docker` argv for both engines: on a Podman host bootstrap installs Debian's
 * `podman-docker` (a `docker` command that runs podman), so every command Slipway runs on hosts
 * stays one spelling. The few places where Podman answers differently are handled where they
 * are: the engine check (`docker version`, not `docker info --format {{.ServerVersion}}`), image
 * loads (unzipped on the host: Podman 4.3 refuses a gzip docker-archive), and the host setup
 * below (restart at boot, name resolution on the network, D-Bus).
 */
import type { Argv } from "../transport/index.ts";

/** The engine bootstrap sets up: "none" means the host has neither yet. */
export type HostEngine = "docker" | "podman" | "none";

/** What {@link ENGINE_PROBE} found on a host. */
export interface EngineFacts {
  engine: HostEngine;
  /** Podman's network backend ("netavark" or "cni"); undefined for Docker and none. */
  networkBackend: string | undefined;
}

/**
 * Prints `docker=<docker --version>` when there is a `docker` command and `podman=<network
 * backend>` when there is a `podman` one. Podman 3 has no NetworkBackend field and only knows
 * CNI, so a failing `podman info` reads as "cni". Always exits 0.
 */
export const ENGINE_PROBE: Argv = [
  "sh",
  "-c",
  [
    "if command -v docker >/dev/null 2>&1; then",
    '  printf "docker=%s\\n" "$(docker --version 2>/dev/null | head -n 1)"',
    "fi",
    "if command -v podman >/dev/null 2>&1; then",
    "  backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null) || backend=cni",
    '  [ -n "$backend" ] || backend=cni',
    '  printf "podman=%s\\n" "$backend"',
    "fi",
    "true",
  ].join("\n"),
];

/**
 * Reads the probe's output. A `docker` that says "podman version ..." is podman-docker's shim
 * (installed by an earlier bootstrap): the host runs Podman. A real Docker wins over Podman when
 * a host has both, since that is what `docker` runs there.
 */
export function parseEngineProbe(stdout: string): EngineFacts {
  let docker: string | undefined;
  let podman: string | undefined;
  for (const line of stdout.split("\n")) {
    const at = line.indexOf("=");
    if (at < 0) continue;
    const key = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    if (key === "docker") docker = value;
    if (key === "podman") podman = value;
  }
  const dockerIsPodman = docker !== undefined && /^podman\b/i.test(docker);
  if (docker !== undefined && !dockerIsPodman) {
    return { engine: "docker", networkBackend: undefined };
  }
  if (podman !== undefined) {
    return { engine: "podman", networkBackend: podman.toLowerCase() || "cni" };
  }
  // A shim without podman behind it cannot run anything: treat the host as having no engine.
  return { engine: "none", networkBackend: undefined };
}
