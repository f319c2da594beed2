/**
 * Turns chunks of a host's output into whole lines prefixed by the host name.
 * Lines are redacted whole, so a secret split across two chunks is still caught.
 */
import type { Redactor } from "./redact.ts";

export type LineSink = (line: string) => void;

/** Splits streamed chunks into lines, prefixes them with `host | ` and redacts them. */
export class HostLineWriter {
  #buffer = "";
  readonly #decoder = new TextDecoder();

  readonly #prefix: string;
  readonly #redactor: Redactor;
  readonly #sink: LineSink;

  constructor(prefix: string, redactor: Redactor, sink: LineSink) {
    this.#prefix = prefix;
    this.#redactor = redactor;
    this.#sink = sink;
  }

  /** Feeds a chunk; emits every complete line in it. */
  write(chunk: Buffer | string): void {
    this.#buffer +=
      typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    let newline = this.#buffer.indexOf("\n");
    while (newline !== -1) {
      this.#emit(this.#buffer.slice(0, newline).replace(/\r$/, ""));
      this.#buffer = this.#buffer.slice(newline + 1);
      newline = this.#buffer.indexOf("\n");
    }
  }

  /** Emits whatever is left (a last line without a newline). */
  flush(): void {
    this.#buffer += this.#decoder.decode();
    if (this.#buffer !== "") this.#emit(this.#buffer);
    this.#buffer = "";
  }

  #emit(line: string): void {
    this.#sink(`${this.#prefix}${this.#redactor.redact(line)}`);
  }
}

/** Pads host names to one width so prefixed output lines up. */
export function hostPrefixes(hosts: readonly string[]): Map<string, string> {
  const width = Math.max(0, ...hosts.map((h) => h.length));
  return new Map(hosts.map((h) => [h, `${h.padEnd(width)} | `]));
}
