#!/usr/bin/env bash
# healthcheck.sh of localhost/slipway-mariadb:10.11, with the interface of the official mariadb
# image's script: the tests named as arguments run in order and all must pass (exit 0), e.g.
#   healthcheck.sh --connect --innodb_initialized
# Tests:
#   --connect                    the server answers on TCP (a refused login still counts: it is up)
#   --innodb_initialized         InnoDB finished starting (crash recovery included)
#   --innodb_buffer_pool_loaded  the buffer pool dump was loaded back
#   --mariadbupgrade             no mariadb-upgrade holds the datadir's upgrade lock
# Options (in order, before the tests they apply to):
#   --su=USER / --su USER / --su-mysql   run the rest as another user (gosu)
#   --datadir=DIR                        datadir (default /var/lib/mysql)
#   --defaults-file=F, --defaults-extra-file=F, --defaults-group-suffix=S, --no-defaults
#   --no-connect                         skip the final connect test
# The client's credentials: DATADIR/.my-healthcheck.cnf, written by the entrypoint at init with
# the healthcheck@localhost user and its random password. Unless one of the tests was --connect
# (or --no-connect was given), a connect test runs last, as in the official script.
set -eo pipefail

declare -A def=()
nodefaults=""
connect_s=""
datadir=/var/lib/mysql
[[ ! -f $datadir/.my-healthcheck.cnf ]] || def[extra_file]=$datadir/.my-healthcheck.cnf

# The client with the chosen option files (which must come first on its command line).
client() {
  local opts=()
  [[ -z $nodefaults ]] || opts+=(--no-defaults)
  [[ -z ${def[file]:-} ]] || opts+=("--defaults-file=${def[file]}")
  [[ -z ${def[extra_file]:-} ]] || opts+=("--defaults-extra-file=${def[extra_file]}")
  [[ -z ${def[group_suffix]:-} ]] || opts+=("--defaults-group-suffix=${def[group_suffix]}")
  mariadb "${opts[@]}" "$@"
}

sql() { client --protocol socket -B --skip-column-names "$@"; }

connect() {
  local s
  # On the socket first: answers 0 (networking on) or 1 (skip_networking).
  s="$(sql -e 'select @@skip_networking' 2>/dev/null || true)"
  case "$s" in
    0 | 1)
      connect_s=$s
      return "$s"
      ;;
  esac
  s="$(client -h localhost --protocol tcp --skip-column-names --batch --skip-print-query-on-error \
    -e 'select @@skip_networking' 2>&1 || true)"
  case "$s" in
    0 | ERROR\ 1820\ \(HY000\)* | ERROR\ 4151\ \(HY000\):* | ERROR\ 1226\ \(42000\)* | ERROR\ 1[0-9][0-9][0-9]\ \(28000\):*)
      # Up: answered, or refused the login (expired password, locked, limits, access denied).
      connect_s=0
      ;;
    *)
      [[ $s == 1 || $s == ERROR\ 2002\ \(HY000\):* ]] || echo "Unknown error $s" >&2
      connect_s=1
      ;;
  esac
  return "$connect_s"
}

innodb_initialized() {
  local s
  s="$(sql -e "select 1 from information_schema.ENGINES where engine = 'innodb' and support in ('YES', 'DEFAULT', 'ENABLED')")"
  [[ $s == 1 ]]
}

innodb_buffer_pool_loaded() {
  local s
  s="$(sql -e "select VARIABLE_VALUE from information_schema.GLOBAL_STATUS where VARIABLE_NAME = 'Innodb_buffer_pool_load_status'")"
  [[ $s == *'load completed'* ]]
}

mariadbupgrade() {
  local f="$datadir/mysql_upgrade_info"
  [[ -r $f ]] || return 0
  flock --exclusive --nonblock 9 9<"$f"
}

if [[ $# -eq 0 ]]; then
  echo "At least one argument required" >&2
  exit 1
fi

while [[ $# -gt 0 ]]; do
  test=""
  case "$1" in
    --su=*)
      u="${1#*=}"
      shift
      exec gosu "$u" "${BASH_SOURCE[0]}" "$@"
      ;;
    --su)
      u="$2"
      shift 2
      exec gosu "$u" "${BASH_SOURCE[0]}" "$@"
      ;;
    --su-mysql)
      shift
      exec gosu mysql "${BASH_SOURCE[0]}" "$@"
      ;;
    --datadir=*) datadir="${1#*=}" ;;
    --datadir)
      shift
      datadir="$1"
      ;;
    --no-defaults)
      def=()
      nodefaults=1
      ;;
    --defaults-file=* | --defaults-extra-file=* | --defaults-group-suffix=*)
      n="${1#--defaults-}"
      n="${n%%=*}"
      def[${n//-/_}]="${1#*=}"
      nodefaults=""
      ;;
    --no-connect) connect_s=0 ;;
    --*) test="${1#--}" ;;
    *)
      echo "Unknown healthcheck option $1" >&2
      exit 1
      ;;
  esac
  if [[ -n $test ]]; then
    if [[ $(type -t "$test") != function || $test == client || $test == sql ]]; then
      echo "healthcheck unknown option or test '$test'" >&2
      exit 1
    elif ! "$test"; then
      echo "healthcheck $test failed" >&2
      exit 1
    fi
  fi
  shift
done

if [[ $connect_s != 0 ]]; then
  # No connect test passed yet: a healthy answer from the others alone is not enough.
  connect
  exit $?
fi
