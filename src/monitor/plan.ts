/**
 * The agent on a host, planned from slipway.yml: this app's fragment of the agent's config (its
 * checks and notifiers; no secret in it), and the agent's one container per host, which every
 * app on the host shares. Pure.
 */
import {
  AGENT_NODE_FLAGS,
  type AgentFragment,
  type CheckConfig,
  ENGINE_SOCKET,
  type JobConfig,
  type NotifierConfig,
} from "../agent/index.ts";
import { planBackupJobs } from "../backup/index.ts";
import { CERTS_DIR, orderFile, sharedPath, shareKeyFile } from "../certs/index.ts";
import type { LoadedConfig } from "../config/index.ts";
import { roleSelector, rolesInOrder, webHosts } from "../deploy/index.ts";
import type { ContainerSpec } from "../engine/index.ts";
import { lockPath } from "../lock/index.ts";
// The proxy's network: the app's web containers are on it, so the agent reaches them by name.
import { PROXY_NETWORK } from "../proxy/index.ts";

const STATE_DIR = "/var/lib/slipway";
/** On the host: bundle/, token, conf.d/<site>.json, secrets/<site>/<notifier>, state/. */
export const AGENT_DIR = `${STATE_DIR}/agent`;
/** The agent's code: agent.mjs and the chunks it loads on demand. */
export const BUNDLE_DIR = `${AGENT_DIR}/bundle`;
export const AGENT_CONTAINER = "slipway-agent";
export const AGENT_PORT = 9465;
/** The host's engine socket, by engine: Docker's, or Podman's Docker-API socket (podman.socket). */
export const ENGINE_SOCKETS = {
  docker: "/var/run/docker.sock",
  podman: "/run/podman/podman.sock",
} as const;

type Monitoring = NonNullable<LoadedConfig["config"]["monitoring"]>;

/** Where a notifier's signing key lives on the host (0600), read by the agent at each send. */
export function notifierSecretPath(site: string, notifier: string): string {
  return `${AGENT_DIR}/secrets/${site}/${notifier}`;
}

export function fragmentPath(site: string): string {
  return `${AGENT_DIR}/conf.d/${site}.json`;
}

/** Where a heartbeat check's ping key lives on the host (0600), read by the agent at start. */
export function pingKeyPath(site: string, check: string): string {
  return `${AGENT_DIR}/heartbeats/${site}/${check}`;
}

/**
 * A heartbeat's ping URLs: by the agent's name from the app's containers (its networks), and by
 * its container's address on the proxy's network from the host itself (the API is published on
 * no port of the host). Add /fail for a failed run.
 */
export function pingUrls(
  key: string,
  containerAddress: string | undefined,
): { network: string; host: string | undefined } {
  const path = `/ping/${key}`;
  return {
    network: `http://${AGENT_CONTAINER}:${AGENT_PORT}${path}`,
    host: containerAddress ? `http://${containerAddress}:${AGENT_PORT}${path}` : undefined,
  };
}

/**
 * This app's part of the agent's configuration; with `on`, the part of that host's agent (its
 * roles' container checks, the cron and backup jobs it runs; `engine` says whose socket the
 * backup runner mounts). Heartbeat checks go to the first host's agent only (`primary`): a cron
 * job pings one agent, and the others would miss its pings.
 */
export function planFragment(
  site: string,
  monitoring: Monitoring,
  options: {
    primary?: boolean;
    on?: { host: string; loaded: LoadedConfig; engine?: keyof typeof ENGINE_SOCKETS };
    /** The address of the web host that issues the site's certificate (several web hosts). */
    certificateIssuer?: string;
  } = {},
): AgentFragment {
  const primary = options.primary ?? true;
  const on = options.on;
  const kept = monitoring.checks.filter((check) => primary || check.heartbeat === undefined);
  const checks: CheckConfig[] = kept.map((check) => {
    // A heartbeat's grace already waited: a miss or a fail ping opens at once, a ping resolves.
    const once = check.heartbeat !== undefined;
    const common = {
      name: check.name,
      ...(check.slo === undefined ? {} : { slo: check.slo }),
      interval_ms: check.interval,
      timeout_ms: check.timeout,
      alerting: {
        open_after: check.open_after ?? (once ? 1 : 3),
        resolve_after: check.resolve_after ?? (once ? 1 : 2),
        remind_ms: check.remind,
        flap_changes: 6,
        flap_window_ms: 1_800_000,
        severity: check.severity,
      },
    };
    if (check.url !== undefined) {
      return {
        ...common,
        kind: "http",
        url: check.url,
        status: [200, 399],
        follow_redirects: check.follow_redirects,
        ...(check.keyword === undefined ? {} : { keyword: check.keyword }),
        ...(check.max_latency === undefined ? {} : { max_latency_ms: check.max_latency }),
        ...(check.p95 === undefined ? {} : { p95_ms: check.p95 }),
        p95_answers: check.p95_answers,
      };
    }
    if (check.heartbeat !== undefined) {
      return {
        ...common,
        kind: "heartbeat",
        period_ms: check.heartbeat,
        grace_ms: check.grace,
        key_file: pingKeyPath(site, check.name),
      };
    }
    if (check.dns !== undefined) {
      return {
        ...common,
        kind: "dns",
        host: check.dns,
        record: check.record,
        expect: check.expect,
      };
    }
    const target = check.tcp ?? check.tls ?? "";
    const at = target.lastIndexOf(":");
    const host = target.slice(0, at);
    const port = Number(target.slice(at + 1));
    if (check.tls !== undefined) {
      return { ...common, kind: "tls", host, port, min_days: check.min_days, verify: true };
    }
    return { ...common, kind: "tcp", host, port };
  });
  if (monitoring.host !== false) checks.push(...hostChecks(monitoring.host));
  if (on && monitoring.containers) checks.push(...containerChecks(on.host, on.loaded));
  return {
    service: site,
    checks,
    notifiers: monitoring.notify.map((n) => planNotifier(site, n)),
    jobs: on
      ? [
          ...planJobs(site, on.host, on.loaded),
          ...planBackupJobs(on.loaded, on.host, {
            image: monitoring.image,
            bundleDir: BUNDLE_DIR,
            engineSocket: ENGINE_SOCKETS[on.engine ?? "docker"],
          }),
          ...planCertificateJobs(
            site,
            on.host,
            on.loaded,
            monitoring.image,
            options.certificateIssuer,
          ),
        ]
      : [],
  };
}

type NotifierSettings = Monitoring["notify"][number];

/**
 * One notifier of the agent. Its secret (signing key, webhook URL, bot token, SMTP password) is a
 * file beside the fragment, at notifierSecretPath: the fragment itself holds none.
 */
function planNotifier(site: string, n: NotifierSettings): NotifierConfig {
  const file = notifierSecretPath(site, n.name);
  if (n.slack !== undefined) return { name: n.name, kind: "slack", url_file: file };
  if (n.discord !== undefined) return { name: n.name, kind: "discord", url_file: file };
  if (n.telegram !== undefined) {
    return {
      name: n.name,
      kind: "telegram",
      chat_id: n.telegram.chat_id,
      token_file: file,
      api_url: "https://api.telegram.org",
    };
  }
  if (n.email !== undefined) {
    return {
      name: n.name,
      kind: "email",
      to: n.email.to,
      from: n.email.from,
      smtp_url: n.email.smtp,
      ...(n.email.password === undefined ? {} : { password_file: file }),
    };
  }
  return {
    name: n.name,
    kind: "webhook",
    url: n.webhook ?? "",
    ...(n.secret === undefined ? {} : { secret_file: file }),
  };
}

/** The secret a notifier needs on the host (in its file), by its name in the secrets files. */
export function notifierSecretName(n: NotifierSettings): string | undefined {
  return n.secret ?? n.slack ?? n.discord ?? n.telegram?.token ?? n.email?.password;
}

/**
 * The runbooks' host checks. A value must stay over its limit for `for` before an incident opens:
 * that many readings in a row. The disk is that of /var/lib/slipway (the agent's folder is there).
 */
function hostChecks(limits: Exclude<Monitoring["host"], false>): CheckConfig[] {
  const readings = Math.max(1, Math.ceil(limits.for / limits.interval));
  const metrics = [
    ["cpu", limits.cpu],
    ["memory", limits.memory],
    ["disk", limits.disk],
    ["load", limits.load],
  ] as const;
  return metrics.map(([metric, above]) => ({
    name: `host-${metric}`,
    kind: "host",
    metric,
    above,
    path: AGENT_DIR,
    interval_ms: limits.interval,
    timeout_ms: 5_000,
    alerting: {
      open_after: readings,
      resolve_after: 2,
      remind_ms: 3_600_000,
      flap_changes: 6,
      flap_window_ms: 1_800_000,
      severity: "warning",
    },
  }));
}

/**
 * The app's cron jobs this host's agent runs: each job once per app, on the first host of its
 * role (default: the first role), waiting on the app's deploy lock.
 */
export function planJobs(site: string, host: string, loaded: LoadedConfig): JobConfig[] {
  const roles = rolesInOrder(loaded.config);
  return Object.entries(loaded.config.cron ?? {}).flatMap(([name, job]) => {
    const role = roles.find((r) => r.name === (job.role ?? roles[0]?.name));
    if (!role || role.hosts[0] !== host) return [];
    return [
      {
        name,
        kind: "container" as const,
        schedule: job.schedule,
        jitter_ms: job.jitter,
        missed: job.missed,
        timeout_ms: job.timeout,
        lock_path: lockPath(site),
        role: role.name,
        labels: roleSelector({
          service: loaded.config.service,
          environment: loaded.environment,
          role: role.name,
        }),
        command: job.command,
      },
    ];
  });
}

/** container-<role> for each role that runs on the host, found by the labels deploys give it. */
function containerChecks(host: string, loaded: LoadedConfig): CheckConfig[] {
  return rolesInOrder(loaded.config)
    .filter((role) => role.hosts.includes(host))
    .map((role) => ({
      name: `container-${role.name}`,
      kind: "container",
      role: role.name,
      labels: roleSelector({
        service: loaded.config.service,
        environment: loaded.environment,
        role: role.name,
      }),
      interval_ms: 30_000,
      timeout_ms: 10_000,
      // One reading opens: a restart is seen once, and a missing container is not a blip.
      alerting: {
        open_after: 1,
        resolve_after: 2,
        remind_ms: 3_600_000,
        flap_changes: 6,
        flap_window_ms: 1_800_000,
        severity: "critical",
      },
    }));
}

/**
 * The agent's container: the bundle and its state on the host, Slipway's fixed Node flags, on the
 * proxy's network (each app's private network is connected at install), restarted by the engine.
 */
export function agentContainer(
  image: string,
  host: string,
  options: {
    publicStatus?: boolean;
    engine?: keyof typeof ENGINE_SOCKETS;
    /** The host has /etc/localtime (mounted only then: a missing one would become a folder). */
    localtime?: boolean;
  } = {},
): ContainerSpec {
  return {
    name: AGENT_CONTAINER,
    image,
    network: PROXY_NETWORK,
    labels: { "slipway.agent": "1" },
    restart: "unless-stopped",
    stopTimeoutS: 10,
    // Its budget is 64 MB (bench/agent.ts); the limit leaves room before the kernel steps in.
    memoryBytes: 128 * 1024 * 1024,
    volumes: [
      // Read-only: the deploy locks cron jobs wait on; its own folder (below) is writable.
      { source: STATE_DIR, target: STATE_DIR, readOnly: true },
      { source: AGENT_DIR, target: AGENT_DIR },
      // Writable: a web host that does not issue puts in place the certificate it is given.
      { source: CERTS_DIR, target: CERTS_DIR },
      // Cron schedules are in the host's time zone.
      ...(options.localtime
        ? [{ source: "/etc/localtime", target: "/etc/localtime", readOnly: true }]
        : []),
      // The engine, for container checks and cron jobs; inside always at Docker's path.
      { source: ENGINE_SOCKETS[options.engine ?? "docker"], target: ENGINE_SOCKET },
    ],
    cmd: [
      "node",
      ...AGENT_NODE_FLAGS,
      `${BUNDLE_DIR}/agent.mjs`,
      "--config",
      `${AGENT_DIR}/conf.d`,
      "--state",
      `${AGENT_DIR}/state`,
      "--host",
      host,
      "--listen",
      `0.0.0.0:${AGENT_PORT}`,
      "--token-file",
      `${AGENT_DIR}/token`,
      ...(options.publicStatus ? ["--public-status"] : []),
    ],
  };
}

/**
 * Run in the agent's container (`docker exec -i`): one request to its API with the token read
 * from its file there, so the token is in no argv; the request body comes on stdin. Prints the
 * status on the first line, then the body.
 */
export const API_SCRIPT = [
  "const [method, path] = process.argv.slice(1);",
  "const fs = await import('node:fs');",
  `const token = fs.readFileSync('${AGENT_DIR}/token', 'utf8').trim();`,
  "let body = '';",
  "for await (const chunk of process.stdin) body += chunk;",
  `const res = await fetch('http://127.0.0.1:${AGENT_PORT}' + path, { method, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, ...(body ? { body } : {}) });`,
  "process.stdout.write(res.status + '\\n' + (await res.text()));",
].join("\n");

export function apiArgv(method: string, path: string): string[] {
  return [
    "docker",
    "exec",
    "-i",
    AGENT_CONTAINER,
    "node",
    "--input-type=module",
    "-e",
    API_SCRIPT,
    method,
    path,
  ];
}

/** The job the site's ACME certificate is renewed by: never a name of `cron:` (a space). */
export const CERTIFICATE_JOB = "certificate renewal";

/**
 * The renewal of the site's ACME certificate, on the host that issues it (the first host of its
 * web role): every 15 minutes it looks at the certificate's files (cheap) and runs the runner only
 * when one is due or a failed attempt's backoff is over; it waits while a deploy holds the lock.
 * Each other web host's agent takes that host's certificate, sealed, from its proxy (at
 * `issuer`, the address the other hosts reach it at) as often.
 */
export function planCertificateJobs(
  site: string,
  host: string,
  loaded: LoadedConfig,
  image: string,
  issuer?: string,
): JobConfig[] {
  if (loaded.config.proxy.tls?.acme === undefined) return [];
  const web = webHosts(loaded.config);
  if (!web.includes(host)) return [];
  const other = web[0] !== host;
  const name = loaded.config.proxy.domains.find((d) => !d.startsWith("*.")) ?? "";
  const from =
    other && issuer !== undefined
      ? {
          url: `http://${issuer.includes(":") ? `[${issuer}]` : issuer}${sharedPath(site)}`,
          host: name || loaded.config.proxy.domains[0]?.replace(/^\*\./, "www.") || "",
          key_file: shareKeyFile(site),
        }
      : undefined;
  if (other && from === undefined) return [];
  return [
    {
      name: CERTIFICATE_JOB,
      kind: "certificate",
      schedule: "*/15 * * * *",
      jitter_ms: 120_000,
      missed: "skip",
      timeout_ms: 15 * 60_000,
      lock_path: lockPath(site),
      order: orderFile(site),
      image,
      runner: `${BUNDLE_DIR}/certs.mjs`,
      proxy: "slipway-proxy",
      network: PROXY_NETWORK,
      serves: "slipway-proxy:443",
      ...(from === undefined ? {} : { from }),
    },
  ];
}
