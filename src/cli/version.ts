import { readFileSync } from "node:fs";

/** Slipway's version, from package.json (src/cli and dist/cli are both two folders below it). */
export function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return String(pkg.version);
}
