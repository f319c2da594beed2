/**
 * Images through a registry: log this machine's engine in and push; on a host, log in and pull.
 * The password travels on stdin only, and on a host the login lives in a throwaway Docker
 * config folder that is removed after the pull (see hostDockerConfigArgv).
 */
import { inspectLocal, inspectRemote, type LocalEngine, sameImage } from "../build/index.ts";
import { dockerImageInspect, type ImageInfo } from "../engine/index.ts";
import { ExternalError, UserError } from "../errors/index.ts";
import { type Argv, type RunResult, renderCommand, type Transport } from "../transport/index.ts";
import {
  hostDockerConfigArgv,
  hostLoginArgv,
  hostPullArgv,
  hostRemoveDockerConfigArgv,
  localLoginArgv,
  localPushArgv,
} from "./argv.ts";
import { registryOf } from "./reference.ts";

/** Who logs in where, and where the password came from (for error messages only). */
export interface RegistryLogin {
  /** The registry host, as `docker login` takes it ("ghcr.io", "10.0.0.5:5000", "docker.io"). */
  server: string;
  username: string;
  password: string;
  /** The secret registry.password names. */
  secret: string;
  /** The secrets file it came from, as shown to the user. */
  secretsFile: string;
}

const LOGIN_TIMEOUT_MS = 60_000;
const TRANSFER_TIMEOUT_MS = 30 * 60_000;
const CHECK_TIMEOUT_MS = 60_000;
const TAIL_LINES = 15;
// What Docker, Podman and the common registries say when the credentials are wrong.
const LOGIN_REFUSED =
  /\bunauthorized\b|invalid username\/password|incorrect username or password|\b401\b|authentication required/i;

function tail(text: string): string {
  return text.trim().split("\n").slice(-TAIL_LINES).join("\n");
}

/** The login for an image when it lives on the configured registry; undefined otherwise. */
export function loginFor(ref: string, login: RegistryLogin | undefined): RegistryLogin | undefined {
  return login !== undefined && registryOf(ref) === login.server ? login : undefined;
}

/** Logs this machine's engine in to the registry (credentials kept where the engine keeps them). */
export async function loginLocal(
  engine: LocalEngine,
  login: RegistryLogin,
  local: Transport,
): Promise<void> {
  const argv = localLoginArgv(engine, login.server, login.username);
  const result = await local.run(argv, {
    stdin: login.password,
    check: false,
    timeoutMs: LOGIN_TIMEOUT_MS,
  });
  if (result.code !== 0) throw loginError(login, argv, result, "this machine", engine);
}

/** Pushes a local image (already named on the registry) from this machine. */
export async function pushImage(engine: LocalEngine, ref: string, local: Transport): Promise<void> {
  const argv = localPushArgv(engine, ref);
  const result = await local.run(argv, { check: false, timeoutMs: TRANSFER_TIMEOUT_MS });
  if (result.code === 0) return;
  throw new ExternalError({
    code: "registry.push_failed",
    message: `could not push ${ref} from this machine: ${renderCommand(argv)} exited with ${result.code}${result.stderr.trim() ? `\n${tail(result.stderr)}` : ""}`,
    hint: `Check that the registry.username can push to ${registryOf(ref)} (a token needs write access to this repository) and that this machine reaches it.`,
    host: "local",
    command: renderCommand(argv),
    status: result.code,
    stderr: result.stderr,
  });
}

/** Options of {@link pullImage}. */
export interface PullOptions {
  /** The reference the host runs; the host pulls it from its registry. */
  image: string;
  remote: Transport;
  /**
   * This machine's engine, when it has the image (it pushed it): a host whose image differs
   * (same name, other layers) pulls again, and the pulled image must be this one.
   * Absent: a host that has an image of that name keeps it.
   */
  engine?: LocalEngine | undefined;
  /** Credentials for the image's registry; absent: an anonymous pull. */
  login?: RegistryLogin | undefined;
}

/**
 * Makes `image` present on the host by pulling it: "present" (nothing pulled, no login) when
 * the host already has it, else "pulled". The login is made in a throwaway Docker config
 * folder that is removed after the pull, whatever its outcome.
 */
export async function pullImage(options: PullOptions): Promise<"present" | "pulled"> {
  const { image, remote, engine, login } = options;
  const local = engine === undefined ? undefined : await inspectLocal(engine, image);
  const before = await inspectRemote(remote, image);
  if (before !== undefined && (local === undefined || sameImage(local, before))) return "present";

  const configDir = login === undefined ? undefined : await makeConfigDir(remote);
  try {
    if (login !== undefined && configDir !== undefined) {
      const argv = hostLoginArgv(configDir, login.server, login.username);
      const result = await remote.run(argv, {
        stdin: login.password,
        check: false,
        timeoutMs: LOGIN_TIMEOUT_MS,
      });
      if (result.code !== 0) throw loginError(login, argv, result, remote.host, "docker");
    }
    const argv = hostPullArgv(image, configDir);
    const result = await remote.run(argv, { check: false, timeoutMs: TRANSFER_TIMEOUT_MS });
    if (result.code !== 0) {
      throw new ExternalError({
        code: "registry.pull_failed",
        message: `${remote.host} could not pull ${image}: ${renderCommand(argv)} exited with ${result.code}${result.stderr.trim() ? `\n${tail(result.stderr)}` : ""}`,
        hint: `Check that ${remote.host} reaches ${registryOf(image)} (a registry with a private CA needs it in /etc/docker/certs.d/${registryOf(image)}/ca.crt on the host) and that the image exists there.`,
        host: remote.host,
        command: renderCommand(argv),
        status: result.code,
        stderr: result.stderr,
      });
    }
  } finally {
    if (configDir !== undefined) {
      await remote
        .run(hostRemoveDockerConfigArgv(configDir), { check: false, timeoutMs: CHECK_TIMEOUT_MS })
        .catch(() => undefined);
    }
  }
  await verifyPulled(remote, image, local);
  return "pulled";
}

async function makeConfigDir(remote: Transport): Promise<string> {
  const argv = hostDockerConfigArgv();
  const result = await remote.run(argv, { check: false, timeoutMs: CHECK_TIMEOUT_MS });
  const dir = result.stdout.trim();
  if (result.code !== 0 || dir === "") {
    throw new ExternalError({
      code: "registry.host_config_failed",
      message: `${remote.host}: could not make a folder for the registry login: ${renderCommand(argv)} exited with ${result.code}${result.stderr.trim() ? `\n${tail(result.stderr)}` : ""}`,
      hint: "Run `slipway server bootstrap`: it creates /var/lib/slipway.",
      host: remote.host,
      command: renderCommand(argv),
      status: result.code,
      stderr: result.stderr,
    });
  }
  return dir;
}

async function verifyPulled(
  remote: Transport,
  image: string,
  local: ImageInfo | undefined,
): Promise<void> {
  const after = await inspectRemote(remote, image);
  if (after !== undefined && (local === undefined || sameImage(local, after))) return;
  throw new ExternalError({
    code: "registry.verify_failed",
    message: `after pulling, ${image} on ${remote.host} is not the image pushed from here (local ${local?.id ?? "none"}, host ${after?.id ?? "missing"})`,
    hint: "Another push may have replaced this tag on the registry meanwhile; deploy again.",
    host: remote.host,
    command: renderCommand(dockerImageInspect(image)),
    status: null,
    stderr: "",
  });
}

/**
 * A refused login is the user's to fix (the secret); anything else (no route, TLS) is an
 * ExternalError with the engine's words.
 */
function loginError(
  login: RegistryLogin,
  argv: Argv,
  result: RunResult,
  where: string,
  engine: LocalEngine,
): Error {
  const why = tail(result.stderr);
  if (LOGIN_REFUSED.test(result.stderr)) {
    return new UserError({
      code: "registry.login_refused",
      message: `${login.server} refused the login of ${login.username} from ${where}${why ? `: ${why}` : ""}`,
      hint: `registry.password names the secret ${login.secret}, read from ${login.secretsFile}: put a password or access token of ${login.username} there that may push and pull on ${login.server}. Try it by hand: ${engine} login --username ${login.username} ${login.server}`,
    });
  }
  const certs =
    engine === "podman"
      ? `/etc/containers/certs.d/${login.server}/ca.crt`
      : `/etc/docker/certs.d/${login.server}/ca.crt`;
  return new ExternalError({
    code: "registry.login_failed",
    message: `could not log in to ${login.server} from ${where}: ${renderCommand(argv)} exited with ${result.code}${why ? `\n${why}` : ""}`,
    hint: `Check that ${where} reaches ${login.server}; a registry whose certificate comes from a private CA needs that CA in ${certs}${where === "this machine" ? "" : ` on ${where}`}.`,
    host: where === "this machine" ? "local" : where,
    command: renderCommand(argv),
    status: result.code,
    stderr: result.stderr,
  });
}
