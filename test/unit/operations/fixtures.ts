/**
 * Engine output as Docker prints it, for the operations' pure parts: `docker ps --format
 * '{{json .}}'` lines and `docker inspect` entries, parsed by the engine's real parsers.
 */
import {
  type ContainerInfo,
  type ContainerSummary,
  parseContainerInspect,
  parseContainerList,
} from "../../../src/engine/index.ts";

export interface Fake {
  name: string;
  role: string;
  version: string;
  state: string;
  /** When the release started it (label slipway.released). */
  released?: string;
  service?: string;
}

function labels(c: Fake): Record<string, string> {
  return {
    "slipway.service": c.service ?? "hello",
    "slipway.environment": "",
    "slipway.role": c.role,
    "slipway.version": c.version,
    "slipway.released": c.released ?? "2026-05-01T10:00:00.000Z",
  };
}

/** `docker ps --all` of these containers, through parseContainerList. */
export function listed(...containers: Fake[]): ContainerSummary[] {
  const lines = containers.map((c, i) =>
    JSON.stringify({
      ID: `${i + 1}`.padStart(64, "a"),
      Image: `hello:${c.version}`,
      Labels: Object.entries(labels(c))
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      Names: c.name,
      Networks: "slipway",
      State: c.state,
      Status: c.state === "running" ? "Up 3 minutes" : "Exited (0) 1 minute ago",
    }),
  );
  return parseContainerList(lines.join("\n"));
}

/** `docker inspect` of one container, through parseContainerInspect. */
export function inspected(
  c: Fake & { startedAt: string; health?: string; restarts?: number },
): ContainerInfo {
  const [info] = parseContainerInspect(
    JSON.stringify([
      {
        Id: "f".repeat(64),
        Name: `/${c.name}`,
        Image: `sha256:${"e".repeat(64)}`,
        RestartCount: c.restarts ?? 0,
        State: {
          Status: c.state,
          Running: c.state === "running",
          ExitCode: 0,
          StartedAt: c.startedAt,
          FinishedAt: "0001-01-01T00:00:00Z",
          ...(c.health ? { Health: { Status: c.health, FailingStreak: 0 } } : {}),
        },
        Config: { Image: `hello:${c.version}`, Labels: labels(c) },
        NetworkSettings: { Networks: { slipway: { IPAddress: "10.89.0.5" } } },
      },
    ]),
  );
  if (!info) throw new Error("no inspect entry");
  return info;
}
