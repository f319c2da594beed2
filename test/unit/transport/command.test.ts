import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { HOSTILE_VALUES } from "../../../src/doctor/hostile-values.ts";
import { chain, pipe, quoteWord, renderCommand } from "../../../src/transport/index.ts";

/** Runs a rendered command in a real POSIX shell and returns the argv printf received. */
function argvSeenByShell(shell: string, values: readonly string[]): string[] {
  const script = renderCommand(["printf", "%s\\0", ...values]);
  const out = execFileSync(shell, ["-c", script]);
  return out.toString("utf8").split("\0").slice(0, -1);
}

describe("renderCommand", () => {
  it("leaves safe words bare and quotes the rest", () => {
    assert.equal(
      renderCommand(["docker", "run", "--name", "app-web-1", "--env-file", "/var/lib/x y"]),
      "docker run --name app-web-1 --env-file '/var/lib/x y'",
    );
  });

  it("quotes single quotes the POSIX way", () => {
    assert.equal(quoteWord("it's"), `'it'\\''s'`);
    assert.equal(quoteWord(""), "''");
  });

  it("joins pipes and chains, grouping nested compounds", () => {
    assert.equal(
      renderCommand(chain(["mkdir", "-p", "/a b"], pipe(["echo", "x;y"], ["cat"]))),
      "mkdir -p '/a b' && ( echo 'x;y' | cat )",
    );
  });

  it("refuses NUL bytes and empty commands", () => {
    assert.throws(() => quoteWord("a\0b"), /NUL byte/);
    assert.throws(() => renderCommand([]), /empty command/);
  });

  for (const shell of ["sh", "bash", "dash"]) {
    it(`passes every hostile value through ${shell} unchanged`, (t) => {
      if (!existsSync(`/bin/${shell}`)) {
        t.skip(`/bin/${shell} is not installed`);
        return;
      }
      assert.deepEqual(argvSeenByShell(shell, HOSTILE_VALUES), [...HOSTILE_VALUES]);
      assert.equal(existsSync("/tmp/slipway-pwned"), false, "a hostile value was executed");
    });
  }

  it("keeps hostile values intact through two shells (sudo sh -c inside ssh)", () => {
    const inner = renderCommand(["printf", "%s\\0", ...HOSTILE_VALUES]);
    const outer = renderCommand(["sh", "-c", inner]);
    const out = execFileSync("sh", ["-c", outer]).toString("utf8").split("\0").slice(0, -1);
    assert.deepEqual(out, [...HOSTILE_VALUES]);
  });
});
