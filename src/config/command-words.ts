/** Splits a command written as one string into argv, as a shell would, without running one. */
import { parse } from "shell-quote";

/**
 * The words of a command string, honouring quotes and backslashes; or, when the string needs a
 * shell (operators, globs, substitutions, comments), a sentence saying why it is refused.
 */
export function splitCommand(text: string): string[] | string {
  if (/[$`]/.test(text.replace(/'[^']*'/g, ""))) {
    return "uses $ or a backtick, which only a shell would expand";
  }
  const words: string[] = [];
  for (const token of parse(text)) {
    if (typeof token === "string") {
      words.push(token);
      continue;
    }
    if ("op" in token && token.op === "glob") {
      return `has a wildcard (${token.pattern}), which only a shell would expand`;
    }
    if ("comment" in token) return "has a comment (#), which only a shell would drop";
    return `has the shell operator ${JSON.stringify((token as { op: string }).op)}`;
  }
  if (words.length === 0) return "is empty";
  return words;
}
