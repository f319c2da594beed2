/**
 * Steps are what planners return and orchestrators apply: data, not actions. A plan can be
 * printed (--dry-run), asserted on in tests, and applied to any transport.
 */
import type { Command } from "../transport/index.ts";

/** Run a command on the host. */
export interface RunStep {
  kind: "run";
  /** What the step does, for people ("start the proxy"). */
  title: string;
  command: Command;
  /** Data for stdin: how secrets reach a command (never in argv). */
  stdin?: string;
  timeoutMs?: number;
  /** A non-zero exit is expected and not a failure (e.g. removing what may not exist). */
  allowFailure?: boolean;
  /** Only checks something (e.g. `nginx -t`): never reported as a change. */
  readOnly?: boolean;
}

/** Write a file on the host atomically, with its mode set before any content is written. */
export interface UploadStep {
  kind: "upload";
  title: string;
  path: string;
  content: string;
  mode: number;
  owner?: string;
}

/**
 * Make something true unless it already is: `unless` is run first, and exit code 0 means the
 * state is already there, so `then` is skipped and the step reports "unchanged".
 */
export interface EnsureStep {
  kind: "ensure";
  title: string;
  unless: Command;
  then: Step[];
}

export type Step = RunStep | UploadStep | EnsureStep;

/** Shorthand for a run step. */
export function run(title: string, command: Command, extra: Partial<RunStep> = {}): RunStep {
  return { kind: "run", title, command, ...extra };
}

/** Shorthand for an upload step. */
export function upload(
  title: string,
  path: string,
  content: string,
  mode: number,
  owner?: string,
): UploadStep {
  return owner === undefined
    ? { kind: "upload", title, path, content, mode }
    : { kind: "upload", title, path, content, mode, owner };
}

/** Shorthand for an ensure step. */
export function ensure(title: string, unless: Command, then: Step[]): EnsureStep {
  return { kind: "ensure", title, unless, then };
}
