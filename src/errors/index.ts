/**
 * The small typed error set every module throws. The CLI prints `message` and `hint`
 * (never a stack trace unless --verbose) and exits with `exitCode`.
 */

/** Documented exit codes: the README lists the same table. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  healthCheckFailed: 3,
  locked: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorDetails {
  /** Stable machine-readable code, e.g. "config.invalid", "ssh.timeout". */
  code: string;
  message: string;
  /** What the user can do about it. */
  hint?: string | undefined;
  exitCode?: ExitCode | undefined;
  cause?: unknown;
}

/** Base class: carries a code, a message, a hint and the exit code it maps to. */
export class SlipwayError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(details: ErrorDetails) {
    super(details.message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code;
    this.hint = details.hint;
    this.exitCode = details.exitCode ?? ExitCode.failure;
  }
}

/** The user must act: bad input, missing file, unreachable host. Always has a hint. */
export class UserError extends SlipwayError {
  constructor(details: ErrorDetails & { hint: string }) {
    super(details);
  }
}

/** A command on a host failed. Carries where, what, and the tail of its output. */
export class ExternalError extends SlipwayError {
  readonly host: string;
  readonly command: string;
  readonly status: number | null;
  readonly stderr: string;

  constructor(
    details: ErrorDetails & {
      host: string;
      command: string;
      status: number | null;
      stderr: string;
    },
  ) {
    super(details);
    this.host = details.host;
    this.command = details.command;
    this.status = details.status;
    this.stderr = details.stderr;
  }
}

/** Something Slipway got wrong. Asks for a report. */
export class BugError extends SlipwayError {
  constructor(message: string, cause?: unknown) {
    super({
      code: "bug",
      message,
      hint: "This is a bug in Slipway. Please report it with the output of --verbose.",
      cause,
    });
  }
}

/** One problem found in a configuration file, with its exact place. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted key path, e.g. "servers.web.hosts[0]". */
  path: string;
  message: string;
  hint: string;
}

/** Every problem in a configuration, reported at once. Exit code 2. */
export class ConfigError extends SlipwayError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const first = issues[0];
    super({
      code: "config.invalid",
      message:
        issues.length === 1 && first
          ? `${first.file}:${first.line}:${first.column}: ${first.path ? `${first.path}: ` : ""}${first.message}`
          : `${issues.length} problems in the configuration`,
      hint: first?.hint,
      exitCode: ExitCode.usage,
    });
    this.issues = issues;
  }
}

/** Another deploy holds the lock. Exit code 4. */
export class LockedError extends SlipwayError {
  constructor(message: string, hint: string) {
    super({ code: "lock.held", message, hint, exitCode: ExitCode.locked });
  }
}

/** A new release failed its health gate; it was removed and the old one keeps serving. Exit 3. */
export class HealthCheckError extends SlipwayError {
  constructor(message: string, hint: string) {
    super({ code: "health.failed", message, hint, exitCode: ExitCode.healthCheckFailed });
  }
}

/** Formats a config issue the way compilers do: file:line:col: path: message. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  const path = issue.path ? `${issue.path}: ` : "";
  const hint = issue.hint ? `\n  hint: ${issue.hint}` : "";
  return `${where}: ${path}${issue.message}${hint}`;
}
