/**
 * Commands are data: an argv array, or argv arrays joined by shell operators.
 * `renderCommand` is the ONE place where a command becomes a shell string; every value is
 * quoted there, so nothing from a config file or a user is ever interpreted by a shell.
 */

/** One program and its arguments, exactly as the program will receive them. */
export type Argv = readonly string[];

/** Argv arrays joined by a shell operator, e.g. `docker save x | zstd`. */
export interface Compound {
  readonly op: "|" | "&&" | "||" | ";";
  readonly parts: readonly Command[];
}

export type Command = Argv | Compound;

/** `a | b | c`: pipefail semantics are up to the caller (wrap in `sh -o pipefail -c` via `shell`). */
export function pipe(...parts: Command[]): Compound {
  return { op: "|", parts };
}

/** `a && b`: stop at the first failure. */
export function chain(...parts: Command[]): Compound {
  return { op: "&&", parts };
}

/** `a || b`: run b only when a fails. */
export function either(...parts: Command[]): Compound {
  return { op: "||", parts };
}

/** True when the command is a single argv (no shell needed to run it locally). */
export function isArgv(command: Command): command is Argv {
  return Array.isArray(command);
}

// Characters that never need quoting in a POSIX shell word. Keeping such words bare makes
// --verbose output readable (`docker ps` instead of `'docker' 'ps'`).
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one word for a POSIX shell (sh, dash, bash, zsh): single quotes, `'` as `'\''`. */
export function quoteWord(word: string): string {
  if (word.includes("\0")) {
    // A NUL cannot travel in argv at all; refusing is better than silently truncating.
    throw new TypeError("an argument contains a NUL byte, which no program can receive");
  }
  if (word !== "" && SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Renders a command as one shell string in which every argument is quoted. */
export function renderCommand(command: Command): string {
  if (isArgv(command)) {
    if (command.length === 0) throw new TypeError("cannot run an empty command");
    return command.map(quoteWord).join(" ");
  }
  if (command.parts.length === 0) throw new TypeError(`empty "${command.op}" command`);
  return command.parts
    .map((part) => (isArgv(part) ? renderCommand(part) : `( ${renderCommand(part)} )`))
    .join(` ${command.op} `);
}
