/** Reading the files the configuration is made of. */
import { readFile } from "node:fs/promises";
import { ExitCode, UserError } from "../errors/index.ts";

/** The file's text, or undefined when it does not exist; any other failure is the user's to fix. */
export async function readTextIfExists(
  absolute: string,
  display: string,
): Promise<string | undefined> {
  try {
    return await readFile(absolute, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new UserError({
      code: "config.unreadable",
      exitCode: ExitCode.usage,
      message: `cannot read ${display}: ${code ?? (error as Error).message}`,
      hint: "check that it is a readable file (permissions, not a directory)",
      cause: error,
    });
  }
}
