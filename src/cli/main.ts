#!/usr/bin/env node
/**
 * The `slipway` entry point. It does as little as possible before knowing what was asked:
 * `--version` answers without loading anything else, and each command loads its own modules.
 */
import { readVersion } from "./version.ts";

const args = process.argv.slice(2);
if (args[0] === "--version" || args[0] === "-V") {
  process.stdout.write(`${readVersion()}\n`);
} else {
  const { runCli } = await import("./program.ts");
  process.exitCode = await runCli(args);
}
