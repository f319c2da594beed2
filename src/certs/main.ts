/**
 * The certificate runner, bundled as certs.mjs beside the agent:
 *   certs.mjs issue --order FILE [--force] [--scheduled] [--stage]
 *   certs.mjs restore --order FILE
 * The CLI runs it in a one-off container on the host (`--stage`: it puts the files in place
 * itself, behind `nginx -t`); the agent's renewal job runs it as a child process, so the ACME
 * client never sits in the agent's memory. Prints one JSON line (RunResult, or
 * { outcome: "restored" | "nothing-to-restore" }); exits 0 when the site has what it needs
 * (issued, not due, restored), 1 when an attempt failed or waits to retry, 2 on bad usage.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseOrder } from "./order.ts";
import { runOrder } from "./run.ts";
import { LockedError, restorePrevious } from "./store.ts";

async function main(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      order: { type: "string" },
      force: { type: "boolean" },
      scheduled: { type: "boolean" },
      stage: { type: "boolean" },
    },
  });
  const [command] = positionals;
  if ((command !== "issue" && command !== "restore") || values.order === undefined) {
    process.stderr.write(
      "usage: certs.mjs issue --order FILE [--force] [--scheduled] [--stage] | restore --order FILE\n",
    );
    return 2;
  }
  const order = parseOrder(readFileSync(values.order, "utf8"), values.order);
  if (command === "restore") {
    const restored = restorePrevious(order);
    print({ outcome: restored ? "restored" : "nothing-to-restore", site: order.site });
    return 0;
  }
  const result = await runOrder(order, {
    force: values.force === true,
    scheduled: values.scheduled === true,
    stage: values.stage === true,
    log: (line) => process.stderr.write(`${order.site}: ${line}\n`),
  });
  print(result);
  return result.outcome === "issued" || result.outcome === "not-due" ? 0 : 1;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    const locked = error instanceof LockedError;
    print({ outcome: locked ? "locked" : "failed", error: error.message });
    process.exit(1);
  },
);
