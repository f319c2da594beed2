/**
 * Where a backup's engine work happens: the port between the engine planners (argv in the docker
 * CLI's spelling, an exec built by dockerExec) and a container engine. `dockerCli` runs the argv
 * as they are, through the `docker` command of the machine it runs on (DOCKER_HOST honoured);
 * the backup runner on a host maps the same steps to the Engine API over the host's socket
 * (src/backup/runner), where no docker CLI exists. The planners' knowledge stays in one place.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
// The agent's engine client alone, not the agent's index (see engine-containers.ts).
import { OWNER_LABEL } from "../agent/engine.ts";
import {
  type ContainerInfo,
  type ContainerSpec,
  checkImageRef,
  checkName,
  dockerInspect,
  dockerRemove,
  dockerRun,
  dockerStart,
  dockerStop,
  formatEnvFile,
  parseContainerInspect,
} from "../engine/index.ts";
import type { Argv } from "../transport/index.ts";
import type { PipedDumpStep } from "./engines.ts";
import { drained, type ExecStreamOptions, execStream, execText, textOf } from "./exec.ts";
import { handOverOf, PIPE_DIR, readThroughPipe } from "./pipe.ts";

export { OWNER_LABEL };

/** A program's stdout, ending once it exited 0 and failing otherwise; `done` settles alike. */
export interface ExecRun {
  stdout: Readable;
  done: Promise<void>;
}

/** A one-off container that shares another's volumes, fed on stdin, removed when it exits. */
export interface OneOffContainer {
  image: string;
  /** The container whose volumes it mounts (the accessory's, stopped meanwhile). */
  volumesFrom: string;
  user?: string;
  entrypoint?: string;
  cmd: readonly string[];
}

/** A container found by a label: what deciding whether it is left over needs. */
export interface LabelledContainer {
  id: string;
  labels: Record<string, string>;
  /** When it was made (created or started, ms since the epoch); undefined when unknown. */
  sinceMs: number | undefined;
}

export interface Containers {
  /** Runs an exec step (argv as dockerExec builds it, or a plain local program for dockerCli). */
  exec(argv: Argv, options?: ExecStreamOptions): ExecRun;
  /**
   * Runs a piped dump step in a one-off container beside its accessory (pipe.ts), labelled with
   * this process's host name as its OWNER_LABEL; its output is what it wrote into the FIFO.
   * A step that `awaits` a line (Postgres' snapshot) is started at once, and given `line` once
   * it settles (an empty line if it fails: the step then exits 1).
   */
  pipeRun(step: PipedDumpStep, line?: Promise<string>): ExecRun;
  /**
   * Starts a detached container; `secretEnv` reaches it without argv (an env file for the CLI,
   * the create call's body for the Engine API).
   */
  run(
    spec: Omit<ContainerSpec, "envFile" | "env">,
    secretEnv: Record<string, string>,
  ): Promise<void>;
  /** A one-off container fed `stdin`; resolves once it exited 0 (and was removed). */
  runOnce(container: OneOffContainer, stdin: Readable): Promise<void>;
  stop(name: string, timeoutS: number): Promise<void>;
  start(name: string): Promise<void>;
  /** Removes a container, running or not. */
  remove(name: string): Promise<void>;
  /** The containers carrying `label` (whatever its value), running or not. */
  labelled(label: string): Promise<LabelledContainer[]>;
  /** Whether a container of that name or id runs now (false when there is none). */
  running(name: string): Promise<boolean>;
}

/** `docker run --rm --interactive` of a one-off container. Pure. */
export function dockerRunOnce(c: OneOffContainer): Argv {
  return [
    "docker",
    "run",
    "--rm",
    "--interactive",
    "--volumes-from",
    checkName("container name", c.volumesFrom),
    ...(c.user === undefined ? [] : ["--user", c.user]),
    ...(c.entrypoint === undefined ? [] : ["--entrypoint", c.entrypoint]),
    checkImageRef(c.image),
    ...c.cmd,
  ];
}

/**
 * `docker run --rm` of a piped dump step: the accessory's image (by id: the very tools it runs)
 * in its network namespace, `folder` (holding the FIFO) mounted at PIPE_DIR. Pure.
 */
export function dockerPipedRun(
  step: PipedDumpStep,
  options: { folder: string; image: string; owner: string },
): Argv {
  return [
    "docker",
    "run",
    "--rm",
    "--network",
    `container:${checkName("container name", step.beside)}`,
    "--volume",
    `${options.folder}:${PIPE_DIR}`,
    "--label",
    `${OWNER_LABEL}=${options.owner}`,
    "--entrypoint",
    step.entrypoint,
    checkImageRef(options.image),
    ...step.args,
  ];
}

/** Runs argv through `containers` to its end and returns its stdout as text. */
export function execTextWith(
  containers: Containers,
  argv: Argv,
  options: ExecStreamOptions = {},
): Promise<string> {
  return textOf(containers.exec(argv, options));
}

/** The docker CLI of this machine. */
export const dockerCli: Containers = {
  exec: (argv, options) => execStream(argv, options),
  // `docker run` waits for its container through the API's /wait, which Podman before 4.5 answers
  // by spinning a core; the hosts' runner uses the Engine API client, whose wait does not.
  pipeRun(step, line) {
    const given = handOverOf(step, line);
    // Asked while the FIFO is made.
    const beside = inspected(step.beside);
    beside.catch(() => {});
    return readThroughPipe(async (folder) => {
      const image = (await beside)?.imageId;
      if (image === undefined) throw new Error(`no container ${step.beside}`);
      await drained(execStream(dockerPipedRun(step, { folder, image, owner: hostname() })));
    }, given);
  },
  async run(spec, secretEnv) {
    const dir = await mkdtemp(join(tmpdir(), "slipway-env-"));
    try {
      const envFile = join(dir, "container.env");
      await writeFile(envFile, formatEnvFile(Object.entries(secretEnv)), { mode: 0o600 });
      await drained(execStream(dockerRun({ ...spec, envFile })));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  runOnce: (container, stdin) => drained(execStream(dockerRunOnce(container), { stdin })),
  stop: (name, timeoutS) => drained(execStream(dockerStop(name, timeoutS))),
  start: (name) => drained(execStream(dockerStart(name))),
  remove: (name) => drained(execStream(dockerRemove(name, { force: true }))),
  async labelled(label) {
    const ids = await execText([
      "docker",
      "ps",
      "--all",
      "--quiet",
      "--no-trunc",
      "--filter",
      `label=${label}`,
    ]);
    const found: LabelledContainer[] = [];
    // One at a time: one removed meanwhile must not hide the others.
    for (const id of ids.split("\n").filter((l) => l.trim() !== "")) {
      const info = await inspected(id.trim());
      if (info)
        found.push({
          id: info.id,
          labels: info.labels,
          sinceMs: info.startedAt === undefined ? undefined : Date.parse(info.startedAt),
        });
    }
    return found;
  },
  running: async (name) => (await inspected(name))?.running === true,
};

/** `docker inspect` of one container; undefined when there is none. */
async function inspected(name: string): Promise<ContainerInfo | undefined> {
  try {
    return parseContainerInspect(await execText(dockerInspect(name)))[0];
  } catch {
    return undefined;
  }
}
