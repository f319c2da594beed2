/**
 * Runs work on many hosts at once with a limit, as rolling deploys need: at most `limit` hosts
 * in flight, and with `failFast` no new host starts after one has failed.
 */

export type HostOutcome<T> =
  | { host: string; status: "ok"; value: T }
  | { host: string; status: "failed"; error: unknown }
  | { host: string; status: "skipped" };

export interface ParallelOptions {
  /** Hosts worked on at the same time (at least 1). */
  limit: number;
  /** Stop starting new hosts after the first failure; the rest are "skipped". */
  failFast?: boolean;
}

/** Calls `work` for every host, `limit` at a time; outcomes come back in the hosts' order. */
export async function onHosts<T>(
  hosts: readonly string[],
  work: (host: string) => Promise<T>,
  options: ParallelOptions,
): Promise<HostOutcome<T>[]> {
  const limit = Math.max(1, Math.floor(options.limit));
  const outcomes: HostOutcome<T>[] = hosts.map((host) => ({ host, status: "skipped" }));
  let next = 0;
  let failed = false;

  const worker = async (): Promise<void> => {
    while (next < hosts.length && !(failed && options.failFast)) {
      const index = next++;
      const host = hosts[index] as string;
      try {
        outcomes[index] = { host, status: "ok", value: await work(host) };
      } catch (error) {
        failed = true;
        outcomes[index] = { host, status: "failed", error };
      }
    }
  };

  await Promise.all(Array.from({ length: Math.min(limit, hosts.length) }, worker));
  return outcomes;
}
