/**
 * A dump's bytes through a FIFO rather than the engine's exec stream. This process makes the FIFO
 * in a fresh folder of its TMPDIR, which the engine sees at the same path (the runner's work
 * folder; this machine's, for the docker CLI), and a one-off container beside the accessory
 * writes into it (engines.ts: planPipedDump). The kernel moves the bytes, not the engine: Podman
 * relays an exec's output 8 KiB at a time through conmon and its API service. bench:backup's
 * 457 MB dump took 3.5 CPU-s of the machine by `docker exec` to /dev/null, 2.2 through a FIFO.
 */
import { execFile } from "node:child_process";
import { closeSync, constants, open, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { PassThrough, pipeline, Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { SlipwayError } from "../errors/index.ts";
import type { ExecRun } from "./containers.ts";
import { STDOUT_READ_AHEAD } from "./exec.ts";
import { lend } from "./lent.ts";

/** Where a piped dump's program writes in its container: the FIFO, in the folder mounted there. */
export const PIPE_DIR = "/slipway-pipe";
export const PIPE_FILE = `${PIPE_DIR}/dump`;

/**
 * Runs the writing container with `folder` mounted at PIPE_DIR; settles when it exited (0, or
 * fails). `ended` settles once the FIFO's output has ended: the container's exit is near.
 */
export type PipeWriter = (folder: string, ended: Promise<void>) => Promise<void>;

const openFd = promisify(open);

/** What the reading thread hands on at a time, and how many it reads ahead of its reader. */
const BATCH = 1 << 20;
const AHEAD = 2;
/**
 * The ring's batches: enough for all a dump's stages hold at once on their way to the
 * compressor (the read-ahead, the stages' buffers, the one being compressed).
 */
const RING = 16;

/**
 * The reading thread: blocking reads into 1 MiB batches, each handed over once full. A dump
 * arrives in the writer's 4 KiB writes; read on the event loop, each is a wake-up, a Buffer and
 * a stream step (bench:backup's dump: 80,000 reads, 0.6 CPU-s there against 0.4 here, and 450
 * Buffers to collect rather than 80,000). A batch is read into a free slot of the ring, memory
 * both threads share, and lent (lent.ts): its slot is free again once given back. With no slot
 * free, into a fresh buffer, transferred. Reads a batch only with a credit: the stream's reader
 * grants one whenever it wants more, so the thread never runs far ahead.
 * shared: [credits, stop, then per slot 1 while lent].
 */
const READER = `
const { readSync } = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
const { fd, batch, shared, ring, slots } = workerData;
const state = new Int32Array(shared);
let next = 0;
function freeSlot() {
  for (let i = 0; i < slots; i++) {
    const slot = (next + i) % slots;
    if (Atomics.compareExchange(state, 2 + slot, 0, 1) === 0) {
      next = (slot + 1) % slots;
      return slot;
    }
  }
  return -1;
}
try {
  for (let done = false; !done; ) {
    while (Atomics.load(state, 0) <= 0 && Atomics.load(state, 1) === 0) Atomics.wait(state, 0, Atomics.load(state, 0));
    if (Atomics.load(state, 1) !== 0) break;
    const slot = freeSlot();
    const buffer = slot < 0 ? Buffer.allocUnsafeSlow(batch) : Buffer.from(ring, slot * batch, batch);
    let used = 0;
    while (used < batch) {
      const n = readSync(fd, buffer, used, batch - used, null);
      if (n === 0) { done = true; break; }
      used += n;
    }
    if (Atomics.load(state, 1) !== 0) break;
    if (used === 0) {
      if (slot >= 0) Atomics.store(state, 2 + slot, 0);
      continue;
    }
    Atomics.sub(state, 0, 1);
    if (slot >= 0) parentPort.postMessage({ slot, used });
    else parentPort.postMessage(buffer.subarray(0, used), [buffer.buffer]);
  }
  parentPort.postMessage(null);
} catch (error) {
  parentPort.postMessage(error);
}
`;

/** How a FIFO's batches were read: into the ring's memory again, or into fresh buffers. */
export interface PipeBatches {
  fromRing: number;
  fresh: number;
}

/** A FIFO's reading end, read by {@link READER} on its own thread. */
class FifoReader extends Readable {
  private readonly state = new Int32Array(new SharedArrayBuffer(4 * (2 + RING)));
  private readonly ring = new SharedArrayBuffer(RING * BATCH);
  private readonly worker: Worker;
  private readonly path: string;
  private readonly batches: PipeBatches;

  constructor(fd: number, path: string, batches: PipeBatches) {
    // Its read-ahead is the thread's credits, and readThroughPipe's stdout: nothing more here.
    super();
    this.path = path;
    this.batches = batches;
    this.state[0] = AHEAD;
    this.worker = new Worker(READER, {
      eval: true,
      workerData: { fd, batch: BATCH, shared: this.state.buffer, ring: this.ring, slots: RING },
    });
    // The fd is this thread's: closed here once the reading thread is gone.
    this.worker.once("exit", () => closeSync(fd));
    this.worker.on("message", (m: { slot: number; used: number } | Uint8Array | Error | null) => {
      if (m instanceof Error) return this.destroy(m);
      if (this.destroyed) return;
      if (m === null) this.push(null);
      else if (m instanceof Uint8Array) {
        this.batches.fresh++;
        this.push(Buffer.from(m.buffer, m.byteOffset, m.length));
      } else {
        this.batches.fromRing++;
        const chunk = Buffer.from(this.ring, m.slot * BATCH, m.used);
        this.push(lend(chunk, () => Atomics.store(this.state, 2 + m.slot, 0)));
      }
    });
    this.worker.on("error", (error) => this.destroy(error));
  }

  override _read(): void {
    Atomics.add(this.state, 0, 1);
    Atomics.notify(this.state, 0);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    Atomics.store(this.state, 1, 1);
    Atomics.notify(this.state, 0);
    // A read blocked on a writer that writes nothing more returns on this byte, and sees stop.
    try {
      const w = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(w, Buffer.alloc(1));
      closeSync(w);
    } catch {
      // the thread has closed its end already
    }
    done(error);
  }
}

/** A line for the writer to read from the FIFO `fifo` (a name in PIPE_DIR) once it is known. */
export interface HandOver {
  fifo: string;
  line: Promise<string>;
}

/** The hand-over a step that `awaits` a line needs; a step that awaits none needs none. */
export function handOverOf(
  step: { name: string; awaits?: string | undefined },
  line: Promise<string> | undefined,
): HandOver | undefined {
  if (step.awaits === undefined) return undefined;
  if (line === undefined)
    throw new TypeError(
      `${step.name}'s program awaits a line on ${step.awaits}, and none is given`,
    );
  if (!/^[a-z][a-z0-9-]*$/.test(step.awaits) || step.awaits === basename(PIPE_FILE))
    throw new TypeError(`bad FIFO name ${step.awaits}`);
  return { fifo: step.awaits, line };
}

/**
 * Writes the hand-over's line into its FIFO, open both ways on `fd` (the writer's reading open
 * then waits for nobody, and the line waits in the FIFO until read), or an empty line if it never
 * comes; closes `fd` once `taken` settled: the writer read the line, or is gone. With this
 * process gone, the FIFO has no writer left, and a writer still waiting reads its end.
 */
function handOver(fd: number, line: Promise<string>, taken: Promise<unknown>): void {
  let closed = false;
  const close = () => {
    closed = true;
    closeSync(fd);
  };
  taken.then(close, close);
  void line
    .then((l) => {
      if (l.includes("\n")) throw new TypeError("a line to hand over holds a newline");
      return l;
    })
    .catch(() => "")
    .then((l) => {
      if (!closed) writeSync(fd, `${l}\n`);
    });
}

/**
 * The FIFO's reading end as a stream, ending once the writer closed it and `write`'s container
 * exited 0, failing otherwise: a dump cut short never passes for a whole one. Stopping the stream
 * (a store gone mid-upload) closes the FIFO, and the writer ends on its broken pipe. Its chunks
 * are lent (lent.ts); `batches` counts how they were read. With `given`, the writer can start
 * before a line it needs is known (see {@link handOver}).
 */
export function readThroughPipe(
  write: PipeWriter,
  given?: HandOver,
): ExecRun & { batches: PipeBatches } {
  const batches: PipeBatches = { fromRing: 0, fresh: 0 };
  // Heard now: it may fail before its FIFO is made, and its failure is the caller's to tell.
  given?.line.catch(() => {});
  const stdout = new PassThrough({ highWaterMark: STDOUT_READ_AHEAD });
  // Whoever reads stdout sees its error; a caller that awaits `done` alone must not crash on it.
  stdout.on("error", () => {});
  const done = (async () => {
    const folder = await mkdtemp(join(tmpdir(), "slipway-pipe-"));
    try {
      const fifo = join(folder, basename(PIPE_FILE));
      const lineFifo = given && join(folder, given.fifo);
      await promisify(execFile)("mkfifo", ["-m", "600", fifo, ...(lineFifo ? [lineFifo] : [])]);
      const lineFd = lineFifo === undefined ? undefined : openSync(lineFifo, constants.O_RDWR);
      let opened = false;
      let releasedByUs = false;
      // Blocks until a writer opens the FIFO: the container, or `release` if it never does.
      const reading = openFd(fifo, constants.O_RDONLY).then((fd) => {
        opened = true;
        return fd;
      });
      const release = async () => {
        for (let i = 0; !opened && i < 200; i++) {
          try {
            closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
            releasedByUs = true;
            return;
          } catch {
            // ENXIO: the reading open has not reached the kernel yet
            await new Promise((r) => setTimeout(r, 25));
          }
        }
      };
      let markEnded: () => void = () => {};
      const ended = new Promise<void>((resolve) => {
        markEnded = resolve;
      });
      const exited = write(folder, ended);
      // Read once the writer opened the dump's FIFO: planPipedDump's shell opens it after the
      // snapshot came.
      if (given && lineFd !== undefined)
        handOver(lineFd, given.line, Promise.race([reading, exited]));
      const writerGone = exited.then(release, release);
      writerGone.then(markEnded);
      const fd = await reading;
      const source = new FifoReader(fd, fifo, batches);
      source.once("end", markEnded);
      source.once("close", markEnded);
      // A reader that stopped before the writer came (another part failed first) stops it now.
      if (stdout.destroyed) source.destroy();
      else stdout.once("close", () => source.destroy());
      source.pipe(stdout, { end: false });
      try {
        await Promise.all([finished(source), exited]);
      } catch (error) {
        // The writer ends on the closed FIFO: `done` settles once it is through, not before.
        source.destroy();
        await exited.catch(() => {});
        throw error;
      }
      await writerGone;
      if (releasedByUs)
        throw new SlipwayError({
          code: "backup.exec",
          message: "the dump's container ended without writing to its pipe",
          hint: "the backup stopped here; check the accessory's logs",
        });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  })();
  done.then(
    () => stdout.end(),
    (error: Error) => stdout.destroy(error),
  );
  return { stdout, done, batches };
}

/**
 * The first stream, or, when it fails before its first byte (no mkfifo in the runner's image, an
 * engine that cannot see this process's files, an image that does not trust its loopback), the
 * second, started only then: the same bytes, the slower way.
 */
export function withFallback(
  first: () => ExecRun,
  second: () => Readable,
  /** Told why, when the second way is taken. */
  onFallback?: (reason: Error) => void,
): Readable {
  let run: ExecRun;
  try {
    run = first();
  } catch (error) {
    onFallback?.(error as Error);
    return second();
  }
  // Started early, it may have failed already: its error was then heard and kept, not emitted.
  if (run.stdout.errored) {
    onFallback?.(run.stdout.errored);
    return second();
  }
  // The first way's stdout reads ahead already (and the second's, execStream's).
  const out = new PassThrough();
  let bytes = 0;
  run.stdout.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  run.stdout.pipe(out);
  run.stdout.once("error", (error) => {
    run.stdout.unpipe(out);
    if (bytes > 0 || out.destroyed) {
      out.destroy(error);
      return;
    }
    onFallback?.(error);
    // Its failure destroys `out` with the error, which is what the reader then sees.
    pipeline(second(), out, () => {});
  });
  // A reader that stopped stops the dump too.
  out.once("close", () => run.stdout.destroy());
  return out;
}
