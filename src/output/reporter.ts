/**
 * What orchestrators use to talk to people. Progress and host output go to stderr so that
 * stdout stays clean for data (--json); everything passes through the redactor.
 */
import { HostLineWriter } from "./host-lines.ts";
import type { Redactor } from "./redact.ts";

export interface Reporter {
  /** A progress line for people. */
  info(message: string): void;
  /** Something worth attention that does not stop the work. */
  warn(message: string): void;
  /** A command about to run on a host; shown only with --verbose. */
  command(host: string, rendered: string): void;
  /** A line writer for a host's streamed output, prefixed with the host name. */
  hostOutput(host: string): HostLineWriter;
  /** Whether --verbose is on. */
  readonly verbose: boolean;
}

export interface ReporterOptions {
  redactor: Redactor;
  verbose?: boolean;
  /** Suppress progress (used with --json); warnings still reach stderr. */
  quiet?: boolean;
  write?: (text: string) => void;
}

/** A reporter writing redacted lines to stderr (or to `write`, for tests). */
export function createReporter(options: ReporterOptions): Reporter {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const verbose = options.verbose ?? false;
  const quiet = options.quiet ?? false;
  const line = (text: string) => write(`${options.redactor.redact(text)}\n`);
  return {
    verbose,
    info: (message) => {
      if (!quiet) line(message);
    },
    warn: (message) => line(`warning: ${message}`),
    command: (host, rendered) => {
      if (verbose) line(`${host} $ ${rendered}`);
    },
    hostOutput: (host) =>
      new HostLineWriter(`${host} | `, options.redactor, (text) => {
        if (!quiet || verbose) write(`${text}\n`);
      }),
  };
}
