#!/bin/sh
# Entrypoint of localhost/slipway-redis:7, written to the documented contract of the official redis
# image's docker-entrypoint.sh (Slipway drives the official image in production with the same
# commands):
#   - Flags (`--appendonly yes`) or a config file (`/data/x.conf`) as first argument mean
#     `redis-server` with those arguments; anything else is exec'd as is.
#   - `redis-server` started as root: the working directory (/data) is chowned to redis, then the
#     script re-runs itself as redis (uid 999) with gosu.
#   - redis-server runs with its built-in defaults plus the arguments: listening on every
#     interface, with protected mode off so that other containers can connect. The official image
#     compiles Redis with protected mode off by default; Debian's binary has it on, so it is turned
#     off here on the command line, unless the arguments or the config file set it themselves.
#   - A umask of 0077 when the inherited one is the default 0022 (files only redis can read).
set -e

# First argument a flag, or a file ending in .conf: the server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  # Only what is not redis's already: cheaper than chown -R on a big data folder.
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi

if [ "$1" = redis-server ]; then
  set_by_user=""
  for arg in "$@"; do
    case "$arg" in
      --protected-mode) set_by_user=1 ;;
    esac
  done
  # A config file: redis-server takes it as its first argument only.
  if [ -z "$set_by_user" ] && [ -n "${2:-}" ] && [ "${2#-}" = "$2" ] && [ -r "$2" ] &&
    grep -Eqi '^[[:space:]]*protected-mode[[:space:]]' "$2"; then
    set_by_user=1
  fi
  if [ -z "$set_by_user" ]; then
    set -- "$@" --protected-mode no
  fi
fi

um="$(umask)"
if [ "$um" = 0022 ]; then
  umask 0077
fi

exec "$@"
