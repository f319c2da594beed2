/** A real shell running an argv with only some system tools and stand-in commands on its PATH. */
import { spawnSync } from "node:child_process";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

/**
 * Runs argv in `bin` (made here) whose PATH holds only `tools` (paths of real programs) and
 * `programs` (name to shell script) as stand-ins.
 */
export async function runWithStandIns(
  bin: string,
  argv: readonly string[],
  tools: readonly string[],
  programs: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  await mkdir(bin);
  for (const tool of tools) await symlink(tool, join(bin, basename(tool)));
  for (const [program, script] of Object.entries(programs)) {
    await writeFile(join(bin, program), `#!/bin/sh\n${script}\n`);
    await chmod(join(bin, program), 0o755);
  }
  const [program, ...args] = argv as [string, ...string[]];
  const result = spawnSync(program, args, { env: { PATH: bin }, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
