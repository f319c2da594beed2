/**
 * Bundles the agent into one file, dist/agent.mjs, with its dependencies (zod/mini, prom-client)
 * inside: what Slipway ships to a host needs no node_modules there, and one small file loads in
 * less memory than a tree of modules.
 */
import { build } from "esbuild";

await build({
  entryPoints: [new URL("../src/agent/main.ts", import.meta.url).pathname],
  outfile: new URL("../dist/agent.mjs", import.meta.url).pathname,
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
