/**
 * Argv of the registry commands, on this machine (Docker or Podman) and on hosts (Docker).
 * Pure builders: nothing runs here. The password is never an argument: `--password-stdin`.
 */
import type { LocalEngine } from "../build/index.ts";
import { checkImageRef } from "../engine/index.ts";
import { BugError } from "../errors/index.ts";
import type { Argv } from "../transport/index.ts";

// A registry host with an optional port, as the config validated it: never read as an option.
const SERVER = /^[A-Za-z0-9[][A-Za-z0-9.:[\]-]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
// Where a host's throwaway Docker client configs live (see hostDockerConfigArgv).
const HOST_CONFIG_PARENT = "/var/lib/slipway";
const HOST_CONFIG_DIR = /^\/var\/lib\/slipway\/docker-config\.[A-Za-z0-9]+$/;

function checkServer(server: string): string {
  if (!SERVER.test(server)) throw new BugError(`invalid registry server ${JSON.stringify(server)}`);
  return server;
}

function checkUsername(username: string): string {
  if (username === "" || CONTROL.test(username)) {
    throw new BugError(`invalid registry username ${JSON.stringify(username)}`);
  }
  return username;
}

function checkConfigDir(dir: string): string {
  if (!HOST_CONFIG_DIR.test(dir)) throw new BugError(`unexpected Docker config folder "${dir}"`);
  return dir;
}

/**
 * `<engine> login --username=U --password-stdin SERVER` on this machine. The credentials go
 * where the engine keeps them (~/.docker/config.json or a credential helper for Docker,
 * $XDG_RUNTIME_DIR/containers/auth.json for Podman), as if the user had logged in by hand.
 * `--username=U` in one word, so a name starting with "-" stays a value.
 */
export function localLoginArgv(engine: LocalEngine, server: string, username: string): Argv {
  return [
    engine,
    "login",
    `--username=${checkUsername(username)}`,
    "--password-stdin",
    checkServer(server),
  ];
}

/** `<engine> push REF` on this machine. */
export function localPushArgv(engine: LocalEngine, ref: string): Argv {
  return [engine, "push", checkImageRef(ref)];
}

/**
 * `mktemp -d` of a throwaway Docker client config folder on a host (mode 0700, under the
 * root-only /var/lib/slipway), printed on stdout. `docker login` writes the credentials into
 * its config.json, base64-encoded but not encrypted; keeping that file per deploy and removing
 * it after the pull means no password stays behind on the host, unlike a plain `docker login`
 * which keeps it in /root/.docker/config.json for good. Podman (behind podman-docker's `docker`)
 * honours DOCKER_CONFIG the same way: its login writes DOCKER_CONFIG/config.json.
 */
export function hostDockerConfigArgv(): Argv {
  return ["mktemp", "-d", `${HOST_CONFIG_PARENT}/docker-config.XXXXXXXXXX`];
}

/** `rm -rf` of a folder made by hostDockerConfigArgv. */
export function hostRemoveDockerConfigArgv(dir: string): Argv {
  return ["rm", "-rf", "--", checkConfigDir(dir)];
}

/** `docker login` on a host, with its credentials kept in `configDir` only. */
export function hostLoginArgv(configDir: string, server: string, username: string): Argv {
  return [
    "env",
    `DOCKER_CONFIG=${checkConfigDir(configDir)}`,
    "docker",
    "login",
    `--username=${checkUsername(username)}`,
    "--password-stdin",
    checkServer(server),
  ];
}

/** `docker pull REF` on a host, with the credentials of `configDir` when given. */
export function hostPullArgv(ref: string, configDir?: string): Argv {
  const pull = ["docker", "pull", checkImageRef(ref)];
  return configDir === undefined
    ? pull
    : ["env", `DOCKER_CONFIG=${checkConfigDir(configDir)}`, ...pull];
}
