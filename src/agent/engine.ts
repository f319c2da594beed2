/**
 * The container engine from inside the agent: Docker's Engine API over the host's unix socket
 * (Podman answers the same API on its own socket, mounted at the same place), with node:http.
 * No docker CLI in the agent's image and no client library: the few calls the agent makes are
 * small JSON requests, and a library would cost memory the agent does not have.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex, Readable } from "node:stream";
import { PassThrough, pipeline, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { http } from "./builtins.ts";

/** Where the agent's container sees the host's engine socket (see src/monitor/plan.ts). */
export const ENGINE_SOCKET = "/var/run/docker.sock";

/** A container as the list call shows it. */
export interface ContainerListed {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Created: number;
  Labels: Record<string, string> | null;
}

/**
 * The label of a container another one made (the backup runner's throwaway verification
 * container, its dump beside an accessory): its maker's host name, which is the short id of the
 * maker's container unless it was given another. Removed with its maker, so a runner killed
 * mid-run (a timeout, a stopping agent) leaves nothing running behind it.
 */
export const OWNER_LABEL = "slipway.owner";

/** How often {@link EngineClient.wait} asks: at first, at the slowest, and once told it is soon. */
const WAIT_FIRST_MS = 50;
const WAIT_LAST_MS = 1_000;
const WAIT_SOON_MS = 20;

/** The parts of `inspect` the agent reads. */
export interface ContainerInspected {
  Id: string;
  /** The image's id (Config.Image is the reference it was run by). */
  Image?: string;
  Name: string;
  Created: string;
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    OOMKilled: boolean;
    Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] | null } | null;
  };
  Config: {
    Image: string;
    Env: string[] | null;
    Labels: Record<string, string> | null;
  };
  HostConfig: { NetworkMode?: string };
  Mounts: { Type: string; Name?: string; Source: string; Destination: string; RW: boolean }[];
}

/** What a new container is made of (the Engine API's create body, the parts the agent uses). */
export interface ContainerCreate {
  Image: string;
  Cmd?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
  Entrypoint?: string[];
  User?: string;
  /** With OpenStdin and StdinOnce: stdin is attached (see attachStdin) and closed at its end. */
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  HostConfig?: {
    Binds?: string[];
    VolumesFrom?: string[];
    NetworkMode?: string;
    RestartPolicy?: { Name: "no" | "always" | "unless-stopped" | "on-failure" };
  };
}

/** A process's output streams, as the engine sends them (demultiplexed), and its exit. */
export interface Streams {
  stdout: Readable;
  stderr: Readable;
  /** Resolves with the exit code once the process has ended and its output has been read. */
  exit: Promise<number>;
}

export class EngineError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class EngineClient {
  readonly socketPath: string;

  constructor(socketPath = ENGINE_SOCKET) {
    this.socketPath = socketPath;
  }

  /**
   * Containers whose labels include every one of `labels` (an empty value must be empty) and
   * that have each label of `has`, whatever its value; running only unless `all`.
   */
  list(labels: Record<string, string>, options: { all?: boolean; has?: string[] } = {}) {
    const filters = JSON.stringify({
      label: [...Object.entries(labels).map(([k, v]) => `${k}=${v}`), ...(options.has ?? [])],
    });
    const query = `all=${options.all ? 1 : 0}&filters=${encodeURIComponent(filters)}`;
    return this.json<ContainerListed[]>("GET", `/containers/json?${query}`);
  }

  /** The newest running container with these labels (a role's, during a deploy: the new one). */
  async newestRunning(labels: Record<string, string>): Promise<ContainerListed | undefined> {
    const running = await this.list(labels);
    return running.sort((a, b) => b.Created - a.Created)[0];
  }

  inspect(id: string) {
    return this.json<ContainerInspected>("GET", `/containers/${encodeURIComponent(id)}/json`);
  }

  async create(name: string, spec: ContainerCreate): Promise<string> {
    const made = await this.json<{ Id: string }>(
      "POST",
      `/containers/create?name=${encodeURIComponent(name)}`,
      spec,
    );
    return made.Id;
  }

  async start(id: string): Promise<void> {
    await this.json("POST", `/containers/${encodeURIComponent(id)}/start`);
  }

  /**
   * Resolves with the exit code once the container has stopped; the signal gives up waiting.
   * Asks its state, every 50 ms at first and then less often, down to once a second: Podman
   * before 4.5 (Debian 12's 4.3) answers the API's own /wait by polling every microsecond, a
   * whole core for as long as the container runs (podman#18150). `soon` (its output has ended,
   * say) brings the pace to every 20 ms, starting with the pause under way.
   */
  async wait(id: string, signal?: AbortSignal, soon?: Promise<unknown>): Promise<number> {
    let pace = WAIT_FIRST_MS;
    const isSoon = soon?.then(
      () => {
        pace = WAIT_SOON_MS;
      },
      () => {},
    );
    for (;;) {
      signal?.throwIfAborted();
      const { State } = await this.inspect(id);
      if (!State.Running) return State.ExitCode;
      const pause = sleep(pace, undefined, signal ? { signal } : {});
      pause.catch(() => {}); // an abort is seen at the top of the loop when `soon` came first
      await (pace === WAIT_SOON_MS || isSoon === undefined ? pause : Promise.race([pause, isSoon]));
      if (pace !== WAIT_SOON_MS) pace = Math.min(pace * 2, WAIT_LAST_MS);
    }
  }

  /** stdout and stderr, interleaved as written (the last `tail` lines). */
  async logs(id: string, tail = 1000): Promise<string> {
    const res = await this.request(
      "GET",
      `/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=${tail}`,
    );
    const body = await readAll(res);
    if (res.statusCode !== 200) throw engineError(res, body);
    return demux(body);
  }

  /** Sends a signal to the container's main process (SIGHUP: nginx reloads gracefully). */
  async kill(id: string, signal: string): Promise<void> {
    await this.json(
      "POST",
      `/containers/${encodeURIComponent(id)}/kill?signal=${encodeURIComponent(signal)}`,
    );
  }

  /** Removes the container, running or not; a container already gone is fine. */
  async remove(id: string): Promise<void> {
    const res = await this.request("DELETE", `/containers/${encodeURIComponent(id)}?force=1&v=1`);
    const body = await readAll(res);
    if (res.statusCode !== 204 && res.statusCode !== 200 && res.statusCode !== 404) {
      throw engineError(res, body);
    }
  }

  /**
   * Runs `cmd` in a running container (Docker's exec), its output streamed as it comes; `stdin`
   * (a stream or text) is fed in and closed at its end, so a restore can pipe a dump into it.
   */
  async exec(id: string, cmd: readonly string[], stdin?: Readable | string): Promise<Streams> {
    const made = await this.json<{ Id: string }>(
      "POST",
      `/containers/${encodeURIComponent(id)}/exec`,
      {
        AttachStdin: stdin !== undefined,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Cmd: cmd,
      },
    );
    const socket = await this.hijack(`/exec/${encodeURIComponent(made.Id)}/start`, {
      Detach: false,
      Tty: false,
    });
    const streams = demuxStreams(socket, stdin);
    const exit = streams.ended.then(() => this.execExit(made.Id));
    exit.catch(() => {});
    return { stdout: streams.stdout, stderr: streams.stderr, exit };
  }

  /**
   * Attaches to a created container that is not started yet (made with OpenStdin, StdinOnce and
   * the Attach* flags): its output streamed, `stdin` fed in and closed. Start it after this.
   */
  async attach(id: string, stdin: Readable | string): Promise<Omit<Streams, "exit">> {
    const socket = await this.hijack(
      `/containers/${encodeURIComponent(id)}/attach?stream=1&stdin=1&stdout=1&stderr=1`,
    );
    const streams = demuxStreams(socket, stdin);
    return { stdout: streams.stdout, stderr: streams.stderr };
  }

  /** Stops a running container (SIGTERM, SIGKILL after `timeoutS`); a stopped one is fine. */
  async stop(id: string, timeoutS: number): Promise<void> {
    const res = await this.request(
      "POST",
      `/containers/${encodeURIComponent(id)}/stop?t=${timeoutS}`,
    );
    const body = await readAll(res);
    if (res.statusCode !== 204 && res.statusCode !== 304 && res.statusCode !== 200) {
      throw engineError(res, body);
    }
  }

  /** An exec's exit code, once the engine has noticed its end. */
  private async execExit(execId: string): Promise<number> {
    for (let i = 0; ; i++) {
      const info = await this.json<{ Running: boolean; ExitCode: number | null }>(
        "GET",
        `/exec/${encodeURIComponent(execId)}/json`,
      );
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
      if (i > 100) throw new EngineError(0, `exec ${execId} still runs after its output ended`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * A request whose connection the engine takes over (HTTP upgrade to a raw stream): the
   * multiplexed output comes on the socket, and what is written to it is the process's stdin.
   */
  private hijack(path: string, body?: unknown): Promise<Duplex> {
    const payload = body === undefined ? "" : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        path,
        method: "POST",
        headers: {
          host: "engine",
          connection: "Upgrade",
          upgrade: "tcp",
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      });
      req.on("upgrade", (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.on("response", (res) => {
        readAll(res).then((b) => reject(engineError(res, b)), reject);
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  private async json<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const res = await this.request(method, path, body, signal);
    const text = (await readAll(res)).toString("utf8");
    const status = res.statusCode ?? 0;
    if (status >= 400) throw engineError(res, Buffer.from(text));
    return (text.trim() === "" ? undefined : JSON.parse(text)) as T;
  }

  private request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          headers: {
            host: "engine",
            ...(payload === undefined
              ? {}
              : {
                  "content-type": "application/json",
                  "content-length": Buffer.byteLength(payload),
                }),
          },
          ...(signal === undefined ? {} : { signal }),
        },
        resolve,
      );
      req.on("error", (error: NodeJS.ErrnoException) =>
        reject(
          error.code === "ENOENT" || error.code === "ECONNREFUSED"
            ? new EngineError(0, `no container engine at ${this.socketPath} (${error.code})`)
            : error,
        ),
      );
      req.end(payload);
    });
  }
}

function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks)));
    res.on("error", reject);
  });
}

function engineError(res: IncomingMessage, body: Buffer): EngineError {
  let message = body.toString("utf8").trim();
  try {
    message = (JSON.parse(message) as { message?: string }).message ?? message;
  } catch {
    // not JSON
  }
  return new EngineError(res.statusCode ?? 0, `engine: ${res.statusCode}: ${message}`);
}

/**
 * A container's logs without a TTY come multiplexed: frames of an 8-byte header (stream, three
 * zero bytes, big-endian length) and the bytes. Text that does not start like a frame is taken
 * as it is (a TTY container's raw output).
 */
export function demux(data: Buffer): string {
  const first = data[0];
  if (data.length < 8 || (first !== 0 && first !== 1 && first !== 2) || data.readUIntBE(1, 3)) {
    return data.toString("utf8");
  }
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= data.length) {
    const size = data.readUInt32BE(at + 4);
    parts.push(data.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

/**
 * A hijacked connection's streams: the frames of its output (see demux) sorted into stdout and
 * stderr as they come, with backpressure; `stdin` written to it and then its write side closed
 * (the engine closes the process's stdin then). `ended` resolves once the output has ended.
 */
function demuxStreams(
  socket: Duplex,
  stdin: Readable | string | undefined,
): { stdout: PassThrough; stderr: PassThrough; ended: Promise<void> } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  // A broken connection or stdin fails `ended` (and the exit code); unread, it must not crash.
  stdout.on("error", () => {});
  stderr.on("error", () => {});
  let pending: Buffer = Buffer.alloc(0);
  const sorter = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const waits: Promise<void>[] = [];
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4);
        if (pending.length < 8 + size) break;
        const target = pending[0] === 2 ? stderr : stdout;
        if (!target.write(pending.subarray(8, 8 + size)))
          waits.push(new Promise((r) => target.once("drain", r)));
        pending = pending.subarray(8 + size);
      }
      if (waits.length === 0) done();
      else Promise.all(waits).then(() => done());
    },
  });
  const ended = new Promise<void>((resolve, reject) => {
    socket.pipe(sorter);
    sorter.on("finish", () => {
      stdout.end();
      stderr.end();
      resolve();
    });
    socket.on("error", (error) => {
      stdout.destroy(error);
      stderr.destroy(error);
      reject(error);
    });
  });
  ended.catch(() => {});
  if (stdin === undefined) socket.end();
  else if (typeof stdin === "string") socket.end(stdin);
  // pipeline, not pipe: a stdin that failed already (a damaged archive) fails the exec too.
  else pipeline(stdin, socket, (error) => error && socket.destroy(error));
  return { stdout, stderr, ended };
}
