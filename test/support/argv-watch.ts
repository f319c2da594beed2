/**
 * Watches every process's argv on this machine while some work runs (rootful Podman: the
 * containers' processes are this machine's, in its /proc), to show a secret was on none of them
 * and that the tool expected was seen at all.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

/** Runs `work` while sampling argv every 5 ms; then asserts `tool` was seen and `secret` never. */
export async function withoutSecretInArgv<T>(
  watch: { secret: string; tool: string },
  work: () => Promise<T>,
): Promise<T> {
  const seen = new Set<string>();
  const sample = setInterval(() => {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        seen.add(readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "));
      } catch {
        // gone meanwhile
      }
    }
  }, 5);
  try {
    return await work();
  } finally {
    clearInterval(sample);
    const all = [...seen];
    assert.ok(
      all.some((c) => c.includes(watch.tool)),
      `the sampler saw ${watch.tool} run`,
    );
    assert.deepEqual(
      all.filter((c) => c.includes(watch.secret)),
      [],
      "a secret was on an argv",
    );
  }
}
