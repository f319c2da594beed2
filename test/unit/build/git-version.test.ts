/** readGitVersion on real git repositories made in temporary folders. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readGitVersion } from "../../../src/build/index.ts";
import { UserError } from "../../../src/errors/index.ts";

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
};

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { env: GIT_ENV, encoding: "utf8" }).trim();
}

describe("readGitVersion", () => {
  let root = "";
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "slipway-git-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A repository with one commit of server.mjs and .gitignore. */
  async function repo(): Promise<{ dir: string; sha: string }> {
    const dir = join(root, `repo-${++n}`);
    await mkdir(dir);
    git(dir, "init", "--quiet", "--initial-branch=main");
    await writeFile(join(dir, "server.mjs"), "console.log('v1');\n");
    await writeFile(join(dir, ".gitignore"), "node_modules/\n*.log\n");
    git(dir, "add", ".");
    git(dir, "commit", "--quiet", "-m", "first");
    return { dir, sha: git(dir, "rev-parse", "HEAD") };
  }

  it("a clean work tree: the first 12 hex digits of HEAD", async () => {
    const { dir, sha } = await repo();
    const version = await readGitVersion(dir);
    assert.match(version, /^[0-9a-f]{12}$/);
    assert.equal(version, sha.slice(0, 12));
  });

  it("uncommitted changes: <sha12>-dirty-<6 hex>, the same for the same changes, staged or not", async () => {
    const { dir, sha } = await repo();
    await writeFile(join(dir, "server.mjs"), "console.log('v2');\n");
    const dirty = await readGitVersion(dir);
    assert.match(dirty, new RegExp(`^${sha.slice(0, 12)}-dirty-[0-9a-f]{6}$`));
    assert.equal(await readGitVersion(dir), dirty, "the same dirty state twice gives the same tag");
    git(dir, "add", "server.mjs");
    assert.equal(await readGitVersion(dir), dirty, "staging does not change what is built");

    await writeFile(join(dir, "server.mjs"), "console.log('v3');\n");
    const other = await readGitVersion(dir);
    assert.notEqual(other, dirty, "other changes give another tag");

    await writeFile(join(dir, "server.mjs"), "console.log('v2');\n");
    assert.equal(await readGitVersion(dir), dirty, "back to the first change, back to its tag");
    await writeFile(join(dir, "server.mjs"), "console.log('v1');\n");
    git(dir, "reset", "--quiet");
    assert.equal(await readGitVersion(dir), sha.slice(0, 12), "undone: clean again");
  });

  it("a deleted tracked file makes the tree dirty", async () => {
    const { dir, sha } = await repo();
    await unlink(join(dir, "server.mjs"));
    assert.match(await readGitVersion(dir), new RegExp(`^${sha.slice(0, 12)}-dirty-`));
  });

  it("untracked files count, by content; ignored files do not", async () => {
    const { dir, sha } = await repo();
    await writeFile(join(dir, "debug.log"), "ignored\n");
    await mkdir(join(dir, "node_modules"));
    await writeFile(join(dir, "node_modules", "x.js"), "ignored\n");
    assert.equal(await readGitVersion(dir), sha.slice(0, 12), "ignored files leave it clean");

    await mkdir(join(dir, "lib"));
    await writeFile(join(dir, "lib", "new.mjs"), "export const a = 1;\n");
    const withNew = await readGitVersion(dir);
    assert.match(withNew, new RegExp(`^${sha.slice(0, 12)}-dirty-[0-9a-f]{6}$`));
    assert.equal(await readGitVersion(dir), withNew);

    await writeFile(join(dir, "lib", "new.mjs"), "export const a = 2;\n");
    assert.notEqual(await readGitVersion(dir), withNew, "an untracked file's content counts");
  });

  it("works from a folder inside the repository (an app in a monorepo)", async () => {
    const { dir, sha } = await repo();
    await mkdir(join(dir, "apps", "web"), { recursive: true });
    assert.equal(await readGitVersion(join(dir, "apps", "web")), sha.slice(0, 12));
  });

  it("outside git: a UserError that says to commit or pass --version", async () => {
    const dir = join(root, "not-a-repo");
    await mkdir(dir);
    // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temp folder.
    const saved = process.env.GIT_CEILING_DIRECTORIES;
    process.env.GIT_CEILING_DIRECTORIES = root;
    try {
      await assert.rejects(readGitVersion(dir), (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.equal(error.code, "build.not-git");
        assert.match(error.message, /not inside a git work tree/);
        assert.match(error.hint ?? "", /commit/);
        assert.match(error.hint ?? "", /--version/);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
      else process.env.GIT_CEILING_DIRECTORIES = saved;
    }
  });

  it("a repository without a commit: a UserError", async () => {
    const dir = join(root, "empty-repo");
    await mkdir(dir);
    git(dir, "init", "--quiet");
    await assert.rejects(readGitVersion(dir), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, "build.no-commit");
      assert.match(error.hint ?? "", /--version/);
      return true;
    });
  });
});
