/** Warns when a secrets file could be committed: it exists but git does not ignore it. */
import { execFile } from "node:child_process";
import { dirname } from "node:path";

/** Warnings for the given existing files that `git check-ignore` says are not ignored. */
export async function unignoredFileWarnings(
  files: readonly { absolute: string; display: string }[],
): Promise<string[]> {
  const warnings: string[] = [];
  for (const file of files) {
    if ((await checkIgnore(file.absolute)) === "not-ignored") {
      warnings.push(
        `${file.display} is not ignored by git: add ".slipway/secrets*" to .gitignore so secrets are never committed`,
      );
    }
  }
  return warnings;
}

// Outside a repository, or without git, there is nothing to warn about.
function checkIgnore(path: string): Promise<"ignored" | "not-ignored" | "unknown"> {
  return new Promise((resolve) => {
    execFile("git", ["check-ignore", "-q", "--", path], { cwd: dirname(path) }, (error) => {
      if (!error) resolve("ignored");
      else if (error.code === 1) resolve("not-ignored");
      else resolve("unknown");
    });
  });
}
