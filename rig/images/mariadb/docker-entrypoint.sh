#!/usr/bin/env bash
# Entrypoint of localhost/slipway-mariadb:10.11, written to the documented contract of the official
# mariadb image's docker-entrypoint.sh (Slipway drives the official image in production with the
# same environment, paths and commands):
#   - `mariadbd ARGS` (or `mysqld ARGS`, or just `--flags`) runs the server; anything else is
#     exec'd as is.
#   - As root: the datadir and the socket's folder are chowned to mysql, then the script re-runs
#     itself as mysql (uid 999) with gosu.
#   - An empty datadir is initialised once: mariadb-install-db, time zone tables (unless
#     MARIADB_INITDB_SKIP_TZINFO), root with MARIADB_ROOT_PASSWORD (or _HASH, or a generated one
#     with MARIADB_RANDOM_ROOT_PASSWORD, or none with MARIADB_ALLOW_EMPTY_ROOT_PASSWORD) at
#     'localhost' and at MARIADB_ROOT_HOST (default '%'); MARIADB_DATABASE; MARIADB_USER with
#     MARIADB_PASSWORD (or _HASH) at '%', granted ALL on that database; healthcheck@localhost (and
#     127.0.0.1, ::1) with a random password written to DATADIR/.my-healthcheck.cnf for
#     healthcheck.sh; /docker-entrypoint-initdb.d/*.sh, *.sql and *.sql.gz in name order. Every
#     MARIADB_* variable may be spelled MYSQL_* and read from a file named by VAR_FILE.
#   - No password reaches a process's argv: SQL goes to the client on stdin, and the client's own
#     password through MYSQL_PWD.
# No -u: init scripts are sourced into this shell and may read unset variables.
set -Eeo pipefail
shopt -s nullglob

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
warn() { printf '%s [Warn] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
fail() {
  printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
  exit 1
}

# file_env VAR [DEFAULT]: VAR from the environment, else from the file named by VAR_FILE (Docker
# secrets), else DEFAULT; both set is an error.
file_env() {
  local var="$1" def="${2:-}" file_var="${1}_FILE" val
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    fail "Both $var and $file_var are set (but are exclusive)"
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

# MYSQL_X and MARIADB_X (each also from a _FILE): MARIADB_X wins, and both end up equal so that
# init scripts can read either.
maria_env() {
  local mysql_var="MYSQL_$1" maria_var="MARIADB_$1"
  file_env "$mysql_var" "${2:-}"
  file_env "$maria_var" "${!mysql_var}"
  export "$mysql_var"="${!maria_var}"
}

# The server's effective value of option $1 (config files and defaults included); the rest of the
# arguments are the server command line.
server_config() {
  local name="$1"
  shift
  "$@" --verbose --help 2>/dev/null |
    awk -v name="$name" '$1 == name && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

check_config() {
  local errors
  if ! errors="$("$@" --verbose --help 2>&1 >/dev/null)"; then
    fail "mariadbd failed while attempting to check config: $* --verbose --help: $errors"
  fi
}

setup_env() {
  DATADIR="$(server_config datadir "$@")"
  DATADIR="${DATADIR%/}"
  SOCKET="$(server_config socket "$@")"
  PORT="$(server_config port "$@")"

  maria_env ROOT_HOST '%'
  maria_env DATABASE
  maria_env USER
  maria_env PASSWORD
  maria_env ROOT_PASSWORD
  file_env MARIADB_PASSWORD_HASH
  file_env MARIADB_ROOT_PASSWORD_HASH
  : "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
  : "${MARIADB_RANDOM_ROOT_PASSWORD:=${MYSQL_RANDOM_ROOT_PASSWORD:-}}"
  : "${MARIADB_INITDB_SKIP_TZINFO:=${MYSQL_INITDB_SKIP_TZINFO:-}}"
  export MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MARIADB_RANDOM_ROOT_PASSWORD MARIADB_INITDB_SKIP_TZINFO
  export MYSQL_ALLOW_EMPTY_PASSWORD="$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
  export MYSQL_RANDOM_ROOT_PASSWORD="$MARIADB_RANDOM_ROOT_PASSWORD"
  export MYSQL_INITDB_SKIP_TZINFO="$MARIADB_INITDB_SKIP_TZINFO"

  DATABASE_ALREADY_EXISTS=""
  if [[ -d $DATADIR/mysql ]]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_directories() {
  mkdir -p "$DATADIR"
  if [[ $(id -u) == 0 ]]; then
    # Only what is not mysql's already: cheaper than chown -R on a big datadir.
    find "$DATADIR" \! -user mysql -exec chown mysql: '{}' +
    find "${SOCKET%/*}" -maxdepth 0 \! -user mysql -exec chown mysql: '{}' \;
  fi
}

verify_minimum_env() {
  if [[ -z $MARIADB_ROOT_PASSWORD && -z $MARIADB_ROOT_PASSWORD_HASH &&
    -z $MARIADB_ALLOW_EMPTY_ROOT_PASSWORD && -z $MARIADB_RANDOM_ROOT_PASSWORD ]]; then
    fail $'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
  fi
  if [[ -n $MARIADB_PASSWORD && -n $MARIADB_PASSWORD_HASH ]]; then
    fail "Cannot specify MARIADB_PASSWORD_HASH and MARIADB_PASSWORD option."
  fi
}

# The client on the server's socket as root; SQL on stdin. MYSQL_PWD carries the password (env,
# not argv); --dont-use-mysql-root-password as first argument: none (root has none yet).
docker_process_sql() {
  local pwd="$MARIADB_ROOT_PASSWORD"
  if [[ ${1:-} == --dont-use-mysql-root-password ]]; then
    pwd=""
    shift
  fi
  [[ -z $MARIADB_DATABASE ]] || set -- --database="$MARIADB_DATABASE" "$@"
  MYSQL_PWD="$pwd" mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "$@"
}

# $1 as the inside of a '...' SQL string literal: backslashes, quotes and newlines escaped.
sql_escape() {
  local s="${1//\\/\\\\}"
  s="${s//$'\n'/\\n}"
  printf '%s' "${s//\'/\\\'}"
}

# 32 random letters and digits, from the kernel (no argv, no extra package).
random_password() {
  local p
  p="$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)" || true
  printf '%s' "$p"
}

init_database_dir() {
  note "Initializing database files"
  # --auth-root-authentication-method=normal: root@localhost gets a password, no unix_socket auth.
  mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
    "${@:2}" --skip-test-db --default-time-zone=SYSTEM --enforce-storage-engine= --skip-log-bin \
    --expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0
  note "Database files initialized"
}

# A server on the socket only, for the setup; $@ is the server command line.
temp_server_start() {
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
    --expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 &
  MARIADB_PID=$!
  note "Waiting for server startup"
  local i
  for ((i = 30; i > 0; i--)); do
    if docker_process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' &>/dev/null; then
      return 0
    fi
    kill -0 "$MARIADB_PID" 2>/dev/null || fail "Unable to start server."
    sleep 1
  done
  fail "Unable to start server."
}

temp_server_stop() {
  kill "$MARIADB_PID"
  wait "$MARIADB_PID"
}

# SQL creating healthcheck@localhost/127.0.0.1/::1 (USAGE, or MARIADB_HEALTHCHECK_GRANTS) with a
# random password, which goes to DATADIR/.my-healthcheck.cnf (0600) for healthcheck.sh.
healthcheck_users_sql() {
  local pass host grant="${MARIADB_HEALTHCHECK_GRANTS:-USAGE}"
  pass="$(random_password)"
  for host in 127.0.0.1 ::1 localhost; do
    printf "CREATE USER IF NOT EXISTS healthcheck@'%s' IDENTIFIED BY '%s';\n" "$host" "$pass"
    printf "SET PASSWORD FOR healthcheck@'%s' = PASSWORD('%s');\n" "$host" "$pass"
    printf "GRANT %s ON *.* TO healthcheck@'%s';\n" "$grant" "$host"
  done
  (
    umask 077
    printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
      "$PORT" "$SOCKET" "$pass" >"$DATADIR/.my-healthcheck.cnf"
  )
}

setup_db() {
  if [[ -z $MARIADB_INITDB_SKIP_TZINFO ]]; then
    # Root has no password yet.
    mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo |
      docker_process_sql --dont-use-mysql-root-password --database=mysql
  fi
  if [[ -n $MARIADB_RANDOM_ROOT_PASSWORD ]]; then
    MARIADB_ROOT_PASSWORD="$(random_password)"
    export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD="$MARIADB_ROOT_PASSWORD"
    note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi

  local root_pw root_local="" root_remote="" database="" user="" grants=""
  root_pw="$(sql_escape "$MARIADB_ROOT_PASSWORD")"
  # With only a hash, root@localhost keeps no password until the init scripts have run.
  [[ -n $MARIADB_ROOT_PASSWORD_HASH ]] ||
    root_local="SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$root_pw');"
  if [[ -n $MARIADB_ROOT_HOST && $MARIADB_ROOT_HOST != localhost ]]; then
    if [[ -n $MARIADB_ROOT_PASSWORD_HASH ]]; then
      root_remote="CREATE USER 'root'@'$MARIADB_ROOT_HOST' IDENTIFIED BY PASSWORD '$MARIADB_ROOT_PASSWORD_HASH';"
    else
      root_remote="CREATE USER 'root'@'$MARIADB_ROOT_HOST' IDENTIFIED BY '$root_pw';"
    fi
    root_remote+=" GRANT ALL ON *.* TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;"
    root_remote+=" GRANT PROXY ON ''@'%' TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;"
  fi
  if [[ -n $MARIADB_DATABASE ]]; then
    note "Creating database $MARIADB_DATABASE"
    database="CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
  fi
  if [[ -n $MARIADB_USER && (-n $MARIADB_PASSWORD || -n $MARIADB_PASSWORD_HASH) ]]; then
    note "Creating user $MARIADB_USER"
    if [[ -n $MARIADB_PASSWORD_HASH ]]; then
      user="CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY PASSWORD '$MARIADB_PASSWORD_HASH';"
    else
      user="CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(sql_escape "$MARIADB_PASSWORD")';"
    fi
    if [[ -n $MARIADB_DATABASE ]]; then
      note "Giving user $MARIADB_USER access to schema $MARIADB_DATABASE"
      # `_` is a wildcard in a grant's database name: escaped, the grant is for that one database.
      grants="GRANT ALL ON \`${MARIADB_DATABASE//_/\\_}\`.* TO '$MARIADB_USER'@'%';"
    fi
  fi

  note "Securing system users (equivalent to running mysql_secure_installation)"
  docker_process_sql --dont-use-mysql-root-password --database=mysql --binary-mode <<EOSQL
SET @orig_sql_log_bin = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN = 0;
SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');
$root_local
$root_remote
$(healthcheck_users_sql)
SET @@SESSION.SQL_LOG_BIN = @orig_sql_log_bin;
$database
$user
$grants
EOSQL
}

process_init_files() {
  local f
  for f in "$@"; do
    case "$f" in
      *.sh)
        # Executable: run it; else sourced, so it can use docker_process_sql and the variables.
        if [[ -x $f ]]; then
          note "$0: running $f"
          "$f"
        else
          note "$0: sourcing $f"
          # shellcheck disable=SC1090 # the user's script
          . "$f"
        fi
        ;;
      *.sql)
        note "$0: running $f"
        docker_process_sql <"$f"
        ;;
      *.sql.gz)
        note "$0: running $f"
        gunzip -c "$f" | docker_process_sql
        ;;
      *) warn "$0: ignoring $f" ;;
    esac
  done
}

mariadb_init() {
  # Fail now, before initialising, when the scripts folder cannot be read.
  ls /docker-entrypoint-initdb.d/ >/dev/null
  init_database_dir "$@"
  note "Starting temporary server"
  temp_server_start "$@"
  note "Temporary server started."
  setup_db
  process_init_files /docker-entrypoint-initdb.d/*
  if [[ -n $MARIADB_ROOT_PASSWORD_HASH ]]; then
    note "Setting root@localhost password hash"
    docker_process_sql --dont-use-mysql-root-password --binary-mode <<EOSQL
SET @@SESSION.SQL_LOG_BIN = 0;
SET PASSWORD FOR 'root'@'localhost' = '$MARIADB_ROOT_PASSWORD_HASH';
EOSQL
  fi
  note "Stopping temporary server"
  temp_server_stop
  note "Temporary server stopped"
  note "MariaDB init process done. Ready for start up."
}

# Options that make mariadbd print something and exit: no setup for those.
want_help() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      -'?' | --help | --print-defaults | -V | --version) return 0 ;;
    esac
  done
  return 1
}

main() {
  if [[ ${1:-} == -* ]]; then set -- mariadbd "$@"; fi

  if [[ ${1:-} == mariadbd || ${1:-} == mysqld ]] && ! want_help "$@"; then
    note "Entrypoint script for MariaDB Server $(mariadbd --version | awk '{ print $3 }') started."
    check_config "$@"
    setup_env "$@"
    create_directories
    if [[ $(id -u) == 0 ]]; then
      note "Switching to dedicated user 'mysql'"
      exec gosu mysql "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ -z $DATABASE_ALREADY_EXISTS ]]; then
      verify_minimum_env
      mariadb_init "$@"
    fi
  fi

  exec "$@"
}

main "$@"
