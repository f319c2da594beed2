/**
 * Ships an image from this machine to a host without a registry: `<engine> save` here, streamed
 * over the transport into `docker load` there. No temporary file on either side; the stream
 * moves as fast as the host reads it (backpressure all the way to the local save).
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { createGzip } from "node:zlib";
import {
  dockerImageInspect,
  dockerLoad,
  dockerRemoveImage,
  dockerTag,
  type ImageInfo,
  parseImageInspect,
  parseLoadOutput,
} from "../engine/index.ts";
import { ExternalError } from "../errors/index.ts";
import {
  type Argv,
  type RunResult,
  renderCommand,
  runLocal,
  type Transport,
} from "../transport/index.ts";
import { type LocalEngine, localImageInspectArgv, saveArgv } from "./engine.ts";

/** Progress of a ship, for people: what is happening, bytes sent so far, time taken. */
export type ShipProgress =
  | { phase: "present"; imageId: string }
  | { phase: "streaming"; bytes: number; rawBytes: number; elapsedMs: number }
  | { phase: "shipped"; imageId: string; bytes: number; rawBytes: number; elapsedMs: number };

/** Options of {@link shipImage}. */
export interface ShipOptions {
  engine: LocalEngine;
  /** Reference of the image on this machine, and the name it gets on the host. */
  image: string;
  remote: Transport;
  onProgress?: (progress: ShipProgress) => void;
  /**
   * Gzip the archive on the way (level 1; `docker load` unpacks it). Default true: layers are
   * stored uncompressed and shrink to about 45%, and gzip -1 (~50 MB/s) outruns most upload
   * links. Over loopback or a fast LAN, false is quicker.
   */
  compress?: boolean;
  /** Give up after this long (default 30 minutes). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const CHECK_TIMEOUT_MS = 60_000;
const PROGRESS_EVERY_MS = 500;
const STDERR_TAIL_LINES = 20;
const SETTLE_GRACE_MS = 2_000;

function tail(text: string): string {
  return text.trimEnd().split("\n").slice(-STDERR_TAIL_LINES).join("\n");
}

/**
 * The same image when the IDs match. Docker's containerd image store names images by manifest
 * digest rather than config digest, so IDs can differ for the very same image: then the
 * uncompressed layer digests, which every engine computes alike, decide.
 */
export function sameImage(a: ImageInfo, b: ImageInfo): boolean {
  if (a.id === b.id) return true;
  return a.layers.length > 0 && a.layers.join() === b.layers.join();
}

/** The image `image` in this machine's engine; an ExternalError saying so when it is missing. */
export async function inspectLocal(engine: LocalEngine, image: string): Promise<ImageInfo> {
  const argv = localImageInspectArgv(engine, image);
  const result = await runLocal(argv, { timeoutMs: CHECK_TIMEOUT_MS });
  const info = result.code === 0 ? parseImageInspect(result.stdout.toString("utf8"))[0] : undefined;
  if (info === undefined) {
    throw new ExternalError({
      code: "ship.local-image-missing",
      message: `image ${image} is not in the local ${engine} image store: ${tail(result.stderr)}`,
      hint: `Build it first: the image must exist in ${engine}'s image store under this name.`,
      host: "local",
      command: renderCommand(argv),
      status: result.code,
      stderr: result.stderr,
    });
  }
  return info;
}

/** The image `image` on the host, or undefined when its Docker does not have it. */
export async function inspectRemote(
  remote: Transport,
  image: string,
): Promise<ImageInfo | undefined> {
  const argv = dockerImageInspect(image);
  const result = await remote.run(argv, { check: false, timeoutMs: CHECK_TIMEOUT_MS });
  if (result.code === 0) return parseImageInspect(result.stdout)[0];
  if (/No such image|image not known/i.test(result.stderr)) return undefined;
  throw remoteError(remote, argv, result, "docker on the host does not work");
}

function remoteError(remote: Transport, argv: Argv, result: RunResult, what: string) {
  return new ExternalError({
    code: "ship.remote-failed",
    message: `${what} (remote side, ${remote.host}): ${renderCommand(argv)} exited with ${result.code}${result.stderr.trim() ? `\n${tail(result.stderr)}` : ""}`,
    hint: "Check that Docker runs on the host (slipway server setup installs it) and that its disk is not full.",
    host: remote.host,
    command: renderCommand(argv),
    status: result.code,
    stderr: result.stderr,
  });
}

/** Counts the bytes passing through. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

interface LocalSave {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Resolves when the process ended: its code (127 when it could not start) and stderr. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startSave(argv: Argv): LocalSave {
  const [program, ...args] = argv as [string, ...string[]];
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      child.on("error", (error) => {
        stderr += `${error.message}\n`;
        resolve({ code: 127, signal: null, stderr });
      });
      child.on("close", (code, signal) => resolve({ code, signal, stderr }));
    },
  );
  return { child, done };
}

/**
 * Makes `image` present on the host behind `remote`. "present" when the host's Docker already
 * has it (same image ID or layers), and nothing moves; otherwise the local save is streamed into
 * the host's `docker load` ("shipped"), then the image is named `image` there (a Podman archive
 * calls "hello:1" "localhost/hello:1") and checked to be the same as here. An ExternalError says
 * which side failed: the local save, or the host's load.
 */
export async function shipImage(options: ShipOptions): Promise<"present" | "shipped"> {
  const { engine, image, remote, onProgress } = options;
  const local = await inspectLocal(engine, image);
  const before = await inspectRemote(remote, image);
  if (before !== undefined && sameImage(local, before)) {
    onProgress?.({ phase: "present", imageId: before.id });
    return "present";
  }

  const started = Date.now();
  let rawBytes = 0;
  let bytes = 0;
  let lastReport = 0;
  const report = () => {
    const now = Date.now();
    if (now - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = now;
    onProgress?.({ phase: "streaming", bytes, rawBytes, elapsedMs: now - started });
  };

  const save = saveArgv(engine, image);
  const load = dockerLoad();
  const { child, done: saved } = startSave(save);
  // save stdout -> count -> gzip? -> count -> the host's docker load: pipe() keeps backpressure,
  // so a slow link slows the local save down instead of filling memory.
  const raw = child.stdout.pipe(counter((n) => (rawBytes += n)));
  const onWire = counter((n) => {
    bytes += n;
    report();
  });
  const compressed =
    (options.compress ?? true) ? raw.pipe(createGzip({ level: 1, chunkSize: 64 * 1024 })) : raw;
  const wire = compressed.pipe(onWire);
  // However the save ends (even when it never started), the host's load sees the end of its
  // input: a save that died mid-way leaves a truncated archive, which the load refuses, and the
  // local exit code then tells which side was at fault.
  void saved.then(() => {
    if (!raw.writableEnded) raw.end();
  });

  let loaded: RunResult;
  try {
    loaded = await remote.run(load, {
      stdin: wire,
      check: false,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  } catch (error) {
    child.kill("SIGKILL");
    await settle(child, saved);
    throw error;
  }
  // The load ended: if the save still runs, nobody reads its output any more. Whether the host
  // got a whole image is then for the load's exit code and the check below to say.
  const stopped = child.exitCode === null && child.signalCode === null;
  if (stopped) child.kill("SIGTERM");
  const saveResult = await settle(child, saved);
  const elapsedMs = Date.now() - started;

  if (!stopped && saveResult.code !== 0) {
    throw new ExternalError({
      code: "ship.local-failed",
      message: `could not save ${image} on this machine (local side): ${renderCommand(save)} exited with ${saveResult.code ?? saveResult.signal}${saveResult.stderr.trim() ? `\n${tail(saveResult.stderr)}` : ""}`,
      hint: `Check that ${engine} works here and that the image exists: ${engine} image ls.`,
      host: "local",
      command: renderCommand(save),
      status: saveResult.code,
      stderr: saveResult.stderr,
    });
  }
  if (loaded.code !== 0) throw remoteError(remote, load, loaded, `could not load ${image}`);

  await nameOnHost(remote, image, local, parseLoadOutput(loaded.stdout).refs);
  onProgress?.({ phase: "shipped", imageId: local.id, bytes, rawBytes, elapsedMs });
  return "shipped";
}

/**
 * Waits for the save to end. Once it was stopped, a process it left behind may still hold its
 * output open; after a grace period that output is closed on our side, which ends the wait.
 */
async function settle(child: LocalSave["child"], saved: LocalSave["done"]) {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SETTLE_GRACE_MS);
  });
  const first = await Promise.race([saved, grace]);
  clearTimeout(timer);
  if (first !== undefined) return first;
  child.stdout.destroy();
  child.stderr.destroy();
  return saved;
}

/**
 * After a load: tags the image as `image` when the archive named it otherwise, drops the other
 * names the load added (so removing `image` later frees the space), and checks the result.
 */
async function nameOnHost(
  remote: Transport,
  image: string,
  local: ImageInfo,
  loadedRefs: string[],
): Promise<void> {
  let after = await inspectRemote(remote, image);
  if (after === undefined || !sameImage(local, after)) {
    const source = loadedRefs[0] ?? local.id;
    const tag = dockerTag(source, image);
    const tagged = await remote.run(tag, { check: false, timeoutMs: CHECK_TIMEOUT_MS });
    if (tagged.code !== 0) throw remoteError(remote, tag, tagged, `could not name ${image}`);
    after = await inspectRemote(remote, image);
    for (const other of loadedRefs.filter((ref) => ref !== image)) {
      // Only a name goes: the image keeps `image`.
      await remote.run(dockerRemoveImage(other), { check: false, timeoutMs: CHECK_TIMEOUT_MS });
    }
  }
  if (after === undefined || !sameImage(local, after)) {
    throw new ExternalError({
      code: "ship.verify-failed",
      message: `after loading, ${image} on ${remote.host} is not the image built here (local ${local.id}, host ${after?.id ?? "missing"})`,
      hint: "Run the deploy again; if it persists, remove the image on the host (docker image rm) and retry.",
      host: remote.host,
      command: renderCommand(dockerImageInspect(image)),
      status: null,
      stderr: "",
    });
  }
}
