#!/usr/bin/env bash
# Throw-away PostgreSQL clusters for tests (server from scripts/setup-postgres.sh).
#
#   scripts/pg-cluster.sh start DIR        create a cluster in DIR, start it, print its
#                                          connection string (lib/pq / libpq key=value form):
#                                          host=<socket dir> port=5432 user=postgres dbname=deftrace sslmode=disable
#   scripts/pg-cluster.sh conninfo DIR     print that connection string again
#   scripts/pg-cluster.sh psql DIR ARGS... run psql on the cluster's database (deftrace)
#   scripts/pg-cluster.sh stop DIR         stop the cluster and remove DIR
#
# The server listens on a Unix socket only (listen_addresses = ''), in DIR itself, so any number
# of clusters can run side by side. Authentication is `trust`; the superuser is `postgres` and
# an empty database `deftrace` exists. Durability is off (fsync, full_page_writes,
# synchronous_commit) and the data directory is copied from a template made once by initdb
# ($DEFTRACE_CACHE/pg/), so a start takes well under a second.
#
# PostgreSQL refuses to run as root: as root the server runs as the system user `postgres`
# (created by the Debian package; PG_CLUSTER_USER overrides) through runuser(1), and DIR is
# chowned to it. When that user cannot reach DIR (a parent directory is private), or DIR's path
# is too long for a Unix socket (107 bytes) or has characters that would need quoting, the
# cluster lives in a fresh short directory /tmp/deftrace-pg.XXXXXX instead; DIR then only holds
# the bookkeeping (pg-cluster.env, conninfo) and `stop` removes both.
#
# Environment: PG_BINDIR (default: the newest /usr/lib/postgresql/*/bin), PG_CLUSTER_USER,
# DEFTRACE_CACHE (default ~/.cache/deftrace).
set -euo pipefail

die() { echo "pg-cluster: $*" >&2; exit 1; }
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || usage
shift 2

bindir=${PG_BINDIR:-}
if [[ -z $bindir ]]; then
  bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
[[ -x $bindir/initdb && -x $bindir/pg_ctl ]] ||
  die "no PostgreSQL server binaries (PG_BINDIR='$bindir'); run scripts/setup-postgres.sh"

pguser=$(id -un)
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  pguser=${PG_CLUSTER_USER:-postgres}
  id -u "$pguser" >/dev/null 2>&1 || die "no system user '$pguser' to run PostgreSQL as (run scripts/setup-postgres.sh)"
  as_pg=(runuser -u "$pguser" --)
fi
# Runs a PostgreSQL program as the cluster's user, from a directory every user can enter.
pg() { (cd / && "${as_pg[@]}" "$@"); }

port=5432
env_file() { echo "$dir/pg-cluster.env"; }

load_env() {
  [[ -f $(env_file) ]] || die "$dir is not a cluster made by pg-cluster.sh (no pg-cluster.env)"
  # shellcheck disable=SC1090
  . "$(env_file)"
}

# Makes (once per server version and user) the template data directory: initdb, then the
# database `deftrace`. Built under a lock so parallel first starts do not race.
template() {
  local cache=${DEFTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deftrace}/pg
  local version; version=$("$bindir/postgres" --version | awk '{print $3}')
  local t=$cache/template-$version-$pguser
  mkdir -p "$cache"
  if [[ ! -f $t/PG_VERSION ]]; then
    exec 9>"$cache/template.lock"
    flock 9
    if [[ ! -f $t/PG_VERSION ]]; then
      local work; work=$(mktemp -d /tmp/deftrace-pginit.XXXXXX)
      [[ ${#as_pg[@]} -eq 0 ]] || chown "$pguser" "$work"
      pg "$bindir/initdb" -D "$work/data" --no-sync -A trust -U postgres -E UTF8 --locale=C \
        >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; rm -rf "$work"; die "initdb failed"; }
      cat >>"$work/data/postgresql.conf" <<'EOF'

# pg-cluster.sh: a throw-away test cluster
listen_addresses = ''
fsync = off
full_page_writes = off
synchronous_commit = off
shared_buffers = 16MB
max_connections = 100
logging_collector = off
log_min_messages = warning
EOF
      pg "$bindir/postgres" --single -D "$work/data" postgres \
        <<<'CREATE DATABASE deftrace;' >"$work/single.log" 2>&1 ||
        { cat "$work/single.log" >&2; rm -rf "$work"; die "could not create the database"; }
      rm -rf "$t.tmp"
      cp -a "$work/data" "$t.tmp"
      rm -rf "$work"
      mv "$t.tmp" "$t"
    fi
    exec 9>&-
  fi
  echo "$t"
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ ! -e $(env_file) ]] || die "$dir already holds a cluster (pg-cluster.sh stop it first)"
  [[ -z $(ls -A "$dir") ]] || die "$dir is not empty"

  local home=$dir
  if [[ ${#as_pg[@]} -gt 0 ]]; then
    chown "$pguser" "$dir"
  fi
  if (( ${#dir} + 16 > 107 )) || [[ $dir =~ [^A-Za-z0-9/._+-] ]] ||
     ! pg test -w "$dir" -a -x "$dir"; then
    home=$(mktemp -d /tmp/deftrace-pg.XXXXXX)
    [[ ${#as_pg[@]} -eq 0 ]] || chown "$pguser" "$home"
  fi

  local conninfo="host=$home port=$port user=postgres dbname=deftrace sslmode=disable"
  {
    echo "home=$(printf '%q' "$home")"
    echo "port=$port"
  } >"$(env_file)"
  echo "$conninfo" >"$dir/conninfo"

  local t; t=$(template)
  cp -a "$t" "$home/data"
  [[ ${#as_pg[@]} -eq 0 ]] || chown -R "$pguser" "$home/data"
  chmod 700 "$home/data"
  cat >>"$home/data/postgresql.conf" <<EOF
unix_socket_directories = '$home'
port = $port
EOF
  if ! pg "$bindir/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 30 -s start >/dev/null 2>&1; then
    tail -n 30 "$home/server.log" >&2 || true
    die "the server did not start (log above; clean up with: pg-cluster.sh stop $dir)"
  fi
  echo "$conninfo"
}

stop() {
  [[ -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd)
  [[ $dir != / ]] || die "refusing to remove /"
  load_env
  if [[ -f $home/data/postmaster.pid ]]; then
    pg "$bindir/pg_ctl" -D "$home/data" -m immediate -w -t 30 -s stop >/dev/null 2>&1 ||
      echo "pg-cluster: pg_ctl stop failed (server already gone?)" >&2
  fi
  [[ $home == "$dir" ]] || rm -rf "$home"
  rm -rf "$dir"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  conninfo) cat "$dir/conninfo" ;;
  psql)
    load_env
    command -v psql >/dev/null || die "no psql; run scripts/setup-postgres.sh"
    psql "$(cat "$dir/conninfo")" -X -v ON_ERROR_STOP=1 "$@" ;;
  *) usage ;;
esac
