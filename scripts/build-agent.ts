/**
 * Bundles the agent into dist/agent-bundle/agent.mjs with its dependencies (zod/mini, prom-client)
 * inside: what Slipway ships to a host needs no node_modules there, and one small file loads in
 * less memory than a tree of modules. What only some agents use (nodemailer, for e-mail) is split
 * into a chunk beside it, loaded on first use: inlined, it would cost every agent 8 MB.
 * certs.mjs beside it is the certificate runner (src/certs/main.ts, with acme-client): the CLI
 * runs it in a one-off container, the agent as a child process, so it never loads in the agent.
 */

import { rm } from "node:fs/promises";
import { build } from "esbuild";

const outdir = new URL("../dist/agent-bundle", import.meta.url).pathname;
// Old chunks (their names carry a hash) must not be shipped with the new ones.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    agent: new URL("../src/agent/main.ts", import.meta.url).pathname,
    certs: new URL("../src/certs/main.ts", import.meta.url).pathname,
  },
  outdir,
  entryNames: "[name]",
  chunkNames: "agent-[name]-[hash]",
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
});
