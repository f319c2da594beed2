/**
 * Container checks: a role's newest running container (found by its labels through the engine)
 * is running, not unhealthy, and has not restarted since the last look. A restart between two
 * looks fails one reading (the engine brought it back, but something killed it).
 */
import type { CheckConfig } from "./config.ts";
import type { ContainerInspected, EngineClient } from "./engine.ts";
import type { ProbeResult } from "./probes.ts";

type ContainerCheck = Extract<CheckConfig, { kind: "container" }>;

/** Each check's last look: which container, and its restart count then. */
const lastLook = new Map<string, { id: string; restarts: number }>();

export async function probeContainer(
  check: ContainerCheck,
  engine: EngineClient,
): Promise<ProbeResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const newest = await engine.newestRunning(check.labels);
    if (!newest) {
      lastLook.delete(check.name);
      return { ok: false, ms: ms(), detail: `no running container of ${check.role}` };
    }
    const info = await engine.inspect(newest.Id);
    const verdict = containerVerdict(info, lastLook.get(check.name));
    lastLook.set(check.name, { id: info.Id, restarts: info.RestartCount });
    return { ...verdict, ms: ms() };
  } catch (error) {
    return { ok: false, ms: ms(), detail: (error as Error).message };
  }
}

/** The reading of one inspected container, given the last look at the same check. Pure. */
export function containerVerdict(
  info: ContainerInspected,
  last: { id: string; restarts: number } | undefined,
): { ok: boolean; detail: string } {
  const name = info.Name.replace(/^\//, "");
  if (!info.State.Running) return { ok: false, detail: `${name} is ${info.State.Status}` };
  const health = info.State.Health?.Status;
  if (health === "unhealthy") {
    const output = info.State.Health?.Log?.at(-1)?.Output.trim().split("\n").at(-1) ?? "";
    return {
      ok: false,
      detail: `${name} is unhealthy${output ? `: ${output.slice(0, 200)}` : ""}`,
    };
  }
  // Another container (a deploy replaced it) starts a new count.
  const restarted = last && last.id === info.Id ? info.RestartCount - last.restarts : 0;
  if (restarted > 0) {
    const why = info.State.OOMKilled ? ", out of memory" : "";
    return {
      ok: false,
      detail: `${name} restarted ${restarted === 1 ? "once" : `${restarted} times`} since the last look${why}`,
    };
  }
  const state = health === undefined || health === "" ? "running" : `running, ${health}`;
  return { ok: true, detail: `${name} ${state}, ${info.RestartCount} restarts` };
}
