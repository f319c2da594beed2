#!/usr/bin/env bash
# Entrypoint of localhost/slipway-postgres:15, written to the documented contract of the official
# postgres image's docker-entrypoint.sh (Slipway drives the official image in production with the
# same environment, paths and commands):
#   - `postgres ARGS` (or just `-c ...` flags) runs the server; anything else is exec'd as is.
#   - As root: PGDATA and /var/run/postgresql are chowned to postgres, then the script re-runs
#     itself as postgres (uid 999) with gosu.
#   - An empty PGDATA is initialised once: initdb with POSTGRES_USER (default postgres), the
#     password POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE; required unless
#     POSTGRES_HOST_AUTH_METHOD=trust) and POSTGRES_INITDB_ARGS; `host all all all METHOD` in
#     pg_hba.conf (METHOD: POSTGRES_HOST_AUTH_METHOD, default the server's password_encryption,
#     scram-sha-256); POSTGRES_DB (default the user) created; /docker-entrypoint-initdb.d/*.sh,
#     *.sql and *.sql.gz run in name order against a socket-only temporary server.
#   - The password never reaches a process's argv: initdb reads it from a 0600 file, psql gets
#     SQL on stdin or from files.
# No -u: init scripts are sourced into this shell and may read unset variables.
set -Eeo pipefail
shopt -s nullglob

log() { printf '%s\n' "$*" >&2; }

# file_env VAR [DEFAULT]: VAR from the environment, else from the file named by VAR_FILE (Docker
# secrets), else DEFAULT; both set is an error.
file_env() {
  local var="$1" def="${2:-}" file_var="${1}_FILE" val
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    log "error: both $var and $file_var are set (but are exclusive)"
    exit 1
  fi
  val="$def"
  if [[ -n ${!var:-} ]]; then
    val="${!var}"
  elif [[ -n ${!file_var:-} ]]; then
    val="$(<"${!file_var}")"
  fi
  export "$var"="$val"
  unset "$file_var"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=""
  # PG_VERSION, not "any file": a volume may hold lost+found or dotfiles.
  if [[ -s $PGDATA/PG_VERSION ]]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_directories() {
  mkdir -p "$PGDATA"
  # PostgreSQL refuses a group- or world-accessible data directory.
  chmod 700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 3775 /var/run/postgresql || :
  if [[ $(id -u) == 0 ]]; then
    # Only what is not postgres's already: cheaper than chown -R on a big data directory.
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_minimum_env() {
  if [[ -z $POSTGRES_PASSWORD && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    cat >&2 <<'EOE'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.
EOE
    exit 1
  fi
  if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
    log "WARNING: POSTGRES_HOST_AUTH_METHOD is \"trust\": anyone who reaches the port gets in without a password."
  fi
}

init_database_dir() {
  local pwfile args=()
  # POSTGRES_INITDB_ARGS is shell words (quotes allowed), as with the official image.
  eval "args=( $POSTGRES_INITDB_ARGS )"
  # A file only postgres can read, removed right after; initdb --pwfile refuses an empty file,
  # hence the newline (an empty password then means none, as with the official image).
  pwfile="$(mktemp /tmp/pgpass.XXXXXX)"
  chmod 600 "$pwfile"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  if ! initdb --username="$POSTGRES_USER" --pwfile="$pwfile" "${args[@]}"; then
    rm -f "$pwfile"
    exit 1
  fi
  rm -f "$pwfile"
}

# Appends the rule for TCP connections; $@ are the server's arguments, so that a
# `-c password_encryption=...` given there decides the method like in the official image.
setup_hba_conf() {
  local method="$POSTGRES_HOST_AUTH_METHOD"
  [[ -n $method ]] || method="$(postgres -C password_encryption "$@")"
  {
    printf '\n'
    [[ $method != trust ]] || printf '# warning: trust is enabled for all connections\n'
    printf 'host all all all %s\n' "$method"
  } >>"$PGDATA/pg_hba.conf"
}

# A server on the Unix socket only, for the setup; $@ are the server's arguments.
temp_server_start() {
  set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -m fast -w stop
}

# psql against the temporary server as POSTGRES_USER (on POSTGRES_DB unless overridden); SQL on
# stdin or with -f. Named as in the official script, which init scripts may call.
docker_process_sql() {
  local runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  [[ -z $POSTGRES_DB ]] || runner+=(--dbname "$POSTGRES_DB")
  PGHOST='' PGHOSTADDR='' "${runner[@]}" "$@"
}

setup_db() {
  local exists db="$POSTGRES_DB"
  # Connected to the postgres database, which always exists; the name goes in as a psql variable.
  exists="$(POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$db" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
  if [[ -z ${exists//[[:space:]]/} ]]; then
    POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$db" <<<'CREATE DATABASE :"db";'
  fi
}

process_init_files() {
  local f
  for f in "$@"; do
    case "$f" in
      *.sh)
        # Executable: run it; else sourced, so it can use docker_process_sql and the variables.
        if [[ -x $f ]]; then
          log "$0: running $f"
          "$f"
        else
          log "$0: sourcing $f"
          # shellcheck disable=SC1090 # the user's script
          . "$f"
        fi
        ;;
      *.sql)
        log "$0: running $f"
        docker_process_sql -f "$f"
        ;;
      *.sql.gz)
        log "$0: running $f"
        gunzip -c "$f" | docker_process_sql
        ;;
      *) log "$0: ignoring $f" ;;
    esac
  done
}

# Options that make postgres print something and exit: no setup for those.
want_help() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      -'?' | --help | --describe-config | -V | --version) return 0 ;;
    esac
  done
  return 1
}

main() {
  # `docker run IMAGE -c x=y`: flags alone mean the server.
  if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi

  if [[ ${1:-} == postgres ]] && ! want_help "$@"; then
    setup_env
    create_directories
    if [[ $(id -u) == 0 ]]; then
      exec gosu postgres "${BASH_SOURCE[0]}" "$@"
    fi

    if [[ -z $DATABASE_ALREADY_EXISTS ]]; then
      verify_minimum_env
      # Fail now, before initdb, when the scripts folder cannot be read.
      ls /docker-entrypoint-initdb.d/ >/dev/null
      init_database_dir
      setup_hba_conf "${@:2}"
      # For psql when POSTGRES_INITDB_ARGS made local connections need a password; env, not argv.
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      temp_server_start "${@:2}"
      setup_db
      process_init_files /docker-entrypoint-initdb.d/*
      temp_server_stop
      unset PGPASSWORD
      log ""
      log "PostgreSQL init process complete; ready for start up."
      log ""
    else
      log ""
      log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
      log ""
    fi
  fi

  exec "$@"
}

main "$@"
