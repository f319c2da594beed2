/**
 * The container engine on this machine, which builds the app's image and saves it for shipping:
 * Docker when its daemon answers, else Podman. Argv builders here are pure; only
 * detectLocalEngine runs anything.
 */
import { isAbsolute } from "node:path";
import { checkImageRef, checkName } from "../engine/index.ts";
import { BugError, UserError } from "../errors/index.ts";
import { type Argv, type LocalResult, runLocal } from "../transport/index.ts";

/** The engine that builds and saves images on this machine. */
export type LocalEngine = "docker" | "podman";

/** What to build (paths absolute: the caller resolves them against slipway.yml). */
export interface BuildSpec {
  /** Build context folder. */
  context: string;
  /** The Dockerfile (Containerfile). */
  dockerfile: string;
  /** Reference to tag the image with, e.g. "hello:0123456789ab". */
  tag: string;
  /**
   * Build arguments, NAME: value. Not for secrets: their values are kept in the image's
   * history, which anyone who gets the image can read.
   */
  args?: Record<string, string>;
  /** Stage of a multi-stage Dockerfile. */
  target?: string;
  /** Target platform, e.g. "linux/amd64" when building on an arm64 laptop for an x86 server. */
  platform?: string;
  /** Labels on the image. */
  labels?: Record<string, string>;
}

const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLATFORM = /^[a-z0-9_]+\/[a-z0-9_]+(?:\/[a-z0-9_]+)?$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

function sorted(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function absolute(what: string, path: string): string {
  if (!isAbsolute(path)) throw new BugError(`${what} must be an absolute path, got "${path}"`);
  return path;
}

/**
 * `<engine> build` of the app's image.
 *
 * Docker: `docker build` runs BuildKit when the buildx plugin is installed (the default since
 * Docker 23), else the classic builder; both take these flags. With Docker's default "docker"
 * builder the image lands in the local image store without `--load` (which the classic
 * builder would refuse). `--pull=false` says what both do by default: a base image already
 * present locally is used as it is, and only a missing one is pulled. Podman spells that
 * `--pull=missing`.
 */
export function buildArgv(engine: LocalEngine, spec: BuildSpec): Argv {
  // Podman builds OCI images by default, which have no HEALTHCHECK: it would be dropped with a
  // warning and the deploy's gate could no longer wait on the image's own health check.
  const argv: string[] =
    engine === "docker"
      ? ["docker", "build", "--pull=false"]
      : ["podman", "build", "--pull=missing", "--format", "docker"];
  if (spec.platform !== undefined) {
    if (!PLATFORM.test(spec.platform)) throw new BugError(`invalid platform "${spec.platform}"`);
    argv.push("--platform", spec.platform);
  }
  argv.push("--file", absolute("dockerfile", spec.dockerfile));
  argv.push("--tag", checkImageRef(spec.tag));
  for (const [name, value] of sorted(spec.args ?? {})) {
    if (!BUILD_ARG.test(name)) throw new BugError(`invalid build argument name "${name}"`);
    argv.push("--build-arg", `${name}=${value}`);
  }
  if (spec.target !== undefined) argv.push("--target", checkName("build target", spec.target));
  for (const [key, value] of sorted(spec.labels ?? {})) {
    if (!LABEL_KEY.test(key)) throw new BugError(`invalid label key "${key}"`);
    argv.push("--label", `${key}=${value}`);
  }
  argv.push(absolute("build context", spec.context));
  return argv;
}

/**
 * `<engine> save REF`: the image as a docker-archive tar on stdout, which `docker load` (and
 * `podman load`) read. Podman is told the format, Docker has only this one.
 */
export function saveArgv(engine: LocalEngine, ref: string): Argv {
  return engine === "docker"
    ? ["docker", "save", checkImageRef(ref)]
    : ["podman", "save", "--format", "docker-archive", checkImageRef(ref)];
}

/** `<engine> image inspect REF`: a JSON array (parseImageInspect); exit 1 when absent. */
export function localImageInspectArgv(engine: LocalEngine, ref: string): Argv {
  return [engine, "image", "inspect", checkImageRef(ref)];
}

/** `<engine> tag SRC DST`: another name for a local image, e.g. its name on a registry. */
export function localTagArgv(engine: LocalEngine, source: string, target: string): Argv {
  return [engine, "tag", checkImageRef(source), checkImageRef(target)];
}

/** How detectLocalEngine runs its probes; replaceable in tests. */
export type Probe = (argv: Argv) => Promise<Pick<LocalResult, "code" | "stdout" | "stderr">>;

const defaultProbe: Probe = (argv) => runLocal(argv, { timeoutMs: 15_000 });

/**
 * Docker when `docker version` reaches a daemon, else Podman when it is installed; a UserError
 * saying what to install or start otherwise.
 */
export async function detectLocalEngine(probe: Probe = defaultProbe): Promise<LocalEngine> {
  const docker = await probe(["docker", "version", "--format", "{{.Server.Version}}"]);
  if (docker.code === 0 && docker.stdout.toString().trim() !== "") return "docker";
  // Installed is enough: `podman version` would also ask a Podman machine that may be stopped.
  const podman = await probe(["podman", "--version"]);
  if (podman.code === 0) return "podman";

  const dockerInstalled = docker.code !== 127;
  const why = docker.stderr.trim().split("\n").at(-1) ?? "";
  throw new UserError({
    code: "build.no-engine",
    message: dockerInstalled
      ? `Docker is installed but its daemon does not answer${why ? ` (${why})` : ""}, and Podman is not installed`
      : "neither Docker nor Podman is installed on this machine",
    hint: dockerInstalled
      ? "Start the Docker daemon (or Docker Desktop), or install Podman: images are built on this machine."
      : "Install Docker (https://docs.docker.com/engine/install/) or Podman: images are built on this machine.",
  });
}
