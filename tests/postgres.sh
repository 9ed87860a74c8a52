#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: Debian's PostgreSQL (installed with apt-get if
# missing), a fresh cluster in a temporary directory, listening on 127.0.0.1 on a free port and a
# Unix socket in that directory, trusting local connections, with one database `edgekv`.
#
#   eval "$(tests/postgres.sh start)"   # exports EDGEKV_TEST_POSTGRES_URL and EDGEKV_TEST_POSTGRES_DIR
#   tests/postgres.sh stop [DIR]         # stops that server (DIR defaults to $EDGEKV_TEST_POSTGRES_DIR)
#                                        # and removes its directory
#   tests/postgres.sh crash DIR          # stops it as a crash would (immediate shutdown), keeping its data
#   tests/postgres.sh restart DIR        # starts a crashed or stopped server again, on the same port
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to, and runs as, the `postgres`
# user. Everything the script says goes to stderr; stdout carries only the exports.
set -euo pipefail

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

bindir() {
  local dir
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return
  fi
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -z "$dir" ]; then
    log "installing Debian's postgresql package"
    local sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >&2
    dir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  echo "$dir"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_server BIN DIR: starts the cluster in DIR on the port in DIR/port.
run_server() {
  # fsync off: a test server need not survive the machine losing power, only a process crash.
  as_owner "$1/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 30 \
    -o "-p $(cat "$2/port") -k $2 -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off" \
    start >&2
}

start() {
  local bin dir port
  bin="$(bindir)"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/edgekv-postgres.XXXXXX")"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    echo "$port" | as_owner tee "$dir/port" >/dev/null
    if run_server "$bin" "$dir"; then
      break
    fi
    [ "$attempt" = 5 ] && { cat "$dir/server.log" >&2; exit 1; }
    log "port $port was taken; trying another"
  done
  as_owner "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE edgekv' >&2
  log "PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port in $dir"
  echo "export EDGEKV_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$port/edgekv'"
  echo "export EDGEKV_TEST_POSTGRES_DIR='$dir'"
}

stop() {
  local dir="${1:-${EDGEKV_TEST_POSTGRES_DIR:-}}"
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
    log "no server directory to stop (give it, or set EDGEKV_TEST_POSTGRES_DIR)"
    exit 1
  fi
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
}

crash() {
  as_owner "$(bindir)/pg_ctl" -D "$1/data" -m immediate -w stop >&2
}

restart() {
  run_server "$(bindir)" "$1"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  crash) crash "${2:?crash needs the server directory}" ;;
  restart) restart "${2:?restart needs the server directory}" ;;
  *) echo "usage: $0 start | stop [DIR] | crash DIR | restart DIR" >&2; exit 2 ;;
esac
