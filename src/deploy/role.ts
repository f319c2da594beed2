/**
 * One role on one host: start the new container beside the old, gate it, switch the proxy (web
 * roles), drain, stop the old, record the release. On any failure before the switch the new
 * container is removed and the old one keeps serving.
 */
import { basename } from "node:path";
import {
  type ContainerSpec,
  dockerImageId,
  dockerInspect,
  dockerListContainers,
  dockerLogs,
  dockerRemove,
  dockerRun,
  dockerStart,
  dockerStop,
  parseContainerList,
  parseInspect,
} from "../engine/index.ts";
import { HealthCheckError } from "../errors/index.ts";
import { applyPrune, planPrune, readPruneFacts } from "../operations/prune/index.ts";
import type { Reporter } from "../output/index.ts";
import { applySteps, type RunStep } from "../plan/index.ts";
import {
  PROXY_NETWORK,
  type ProxySite,
  planProxyFiles,
  planProxySwitch,
  SWITCHED_MARK,
} from "../proxy/index.ts";
import {
  appendRelease,
  currentVersionPath,
  envDigest,
  envFilePath,
  type ReleaseKind,
  type ReleaseRecord,
} from "../releases/index.ts";
import type { Transport } from "../transport/index.ts";
import { type GateResult, type ProbeResult, waitHealthy } from "./health.ts";
import { containerName, releaseLabels, roleSelector } from "./names.ts";

export interface RoleRelease {
  service: string;
  environment: string | undefined;
  site: string;
  role: string;
  version: string;
  /** Full image reference of the release. */
  image: string;
  cmd: readonly string[] | undefined;
  /** The env file's content (from the config, or a kept release's file for a rollback). */
  env: string;
  singleton: boolean;
  stopTimeoutMs: number;
  readyAfterMs: number;
  /** For roles with the image's own health check: how long it may take to report healthy. */
  readyTimeoutMs: number;
  memoryBytes: number | undefined;
  cpus: number | undefined;
  /** Present for roles behind the proxy. */
  proxy:
    | {
        site: ProxySite;
        healthPath: string;
        intervalMs: number;
        timeoutMs: number;
        successes: number;
        deadlineMs: number;
        drainMs: number;
      }
    | undefined;
  kind: ReleaseKind;
  by: { user: string; machine: string };
  /** Releases (image and env file) kept for rollback. */
  keep: number;
  /** The site's private network (its accessories are there); proxied roles join the proxy's too. */
  privateNetwork: string;
  /** Data kept across releases (a SQLite file's folder). */
  volumes: { source: string; target: string }[];
}

export interface RoleOutcome {
  container: string;
  replaced: string[];
  previous: string | undefined;
}

const LOG_LINES_ON_FAILURE = 40;

const HEALTHY_OUTCOME: Record<ReleaseKind, ReleaseRecord["outcome"]> = {
  deploy: "deployed",
  rollback: "rolled-back",
  restart: "restarted",
};

/**
 * Releases one role on one host; throws (after cleaning up) when the new version is not healthy.
 * Resolves once traffic is switched; `finish` (drain, stop the old, record, prune) goes on, handed
 * to `defer` so the next role or host can start meanwhile. Without `defer` it is awaited here.
 * `onGated` is called once the new container passed its health gate, before the switch.
 */
export async function releaseRoleOnHost(
  transport: Transport,
  release: RoleRelease,
  reporter: Reporter,
  defer?: (finish: Promise<void>) => void,
  onGated?: () => void,
): Promise<RoleOutcome> {
  const started = performance.now();
  const say = (message: string) => reporter.info(`${transport.host} ${release.role}: ${message}`);
  const envPath = envFilePath(release.site, release.role, release.version);
  // Independent reads and the env upload share one round trip's wait.
  const [, list, imageId] = await Promise.all([
    transport.upload(envPath, release.env, { mode: 0o600 }),
    transport.run(dockerListContainers(roleSelector(release), { all: false })),
    transport.run(dockerImageId(release.image), { check: false }),
  ]);
  const running = parseContainerList(list.stdout);
  const old = running.map((c) => c.name);
  const previous = running[0]?.labels["slipway.version"];
  const facts: RecordFacts = { started, previous, imageId: imageId.stdout.trim() };

  // A singleton must never run twice, so its old container stops before the new one starts.
  if (release.singleton) {
    for (const name of old) {
      say(`stopping ${name} first (singleton)`);
      await transport.run(dockerStop(name, Math.ceil(release.stopTimeoutMs / 1000)));
    }
  }

  const name = containerName(release.site, release.role, release.version);
  const spec: ContainerSpec = {
    name,
    image: release.image,
    network: release.privateNetwork,
    labels: releaseLabels(release),
    envFile: envPath,
    restart: "unless-stopped",
    stopTimeoutS: Math.ceil(release.stopTimeoutMs / 1000),
    detach: true,
    ...(release.cmd ? { cmd: release.cmd } : {}),
    ...(release.memoryBytes ? { memoryBytes: release.memoryBytes } : {}),
    ...(release.cpus ? { cpus: release.cpus } : {}),
    ...(release.volumes.length > 0 ? { volumes: release.volumes } : {}),
  };
  say(`starting ${name}`);
  // Singletons stopped above come back when the new container never gets to serve.
  const stoppedFirst = release.singleton ? old : [];
  let gate: GateResult;
  // The site's files are written while the gate runs: nginx reads them only at the switch.
  let files: Promise<unknown> = Promise.resolve();
  try {
    await transport.run(dockerRun(spec));
    // Docker 20.10 takes one --network at run: the proxy's is joined before the first probe.
    if (release.proxy) await transport.run(["docker", "network", "connect", PROXY_NETWORK, name]);
    if (release.proxy) {
      files = applySteps(transport, planProxyFiles([release.proxy.site], new Map()));
      files.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    }
    gate = release.proxy
      ? await waitHealthy(httpProbe(transport, name, release), {
          intervalMs: release.proxy.intervalMs,
          successes: release.proxy.successes,
          deadlineMs: release.proxy.deadlineMs,
        })
      : await ownGate(transport, name, release);
  } catch (error) {
    // A dropped connection or a failing engine: leave the host as it was, as far as it lets us.
    await files.catch(() => {});
    await abandon(transport, name, stoppedFirst, reporter);
    throw error;
  }

  if (!gate.healthy) {
    reporter.warn(`${transport.host} ${release.role}: ${name} is not healthy: ${gate.detail}`);
    await files.catch(() => {});
    await showLogs(transport, name, reporter);
    await abandon(transport, name, stoppedFirst, reporter);
    await record(transport, release, facts, "health-failed", gate.detail);
    throw new HealthCheckError(
      `${release.role} on ${transport.host}: version ${release.version} failed its health check (${gate.detail}); it was removed${old.length > 0 && !release.singleton ? " and the previous version keeps serving" : ""}.`,
      release.proxy
        ? `Its last log lines are above. Check that it answers ${release.proxy.healthPath} on port ${release.proxy.site.appPort} within ${Math.round(release.proxy.deadlineMs / 1000)}s (proxy.healthcheck in slipway.yml).`
        : "Its last log lines are above.",
    );
  }
  say(`healthy after ${gate.attempts} checks (${(gate.elapsedMs / 1000).toFixed(1)}s)`);
  onGated?.();

  // Without a proxy (or an old container) there is nothing to drain.
  let drained: Promise<void> = Promise.resolve();
  if (release.proxy) {
    // By name, not address: a container restarted by its policy (or at boot) may get another
    // address, and nginx resolves names whenever it starts.
    const target = { container: name, port: release.proxy.site.appPort };
    const drainMs = old.length > 0 ? release.proxy.drainMs : 0;
    try {
      await files;
      const step = planProxySwitch(release.proxy.site, target, { drainMs })[0] as RunStep;
      const switching = switchProxy(transport, step);
      drained = switching.drained;
      drained.catch(() => {}); // awaited by finish
      await switching.switched;
    } catch (error) {
      await abandon(transport, name, stoppedFirst, reporter);
      throw error;
    }
    say("proxy switched");
  }

  const finishing = finish(transport, release, old, facts, reporter, drained);
  if (defer) defer(finishing);
  else await finishing;
  return { container: name, replaced: old, previous };
}

interface RecordFacts {
  started: number;
  previous: string | undefined;
  /** The image's ID on the host, read before the release started. */
  imageId: string;
}

/**
 * Runs the proxy's switch step, which prints SWITCHED_MARK once traffic has moved and then drains:
 * it ends once the old nginx workers have answered what they held, or the drain time ran out.
 * `switched` settles at the mark (or at the end, for a step that does not drain); a failure
 * before it is the switch's, which the script has undone.
 */
function switchProxy(
  transport: Transport,
  step: RunStep,
): { switched: Promise<void>; drained: Promise<void> } {
  let marked: () => void = () => {};
  const mark = new Promise<void>((resolve) => {
    marked = resolve;
  });
  let seen = "";
  const run = transport.run(step.command, {
    ...(step.stdin === undefined ? {} : { stdin: step.stdin }),
    ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
    onStdout: (chunk) => {
      if (seen.includes(SWITCHED_MARK)) return;
      seen += chunk.toString("utf8");
      if (seen.includes(SWITCHED_MARK)) marked();
    },
  });
  const drained = run.then(() => {});
  return { switched: Promise.race([mark, drained]), drained };
}

/**
 * After the switch: lets the old containers finish what they serve (drain: until the proxy's old
 * workers are done, at most drain_timeout), stops them, marks the version current, records the
 * release and prunes. The new version already serves throughout.
 */
async function finish(
  transport: Transport,
  release: RoleRelease,
  old: readonly string[],
  facts: RecordFacts,
  reporter: Reporter,
  drained: Promise<void>,
): Promise<void> {
  await drained.catch((error: unknown) => {
    // Traffic has moved; only the wait for the old workers was cut short.
    reporter.warn(
      `${transport.host} ${release.role}: the drain was cut short (${error instanceof Error ? error.message : String(error)})`,
    );
  });
  if (!release.singleton) {
    await Promise.all(
      old.map((oldName) =>
        transport.run(dockerStop(oldName, Math.ceil(release.stopTimeoutMs / 1000))),
      ),
    );
  }
  if (old.length > 0) {
    reporter.info(`${transport.host} ${release.role}: stopped ${old.join(", ")}`);
  }
  await Promise.all([
    transport.upload(currentVersionPath(release.site, release.role), `${release.version}\n`, {
      mode: 0o644,
    }),
    record(transport, release, facts, HEALTHY_OUTCOME[release.kind]),
  ]);
  if (release.kind === "deploy") {
    await prune(transport, release, reporter);
  } else if (old.length > 0) {
    // A rollback or restart brings no new image or env file: only the stopped containers go.
    await transport.run(dockerRemove(old)).catch((error: unknown) => {
      reporter.warn(
        `${transport.host}: could not remove ${old.join(", ")}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }
}

/**
 * Removes a new container that will not serve and restarts the old ones stopped for it. Best
 * effort: when the host cannot be reached it says what is left behind; the next deploy removes it.
 */
async function abandon(
  transport: Transport,
  name: string,
  restart: readonly string[],
  reporter: Reporter,
): Promise<void> {
  try {
    await transport.run(dockerRemove(name, { force: true }), { check: false });
    for (const oldName of restart) await transport.run(dockerStart(oldName), { check: false });
  } catch (error) {
    reporter.warn(
      `${transport.host}: could not remove ${name}${restart.length > 0 ? ` or restart ${restart.join(", ")}` : ""} (${error instanceof Error ? error.message : String(error)}); the next deploy cleans it up.`,
    );
  }
}

/**
 * Keeps the newest `keep` healthy releases of the role (their images and env files) and removes
 * the rest, with every stopped container of the role: a rollback starts a new container from the
 * kept image, so stopped ones are never needed. Failures here only warn: the release is done.
 */
async function prune(
  transport: Transport,
  release: RoleRelease,
  reporter: Reporter,
): Promise<void> {
  try {
    const plan = planPrune(
      await readPruneFacts(transport, {
        site: release.site,
        roles: [{ name: release.role, current: release.version }],
        knownRoles: [release.role],
        keep: release.keep,
        containerLabels: roleSelector(release),
        image: release.image,
        dangling: false,
      }),
    );
    await applyPrune(transport, plan);
    const removed = plan.envFiles.map((path) =>
      basename(path, ".env").slice(release.role.length + 1),
    );
    if (removed.length > 0) {
      const kept = plan.kept[0]?.versions ?? [];
      reporter.info(
        `${transport.host} ${release.role}: pruned ${removed.join(", ")} (keeping ${kept.join(", ")})`,
      );
    }
  } catch (error) {
    reporter.warn(
      `${transport.host}: pruning old releases failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * Probes the health path over the proxy's network. The container's address, once known, is kept
 * (it stays while the container runs): a passing probe is one round trip, and only a failing one
 * asks the engine whether the container is still there.
 */
function httpProbe(
  transport: Transport,
  name: string,
  release: RoleRelease,
): () => Promise<ProbeResult> {
  let ip: string | undefined;
  return async (): Promise<ProbeResult> => {
    const proxy = release.proxy;
    if (!proxy) return { ok: false, detail: "no proxy settings", fatal: true };
    if (!ip) {
      const state = await containerState(transport, name);
      if (!state.running) return { ok: false, detail: state.detail, fatal: true };
      if (!state.ip) return { ok: false, detail: `no address on the ${PROXY_NETWORK} network yet` };
      ip = state.ip;
    }
    const url = `http://${ip}:${proxy.site.appPort}${proxy.healthPath}`;
    const seconds = String(Math.max(1, Math.ceil(proxy.timeoutMs / 1000)));
    const result = await transport.run(
      ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", seconds, url],
      { check: false },
    );
    const status = Number(result.stdout.trim());
    if (result.code === 0 && status >= 200 && status < 400) return { ok: true };
    const state = await containerState(transport, name);
    if (!state.running) return { ok: false, detail: state.detail, fatal: true };
    if (result.code === 0)
      return { ok: false, detail: `${proxy.healthPath} answered HTTP ${status}` };
    return {
      ok: false,
      detail: result.stderr.trim().replace(/^curl: \(\d+\) /, "") || `curl exit ${result.code}`,
    };
  };
}

/**
 * The gate of a role without the proxy. With a HEALTHCHECK in its image the new container must
 * report healthy within ready_timeout (unhealthy fails at once: the engine has already retried);
 * without one it must still be running after ready_after.
 */
async function ownGate(
  transport: Transport,
  name: string,
  release: RoleRelease,
): Promise<GateResult> {
  let first: ContainerFacts | undefined = await containerState(transport, name);
  const settings =
    first.health === undefined
      ? { intervalMs: release.readyAfterMs, successes: 2, deadlineMs: release.readyAfterMs * 3 }
      : { intervalMs: OWN_CHECK_POLL_MS, successes: 1, deadlineMs: release.readyTimeoutMs };
  return waitHealthy(async () => {
    // The first probe reuses the inspect that told which gate applies.
    const state = first ?? (await containerState(transport, name));
    first = undefined;
    if (!state.running) return { ok: false, detail: state.detail, fatal: true };
    const output = state.healthOutput ? `: ${state.healthOutput}` : "";
    if (state.health === "unhealthy") {
      return { ok: false, detail: `its own health check fails${output}`, fatal: true };
    }
    if (state.health === "starting") {
      return { ok: false, detail: `its own health check has not passed yet${output}` };
    }
    return { ok: true };
  }, settings);
}

/** How often the engine is asked whether an image's own health check passed. */
const OWN_CHECK_POLL_MS = 500;

interface ContainerFacts {
  running: boolean;
  detail: string;
  ip: string | undefined;
  health: string | undefined;
  healthOutput: string | undefined;
}

async function containerState(transport: Transport, name: string): Promise<ContainerFacts> {
  const result = await transport.run(dockerInspect(name), { check: false });
  if (result.code !== 0) {
    return {
      running: false,
      detail: "the container is gone",
      ip: undefined,
      health: undefined,
      healthOutput: undefined,
    };
  }
  const info = parseInspect(result.stdout);
  return {
    running: info.running,
    detail: info.running ? "running" : `the container exited with code ${info.exitCode}`,
    ip: info.networks[PROXY_NETWORK],
    health: info.health,
    healthOutput: info.healthOutput,
  };
}

async function showLogs(transport: Transport, name: string, reporter: Reporter): Promise<void> {
  const out = reporter.hostOutput(`${transport.host} ${name}`);
  await transport.run(dockerLogs(name, { tail: LOG_LINES_ON_FAILURE }), {
    check: false,
    onStdout: (chunk) => out.write(chunk),
    onStderr: (chunk) => out.write(chunk),
  });
  out.flush();
}

async function record(
  transport: Transport,
  release: RoleRelease,
  facts: RecordFacts,
  outcome: ReleaseRecord["outcome"],
  error?: string,
): Promise<void> {
  const entry: ReleaseRecord = {
    version: release.version,
    image: release.image,
    imageId: facts.imageId,
    envDigest: envDigest(release.env),
    role: release.role,
    kind: release.kind,
    outcome,
    by: release.by.user,
    machine: release.by.machine,
    at: new Date().toISOString(),
    durationMs: Math.round(performance.now() - facts.started),
    ...(facts.previous ? { previous: facts.previous } : {}),
    ...(error ? { error } : {}),
  };
  await appendRelease(transport, release.site, entry);
}
