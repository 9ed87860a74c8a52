#!/usr/bin/env bash
# Benchmark of the PostgreSQL store: edgekv against PostgreSQL's own clients doing the same work on
# the same throwaway server (tests/postgres.sh: fsync=off, full_page_writes=off, synchronous_commit
# left at on, so every figure here pays the same commit cost), each pair of runs alternated, each
# figure a ratio measured in this one run.
#
#   REST PUT 1 KiB c=64   Cloudflare `PUT .../values/{key}` on `edgekv serve --store postgres://`,
#                         random keys of a bounded key space, vs pgbench at 64 clients running
#                         the same single-row upsert (INSERT ... ON CONFLICT DO UPDATE, one
#                         transaction per write) on a table shaped like edgekv's entries; and,
#                         for information, pgbench doing what edgekv's write also does to stay
#                         exact across nodes: lock the namespace row and raise its version in the
#                         same transaction (every write to a namespace then queues on that row)
#   guest GET 1 KiB c=16  rust-kv-api's `GET /kv/bench` on the PostgreSQL store vs 16
#                         tokio-postgres clients running the store's point SELECT on that entry
#                         (crates/store/benches/pg_point_select.rs); the same GET on the default
#                         SQLite store beside it, for information
#   two nodes vs one      REST PUTs (c=32) and guest GETs (c=16) at once, on one node, then split
#                         across two nodes on the same database
#
# Needs wrk (apt-get install wrk) and PostgreSQL's server and pgbench (tests/postgres.sh installs
# Debian's postgresql package if missing).
# Usage: tests/bench/postgres.sh [seconds-per-run, default 10]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-10}"
keyspace=100000
unset RUST_BACKTRACE  # it triples wasmtime's memory use
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
# The workspace as CI builds it (so nothing rebuilds for other features), and the bench binary.
point_select="$(cd "$repo" && cargo build --release --workspace --all-targets --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "pg_point_select" and m.get("executable"):
        print(m["executable"])')"
[ -x "$point_select" ] || { echo "could not build the pg_point_select bench" >&2; exit 1; }
[ -f "$EDGEKV_GUESTS_DIR/rust-kv-api.wasm" ] || (cd "$repo" && EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv" guest-examples/build.sh >/dev/null)
edgekv="$CARGO_TARGET_DIR/release/edgekv"
kvapi="$EDGEKV_GUESTS_DIR/rust-kv-api.wasm"

work="$(mktemp -d)"
chmod 755 "$work"
pids=()
pgdir=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$pgdir" ] && "$repo/tests/postgres.sh" stop "$pgdir" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

eval "$("$repo/tests/postgres.sh" start)"
pgdir="$EDGEKV_TEST_POSTGRES_DIR"
pg="$EDGEKV_TEST_POSTGRES_URL"  # postgres://postgres@127.0.0.1:PORT/edgekv
pgport="${pg##*:}"; pgport="${pgport%%/*}"
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
psql() { "$pgbin/psql" -qAt -h 127.0.0.1 -p "$pgport" -U postgres -v ON_ERROR_STOP=1 "$@"; }

token=bench-token account=0123456789abcdef0123456789abcdef
export EDGEKV_API_TOKEN=$token EDGEKV_CLOUDFLARE_ACCOUNT_ID=$account

. "$repo/tests/bench/servers.sh"

start pg-a "$edgekv" serve "$kvapi" --listen 127.0.0.1:0 --data-dir "$work/a" --store "$pg"; node_a=$url
start pg-b "$edgekv" serve "$kvapi" --listen 127.0.0.1:0 --data-dir "$work/b" --store "$pg"; node_b=$url
start sqlite "$edgekv" serve "$kvapi" --listen 127.0.0.1:0 --data-dir "$work/sqlite"; sqlite=$url
value="$(head -c 1024 /dev/zero | tr '\0' v)"
for u in "$node_a" "$sqlite"; do curl -sf -X PUT --data-binary "$value" "$u/kv/bench" >/dev/null; done

ns="$(curl -sf -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"title":"bench"}' "$node_a/client/v4/accounts/$account/storage/kv/namespaces" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["id"])')"
values_path="/client/v4/accounts/$account/storage/kv/namespaces/$ns/values"
# Each wrk thread seeds its own generator, so the threads' keys differ.
cat >"$work/put.lua" <<LUA
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) math.randomseed(os.time() * 100 + id) end
wrk.method = "PUT"
wrk.headers["authorization"] = "Bearer $token"
wrk.body = "$value"
request = function()
  return wrk.format(nil, "$values_path/k" .. math.random(1, $keyspace))
end
LUA

# pgbench's table, shaped like edgekv's entries (crates/store/src/postgres/schema.rs), in a
# database of its own on the same server.
psql -d postgres -c 'CREATE DATABASE pgbench'
psql -d pgbench <<'SQL'
CREATE TABLE namespaces (seq BIGINT PRIMARY KEY, version BIGINT NOT NULL);
INSERT INTO namespaces VALUES (1, 0);
CREATE TABLE entries (
    ns BIGINT NOT NULL REFERENCES namespaces (seq), key BYTEA NOT NULL, value BYTEA NOT NULL,
    metadata TEXT, content_type TEXT, expires_at BIGINT, version BIGINT NOT NULL,
    modified_at BIGINT NOT NULL, PRIMARY KEY (ns, key));
CREATE INDEX entries_expiry ON entries (ns, expires_at) WHERE expires_at IS NOT NULL;
SQL
cat >"$work/upsert.sql" <<SQL
\set k random(1, $keyspace)
INSERT INTO entries (ns, key, value, metadata, content_type, expires_at, version, modified_at)
VALUES (1, convert_to('k' || :k, 'UTF8'), convert_to(:v, 'UTF8'), NULL, NULL, NULL, :k, 0)
ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata,
content_type = excluded.content_type, expires_at = excluded.expires_at,
version = excluded.version, modified_at = excluded.modified_at;
SQL
{
  echo '\set k random(1, '"$keyspace"')'
  echo 'BEGIN;'
  echo 'SELECT version FROM namespaces WHERE seq = 1 FOR UPDATE;'
  grep -v '^\\set' "$work/upsert.sql"
  echo 'UPDATE namespaces SET version = version + 1 WHERE seq = 1;'
  echo 'COMMIT;'
} >"$work/upsert-ns.sql"

# p99 in ms from wrk --latency output on stdin.
wrk_p99() {
  awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'
}
# wrk_run URL CONNS THREADS [wrk args...] : "req/s p99-ms"; non-2xx answers make it fail, and a
# request counts however slow it is (within the run).
wrk_run() {
  local u="$1" c="$2" t="$3"; shift 3
  local out; out="$(wrk -t"$t" -c"$c" -d"${secs}s" --timeout 30s --latency "$@" "$u")"
  if grep -q 'Non-2xx' <<<"$out"; then echo "errors from $u:" >&2; echo "$out" >&2; exit 1; fi
  grep 'Socket errors' <<<"$out" | sed "s|^|$u: |" >&2 || true
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(wrk_p99 <<<"$out")"
}
# pgbench_run SCRIPT : "tps p99-ms" of SCRIPT at 64 clients.
pgbench_run() {
  rm -f "$work"/pgb.*
  local out; out="$("$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres -n -M prepared -c 64 -j 2 \
    -T "$secs" -D v="$value" -f "$1" -l --log-prefix="$work/pgb" pgbench 2>&1)"
  local tps; tps="$(awk '/^tps/ {print $3}' <<<"$out")"
  [ -n "$tps" ] || { echo "pgbench failed:" >&2; echo "$out" >&2; exit 1; }
  echo "$tps $(cat "$work"/pgb.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int(NR*0.99)]/1000}')"
}

declare -A sum p99s
# record NAME "req/s p99" : adds a run to NAME's figures.
record() {
  local r p; read -r r p <<<"$2"
  printf '%-44s %10.0f %9.2f\n' "$1" "$r" "$p"
  sum[$1]="$(awk -v a="${sum[$1]:-0}" -v b="$r" 'BEGIN {print a + b}')"
  p99s[$1]="${p99s[$1]:-}$p "
}
mean() { awk -v s="${sum[$1]}" 'BEGIN {print s / 2}'; }
worst_p99() { tr ' ' '\n' <<<"${p99s[$1]}" | sort -n | tail -1; }

# Warm-up: each server once, briefly.
for u in "$node_a/kv/bench" "$node_b/kv/bench" "$sqlite/kv/bench"; do wrk -t2 -c16 -d2s "$u" >/dev/null; done
wrk -t2 -c64 -d2s -s "$work/put.lua" "$node_a$values_path/x" >/dev/null

echo "edgekv on PostgreSQL ($secs s per run, $(nproc) cores, $("$pgbin/postgres" --version))"
printf '%-44s %10s %9s\n' "run" "req/s" "p99 ms"
put="REST PUT 1 KiB c=64, edgekv" pgb="upsert 1 KiB c=64, pgbench"
pgbns="upsert + namespace row c=64, pgbench"
get="guest GET 1 KiB c=16, edgekv PostgreSQL" sel="point SELECT c=16, tokio-postgres"
lite="guest GET 1 KiB c=16, edgekv SQLite"
for _ in 1 2; do
  record "$put" "$(wrk_run "$node_a$values_path/x" 64 2 -s "$work/put.lua")"
  record "$pgb" "$(pgbench_run "$work/upsert.sql")"
  record "$pgbns" "$(pgbench_run "$work/upsert-ns.sql")"
done
for _ in 1 2; do
  record "$get" "$(wrk_run "$node_a/kv/bench" 16 2)"
  record "$sel" "$("$point_select" "$pg" bench "$secs" 16)"
  record "$lite" "$(wrk_run "$sqlite/kv/bench" 16 2)"
done
# mixed PUT-NODE GET-NODE : PUTs (c=32) and GETs (c=16) at once; records both.
mixed() {
  wrk_run "$1$values_path/x" 32 1 -s "$work/put.lua" >"$work/mixed-put" &
  local put_pid=$!
  wrk_run "$2/kv/bench" 16 1 >"$work/mixed-get"
  wait "$put_pid"
  record "$3 PUT c=32" "$(cat "$work/mixed-put")"
  record "$3 GET c=16" "$(cat "$work/mixed-get")"
}
one="mixed, one node:" two="mixed, two nodes:"
for _ in 1 2; do
  mixed "$node_a" "$node_a" "$one"
  mixed "$node_a" "$node_b" "$two"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() { printf '%-44s %10s %9s %10s %9s %7sx  %s\n' "$@"; }
echo
row "figure (mean of 2 runs; worst p99)" "req/s" "p99 ms" "baseline" "p99 ms" "ratio" "target"
row "REST PUT c=64 vs pgbench upsert" "$(mean "$put" | cut -d. -f1)" "$(worst_p99 "$put")" \
  "$(mean "$pgb" | cut -d. -f1)" "$(worst_p99 "$pgb")" "$(ratio "$(mean "$put")" "$(mean "$pgb")")" ">= 1.0"
row "REST PUT c=64 vs pgbench upsert + ns row" "$(mean "$put" | cut -d. -f1)" "$(worst_p99 "$put")" \
  "$(mean "$pgbns" | cut -d. -f1)" "$(worst_p99 "$pgbns")" "$(ratio "$(mean "$put")" "$(mean "$pgbns")")" "- (info)"
row "guest GET c=16 vs tokio-postgres SELECT" "$(mean "$get" | cut -d. -f1)" "$(worst_p99 "$get")" \
  "$(mean "$sel" | cut -d. -f1)" "$(worst_p99 "$sel")" "$(ratio "$(mean "$get")" "$(mean "$sel")")" ">= 0.5"
row "guest GET c=16, PostgreSQL vs SQLite store" "$(mean "$get" | cut -d. -f1)" "$(worst_p99 "$get")" \
  "$(mean "$lite" | cut -d. -f1)" "$(worst_p99 "$lite")" "$(ratio "$(mean "$get")" "$(mean "$lite")")" "- (info)"
one_total="$(awk -v a="$(mean "$one PUT c=32")" -v b="$(mean "$one GET c=16")" 'BEGIN {print a + b}')"
two_total="$(awk -v a="$(mean "$two PUT c=32")" -v b="$(mean "$two GET c=16")" 'BEGIN {print a + b}')"
row "PUT+GET, two nodes vs one (PUT part)" "$(mean "$two PUT c=32" | cut -d. -f1)" "$(worst_p99 "$two PUT c=32")" \
  "$(mean "$one PUT c=32" | cut -d. -f1)" "$(worst_p99 "$one PUT c=32")" \
  "$(ratio "$(mean "$two PUT c=32")" "$(mean "$one PUT c=32")")" "- (info)"
row "PUT+GET, two nodes vs one (GET part)" "$(mean "$two GET c=16" | cut -d. -f1)" "$(worst_p99 "$two GET c=16")" \
  "$(mean "$one GET c=16" | cut -d. -f1)" "$(worst_p99 "$one GET c=16")" \
  "$(ratio "$(mean "$two GET c=16")" "$(mean "$one GET c=16")")" "- (info)"
row "PUT+GET, two nodes vs one (total)" "${two_total%.*}" "-" "${one_total%.*}" "-" \
  "$(ratio "$two_total" "$one_total")" "- (2 cores: overhead)"
