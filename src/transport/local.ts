/**
 * Runs commands on this machine. A plain argv is spawned directly (no shell at all); only a
 * compound command (a pipe, `&&`) goes through `sh -c` with its rendered, quoted form.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { BaseTransport, type SpawnIo, type SpawnResult } from "./base.ts";
import { type Command, isArgv, renderCommand } from "./command.ts";
import type { TransportEvents } from "./types.ts";

export interface LocalOptions {
  /** Name shown in output; default "local". */
  name?: string;
  events?: TransportEvents;
}

/** A transport for this machine (`sudo -n` when not running as root). */
export class LocalTransport extends BaseTransport {
  constructor(options: LocalOptions = {}) {
    super(options.name ?? "local", {
      sudo: process.getuid?.() !== 0,
      events: options.events,
    });
  }

  protected spawn(command: Command, io: SpawnIo): Promise<SpawnResult> {
    const argv = isArgv(command) ? command : ["sh", "-c", renderCommand(command)];
    const [program, ...args] = argv;
    if (program === undefined) throw new TypeError("cannot run an empty command");
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, {
        // On a terminal: this process's own, so the program sees a real one (no pty needed).
        stdio: io.terminal ? "inherit" : [io.stdin ? "pipe" : "ignore", "pipe", "pipe"],
        signal: io.signal,
        killSignal: "SIGKILL",
      });
      child.stdout?.on("data", io.onStdout);
      child.stderr?.on("data", io.onStderr);
      if (io.stdin && child.stdin && !io.terminal) {
        // A command that exits without reading all its input is not an error of ours.
        child.stdin.on("error", () => {});
        io.stdin.pipe(child.stdin);
      }
      child.on("error", (error: NodeJS.ErrnoException) => {
        if (error.name === "AbortError") return; // reported as a timeout by the caller
        if (error.code === "ENOENT") {
          io.onStderr(Buffer.from(`${program}: command not found\n`));
          resolve({ code: 127 }); // what a shell reports for "command not found"
          return;
        }
        reject(error);
      });
      child.on("close", (code, signal) => {
        resolve({ code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0) });
      });
    });
  }

  async close(): Promise<void> {}
}
