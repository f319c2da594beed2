/**
 * Bundles the agent into dist/agent-bundle/agent.mjs with its dependencies (zod/mini, prom-client)
 * inside: what Slipway ships to a host needs no node_modules there, and one small file loads in
 * less memory than a tree of modules. What only some agents use (nodemailer, for e-mail) is split
 * into a chunk beside it, loaded on first use: inlined, it would cost every agent 8 MB.
 * The backup runner (src/backup/runner) and the certificate runner (src/certs, with acme-client)
 * are bundled apart, as runner.mjs and certs.mjs with their own chunks, each run in a one-off
 * container: what they load (zod, age, the S3 SDK, the ACME client) never enters the agent.
 */

import { readFile, rm } from "node:fs/promises";
import { type BuildOptions, build } from "esbuild";

const outdir = new URL("../dist/agent-bundle", import.meta.url).pathname;
const source = (path: string) => new URL(`../src/${path}`, import.meta.url).pathname;

const common: BuildOptions = {
  outdir,
  outExtension: { ".js": ".mjs" },
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  // prom-client is CommonJS and requires node's modules: give the ES bundle a require.
  banner: {
    js: "import { createRequire as __slipwayRequire } from 'node:module'; const require = __slipwayRequire(import.meta.url);",
  },
  logLevel: "warning",
};

// Old chunks (their names carry a hash) must not be shipped with the new ones.
await rm(outdir, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { agent: source("agent/main.ts") },
  entryNames: "[name]",
  chunkNames: "agent-[name]-[hash]",
});
/**
 * A runner of Slipway's own, bundled apart from the agent; it must not need ssh2 on a host, so it
 * never imports the transport's index (which brings the SSH transport): src/transport/command.ts.
 */
async function runnerBundle(name: string, entry: string): Promise<void> {
  await build({
    ...common,
    entryPoints: { [name]: source(entry) },
    entryNames: "[name]",
    chunkNames: `${name}-[name]-[hash]`,
    // Kept out, so that a path to it would show as an import, which the check below refuses.
    external: ["ssh2"],
  });
  const bundle = await readFile(`${outdir}/${name}.mjs`, "utf8");
  if (bundle.includes('"ssh2"'))
    throw new Error(`${name}.mjs imports ssh2: it would fail on a host`);
}
await runnerBundle("runner", "backup/runner/main.ts");
await runnerBundle("certs", "certs/main.ts");
