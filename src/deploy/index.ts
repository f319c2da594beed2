/**
 * The deploy as the CLI calls it: version, build, ship, release command, rollout; rollback, which
 * takes the same gated path with a kept image and that release's env; and restart, the same path
 * with the current version.
 */
import { isAbsolute, resolve } from "node:path";
import {
  accessoryEnv,
  accessoryImage,
  ensureAccessory,
  privateNetwork,
  resolveAccessories,
} from "../accessories/index.ts";
import {
  buildArgv,
  detectLocalEngine,
  type LocalEngine,
  localImageInspectArgv,
  localTagArgv,
  readGitVersion,
  shipImage,
} from "../build/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import { dockerRun } from "../engine/index.ts";
import { ExitCode, UserError } from "../errors/index.ts";
import { type HookFacts, runHook } from "../hooks/index.ts";
import { currentHolder } from "../lock/index.ts";
import type { Reporter } from "../output/index.ts";
import { applySteps } from "../plan/index.ts";
import { planProxyBoot, planProxyFiles } from "../proxy/index.ts";
import {
  loginFor,
  loginLocal,
  pullImage,
  pushImage,
  type RegistryLogin,
  registryLogin,
} from "../registry/index.ts";
import {
  envFilePath,
  previousVersion,
  readCurrentVersion,
  readReleases,
} from "../releases/index.ts";
import { type Connections, LocalTransport } from "../transport/index.ts";
import {
  configEnv,
  primaryHost,
  projectDir,
  proxySite,
  type RolloutSummary,
  rolesInOrder,
  rollout,
} from "./deploy.ts";
import { overrideEnv } from "./env-file.ts";
import { ensureKeptImage } from "./kept-image.ts";
import { containerName, imageRef, releaseLabels, roleVolumes, siteName } from "./names.ts";

export {
  primaryHost,
  type RolloutSummary,
  rolesInOrder,
  rollingLimit,
  webHosts,
} from "./deploy.ts";
export { ensureKeptImage, type KeptImageSource, keptImageSource } from "./kept-image.ts";
export {
  containerName,
  imageRef,
  releaseLabels,
  roleSelector,
  roleVolumes,
  siteName,
} from "./names.ts";

export interface DeployOptions {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
  /** Release this version instead of the git one (the image must exist locally or be built). */
  version?: string;
  /** Do not build: the image of the version must already exist on this machine. */
  skipBuild?: boolean;
  signal?: AbortSignal;
}

/** Builds (when configured), ships, and rolls the new version out to every host. */
export async function deploy(options: DeployOptions): Promise<RolloutSummary> {
  const { loaded, connections, reporter } = options;
  const { config } = loaded;
  const dir = projectDir(loaded);
  const version = options.version ?? (await readGitVersion(dir));
  const image = imageRef(config, version);
  // The name the build tags and --skip-build looks for; with a registry, `image` is its name
  // there, given to the same image before the push.
  const built = imageRef({ image: config.image }, version);
  const registry = registryLogin(loaded);
  const local = new LocalTransport();
  const engine = await detectLocalEngine();

  const facts = hookFacts(loaded, "deploy", version);
  if (config.build && !options.skipBuild) {
    await runHook("pre-build", { loaded, reporter, facts });
    reporter.info(`building ${built} with ${engine}`);
    const out = reporter.hostOutput("build");
    const context = fromProject(dir, config.build.context);
    await local.run(
      buildArgv(engine, {
        context,
        dockerfile: fromProject(context, config.build.dockerfile),
        tag: built,
        args: config.build.args,
        ...(config.build.target ? { target: config.build.target } : {}),
      }),
      { onStdout: (c) => out.write(c), onStderr: (c) => out.write(c), capture: false },
    );
    out.flush();
  } else if (
    !(await hasLocalImage(local, engine, built)) &&
    !(image !== built && (await hasLocalImage(local, engine, image)))
  ) {
    throw new UserError({
      code: "deploy.no_image",
      message: `There is no image ${built} on this machine to deploy.`,
      hint: config.build
        ? "Run without --skip-build, or build it first."
        : "Add a build section to slipway.yml, or build and tag the image yourself.",
    });
  }
  if (registry) {
    const rebuilt = config.build !== undefined && !options.skipBuild;
    await pushToRegistry({ engine, local, built, image, login: registry, rebuilt, reporter });
  }

  await runHook("pre-deploy", { loaded, reporter, facts });
  const started = performance.now();
  const roles = rolesInOrder(config);
  const accessories = resolveAccessories(loaded, primaryHost(config));
  // Filled once the accessories run (before the release command): their URLs for the app's env.
  let accessoryVars = new Map<string, string>();
  const proxied = new Set(roles.filter((r) => r.proxied).flatMap((r) => r.hosts));
  // The host that issues the site's certificate; the others ask its proxy for ACME tokens.
  const webHosts = [...proxied];
  let primaryAddress: Promise<string | undefined> | undefined;
  const challengeHost = () => {
    const first = webHosts[0];
    primaryAddress ??=
      first === undefined || loaded.config.proxy.tls?.acme?.challenge !== "http-01"
        ? Promise.resolve(undefined)
        : sshServerAddress(connections.get(first));
    return primaryAddress;
  };
  const summary = await rollout({
    input: {
      loaded,
      version,
      kind: "deploy",
      envFor: async (role) => {
        const settings = roles.find((r) => r.name === role);
        if (!settings) throw new Error(`unknown role ${role}`);
        return configEnv(loaded, settings, version, accessoryVars);
      },
    },
    connections,
    reporter,
    ...(options.signal ? { signal: options.signal } : {}),
    prepareHost: async (host) => {
      const transport = connections.get(host);
      await requireEngine(transport, host);
      if (proxied.has(host)) {
        const fallback = host === webHosts[0] ? undefined : await challengeHost();
        await bootProxy(loaded, transport, engine, reporter, registry, fallback);
      }
      // With a registry the host pulls what was pushed; without one the image goes over SSH.
      const outcome = registry
        ? await pullImage({ image, remote: transport, engine, login: registry })
        : await shipImage({ engine, image, remote: transport });
      reporter.info(`${host}: image ${image} ${outcome === "present" ? "already there" : outcome}`);
    },
    beforeSwitch: async (primary) => {
      // Accessories first, healthy: the release command (migrations) and the app need them.
      for (const accessory of accessories) {
        const transport = connections.get(accessory.host);
        await placeImage(accessoryImage(accessory.settings), transport, engine, reporter, registry);
        await ensureAccessory(transport, accessory, reporter);
      }
      accessoryVars = await accessoryEnv(accessories, (host) => connections.get(host));
      const command = config.deploy.release_command;
      if (!command) return;
      await runReleaseCommand(
        loaded,
        connections,
        reporter,
        primary,
        version,
        command,
        accessoryVars,
      );
    },
  });
  await runHook("post-deploy", { loaded, reporter, facts: afterRollout(facts, summary, started) });
  return summary;
}

export interface RollbackOptions {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
  /** The version to go back to; default: the newest healthy release before the current one. */
  version?: string;
  signal?: AbortSignal;
}

/** Goes back to a kept release: its image and its env file, through the same health gate. */
export async function rollback(options: RollbackOptions): Promise<RolloutSummary> {
  const { loaded, connections, reporter } = options;
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const primary = connections.get(primaryHost(config));
  const firstRole = rolesInOrder(config)[0]?.name ?? "web";
  const [records, current] = await Promise.all([
    readReleases(primary, site),
    readCurrentVersion(primary, site, firstRole),
  ]);
  const version = options.version ?? previousVersion(records, firstRole, current);
  if (!version) {
    throw new UserError({
      code: "rollback.nothing",
      message: `There is no earlier healthy release of ${site} to roll back to.`,
      hint: "See `slipway releases` for what was deployed.",
    });
  }
  const engine = lazyEngine();
  const started = performance.now();
  const envs = keptEnvs(loaded, connections, version);
  // Rolling back to before an accessory existed: one never booted gives no URL.
  const urls = await accessoryEnv(
    resolveAccessories(loaded, primaryHost(config)),
    (host) => connections.get(host),
    { skipUnbooted: true },
  );
  const summary = await rollout({
    input: {
      loaded,
      version,
      kind: "rollback",
      envFor: async (role, host) => overrideEnv(await envs.get(role, host), urls),
    },
    connections,
    reporter,
    ...(options.signal ? { signal: options.signal } : {}),
    prepareHost: async (host) => {
      await Promise.all([
        keptImage(loaded, connections.get(host), version, reporter, engine),
        envs.read(host),
      ]);
    },
  });
  const facts = afterRollout(hookFacts(loaded, "rollback", version), summary, started);
  await runHook("post-rollback", { loaded, reporter, facts });
  return summary;
}

export interface RestartOptions {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
  /** Restart only this role (default: every role). */
  role?: string;
  signal?: AbortSignal;
  /** Values that replace the kept env's (a rotated secret); the accessories' URLs are today's. */
  envOverrides?: ReadonlyMap<string, string>;
  /** Runs under the lock once every host is ready, before any container starts (a rotation). */
  beforeSwitch?: () => Promise<void>;
}

/**
 * Starts the current version again through the deploy's gated path: a new container beside the
 * old, health gate, switch, drain, stop the old, with the version's kept image and env.
 */
export async function restart(options: RestartOptions): Promise<RolloutSummary> {
  const { loaded, connections, reporter } = options;
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const roles = rolesInOrder(config).filter((r) => !options.role || r.name === options.role);
  const first = roles[0];
  const firstHost = first?.hosts[0];
  if (!first || !firstHost) {
    throw new UserError({
      code: "restart.unknown_role",
      message: `There is no role "${options.role}" in ${loaded.file}.`,
      hint: `Roles: ${rolesInOrder(config)
        .map((r) => r.name)
        .join(", ")}.`,
      exitCode: ExitCode.usage,
    });
  }
  const version = await readCurrentVersion(connections.get(firstHost), site, first.name);
  if (!version) {
    throw new UserError({
      code: "restart.nothing",
      message: `${first.name} on ${firstHost} runs no release of ${site} yet.`,
      hint: "Deploy it first: slipway deploy",
    });
  }
  const engine = lazyEngine();
  // Read once, after beforeSwitch (a rotation changes them there).
  let values: Promise<Map<string, string>> | undefined;
  const overrides = () => {
    values ??= accessoryEnv(
      resolveAccessories(loaded, primaryHost(config)),
      (host) => connections.get(host),
      { skipUnbooted: true },
    ).then((urls) => new Map([...urls, ...(options.envOverrides ?? [])]));
    return values;
  };
  return rollout({
    ...(options.beforeSwitch ? { beforeSwitch: options.beforeSwitch } : {}),
    input: {
      loaded,
      version,
      kind: "restart",
      envFor: async (role, host) => {
        const transport = connections.get(host);
        const current = await readCurrentVersion(transport, site, role);
        // A restart never changes versions: roles that disagree are restarted one at a time.
        if (current !== version) {
          throw new UserError({
            code: "restart.mixed_versions",
            message: `${role} on ${host} runs ${current ?? "nothing"}, not ${version}: a restart would change its version.`,
            hint: "Restart one role at a time (slipway restart --role ROLE), or deploy to bring them in line.",
          });
        }
        return overrideEnv(await keptEnv(transport, site, role, version), await overrides());
      },
    },
    connections,
    reporter,
    roles: roles.map((r) => r.name),
    ...(options.signal ? { signal: options.signal } : {}),
    prepareHost: (host) => keptImage(loaded, connections.get(host), version, reporter, engine),
  });
}

/**
 * The kept env files of a version, read for all of a host's roles at once while the host is
 * prepared, so a role's release does not wait for its own read.
 */
function keptEnvs(loaded: LoadedConfig, connections: Connections, version: string) {
  const site = siteName(loaded.config.service, loaded.environment);
  const read = new Map<string, Promise<string>>();
  const key = (role: string, host: string) => `${host}\0${role}`;
  const fetch = (role: string, host: string) => {
    let env = read.get(key(role, host));
    if (!env) {
      env = keptEnv(connections.get(host), site, role, version);
      read.set(key(role, host), env);
    }
    return env;
  };
  return {
    read: async (host: string) => {
      const roles = rolesInOrder(loaded.config).filter((r) => r.hosts.includes(host));
      await Promise.all(roles.map((r) => fetch(r.name, host)));
    },
    get: fetch,
  };
}

/** The env file a release kept on the host, or a UserError saying to deploy it again. */
async function keptEnv(
  transport: ReturnType<Connections["get"]>,
  site: string,
  role: string,
  version: string,
): Promise<string> {
  const kept = await transport.run(["cat", "--", envFilePath(site, role, version)], {
    check: false,
  });
  if (kept.code !== 0) {
    throw new UserError({
      code: "rollback.not_kept",
      message: `${transport.host} no longer keeps the env of ${role} ${version}.`,
      hint: `Releases kept: releases.keep in slipway.yml. Deploy ${version} again instead: slipway deploy --version ${version}`,
    });
  }
  return kept.stdout;
}

/** The kept image on a host (pulled or shipped when it lost it), said when it had to move. */
async function keptImage(
  loaded: LoadedConfig,
  transport: ReturnType<Connections["get"]>,
  version: string,
  reporter: Reporter,
  engine: () => Promise<LocalEngine | undefined>,
): Promise<void> {
  const image = imageRef(loaded.config, version);
  const registry = registryLogin(loaded);
  const outcome = await ensureKeptImage({ transport, image, version, registry, engine });
  if (outcome !== "present") reporter.info(`${transport.host}: image ${image} ${outcome}`);
}

/** This machine's engine, detected once and only when asked; undefined when there is none. */
function lazyEngine(): () => Promise<LocalEngine | undefined> {
  let engine: Promise<LocalEngine | undefined> | undefined;
  return () => {
    engine ??= detectLocalEngine().catch(() => undefined);
    return engine;
  };
}

/** What hooks are told before anything ran. */
function hookFacts(
  loaded: LoadedConfig,
  command: HookFacts["command"],
  version: string,
): HookFacts {
  const roles = rolesInOrder(loaded.config);
  const holder = currentHolder("");
  return {
    command,
    version,
    hosts: [...new Set(roles.flatMap((r) => r.hosts))],
    roles: roles.map((r) => r.name),
    performer: `${holder.user}@${holder.machine}`,
  };
}

/** The facts of a finished rollout, for post hooks: how long it took and what served before. */
function afterRollout(facts: HookFacts, summary: RolloutSummary, started: number): HookFacts {
  const previous = summary.roles
    .flatMap((r) => r.hosts)
    .map((h) => (h.status === "ok" ? h.value.previous : undefined))
    .find((v) => v !== undefined);
  return {
    ...facts,
    runtimeS: (performance.now() - started) / 1000,
    ...(previous ? { previousVersion: previous } : {}),
  };
}

async function requireEngine(transport: ReturnType<Connections["get"]>, host: string) {
  // `docker version`, not `docker info --format {{.ServerVersion}}`: Podman (behind
  // podman-docker's `docker`) has no such field. Docker still fails it when its daemon is down.
  const info = await transport.run(["docker", "version", "--format", "{{.Server.Version}}"], {
    check: false,
  });
  if (info.code !== 0) {
    throw new UserError({
      code: "deploy.no_engine",
      message: `${host} has no running container engine.`,
      hint: "Run `slipway server bootstrap` first: it sets up Docker (or the host's Podman) and the proxy.",
    });
  }
}

/**
 * Puts an image Slipway runs besides the app's (the proxy's, an accessory's) on a host: shipped
 * when this machine has it; else, with a registry, pulled by the host (logged in when it lives on
 * the configured registry). Without either, it is left to `docker run`, which pulls it.
 */
export async function placeImage(
  image: string,
  transport: ReturnType<Connections["get"]>,
  engine: LocalEngine | undefined,
  reporter: Reporter,
  registry: RegistryLogin | undefined,
): Promise<void> {
  const here = engine !== undefined && (await hasLocalImage(new LocalTransport(), engine, image));
  if (engine !== undefined && here) {
    const outcome = await shipImage({ engine, image, remote: transport });
    if (outcome === "shipped") reporter.info(`${transport.host}: image ${image} shipped`);
  } else if (registry) {
    const pulled = await pullImage({ image, remote: transport, login: loginFor(image, registry) });
    if (pulled === "pulled") reporter.info(`${transport.host}: pulled ${image}`);
  }
}

/**
 * The host's address as its sshd saw this connection (where the other web hosts reach it), for
 * IPv6 in brackets; undefined without SSH (the host "local").
 */
async function sshServerAddress(
  transport: ReturnType<Connections["get"]>,
): Promise<string | undefined> {
  const result = await transport.run(["sh", "-c", 'echo "$SSH_CONNECTION"'], { check: false });
  const address = result.code === 0 ? result.stdout.trim().split(/\s+/)[2] : undefined;
  if (!address) return undefined;
  return address.includes(":") ? `[${address}]` : address;
}

/**
 * Ships or pulls the proxy image (see placeImage), then ensures the proxy and the site's files.
 * `acmeFallback`: the issuing host's address, for a web host that is not it (HTTP-01).
 */
async function bootProxy(
  loaded: LoadedConfig,
  transport: ReturnType<Connections["get"]>,
  engine: LocalEngine | undefined,
  reporter: Reporter,
  registry: RegistryLogin | undefined,
  acmeFallback?: string,
): Promise<void> {
  const image = loaded.config.proxy.image;
  await placeImage(image, transport, engine, reporter, registry);
  const roles = rolesInOrder(loaded.config).filter(
    (r) => r.proxied && r.hosts.includes(transport.host),
  );
  const outcomes = await applySteps(transport, [
    ...planProxyBoot(image),
    ...planProxyFiles(
      roles.map((r) => {
        const site = proxySite(loaded, r.name);
        return site.https && acmeFallback !== undefined
          ? { ...site, https: { ...site.https, acmeFallback } }
          : site;
      }),
      new Map(),
    ),
  ]);
  const changed = outcomes.filter((o) => o.changed).map((o) => o.title);
  if (changed.length > 0) reporter.info(`${transport.host}: proxy: ${changed.join(", ")}`);
}

async function runReleaseCommand(
  loaded: LoadedConfig,
  connections: Connections,
  reporter: Reporter,
  primary: string,
  version: string,
  command: readonly string[],
  accessoryVars: ReadonlyMap<string, string>,
): Promise<void> {
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const role = rolesInOrder(config)[0];
  if (!role) return;
  const transport = connections.get(primary);
  const envPath = envFilePath(site, role.name, version);
  await transport.upload(envPath, configEnv(loaded, role, version, accessoryVars), { mode: 0o600 });
  reporter.info(`${primary}: release command: ${command.join(" ")}`);
  const out = reporter.hostOutput(`${primary} release`);
  const result = await transport.run(
    dockerRun({
      name: containerName(site, "release", version),
      image: imageRef(config, version),
      network: privateNetwork(site),
      labels: releaseLabels({
        service: config.service,
        environment: loaded.environment,
        role: "release",
        version,
      }),
      envFile: envPath,
      cmd: command,
      volumes: roleVolumes(site, config.servers[role.name]?.volumes ?? []),
      removeOnExit: true,
      detach: false,
    }),
    { check: false, onStdout: (c) => out.write(c), onStderr: (c) => out.write(c) },
  );
  out.flush();
  if (result.code !== 0) {
    throw new UserError({
      code: "deploy.release_command_failed",
      message: `The release command failed with exit code ${result.code}; nothing was switched, the current version keeps serving.`,
      hint: "Its output is above. Fix it and deploy again.",
    });
  }
}

async function hasLocalImage(
  local: LocalTransport,
  engine: LocalEngine,
  image: string,
): Promise<boolean> {
  return (await local.run(localImageInspectArgv(engine, image), { check: false })).code === 0;
}

/**
 * With a registry: names the local image on it (after a build, or when only the plain name
 * exists here), logs this machine's engine in and pushes. Each host pulls it in prepareHost.
 */
async function pushToRegistry(options: {
  engine: LocalEngine;
  local: LocalTransport;
  built: string;
  image: string;
  login: RegistryLogin;
  rebuilt: boolean;
  reporter: Reporter;
}): Promise<void> {
  const { engine, local, built, image, login, reporter } = options;
  if (image !== built && (options.rebuilt || !(await hasLocalImage(local, engine, image)))) {
    await local.run(localTagArgv(engine, built, image));
  }
  reporter.info(`pushing ${image} to ${login.server}`);
  await loginLocal(engine, login, local);
  await pushImage(engine, image, local);
}

function fromProject(dir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dir, path);
}
