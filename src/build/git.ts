/**
 * The version of a build, read from the app's git repository: the commit, and when the work tree
 * has uncommitted changes, a digest of them, so that the same dirty state always gets the same
 * tag and a different one never reuses it.
 */
import { createHash } from "node:crypto";
import { lstat, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { ExternalError, UserError } from "../errors/index.ts";
import { type LocalResult, runLocal } from "../transport/index.ts";

const SHA_LENGTH = 12;
const DIRTY_DIGEST_LENGTH = 6;
const HINT =
  "Slipway tags each release with the git commit: commit your work, or pass --version NAME.";

// Settings that would change what `git diff` prints for the same changes are pinned, so the
// digest depends on the work tree only, not on whoever's git config.
const GIT_CONFIG = [
  "-c",
  "core.quotePath=true",
  "-c",
  "diff.noprefix=false",
  "-c",
  "diff.mnemonicPrefix=false",
  "-c",
  "diff.relative=false",
];

async function git(dir: string, args: readonly string[]): Promise<LocalResult> {
  const result = await runLocal(["git", ...GIT_CONFIG, "-C", dir, ...args], {
    // No index lock taken by `git status` (another git may be running); messages in English.
    env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" },
    timeoutMs: 60_000,
  });
  if (result.code === 127) {
    throw new UserError({
      code: "build.git-missing",
      message: "git is not installed on this machine",
      hint: `Install git. ${HINT}`,
    });
  }
  return result;
}

async function gitOk(dir: string, args: readonly string[]): Promise<Buffer> {
  const result = await git(dir, args);
  if (result.code !== 0) {
    const command = `git -C ${dir} ${args.join(" ")}`;
    throw new ExternalError({
      code: "build.git-failed",
      message: `${command} failed with exit code ${result.code}: ${result.stderr.trim()}`,
      hint: HINT,
      host: "local",
      command,
      status: result.code,
      stderr: result.stderr,
    });
  }
  return result.stdout;
}

/** Hashes each untracked file (path, kind, content) in path order. */
async function hashUntracked(root: string, paths: string[], hash: ReturnType<typeof createHash>) {
  for (const path of [...paths].sort()) {
    const full = join(root, path);
    const stat = await lstat(full).catch(() => undefined);
    hash.update(`untracked\0${path}\0`);
    if (stat === undefined) {
      hash.update("gone\0");
    } else if (stat.isSymbolicLink()) {
      hash.update(`symlink\0${await readlink(full)}\0`);
    } else {
      const content = await readFile(full);
      const mode = stat.mode & 0o111 ? "755" : "644";
      hash.update(`file\0${mode}\0${content.length}\0`);
      hash.update(content);
    }
  }
}

/**
 * The version tag of the app in `dir`: the first 12 hex digits of HEAD, and when tracked files
 * changed or untracked (not ignored) files exist, `<sha12>-dirty-<6 hex>` from a digest of
 * `git diff HEAD` and of the untracked files. UserError outside a repository or before the
 * first commit.
 */
export async function readGitVersion(dir: string): Promise<string> {
  const inside = await git(dir, ["rev-parse", "--is-inside-work-tree"]);
  if (inside.code !== 0 || inside.stdout.toString().trim() !== "true") {
    throw new UserError({
      code: "build.not-git",
      message: `${dir} is not inside a git work tree${inside.stderr ? `: ${inside.stderr.trim()}` : ""}`,
      hint: `Run \`git init\` and commit the app, or pass --version NAME. ${HINT}`,
    });
  }
  const head = await git(dir, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
  if (head.code !== 0) {
    throw new UserError({
      code: "build.no-commit",
      message: `the git repository of ${dir} has no commit yet`,
      hint: HINT,
    });
  }
  const sha = head.stdout.toString().trim().slice(0, SHA_LENGTH);
  const root = (await gitOk(dir, ["rev-parse", "--show-toplevel"])).toString().trim();

  const status = await gitOk(root, ["status", "--porcelain=v1", "-z", "--untracked-files=all"]);
  if (status.length === 0) return sha;

  const hash = createHash("sha256");
  // Staged and unstaged changes alike: what the work tree holds, compared with the commit.
  hash.update(
    await gitOk(root, [
      "diff",
      "HEAD",
      "--binary",
      "--full-index",
      "--no-color",
      "--no-ext-diff",
      "--no-textconv",
      "--no-renames",
      "--src-prefix=a/",
      "--dst-prefix=b/",
    ]),
  );
  const untracked = (await gitOk(root, ["ls-files", "--others", "--exclude-standard", "-z"]))
    .toString("utf8")
    .split("\0")
    .filter((p) => p !== "");
  await hashUntracked(root, untracked, hash);
  return `${sha}-dirty-${hash.digest("hex").slice(0, DIRTY_DIGEST_LENGTH)}`;
}
