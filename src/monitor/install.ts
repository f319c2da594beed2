/**
 * `slipway agent install`: puts the agent on each host of the app, or brings it up to date. The
 * bundle, this app's fragment and its notifiers' keys are files under /var/lib/slipway/agent; the
 * token is made once per host; the container is (re)started only when something it reads changed,
 * and it keeps its SQLite state across that, so incidents and schedules carry on.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { ensureNetwork, privateNetwork } from "../accessories/index.ts";
import { PING_KEY_PATTERN } from "../agent/index.ts";
import { backupWorkDir, planBackupFiles, planStore, planTargets } from "../backup/index.ts";
import { detectLocalEngine } from "../build/index.ts";
import { CERTS_DIR } from "../certs/index.ts";
import { configSchema, type LoadedConfig } from "../config/index.ts";
import { placeImage, rolesInOrder, siteName, webHosts } from "../deploy/index.ts";
import { dockerInspect, dockerRemove, dockerRun, parseInspect } from "../engine/index.ts";
import { UserError } from "../errors/index.ts";
import type { Reporter } from "../output/index.ts";
import { applySteps } from "../plan/index.ts";
import { PROXY_NETWORK } from "../proxy/index.ts";
import { registryLogin } from "../registry/index.ts";
import { generateSecret } from "../secrets/index.ts";
import {
  ENGINE_PROBE,
  type EngineFacts,
  parseEngineProbe,
  planBridgePin,
} from "../server/index.ts";
import type { Connections, Transport } from "../transport/index.ts";
import { peerAddress, planPeerChecks } from "./peers.ts";
import {
  AGENT_CONTAINER,
  AGENT_DIR,
  agentContainer,
  apiArgv,
  BUNDLE_DIR,
  fragmentPath,
  notifierSecretName,
  notifierSecretPath,
  pingKeyPath,
  planFragment,
} from "./plan.ts";
import { placeStatusSite, proxyRuns } from "./status-domain.ts";
import {
  agentVersions,
  shippedAgentVersion,
  type UpgradeOutcome,
  VERSION_PATH,
} from "./upgrade.ts";

const SPEC_LABEL = "slipway.agent.spec";
const READY_MS = 30_000;

/** The agent this Slipway ships: dist/agent-bundle (agent.mjs and its chunks), file by file. */
export function agentBundle(): Map<string, string> {
  for (const candidate of ["../agent-bundle/", "../../dist/agent-bundle/"]) {
    const dir = new URL(candidate, import.meta.url).pathname;
    if (!existsSync(`${dir}agent.mjs`)) continue;
    const files = readdirSync(dir).filter((name) => name.endsWith(".mjs"));
    return new Map(files.map((name) => [name, readFileSync(`${dir}${name}`, "utf8")]));
  }
  throw new UserError({
    code: "agent.bundle_missing",
    message: "the agent's bundle (dist/agent-bundle) is missing from this installation of Slipway",
    hint: "build it: npm run build",
  });
}

/**
 * The agent's settings: the monitoring section, or its defaults when only jobs (cron, backups)
 * need the agent; undefined when nothing does.
 */
export function agentSettings(loaded: LoadedConfig) {
  return (
    loaded.config.monitoring ??
    // Jobs alone (cron, backups, certificate renewals) need the agent too.
    (loaded.config.cron || loaded.config.backups || loaded.config.proxy.tls?.acme
      ? configSchema.shape.monitoring.unwrap().parse({})
      : undefined)
  );
}

/** The hosts an agent runs on: the app's, and those of its backup targets (an accessory's own). */
export function agentHosts(loaded: LoadedConfig): string[] {
  return [...new Set([...appHosts(loaded), ...planTargets(loaded).map((t) => t.host)])];
}

/** Every host of the app: the hosts of its roles (an accessory's own host is not one). */
export function appHosts(loaded: LoadedConfig): string[] {
  return [...new Set(rolesInOrder(loaded.config).flatMap((role) => role.hosts))];
}

export async function installAgent(
  loaded: LoadedConfig,
  connections: Connections,
  reporter: Reporter,
  /** Only these hosts (agent upgrade); the others are still peers. */
  options: { only?: readonly string[] } = {},
): Promise<
  {
    host: string;
    outcome: "started" | "restarted" | "unchanged";
    jobs: number;
    backupJobs: number;
  }[]
> {
  const monitoring = agentSettings(loaded);
  if (!monitoring) {
    throw new UserError({
      code: "agent.no_monitoring",
      message: `${loaded.file} has no monitoring, cron or backups section: the agent would have nothing to do`,
      hint: 'add one, for example\n  monitoring:\n    checks:\n      - { name: home, url: "http://slipway-proxy/up" }',
    });
  }
  const site = siteName(loaded.config.service, loaded.environment);
  const pingKeys = pingKeyValues(loaded);
  const hosts = appHosts(loaded);
  // Several hosts: each agent checks the others (peers.ts).
  const peers =
    hosts.length < 2
      ? []
      : (await Promise.all(hosts.map((h) => peerAddress(connections.get(h))))).flatMap((p) =>
          p ? [p] : [],
        );
  // The web host that issues the site's certificate, where the others fetch it.
  const firstWeb = webHosts(loaded.config)[0];
  const issuer = peers.find((peer) => peer.host === firstWeb)?.address;
  const bundle = agentBundle();
  const engine = await detectLocalEngine().catch(() => undefined);
  const registry = registryLogin(loaded);
  const results = [];
  const proxied = new Set(webHosts(loaded.config));
  for (const [index, host] of agentHosts(loaded).entries()) {
    if (options.only && !options.only.includes(host)) continue;
    const transport = connections.get(host);
    const hostEngine = parseEngineProbe((await transport.run(ENGINE_PROBE)).stdout);
    const socket = await engineSocket(transport, hostEngine);
    // The first host's fragment has the heartbeats (a job pings one agent).
    const planned = planFragment(site, monitoring, {
      primary: index === 0,
      on: { host, loaded, engine: socket },
      ...(issuer === undefined ? {} : { certificateIssuer: issuer }),
    });
    const own = { ...planned, checks: [...planned.checks, ...planPeerChecks(host, peers)] };
    const fragment = `${JSON.stringify(own, null, 2)}\n`;
    const say = (m: string) => reporter.info(`${host} agent: ${m}`);
    await placeImage(monitoring.image, transport, engine, reporter, registry);
    let changed = false;
    changed = (await putBundle(transport, bundle)) || changed;
    await put(transport, VERSION_PATH, `${shippedAgentVersion(bundle)}\n`);
    changed = (await put(transport, fragmentPath(site), fragment)) || changed;
    if (index === 0) changed = (await putPingKeys(transport, site, pingKeys)) || changed;
    for (const notifier of monitoring.notify) {
      const secret = notifierSecretName(notifier);
      if (secret === undefined) continue;
      const value = loaded.secrets.values.get(secret) ?? "";
      await put(transport, notifierSecretPath(site, notifier.name), value);
    }
    await placeBackups(transport, loaded, host);
    if (await ensureToken(transport)) say("made its API token (kept on the host, 0600)");
    // The agent is on the proxy's network: on Podman its bridge's MAC is pinned before and after
    // the agent's container comes or goes (see src/server/bridge.ts).
    const pinBridge = () => applySteps(transport, planBridgePin(hostEngine));
    const spec = agentContainer(monitoring.image, host, {
      publicStatus: monitoring.public_status,
      engine: socket,
      localtime:
        (await transport.run(["test", "-f", "/etc/localtime"], { check: false })).code === 0,
    });
    const digest = createHash("sha256")
      .update(JSON.stringify(dockerRun(spec)))
      .digest("hex")
      .slice(0, 12);
    spec.labels[SPEC_LABEL] = digest;
    const facts = await inspect(transport);
    let outcome: "started" | "restarted" | "unchanged";
    if (!facts || facts.spec !== digest) {
      await pinBridge();
      if (facts) await transport.run(dockerRemove(AGENT_CONTAINER, { force: true }));
      await ensureNetwork(transport, PROXY_NETWORK);
      // The agent mounts the certificates' folder (a bind mount needs its source).
      await transport.run(["mkdir", "-p", "-m", "0700", CERTS_DIR]);
      await transport.run(dockerRun(spec));
      await pinBridge();
      outcome = facts ? "restarted" : "started";
    } else if (changed || !facts.running) {
      await pinBridge();
      await transport.run(["docker", "restart", "--time", "10", AGENT_CONTAINER]);
      await pinBridge();
      outcome = "restarted";
    } else {
      outcome = "unchanged";
    }
    // The app's private network: its workers and accessories answer there by name.
    await connectNetwork(transport, privateNetwork(site));
    await waitReady(transport);
    say(outcome === "unchanged" ? "up to date, running" : `${outcome}, answering`);
    if (proxied.has(host)) await statusSite(transport, site, monitoring.status_domain, say);
    const backupJobs = own.jobs.filter((j) => j.kind === "runner").length;
    results.push({ host, outcome, jobs: own.jobs.length - backupJobs, backupJobs });
  }
  return results;
}

/**
 * What the backup runner reads and mounts on a host: its jobs' requests and their secrets
 * (0600; the identity only when backups.verify_identity opts in), and its folders
 * ({@link placeBackupFolders}). Nothing for a host without backup targets.
 */
export async function placeBackups(
  transport: Transport,
  loaded: LoadedConfig,
  host: string,
): Promise<void> {
  const files = planBackupFiles(loaded, host);
  if (files.length === 0) return;
  for (const file of files) await put(transport, file.path, file.content);
  await placeBackupFolders(transport, loaded);
}

/**
 * The runner's work folder and a directory store's folder (0700): all a one-off run needs, its
 * request and secrets coming on stdin, so the agent's job files stay as `agent install` left them.
 */
export async function placeBackupFolders(transport: Transport, loaded: LoadedConfig) {
  const site = siteName(loaded.config.service, loaded.environment);
  const store = loaded.config.backups ? planStore(loaded.config.backups, site) : undefined;
  await transport.run([
    "install",
    "-d",
    "-m",
    "0700",
    backupWorkDir(site),
    ...(store?.kind === "directory" ? [store.path] : []),
  ]);
}

/**
 * Each heartbeat check's ping key: its secret's value, or undefined (the host makes one). A
 * secret that is missing or no URL-safe key is refused before any host is touched.
 */
function pingKeyValues(loaded: LoadedConfig): Map<string, string | undefined> {
  const keys = new Map<string, string | undefined>();
  for (const check of loaded.config.monitoring?.checks ?? []) {
    if (check.heartbeat === undefined) continue;
    const value = check.key === undefined ? undefined : loaded.secrets.values.get(check.key);
    if (check.key !== undefined && !PING_KEY_PATTERN.test(value ?? "")) {
      throw new UserError({
        code: "agent.ping_key",
        message: `the secret ${check.key} (the ping key of check ${check.name}) is ${value === undefined ? "not set" : "not 16 to 200 letters, digits, - or _"}`,
        hint: `slipway secrets generate ${check.key}, or leave key out and the host makes one`,
      });
    }
    keys.set(check.name, value);
  }
  return keys;
}

/** The ping keys on the first host (0600): a secret's value, or one made there once. */
async function putPingKeys(
  transport: Transport,
  site: string,
  keys: ReadonlyMap<string, string | undefined>,
): Promise<boolean> {
  let changed = false;
  for (const [check, value] of keys) {
    const path = pingKeyPath(site, check);
    if (value !== undefined) {
      changed = (await put(transport, path, value)) || changed;
    } else if ((await transport.run(["test", "-s", path], { check: false })).code !== 0) {
      await transport.upload(path, generateSecret(32), { mode: 0o600 });
      changed = true;
    }
  }
  return changed;
}

/**
 * `slipway agent upgrade`: this Slipway's agent on each host of the app whose agent runs another
 * version, put there as install does (this app's slipway.yml; the state kept); a host already
 * running it is left alone.
 */
export async function upgradeAgent(
  loaded: LoadedConfig,
  connections: Connections,
  reporter: Reporter,
): Promise<UpgradeOutcome[]> {
  const outcomes = await agentVersions(agentHosts(loaded), connections, agentBundle());
  const outdated = outcomes.filter((o) => o.upgraded).map((o) => o.host);
  if (outdated.length > 0) await installAgent(loaded, connections, reporter, { only: outdated });
  return outcomes;
}

/** The host's engine socket (for the backup runner, as for the agent): probed, then engineSocket. */
export async function hostEngineSocket(transport: Transport): Promise<"docker" | "podman"> {
  return engineSocket(transport, parseEngineProbe((await transport.run(ENGINE_PROBE)).stdout));
}

/**
 * Which engine's socket the agent gets. Podman serves its Docker API only through the
 * podman.socket unit, started here when it is not running yet.
 */
async function engineSocket(
  transport: Transport,
  facts: EngineFacts,
): Promise<"docker" | "podman"> {
  if (facts.engine !== "podman") return "docker";
  const active = await transport.run(["systemctl", "is-active", "--quiet", "podman.socket"], {
    check: false,
  });
  if (active.code !== 0) await transport.run(["systemctl", "enable", "--now", "podman.socket"]);
  return "podman";
}

/** The bundle's files in bundle/, and no others (old chunks go); true when any changed. */
async function putBundle(
  transport: Transport,
  bundle: ReadonlyMap<string, string>,
): Promise<boolean> {
  let changed = false;
  for (const [name, content] of bundle) {
    changed = (await put(transport, `${BUNDLE_DIR}/${name}`, content)) || changed;
  }
  const listed = await transport.run(["ls", "-1", "--", BUNDLE_DIR]);
  const stale = listed.stdout.split("\n").filter((name) => name && !bundle.has(name));
  if (stale.length > 0) {
    await transport.run(["rm", "-f", "--", ...stale.map((name) => `${BUNDLE_DIR}/${name}`)]);
    changed = true;
  }
  return changed;
}

/** Writes a file (0600) unless it already holds `content`; true when it changed. */
async function put(transport: Transport, path: string, content: string): Promise<boolean> {
  const digest = createHash("sha256").update(content).digest("hex");
  const current = await transport.run(["sha256sum", "--", path], { check: false });
  if (current.code === 0 && current.stdout.startsWith(digest)) return false;
  await transport.upload(path, content, { mode: 0o600 });
  return true;
}

async function ensureToken(transport: Transport): Promise<boolean> {
  const path = `${AGENT_DIR}/token`;
  const exists = await transport.run(["test", "-s", path], { check: false });
  if (exists.code === 0) return false;
  await transport.upload(path, `${generateSecret(32)}\n`, { mode: 0o600 });
  return true;
}

async function inspect(transport: Transport) {
  const result = await transport.run(dockerInspect(AGENT_CONTAINER), { check: false });
  if (result.code !== 0) return undefined;
  const info = parseInspect(result.stdout);
  return { running: info.running, spec: info.labels[SPEC_LABEL] };
}

async function connectNetwork(transport: Transport, network: string): Promise<void> {
  const exists = await transport.run(["docker", "network", "inspect", network], { check: false });
  if (exists.code !== 0) return; // the app has not been deployed on this host yet
  const joined = await transport.run(
    ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", AGENT_CONTAINER],
    { check: false },
  );
  if (joined.stdout.includes(`"${network}"`)) return;
  await transport.run(["docker", "network", "connect", network, AGENT_CONTAINER]);
}

/** monitoring.status_domain in this host's proxy, when the proxy runs here. */
async function statusSite(
  transport: Transport,
  site: string,
  domain: string | undefined,
  say: (m: string) => void,
): Promise<void> {
  if (!(await proxyRuns(transport))) {
    if (domain !== undefined)
      say(
        `the proxy does not run here yet: ${domain} after the first deploy (then agent install again)`,
      );
    return;
  }
  const outcome = await placeStatusSite(transport, site, domain, {});
  if (outcome !== "none" && outcome !== "unchanged")
    say(`status page on ${domain ?? "its domain"}: ${outcome}`);
}

async function waitReady(transport: Transport): Promise<void> {
  const deadline = Date.now() + READY_MS;
  let last = "";
  for (;;) {
    const result = await transport.run(apiArgv("GET", "/healthz"), { check: false, stdin: "" });
    if (result.code === 0 && result.stdout.startsWith("200")) return;
    last = (result.stderr || result.stdout).trim().split("\n").slice(-3).join(" ");
    if (Date.now() > deadline) {
      throw new UserError({
        code: "agent.not_ready",
        message: `${transport.host}: the agent does not answer after ${READY_MS / 1000}s${last ? ` (${last})` : ""}`,
        hint: "see its logs: slipway agent logs",
      });
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
