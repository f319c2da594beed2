/** Docker's `--env-file` format: one NAME=value per line, taken literally (no quoting). */
import { UserError } from "../errors/index.ts";

/** Renders variables as an env file; a value with a line break is refused (the format cannot hold it). */
export function formatEnvFile(entries: Iterable<readonly [string, string]>): string {
  const lines: string[] = [];
  for (const [name, value] of entries) {
    if (/[\r\n\0]/.test(value)) {
      throw new UserError({
        code: "env.multiline",
        message: `${name} has a line break, which a container env file cannot hold`,
        hint: `store it base64-encoded (for example ${name}_B64) and decode it in the app`,
      });
    }
    lines.push(`${name}=${value}\n`);
  }
  return lines.join("");
}
