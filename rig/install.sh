#!/usr/bin/env bash
# Installs and starts everything the test rig needs on a fresh Debian 12 machine (run as root):
#   - apt packages: podman, runc, OpenSSH server and client, debootstrap, uidmap (+ curl, iptables, openssl for the demo's secret)
#   - /etc/containers/containers.conf selecting runc (crun fails here on setrlimit)
#   - the Podman Docker-API service on unix:///run/podman/podman.sock
#   - base image localhost/debian:bookworm (debootstrap, no registry needed)
#   - "VPS in a box" image localhost/slipway-vps:N from rig/images/vps/Containerfile
# Idempotent: prints one line per thing it did, or a single line saying nothing was needed.
set -euo pipefail

# Bump VPS_IMAGE's tag number whenever anything under rig/images/vps/ changes, and update
# VPS_IMAGE in test/rig/vps.ts to match. As a safety net the image carries a label with a hash
# of its build context and is rebuilt when that hash no longer matches.
readonly BASE_IMAGE="localhost/debian:bookworm"
readonly VPS_IMAGE="localhost/slipway-vps:1"
readonly SUITE="bookworm"
readonly PODMAN_SOCK="/run/podman/podman.sock"
readonly APT_PACKAGES=(podman runc openssh-server openssh-client debootstrap uidmap curl iptables openssl)

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly RIG_DIR
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
cleanup_rootfs() {
  [[ -n $ROOTFS && -d $ROOTFS ]] || return 0
  # debootstrap mounts proc/sys inside; never let rm reach into them.
  findmnt -rno TARGET | grep -F "$ROOTFS/" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$ROOTFS"
  ROOTFS=""
}
trap cleanup_rootfs EXIT

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

build_vps_image() {
  local ctx="$RIG_DIR/images/vps" hash have=""
  hash="$(context_hash "$ctx")"
  if podman image exists "$VPS_IMAGE"; then
    have="$(podman image inspect --format '{{ index .Labels "slipway.rig.context-sha256" }}' "$VPS_IMAGE")"
    [[ $have == "$hash" ]] && return 0
  fi
  quiet podman build --pull=never --label "slipway.rig.context-sha256=$hash" -t "$VPS_IMAGE" "$ctx"
  if [[ -n $have ]]; then
    say "rebuilt $VPS_IMAGE: rig/images/vps changed (bump the tag number in rig/install.sh and test/rig/vps.ts)"
  else
    say "built $VPS_IMAGE"
  fi
}

install_packages
configure_containers
start_podman_service
build_base_image
build_vps_image
[[ $DID -eq 1 ]] || say "nothing to do: packages, podman API and images already in place"
