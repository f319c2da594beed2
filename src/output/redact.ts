/**
 * Replaces every known secret value in text before it is shown or logged.
 * Secrets are registered once (when the config is loaded, when one is generated) and the
 * redactor is shared by every output path: host output, error messages, --verbose, --json.
 */

export const REDACTED = "[redacted]";

// Very short values ("1", "yes") would shred ordinary output and are not secrets worth the
// name; config validation warns about them instead.
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Registers secret values; each line of a multi-line secret is also registered. */
  add(...values: string[]): void {
    for (const value of values) {
      for (const piece of [value, ...value.split(/\r?\n/)]) {
        const trimmed = piece.trim();
        if (trimmed.length >= MIN_SECRET_LENGTH) this.#values.add(trimmed);
      }
    }
    this.#pattern = undefined;
  }

  /** Number of registered values (for tests and diagnostics; never the values). */
  get size(): number {
    return this.#values.size;
  }

  /** Returns text with every registered value replaced by [redacted]. */
  redact(text: string): string {
    if (this.#values.size === 0 || text === "") return text;
    this.#pattern ??= this.#compile();
    return text.replace(this.#pattern, REDACTED);
  }

  #compile(): RegExp {
    // Longest first, so a secret that contains another is replaced whole.
    const sorted = [...this.#values].sort((a, b) => b.length - a.length);
    return new RegExp(sorted.map(escapeRegExp).join("|"), "g");
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The process-wide redactor used by all output. */
export const redactor = new Redactor();
