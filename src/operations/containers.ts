/**
 * Commands that reach into the app's containers: `logs` of the running ones, `exec` in one, and
 * `run`, a one-off container of the current release with its kept env. Argv only: the transport
 * quotes every word, and the env travels in the kept 0600 file, never in argv.
 */
import type { Readable } from "node:stream";
import { privateNetwork } from "../accessories/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import {
  containerName,
  imageRef,
  releaseLabels,
  roleSelector,
  rolesInOrder,
  roleVolumes,
  siteName,
} from "../deploy/index.ts";
import {
  type ContainerSummary,
  dockerExec,
  dockerImageId,
  dockerListContainers,
  dockerLogs,
  dockerRemove,
  dockerRun,
  parseContainerList,
} from "../engine/index.ts";
import { UserError } from "../errors/index.ts";
import type { Reporter } from "../output/index.ts";
import { envFilePath, readCurrentVersion } from "../releases/index.ts";
import type { Connections, Transport } from "../transport/index.ts";
import {
  chooseHost,
  chooseRole,
  chooseTargets,
  failureReason,
  runningNewestFirst,
  type Target,
} from "./targets.ts";

/** Where streamed output goes: whole lines, for one container's stdout or stderr. */
export interface LineOutput {
  write(chunk: Buffer): void;
  flush(): void;
}

export interface LogSource extends Target {
  container: string;
}

export interface LogsRequest {
  loaded: LoadedConfig;
  connections: Connections;
  reporter: Reporter;
  role?: string | undefined;
  host?: string | undefined;
  follow: boolean;
  /** As logWindow returns them. */
  since?: string | undefined;
  tail?: number | undefined;
  output: (source: LogSource, stream: "stdout" | "stderr") => LineOutput;
}

/**
 * Streams the logs of the running containers of the chosen roles on their hosts, all at once;
 * with `follow`, until the connections close. Resolves with the targets that had nothing to show
 * (no running container, or a host that failed), each already reported as a warning.
 */
export async function streamLogs(request: LogsRequest): Promise<Target[]> {
  const { loaded, connections, reporter } = request;
  const targets = chooseTargets(rolesInOrder(loaded.config), request);
  const failed: Target[] = [];
  await Promise.all(
    targets.map(async (target) => {
      try {
        const transport = connections.get(target.host);
        const running = await runningContainers(transport, loaded, target.role);
        if (running.length === 0) {
          reporter.warn(`${target.host} ${target.role}: no running container`);
          failed.push(target);
          return;
        }
        await Promise.all(
          running.map(async (container) => {
            const source = { ...target, container: container.name };
            const out = request.output(source, "stdout");
            const err = request.output(source, "stderr");
            await transport.run(
              dockerLogs(container.name, {
                follow: request.follow,
                ...(request.since === undefined ? {} : { since: request.since }),
                ...(request.tail === undefined ? {} : { tail: request.tail }),
              }),
              {
                check: false,
                // Followed logs never end: nothing is kept in memory.
                capture: false,
                onStdout: (chunk) => out.write(chunk),
                onStderr: (chunk) => err.write(chunk),
              },
            );
            out.flush();
            err.flush();
          }),
        );
      } catch (error) {
        reporter.warn(`${target.host} ${target.role}: ${failureReason(error)}`);
        failed.push(target);
      }
    }),
  );
  return failed;
}

/** What exec and run stream to: raw chunks of the command's stdout and stderr. */
export interface CommandIo {
  /** Data for the command's stdin (with `interactive`). */
  stdin?: Readable | undefined;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
}

export interface ExecRequest extends CommandIo {
  loaded: LoadedConfig;
  connections: Connections;
  role: string;
  host?: string | undefined;
  argv: readonly string[];
}

/** Runs a command in the role's newest running container; resolves with its exit code. */
export async function execInRole(
  request: ExecRequest,
): Promise<{ code: number; host: string; container: string }> {
  const { loaded, connections } = request;
  const role = chooseRole(rolesInOrder(loaded.config), request.role);
  const host = chooseHost(role, request.host);
  const transport = connections.get(host);
  const [container] = await runningContainers(transport, loaded, role.name);
  if (!container) {
    throw new UserError({
      code: "exec.no_container",
      message: `No container of ${role.name} is running on ${host}.`,
      hint: "See what runs with `slipway status`; `slipway run` starts a one-off container instead.",
    });
  }
  const result = await transport.run(
    dockerExec(container.name, request.argv, { interactive: request.stdin !== undefined }),
    { check: false, capture: false, ...io(request) },
  );
  return { code: result.code, host, container: container.name };
}

export interface RunRequest extends CommandIo {
  loaded: LoadedConfig;
  connections: Connections;
  /** Default: the first role (web). */
  role?: string | undefined;
  host?: string | undefined;
  argv: readonly string[];
  /** Aborting removes the one-off container (Ctrl-C). */
  signal?: AbortSignal | undefined;
}

/**
 * Runs a one-off container of the role's current release: its image, its kept env file, the
 * private network, labels like a release's (role "run"); removed when it exits.
 */
export async function runOneOff(
  request: RunRequest,
): Promise<{ code: number; host: string; container: string; version: string }> {
  const { loaded, connections } = request;
  const { config } = loaded;
  const site = siteName(config.service, loaded.environment);
  const role = chooseRole(rolesInOrder(config), request.role);
  const host = chooseHost(role, request.host);
  const transport = connections.get(host);
  const version = await readCurrentVersion(transport, site, role.name);
  if (!version) {
    throw new UserError({
      code: "run.nothing_deployed",
      message: `${role.name} on ${host} runs no release of ${site} yet.`,
      hint: "Deploy first: slipway deploy",
    });
  }
  const envFile = envFilePath(site, role.name, version);
  const image = imageRef(config, version);
  const [env, present] = await Promise.all([
    transport.run(["test", "-f", envFile], { check: false }),
    transport.run(dockerImageId(image), { check: false }),
  ]);
  if (env.code !== 0 || present.code !== 0) {
    throw new UserError({
      code: "run.not_kept",
      message: `${host} no longer keeps the ${env.code !== 0 ? `env file of ${role.name}` : "image of"} ${version}, the current release.`,
      hint: `Deploy it again: slipway deploy --version ${version}`,
    });
  }
  const name = containerName(site, "run", version);
  const stop = () => {
    transport.run(dockerRemove(name, { force: true }), { check: false }).catch(() => {});
  };
  request.signal?.addEventListener("abort", stop, { once: true });
  try {
    const result = await transport.run(
      dockerRun({
        name,
        image,
        network: privateNetwork(siteName(loaded.config.service, loaded.environment)),
        labels: releaseLabels({
          service: config.service,
          environment: loaded.environment,
          role: "run",
          version,
        }),
        envFile,
        cmd: request.argv,
        volumes: roleVolumes(site, config.servers[role.name]?.volumes ?? []),
        removeOnExit: true,
        detach: false,
        interactive: request.stdin !== undefined,
      }),
      { check: false, capture: false, ...io(request) },
    );
    return { code: result.code, host, container: name, version };
  } finally {
    request.signal?.removeEventListener("abort", stop);
  }
}

/** The running containers of a role on a host, newest release first. */
async function runningContainers(
  transport: Transport,
  loaded: LoadedConfig,
  role: string,
): Promise<ContainerSummary[]> {
  const selector = roleSelector({
    service: loaded.config.service,
    environment: loaded.environment,
    role,
  });
  const listed = await transport.run(dockerListContainers(selector, { all: false }));
  return runningNewestFirst(parseContainerList(listed.stdout));
}

function io(request: CommandIo) {
  return {
    onStdout: request.onStdout,
    onStderr: request.onStderr,
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
  };
}
