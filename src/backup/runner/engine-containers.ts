/**
 * The Containers port over the Engine API (the host's socket, mounted into the runner), for a
 * runner whose image has no docker CLI: an exec step of the planners (argv as dockerExec spells
 * it) becomes an API exec of the same container and command; a throwaway container gets its
 * secret env in the create call's body, never argv.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { PassThrough, type Readable } from "node:stream";
// The client alone, not the agent's index: the runner must not load the agent's other parts.
import {
  type ContainerCreate,
  type EngineClient,
  EngineError,
  OWNER_LABEL,
} from "../../agent/engine.ts";
import { parseDockerExec } from "../../engine/index.ts";
import type { Argv } from "../../transport/index.ts";
import type { Containers, ExecRun, OneOffContainer } from "../containers.ts";
import { type ExecStreamOptions, execFailure, keepTail, STDOUT_READ_AHEAD } from "../exec.ts";
import { handOverOf, PIPE_DIR, readThroughPipe } from "../pipe.ts";

const failed = (what: string, code: number, stderr: string) =>
  execFailure(what, `exit ${code}`, stderr);

/** The runner's Containers: everything through `client`. */
export function engineContainers(client: EngineClient): Containers {
  return {
    exec(argv: Argv, options: ExecStreamOptions = {}): ExecRun {
      const parts = parseDockerExec(argv);
      if (!parts) throw new TypeError(`not an exec step: ${argv.slice(0, 3).join(" ")}`);
      // Read ahead of its reader as the docker CLI's exec is, so a busy compressor or upload does
      // not stall the dump itself (see STDOUT_READ_AHEAD).
      const stdout = new PassThrough({ highWaterMark: STDOUT_READ_AHEAD });
      // Whoever reads stdout sees its error; a caller that awaits `done` alone must not crash.
      stdout.on("error", () => {});
      const done = (async () => {
        const run = await client.exec(
          parts.container,
          parts.cmd,
          parts.interactive ? options.stdin : undefined,
        );
        const stderr = keepTail(run.stderr);
        run.stdout.pipe(stdout, { end: false });
        const code = await run.exit;
        if (code !== 0)
          throw failed(`${parts.container}: ${parts.cmd.slice(0, 4).join(" ")}`, code, stderr());
      })();
      done.then(
        () => stdout.end(),
        (error: Error) => stdout.destroy(error),
      );
      return { stdout, done };
    },

    pipeRun(step, line) {
      const given = handOverOf(step, line);
      // Asked while the FIFO is made.
      const inspected = client.inspect(step.beside);
      inspected.catch(() => {});
      let removed: Promise<void> = Promise.resolve();
      const run = readThroughPipe(async (folder, ended) => {
        const beside = await inspected;
        const id = await client.create(`slipway-dump-${randomBytes(4).toString("hex")}`, {
          Image: beside.Image ?? beside.Config.Image,
          Entrypoint: [step.entrypoint],
          Cmd: [...step.args],
          Labels: { [OWNER_LABEL]: hostname() },
          HostConfig: { NetworkMode: `container:${beside.Id}`, Binds: [`${folder}:${PIPE_DIR}`] },
        });
        const remove = () => {
          removed = client.remove(id).catch(() => {});
          return removed;
        };
        let code: number;
        try {
          await client.start(id);
          code = await client.wait(id, undefined, ended);
        } catch (error) {
          await remove();
          throw error;
        }
        if (code !== 0) {
          const logs = await client.logs(id, 20).catch(() => "");
          await remove();
          throw failed(`${step.beside}: ${step.program} beside it`, code, logs);
        }
        // The stream ends on the exit code; removing the container (0.1 s on Podman) is `done`'s.
        void remove();
      }, given);
      const done = run.done.finally(() => removed);
      done.catch(() => {}); // read through stdout, or awaited by whoever keeps the run
      return { ...run, done };
    },

    async run(spec, secretEnv) {
      const body: ContainerCreate = {
        Image: spec.image,
        ...(spec.cmd === undefined ? {} : { Cmd: [...spec.cmd] }),
        Env: Object.entries(secretEnv).map(([k, v]) => `${k}=${v}`),
        Labels: spec.labels,
        HostConfig: {
          Binds: (spec.volumes ?? []).map(
            (v) => `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`,
          ),
          RestartPolicy: { Name: spec.restart ?? "no" },
          ...(spec.network === undefined ? {} : { NetworkMode: spec.network }),
        },
      };
      const id = await client.create(spec.name, body);
      await client.start(id);
    },

    async runOnce(container: OneOffContainer, stdin: Readable) {
      const name = `slipway-restore-${randomBytes(4).toString("hex")}`;
      const id = await client.create(name, {
        Image: container.image,
        Cmd: [...container.cmd],
        ...(container.entrypoint === undefined ? {} : { Entrypoint: [container.entrypoint] }),
        ...(container.user === undefined ? {} : { User: container.user }),
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { VolumesFrom: [container.volumesFrom] },
      });
      try {
        const streams = await client.attach(id, stdin);
        streams.stdout.resume();
        const stderr = keepTail(streams.stderr);
        await client.start(id);
        const code = await client.wait(id);
        if (code !== 0) throw failed(`a one-off container of ${container.image}`, code, stderr());
      } finally {
        await client.remove(id).catch(() => {});
      }
    },

    stop: (name, timeoutS) => client.stop(name, timeoutS),
    start: (name) => client.start(name),
    remove: (name) => client.remove(name),
    async labelled(label) {
      const found = await client.list({}, { all: true, has: [label] });
      return found.map((c) => ({
        id: c.Id,
        labels: c.Labels ?? {},
        sinceMs: c.Created * 1000,
      }));
    },
    async running(name) {
      try {
        return (await client.inspect(name)).State.Running;
      } catch (error) {
        if (error instanceof EngineError && error.status === 404) return false;
        throw error;
      }
    },
  };
}
