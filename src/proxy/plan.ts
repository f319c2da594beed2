/**
 * Steps that put the proxy on a host: its files, its network and container, and the atomic switch
 * of an upstream. Pure: the deploy orchestrator applies them.
 */
import { createHash } from "node:crypto";
import {
  CERTS_DIR,
  certificateFiles,
  PROXY_CERTS_DIR,
  PROXY_WEBROOT,
  renderHttpInclude,
  renderTlsInclude,
  WEBROOT_DIR,
} from "../certs/index.ts";
import { BugError } from "../errors/index.ts";
import { ensure, run, type Step, upload } from "../plan/index.ts";
import { type Argv, chain } from "../transport/index.ts";
import { checkDir, checkImage, checkName } from "./checks.ts";
import {
  PROXY_CONTAINER,
  PROXY_DIR,
  PROXY_NETWORK,
  type ProxyOptions,
  type ProxySite,
  type UpstreamTarget,
} from "./model.ts";
import {
  DEFAULT_TLS_SITE,
  DH_PARAMS_FILE,
  FFDHE2048,
  renderDefaultTlsSite,
  renderNginxConf,
  renderSite,
  renderStatusSite,
  renderUpstream,
  type StatusSite,
  upstreamName,
} from "./render.ts";

const FILE_MODE = 0o644;
const SWITCH_TIMEOUT_MS = 60_000;
/** The container label holding a digest of how the proxy container was started. */
export const PROXY_SPEC_LABEL = "slipway.proxy.spec";

function hostDir(options: ProxyOptions): string {
  return checkDir("proxy directory", options.hostDir ?? PROXY_DIR);
}

function directoriesStep(dir: string): Step {
  const sites = `${dir}/sites`;
  const upstreams = `${dir}/upstreams`;
  return ensure("proxy directories", chain(["test", "-d", sites], ["test", "-d", upstreams]), [
    run("create the proxy directories", ["mkdir", "-p", sites, upstreams]),
  ]);
}

/**
 * The folders the proxy container mounts for HTTPS: certificates (root only) and the ACME
 * webroot, which nginx's workers read (not root: the folders are 0755, the files 0644).
 */
function tlsDirectoriesStep(): Step {
  const challenges = `${WEBROOT_DIR}/.well-known/acme-challenge`;
  return ensure(
    "certificate directories",
    chain(["test", "-d", CERTS_DIR], ["test", "-d", challenges]),
    [
      run("create the certificate directories", ["mkdir", "-p", "-m", "0700", CERTS_DIR]),
      run("create the ACME webroot", ["mkdir", "-p", "-m", "0755", challenges]),
      run("open the ACME webroot to nginx's workers", [
        "chmod",
        "0755",
        WEBROOT_DIR,
        `${WEBROOT_DIR}/.well-known`,
        challenges,
      ]),
    ],
  );
}

/** nginx.conf and the DH group it names, which must be there first. */
function nginxConfSteps(dir: string, options: ProxyOptions): Step[] {
  return [
    upload("proxy DH parameters", `${dir}/${DH_PARAMS_FILE}`, FFDHE2048, FILE_MODE),
    upload("proxy nginx.conf", `${dir}/nginx.conf`, renderNginxConf(options), FILE_MODE),
  ];
}

/**
 * For each HTTPS site, the includes its site file names (src/certs), as "no certificate yet"
 * unless they are there: whatever placed a certificate wrote them, and they stay.
 */
function includeSteps(sites: readonly ProxySite[], options: ProxyOptions): Step[] {
  const dir = checkDir("certificates directory", options.hostCertsDir ?? CERTS_DIR);
  const facts = {
    proxyCertsDir: options.certsDir ?? PROXY_CERTS_DIR,
    httpsPort: options.tlsListenPort ?? 443,
  };
  return sites
    .filter((site) => site.https !== undefined)
    .map((site) => {
      const files = certificateFiles(site.site);
      const tls = `${dir}/${files.tls}`;
      const http = `${dir}/${files.http}`;
      return ensure(
        `certificate includes of ${site.site}`,
        chain(["test", "-e", tls], ["test", "-e", http]),
        [
          upload(
            `${site.site} has no certificate yet (TLS)`,
            tls,
            renderTlsInclude(site.site, facts),
            0o600,
          ),
          upload(
            `${site.site} has no certificate yet (HTTP)`,
            http,
            renderHttpInclude(site.site, facts),
            0o600,
          ),
        ],
      );
    });
}

/**
 * Uploads nginx.conf, each site and each upstream (mode 0644). `targets` is keyed by upstream
 * name (`hello-web`); a site without a target gets the "no container yet" upstream only when it
 * has no upstream file at all, so planning files never takes traffic away from a live container.
 * Upstreams are written before sites, which name them.
 */
export function planProxyFiles(
  sites: readonly ProxySite[],
  targets: ReadonlyMap<string, UpstreamTarget>,
  options: ProxyOptions = {},
): Step[] {
  const dir = hostDir(options);
  const seen = new Set<string>();
  for (const site of sites) {
    if (seen.has(site.site)) {
      throw new BugError(`proxy: two web roles of site "${site.site}" would share one site file`);
    }
    seen.add(site.site);
  }
  const steps: Step[] = [directoriesStep(dir), ...nginxConfSteps(dir, options)];
  for (const site of sites) {
    const name = upstreamName(site);
    const path = `${dir}/upstreams/${name}.conf`;
    const target = targets.get(name);
    steps.push(
      target === undefined
        ? ensure(
            `upstream ${name}`,
            ["test", "-e", path],
            [
              upload(
                `upstream ${name} (no container yet)`,
                path,
                renderUpstream(site, undefined),
                FILE_MODE,
              ),
            ],
          )
        : upload(`upstream ${name}`, path, renderUpstream(site, target), FILE_MODE),
    );
  }
  const https = sites.some((site) => site.https !== undefined);
  if (https) {
    steps.push(
      ...includeSteps(sites, options),
      upload(
        "the default HTTPS server",
        `${dir}/sites/${DEFAULT_TLS_SITE}.conf`,
        renderDefaultTlsSite(options),
        FILE_MODE,
      ),
    );
  }
  for (const site of sites) {
    steps.push(
      upload(
        `site ${site.site}`,
        `${dir}/sites/${site.site}.conf`,
        renderSite(site, options),
        FILE_MODE,
      ),
    );
  }
  return steps;
}

/** The `docker run` of the proxy container, without its spec label. */
function proxyRunArgs(image: string): string[] {
  return [
    "--name",
    PROXY_CONTAINER,
    "--network",
    PROXY_NETWORK,
    "--publish",
    "80:80",
    "--publish",
    "443:443",
    "--restart",
    "unless-stopped",
    // Named, not left to the engine's default: Podman's default (journald) ignores max-size.
    "--log-driver",
    "json-file",
    "--log-opt",
    "max-size=10m",
    "--log-opt",
    "max-file=3",
    // The directory, not single files: a file replaced by rename (every upload) is seen through a
    // directory mount, while a single-file mount keeps showing the old file.
    "--volume",
    `${PROXY_DIR}:/etc/nginx:ro`,
    // Certificates with their includes, and the ACME webroot: written by src/certs.
    "--volume",
    `${CERTS_DIR}:${PROXY_CERTS_DIR}:ro`,
    "--volume",
    `${WEBROOT_DIR}:${PROXY_WEBROOT}:ro`,
    checkImage(image),
  ];
}

// True (exit 0) when the container runs and was started with this spec. $1 container, $2 digest.
const PROXY_CURRENT_SCRIPT = `test "$(docker container inspect --format '{{.State.Running}} {{index .Config.Labels "${PROXY_SPEC_LABEL}"}}' "$1" 2>/dev/null)" = "true $2"`;

// Removes the container if there is one (stopped, or started another way). $1 container.
const PROXY_REMOVE_SCRIPT =
  'if docker container inspect "$1" >/dev/null 2>&1; then docker rm --force "$1" >/dev/null; fi';

/**
 * Ensures the proxy runs: the network, nginx.conf and the directories it mounts, then the
 * container with this image and mounts. A container that is stopped or was started differently
 * (another image, older options: a digest of the `docker run` arguments is kept in a label) is
 * replaced. Ends with `nginx -t` in the container.
 */
export function planProxyBoot(image: string): Step[] {
  const args = proxyRunArgs(image);
  const spec = createHash("sha256").update(JSON.stringify(args)).digest("hex").slice(0, 12);
  const name = PROXY_CONTAINER;
  const start: Argv = [
    "docker",
    "run",
    "--detach",
    "--label",
    `${PROXY_SPEC_LABEL}=${spec}`,
    ...args,
  ];
  return [
    ensure(
      `network ${PROXY_NETWORK}`,
      ["docker", "network", "inspect", PROXY_NETWORK],
      [run(`create network ${PROXY_NETWORK}`, ["docker", "network", "create", PROXY_NETWORK])],
    ),
    directoriesStep(PROXY_DIR),
    tlsDirectoriesStep(),
    ...nginxConfSteps(PROXY_DIR, {}),
    ensure(
      `proxy container ${name} running ${image}`,
      ["sh", "-c", PROXY_CURRENT_SCRIPT, "sh", name, spec],
      [
        run(`remove the stopped or outdated ${name}`, [
          "sh",
          "-c",
          PROXY_REMOVE_SCRIPT,
          "sh",
          name,
        ]),
        run(`start ${name}`, start),
      ],
    ),
    run("check the proxy configuration", ["docker", "exec", name, "nginx", "-t"], {
      readOnly: true,
    }),
  ];
}

/** The line RELOAD_SCRIPT prints once traffic has moved, before it drains. */
export const SWITCHED_MARK = "slipway: switched";

/**
 * Run in the proxy container: a graceful reload that returns only once the new configuration
 * serves. `nginx -s reload` returns as soon as the signal is sent, and until the master has
 * started new workers the old ones keep accepting with the old configuration; an old worker
 * stops accepting when it is told to quit and renames itself "... is shutting down". A reload
 * the master could not carry out (a name it failed to resolve, say) leaves the old workers
 * serving: after 5 s that is a failure (exit 1), so nothing goes on as if traffic had moved.
 * Only the workers of the master in nginx's pid file count (their PPid): another nginx that
 * shares the process table (a second one in the container; every nginx of a machine where the
 * tests run this script) keeps its workers and must not hold the reload up or pass for ours.
 * The pid file is the one `nginx -s reload` signals: nginx's built-in path (the rendered
 * nginx.conf names none), or SLIPWAY_NGINX_PID_FILE where nginx was started with another.
 *
 * With a drain time in milliseconds as $1, the script then prints SWITCHED_MARK and waits, at
 * most that long, for the old workers to exit: a worker that is shutting down exits once it has
 * answered every request it held, so after that no request is on its way to the old upstream.
 */
export const RELOAD_SCRIPT = [
  'pid_file="$SLIPWAY_NGINX_PID_FILE"',
  "[ -n \"$pid_file\" ] || pid_file=\"$(nginx -V 2>&1 | tr ' ' '\\n' | sed -n 's/^--pid-path=//p')\"",
  "master=''",
  'read -r master 2>/dev/null < "$pid_file"',
  'if [ -z "$master" ]; then',
  "  echo \"slipway: no nginx master pid in the pid file '$pid_file'; is nginx running?\" >&2",
  "  exit 1",
  "fi",
  // Sets $ppid to the parent of process $1 ('' once it is gone), starting no process: the listing
  // reads every process's status.
  'parent() { ppid=\'\'; while read -r key value; do if [ "$key" = PPid: ]; then ppid="$value"; return; fi; done 2>/dev/null < "/proc/$1/status"; }',
  // stderr first: a worker gone between the listing and the read is not an error.
  "serving() { [ \"$(tr -d '\\000' 2>/dev/null < \"/proc/$1/cmdline\")\" = 'nginx: worker process' ]; }",
  // A worker of our master, serving or shutting down.
  'alive() { parent "$1"; [ "$ppid" = "$master" ]; }',
  "old=''",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
  'for d in /proc/[0-9]*; do p="${d#/proc/}"; parent "$p"; if [ "$ppid" = "$master" ] && serving "$p"; then old="$old $p"; fi; done',
  "nginx -s reload || exit $?",
  "i=0",
  "while :; do",
  "  busy=''",
  '  for p in $old; do if serving "$p"; then busy=1; fi; done',
  '  [ -z "$busy" ] && break',
  "  i=$((i + 1))",
  '  if [ "$i" -ge 100 ]; then',
  '    echo "slipway: nginx did not take the new configuration: its old workers still serve after 5s" >&2',
  "    exit 1",
  "  fi",
  "  sleep 0.05",
  "done",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
  'drain="${1:-0}"',
  '[ "$drain" -gt 0 ] || exit 0',
  `echo '${SWITCHED_MARK}'`,
  "waited=0",
  'while [ "$waited" -lt "$drain" ]; do',
  "  left=''",
  '  for p in $old; do if alive "$p"; then left=1; fi; done',
  '  [ -z "$left" ] && exit 0',
  "  waited=$((waited + 50))",
  "  sleep 0.05",
  "done",
].join("\n");

/** The exit code of CHECKED_RELOAD_SCRIPT when `nginx -t` refuses the configuration. */
const REFUSED = 78; // EX_CONFIG

/** RELOAD_SCRIPT after `nginx -t`, in one exec: the switch's check and reload. */
export const CHECKED_RELOAD_SCRIPT = `nginx -t || exit ${REFUSED}\n${RELOAD_SCRIPT}`;

/** Checks the whole configuration, then reloads nginx gracefully (open requests finish). */
export function planProxyReload(): Step[] {
  return [
    run("check the proxy configuration", ["docker", "exec", PROXY_CONTAINER, "nginx", "-t"], {
      readOnly: true,
    }),
    run("reload the proxy", ["docker", "exec", PROXY_CONTAINER, "sh", "-c", RELOAD_SCRIPT]),
  ];
}

/**
 * The switch, as one constant script: the values arrive as $1 (upstreams directory), $2 (upstream
 * name), $3 (proxy container), $4 (CHECKED_RELOAD_SCRIPT), $5 (the drain time in milliseconds)
 * and the new upstream on stdin, never in the script's text.
 * A configuration that nginx -t refuses never replaces one that works: the previous file is put
 * back and the script exits 1 before any reload.
 */
export const SWITCH_SCRIPT = [
  "set -eu",
  'current="$1/$2.conf"',
  'next="$1/$2.conf.next"',
  'previous="$1/$2.conf.previous"',
  'cat > "$next"',
  'chmod 0644 "$next"',
  'if [ -e "$current" ]; then cp -p "$current" "$previous"; else rm -f "$previous"; fi',
  'mv -f "$next" "$current"',
  "rc=0",
  'docker exec "$3" sh -c "$4" sh "$5" || rc=$?',
  'if [ "$rc" -ne 0 ]; then',
  // nginx kept its old configuration: the file on disk must say the same, for the next reload.
  '  if [ -e "$previous" ]; then mv -f "$previous" "$current"; else rm -f "$current"; fi',
  `  if [ "$rc" -eq ${REFUSED} ]; then`,
  '    echo "slipway: nginx refused the new upstream $2; the previous one is back in place" >&2',
  "  else",
  '    echo "slipway: the reload of $2 did not take; the previous upstream is back in place" >&2',
  "  fi",
  "  exit 1",
  "fi",
].join("\n");

/**
 * Points a site's upstream at a new container: one run step that writes the new upstream beside
 * the current one, keeps the current as `<name>.conf.previous`, moves the new into place, and
 * reloads nginx only when `nginx -t` accepts it (else restores the previous file and fails).
 */
export function planProxySwitch(
  site: ProxySite,
  target: UpstreamTarget,
  options: ProxyOptions & {
    /**
     * After the switch, print SWITCHED_MARK and wait at most this long for the old workers to
     * finish what they hold (the step's run ends then).
     */
    drainMs?: number;
  } = {},
): Step[] {
  const name = upstreamName(site);
  return [
    switchStep(
      `switch ${name} to ${target.container}:${target.port}`,
      `${hostDir(options)}/upstreams`,
      name,
      renderUpstream(site, target),
      options.drainMs ?? 0,
    ),
  ];
}

/** SWITCH_SCRIPT on `dir/name.conf` with `content`: nginx -t first, the old file back if refused. */
function switchStep(
  description: string,
  dir: string,
  name: string,
  content: string,
  drainMs: number,
): Step {
  const drain = String(Math.max(0, Math.round(drainMs)));
  return run(
    description,
    ["sh", "-c", SWITCH_SCRIPT, "sh", dir, name, PROXY_CONTAINER, CHECKED_RELOAD_SCRIPT, drain],
    { stdin: content, timeoutMs: SWITCH_TIMEOUT_MS + drainMs },
  );
}

/** The status page's server block's file name (a dot: no site's name has one). */
export function statusSiteName(site: string): string {
  return `status.${checkName("site", site)}`;
}

/**
 * Puts a status domain's server block in place as the upstream switch does: `nginx -t` first, the
 * previous file back and exit 1 when it refuses, then the graceful reload.
 */
export function planStatusSite(
  site: string,
  status: StatusSite,
  options: ProxyOptions = {},
): Step[] {
  return [
    switchStep(
      `status page on ${status.domain}`,
      `${hostDir(options)}/sites`,
      statusSiteName(site),
      renderStatusSite(status, options),
      0,
    ),
  ];
}
