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
      if (verbose) line(`${host} $ ${visibleControls(rendered)}`);
    },
    hostOutput: (host) =>
      new HostLineWriter(`${host} | `, options.redactor, (text) => {
        if (!quiet || verbose) write(`${text}\n`);
      }),
  };
}

const ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Shows control characters (and bidirectional overrides) as escapes, so a traced command stays
 * on one line and a value from a config file cannot move the cursor or recolour the terminal.
 */
export function visibleControls(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g,
    (char) => ESCAPES[char] ?? `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}
