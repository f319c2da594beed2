#!/usr/bin/env bash
# Installs and starts everything the test rig needs on a fresh Debian 12 machine (run as root):
#   - apt packages: podman, runc, OpenSSH server and client, debootstrap, uidmap (+ curl, iptables, openssl for the demo's secret,
#     docker-registry and apache2-utils' htpasswd for the throwaway registry of test/rig/registry.ts,
#     chromium for the status page's browser test through playwright-core, prometheus for promtool,
#     dnsmasq-base as a real DNS server for the agent's DNS checks, age and zstd to prove that
#     backup archives open with the standard tools, pebble (with pebble-challtestsrv) as the ACME
#     CA of the HTTPS tests)
#   - /etc/containers/containers.conf selecting runc (crun fails here on setrlimit)
#   - the Podman Docker-API service on unix:///run/podman/podman.sock
#   - base image localhost/debian:bookworm (debootstrap, no registry needed)
#   - "VPS in a box" image localhost/slipway-vps:N from rig/images/vps/Containerfile
#   - app images for tests and the demo: localhost/slipway-node:24 (rig/images/node, with the Node
#     binary of this project's node_modules) and localhost/slipway-nginx:N (rig/images/nginx)
#   - accessory images standing in for the official postgres:15, mariadb:10.11 and redis:7 (same
#     users, paths, env and entrypoint contract, from Debian's packages): localhost/slipway-postgres:15,
#     localhost/slipway-mariadb:10.11, localhost/slipway-redis:7 (rig/images/postgres, mariadb, redis)
# Idempotent: prints one line per thing it did, or a single line saying nothing was needed.
set -euo pipefail

# Bump VPS_IMAGE's tag number whenever anything under rig/images/vps/ changes, and update
# VPS_IMAGE in test/rig/vps.ts to match. As a safety net the image carries a label with a hash
# of its build context and is rebuilt when that hash no longer matches.
readonly BASE_IMAGE="localhost/debian:bookworm"
readonly VPS_IMAGE="localhost/slipway-vps:1"
# Same rule for these two: bump the number after a change under rig/images/node or nginx (the
# node image's tag is Node's major version, so a change there replaces the image in place).
readonly NODE_IMAGE="localhost/slipway-node:24"
readonly NODE_MAJOR="24"
readonly NPM_MAJOR="11"
readonly NGINX_IMAGE="localhost/slipway-nginx:1"
# Tagged with the version of the official image each stands in for: a change under its folder
# replaces the image in place (the context hash label tells), and test/rig/images.ts has the tags.
readonly POSTGRES_IMAGE="localhost/slipway-postgres:15"
readonly MARIADB_IMAGE="localhost/slipway-mariadb:10.11"
readonly REDIS_IMAGE="localhost/slipway-redis:7"
readonly SUITE="bookworm"
readonly PODMAN_SOCK="/run/podman/podman.sock"
readonly APT_PACKAGES=(podman runc openssh-server openssh-client debootstrap uidmap curl iptables openssl nginx docker-registry apache2-utils chromium prometheus dnsmasq-base age zstd pebble)

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly RIG_DIR
readonly PROJECT_DIR="${RIG_DIR%/*}"
export DEBIAN_FRONTEND=noninteractive

DID=0
say() {
  printf 'rig: %s\n' "$*"
  DID=1
}
die() {
  printf 'rig: error: %s\n' "$*" >&2
  exit 1
}
# Runs a command with its output in a log file; prints the log's tail and fails if it fails.
quiet() {
  local log
  log="$(mktemp /tmp/slipway-rig.XXXXXX.log)"
  if ! "$@" </dev/null >"$log" 2>&1; then
    printf 'rig: error: command failed: %s\n' "$*" >&2
    tail -n 40 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

[[ ${EUID} -eq 0 ]] || die "must run as root (podman rootful, apt-get, sshd)"

install_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != "installed" ]]; then
      missing+=("$pkg")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  quiet apt-get update -q
  quiet apt-get install -y -q "${missing[@]}"
  say "installed apt packages: ${missing[*]}"
}

configure_containers() {
  local conf=/etc/containers/containers.conf dropin_dir=/etc/containers/containers.conf.d
  local content
  content=$'# Written by slipway rig/install.sh: crun fails here (setrlimit RLIMIT_NOFILE), runc works.\n[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'
  if [[ ! -e $conf ]]; then
    mkdir -p /etc/containers
    printf '%s' "$content" >"$conf"
    say "wrote $conf (runtime runc)"
    return 0
  fi
  if grep -qsE '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$conf" "$dropin_dir"/*.conf; then
    return 0
  fi
  # An existing file with other settings: leave it alone and override through a drop-in.
  mkdir -p "$dropin_dir"
  printf '%s' "$content" >"$dropin_dir/50-slipway-rig.conf"
  say "wrote $dropin_dir/50-slipway-rig.conf (runtime runc; $conf left as it was)"
}

podman_api_up() {
  curl -fsS --max-time 2 --unix-socket "$PODMAN_SOCK" http://podman/_ping >/dev/null 2>&1
}

start_podman_service() {
  podman_api_up && return 0
  mkdir -p "$(dirname "$PODMAN_SOCK")"
  rm -f "$PODMAN_SOCK" # not answering: a stale socket file from a dead service
  setsid podman system service --time=0 "unix://$PODMAN_SOCK" </dev/null >/dev/null 2>&1 &
  local i
  for ((i = 0; i < 150; i++)); do
    if podman_api_up; then
      say "started podman API service on unix://$PODMAN_SOCK"
      return 0
    fi
    sleep 0.2
  done
  die "podman API service did not answer on $PODMAN_SOCK within 30s"
}

# The mirror apt uses for a suite ($1, default bookworm): deb822 sources first, then
# sources.list; prints nothing when no source has that suite.
apt_mirror() {
  local suite="${1:-$SUITE}" uri="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    uri="$(awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""; types = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^#/) continue
          if (match(line, /^URIs:[ \t]*/)) uris = substr(line, RLENGTH + 1)
          else if (match(line, /^Suites:[ \t]*/)) suites = substr(line, RLENGTH + 1)
          else if (match(line, /^Types:[ \t]*/)) types = substr(line, RLENGTH + 1)
          else if (match(line, /^Enabled:[ \t]*/)) enabled = substr(line, RLENGTH + 1)
        }
        if (enabled == "no" || types !~ /(^|[ \t])deb([ \t]|$)/) next
        n = split(suites, s, /[ \t]+/)
        for (j = 1; j <= n; j++) if (s[j] == suite) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")"
    [[ -n $uri ]] && break
  done
  if [[ -z $uri && -r /etc/apt/sources.list ]]; then
    uri="$(sed -e 's/\[[^]]*\]//' /etc/apt/sources.list |
      awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')"
  fi
  [[ -z $uri ]] || printf '%s\n' "$uri"
}

# apt sources of a stock Debian 12 server: main suite, updates and, when the machine has a
# mirror for it, security.
write_image_sources() {
  local root="$1" mirror="$2" security
  security="$(apt_mirror "$SUITE-security")"
  rm -f "$root/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n $security ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$root/etc/apt/sources.list.d/debian.sources"
}

ROOTFS=""
TMP_DIRS=()
cleanup() {
  cleanup_rootfs
  local d
  for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
  TMP_DIRS=()
}
cleanup_rootfs() {
  [[ -n $ROOTFS && -d $ROOTFS ]] || return 0
  # debootstrap mounts proc/sys inside; never let rm reach into them.
  findmnt -rno TARGET | grep -F "$ROOTFS/" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$ROOTFS"
  ROOTFS=""
}
trap cleanup EXIT

build_base_image() {
  podman image exists "$BASE_IMAGE" && return 0
  local mirror
  mirror="$(apt_mirror)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  ROOTFS="$(mktemp -d /var/tmp/slipway-rootfs.XXXXXX)"
  quiet debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$mirror"
  rm -rf "${ROOTFS:?}"/var/cache/apt/archives/*.deb "${ROOTFS:?}"/var/lib/apt/lists/*
  write_image_sources "$ROOTFS" "$mirror"
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
  quiet bash -c 'set -o pipefail; tar -C "$1" -c . | podman import --change "CMD [\"/bin/bash\"]" - "$2"' \
    _ "$ROOTFS" "$BASE_IMAGE"
  cleanup_rootfs
  say "built $BASE_IMAGE with debootstrap from $mirror"
}

context_hash() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# Whether image $1 exists with the context hash $2 in its label (then nothing needs building);
# prints the hash it carries when it exists with another one.
image_current() {
  local have
  podman image exists "$1" || return 1
  have="$(podman image inspect --format '{{ index .Labels "slipway.rig.context-sha256" }}' "$1")"
  [[ $have == "$2" ]] && return 0
  printf '%s\n' "$have"
  return 1
}

# Builds image $1 from context folder $2, labelled with hash $3; $4 is the source folder, $5 what
# was there before (empty: the image did not exist).
build_image() {
  local image="$1" ctx="$2" hash="$3" source="$4" had="$5" old=""
  [[ -z $had ]] || old="$(podman image inspect --format '{{.Id}}' "$image")"
  quiet podman build --pull=never --label "slipway.rig.context-sha256=$hash" -t "$image" "$ctx"
  if [[ -n $had ]]; then
    # The old build lost its tag; drop it unless a container still uses it, or the build made
    # the very same image again (every layer cached): then it is the new one.
    if [[ $old != "$(podman image inspect --format '{{.Id}}' "$image")" ]]; then
      podman image rm "$old" >/dev/null 2>&1 || true
    fi
    say "rebuilt $image: $source changed since it was built"
  else
    say "built $image"
  fi
}

build_vps_image() {
  local ctx="$RIG_DIR/images/vps" hash had
  hash="$(context_hash "$ctx")"
  had="$(image_current "$VPS_IMAGE" "$hash")" && return 0
  build_image "$VPS_IMAGE" "$ctx" "$hash" rig/images/vps "$had"
}

build_nginx_image() {
  local ctx="$RIG_DIR/images/nginx" hash had
  hash="$(context_hash "$ctx")"
  had="$(image_current "$NGINX_IMAGE" "$hash")" && return 0
  build_image "$NGINX_IMAGE" "$ctx" "$hash" rig/images/nginx "$had"
}

build_postgres_image() {
  local ctx="$RIG_DIR/images/postgres" hash had
  hash="$(context_hash "$ctx")"
  had="$(image_current "$POSTGRES_IMAGE" "$hash")" && return 0
  build_image "$POSTGRES_IMAGE" "$ctx" "$hash" rig/images/postgres "$had"
}

build_mariadb_image() {
  local ctx="$RIG_DIR/images/mariadb" hash had
  hash="$(context_hash "$ctx")"
  had="$(image_current "$MARIADB_IMAGE" "$hash")" && return 0
  build_image "$MARIADB_IMAGE" "$ctx" "$hash" rig/images/mariadb "$had"
}

build_redis_image() {
  local ctx="$RIG_DIR/images/redis" hash had
  hash="$(context_hash "$ctx")"
  had="$(image_current "$REDIS_IMAGE" "$hash")" && return 0
  build_image "$REDIS_IMAGE" "$ctx" "$hash" rig/images/redis "$had"
}

# Whether $1 is a Node binary of the wanted major version (an ELF file, not an npm shim script).
is_node_binary() {
  [[ -f $1 && -x $1 && "$(head -c 4 "$1" | tr -d '\0')" == $'\x7fELF' ]] || return 1
  [[ "$("$1" --version 2>/dev/null)" == "v$NODE_MAJOR."* ]]
}

# Prints the path of a Node binary for the image: the one npm put in this project's node_modules
# (the `node` package hard-links the platform package's bin/node there), else the platform
# package fetched with npm into the folder $1.
find_node_binary() {
  local tmp="$1" arch candidate
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node binary package for $(uname -m)" ;;
  esac
  for candidate in "$PROJECT_DIR/node_modules/node-linux-$arch/bin/node" "$PROJECT_DIR/node_modules/node/bin/node"; do
    if is_node_binary "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  command -v npm >/dev/null || die "no Node $NODE_MAJOR binary in node_modules and no npm to fetch one: run npm install first"
  quiet npm pack --pack-destination "$tmp" "node-linux-$arch@$NODE_MAJOR"
  tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$tmp" package/bin/node
  is_node_binary "$tmp/package/bin/node" || die "npm package node-linux-$arch@$NODE_MAJOR holds no usable bin/node"
  printf '%s\n' "$tmp/package/bin/node"
}

build_node_image() {
  local src="$RIG_DIR/images/node" hash had ctx bin
  hash="$(context_hash "$src")"
  had="$(image_current "$NODE_IMAGE" "$hash")" && return 0
  ctx="$(mktemp -d /var/tmp/slipway-node-image.XXXXXX)"
  TMP_DIRS+=("$ctx")
  cp -R "$src/." "$ctx/"
  bin="$(find_node_binary "$ctx")"
  # Symbols are a sixth of the binary and nothing in an image reads them.
  if command -v strip >/dev/null; then
    strip --strip-all -o "$ctx/node" "$bin"
  else
    cp "$bin" "$ctx/node"
  fi
  rm -rf "$ctx/package" "$ctx"/*.tgz
  # This machine's own CAs (a TLS-inspecting egress proxy, say), so npm in builds FROM the image
  # reaches the registry the way this machine does. None on an ordinary machine.
  mkdir -p "$ctx/extra-ca"
  find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$ctx/extra-ca/" \; 2>/dev/null || true
  # npm, as in the official image (apps' Dockerfiles run `npm ci`), from the npm registry.
  command -v npm >/dev/null || die "no npm to fetch npm@$NPM_MAJOR for the node image"
  quiet npm pack --pack-destination "$ctx" "npm@$NPM_MAJOR"
  mkdir "$ctx/npm"
  tar -xzf "$ctx"/npm-*.tgz -C "$ctx/npm" --strip-components=1
  rm -f "$ctx"/npm-*.tgz
  build_image "$NODE_IMAGE" "$ctx" "$hash" rig/images/node "$had"
  rm -rf "$ctx"
}

# The tests' throwaway sshd logs root in on this machine, and bash then reads root's ~/.bashrc.
# Where that runs `pyenv init` (as on these machines), a rehash lock left by a killed shell makes
# every such login wait 60 s for it, and the SSH tests time out: a lock older than a minute is
# stale (a rehash takes well under a second), so it goes.
clear_stale_shell_locks() {
  local lock="${PYENV_ROOT:-$HOME/.pyenv}/shims/.pyenv-shim"
  if [[ -e "$lock" ]] && [[ -n "$(find "$lock" -mmin +1 2>/dev/null)" ]]; then
    rm -f "$lock"
    say "removed a stale pyenv rehash lock ($lock) that made root's SSH logins wait 60 s"
  fi
}

install_packages
clear_stale_shell_locks
configure_containers
start_podman_service
build_base_image
build_vps_image
build_node_image
build_nginx_image
build_postgres_image
build_mariadb_image
build_redis_image
[[ $DID -eq 1 ]] || say "nothing to do: packages, podman API and images already in place"
