#!/usr/bin/env bash
# The performance report: every figure measured side by side in one run and printed as a ratio
# against its baseline, with the target next to it.
#
#   hello             edgekv serve vs tuned `wasmtime serve` (same component, fresh instance per
#                     request in both), 16 and 64 connections, runs alternated
#   KV GET 1 KiB      through rust-kv-api, vs wasmtime serve's and our own hello (runs alternated
#                     with both) and vs Miniflare's KV GET; and through kv-hello (hello plus one
#                     `get`, no router) vs our hello: what the binding itself adds to a request
#   REST PUT / GET    Cloudflare API at 64 connections vs raw SQLite (Python's sqlite3 module, 64
#                     threads, one row per transaction, WAL, synchronous=NORMAL: edgekv's default)
#   cold start        process start to first 200 with a cached compile, vs wasmtime serve
#   peak RSS          edgekv under 64 connections of KV GET
#
# Needs wrk (apt-get install wrk), wasmtime 48.0.8 (cargo-installed into $BENCH_TOOLS if absent),
# and the npm packages of tests/node (Miniflare comes with wrangler).
# Usage: tests/bench/report.sh [seconds-per-run, default 8]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-8}"
tools="${BENCH_TOOLS:-$HOME/.cache/edgekv-bench}"
unset RUST_BACKTRACE  # it triples wasmtime's memory use
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"
python="${EDGEKV_VENV:-$repo/.venv}/bin/python"; [ -x "$python" ] || python=python3

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
wasmtime="${WASMTIME:-$tools/bin/wasmtime}"
[ -x "$wasmtime" ] || cargo install wasmtime-cli --version 48.0.8 --locked --root "$tools"
[ -d "$repo/tests/node/node_modules/miniflare" ] || (cd "$repo/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$repo" && cargo build --release -p edgekv >/dev/null && EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv" guest-examples/build.sh >/dev/null)
edgekv="$CARGO_TARGET_DIR/release/edgekv"
hello="$EDGEKV_GUESTS_DIR/hello.wasm"
kvapi="$EDGEKV_GUESTS_DIR/rust-kv-api.wasm"
kvhello="$EDGEKV_GUESTS_DIR/kv-hello.wasm"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
token=bench-token account=0123456789abcdef0123456789abcdef
export EDGEKV_API_TOKEN=$token EDGEKV_CLOUDFLARE_ACCOUNT_ID=$account

. "$repo/tests/bench/servers.sh"
wasmtime_flags=(serve -S cli=y -O pooling-memory-keep-resident=2097152 -O pooling-table-keep-resident=65536
  -O pooling-async-stack-keep-resident=262144 -O pooling-pagemap-scan=y --addr 127.0.0.1:0)

# rps URL CONNS [wrk args...] : req/s
rps() {
  local u="$1" c="$2"; shift 2
  wrk -t2 -c"$c" -d"${secs}s" "$@" "$u" | awk '/Requests\/sec/ {print $2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() { printf '%-46s %10s %10s %8sx  target %s\n' "$@"; }

start edgekv-hello "$edgekv" serve "$hello" --listen 127.0.0.1:0 --data-dir "$work/hello"; ek_hello=$url
start wasmtime-hello "$wasmtime" "${wasmtime_flags[@]}" "$hello"; wt_hello=$url
start edgekv-kv "$edgekv" serve "$kvapi" --listen 127.0.0.1:0 --data-dir "$work/kv"; ek_kv=$url; kv_pid=$pid
start edgekv-kvh "$edgekv" serve "$kvhello" --listen 127.0.0.1:0 --data-dir "$work/kvh"; ek_kvh=$url
start miniflare node "$repo/tests/node/miniflare_kv.mjs"; mf=$url
head -c 1024 /dev/urandom | curl -sf -X PUT --data-binary @- "$ek_kv/kv/bench" >/dev/null
head -c 1024 /dev/urandom | "$edgekv" kv --data-dir "$work/kvh" put -n default bench >/dev/null
for u in "$ek_hello/" "$wt_hello/" "$ek_kv/kv/bench" "$ek_kvh/kv/bench" "$mf/"; do wrk -t2 -c16 -d2s "$u" >/dev/null; done

echo "edgekv performance report ($secs s per run, $(nproc) cores)"
row "figure" "edgekv" "baseline" "ratio" ""
declare -A sum
mean() { awk -v s="${sum[$1]}" 'BEGIN {print s / 2}'; }  # mean of the two runs of NAME-CONNS
# At 16 connections the KV GET runs (of both guests) take turns with the two hellos, so their
# ratios are side by side too.
for conns in 16 64; do
  servers=(wasmtime edgekv wasmtime edgekv)
  [ "$conns" = 16 ] && servers=(wasmtime edgekv kv kvh wasmtime edgekv kv kvh)
  for server in "${servers[@]}"; do
    case "$server" in edgekv) u="$ek_hello/" ;; wasmtime) u="$wt_hello/" ;; kv) u="$ek_kv/kv/bench" ;; kvh) u="$ek_kvh/kv/bench" ;; esac
    r="$(rps "$u" "$conns")"
    sum["$server-$conns"]="$(awk -v a="${sum[$server-$conns]:-0}" -v b="$r" 'BEGIN {print a + b}')"
  done
  e="$(mean "edgekv-$conns")"
  w="$(mean "wasmtime-$conns")"
  row "hello req/s c=$conns (vs tuned wasmtime serve)" "${e%.*}" "${w%.*}" "$(ratio "$e" "$w")" ">= 1.2"
done
kv16="$(mean kv-16)" kvh16="$(mean kvh-16)" e16="$(mean edgekv-16)" w16="$(mean wasmtime-16)"
mf16="$(rps "$mf/" 16)"
row "KV GET req/s c=16 (vs wasmtime serve hello)" "${kv16%.*}" "${w16%.*}" "$(ratio "$kv16" "$w16")" ">= 1.0"
row "KV GET req/s c=16 (vs edgekv hello)" "${kv16%.*}" "${e16%.*}" "$(ratio "$kv16" "$e16")" ">= 0.8"
row "KV GET req/s c=16, kv-hello (vs edgekv hello)" "${kvh16%.*}" "${e16%.*}" "$(ratio "$kvh16" "$e16")" "- (binding alone)"
row "KV GET req/s c=16 (vs Miniflare KV GET)" "${kv16%.*}" "${mf16%.*}" "$(ratio "$kv16" "$mf16")" ">= 5"

# Peak RSS: VmHWM of the KV server after 64 connections of KV GET.
rps "$ek_kv/kv/bench" 64 >/dev/null
hwm_kb="$(awk '/VmHWM/ {print $2}' "/proc/$kv_pid/status")"
row "peak RSS MiB, 64 connections of KV GET" "$((hwm_kb / 1024))" "150" "$(ratio "$((hwm_kb / 1024))" 150)" "<= 1.0 (150 MiB)"

# REST PUT and GET at 64 connections vs raw SQLite.
start edgekv-rest "$edgekv" serve --listen 127.0.0.1:0 --data-dir "$work/rest"; rest=$url
ns="$(curl -sf -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"title":"bench"}' "$rest/client/v4/accounts/$account/storage/kv/namespaces" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')"
values_path="/client/v4/accounts/$account/storage/kv/namespaces/$ns/values"
values="$rest$values_path"
cat >"$work/put.lua" <<LUA
local n = 0
local id = tostring(math.random(1, 1e9))
wrk.method = "PUT"
wrk.headers["authorization"] = "Bearer $token"
wrk.body = string.rep("v", 100)
request = function()
  n = n + 1
  return wrk.format(nil, "$values_path/" .. id .. "-" .. n)
end
LUA
put64="$(rps "$values/x" 64 -s "$work/put.lua")"
curl -sf -X PUT -H "authorization: Bearer $token" --data-binary "$(head -c 100 /dev/zero | tr '\0' v)" "$values/get-me" >/dev/null
cat >"$work/get.lua" <<LUA
wrk.headers["authorization"] = "Bearer $token"
LUA
get64="$(rps "$values/get-me" 64 -s "$work/get.lua")"
raw="$("$python" - "$work/raw.sqlite3" "$secs" <<'PY'
import sqlite3, sys, threading, time
path, secs = sys.argv[1], float(sys.argv[2])
setup = sqlite3.connect(path)
setup.execute("PRAGMA journal_mode=WAL")
setup.execute("CREATE TABLE entries (ns INTEGER, key BLOB, value BLOB, PRIMARY KEY (ns, key))")
setup.close()
counts, stop = [0] * 64, time.monotonic() + secs
def writer(t):
    c = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    c.execute("PRAGMA synchronous=NORMAL")
    while time.monotonic() < stop:
        c.execute("INSERT INTO entries VALUES (1, ?, ?)", (f"{t}-{counts[t]}".encode(), b"v" * 100))
        counts[t] += 1
threads = [threading.Thread(target=writer, args=(t,)) for t in range(64)]
[t.start() for t in threads]; [t.join() for t in threads]
print(sum(counts) / secs)
PY
)"
row "REST PUT req/s c=64 (vs raw SQLite inserts)" "${put64%.*}" "${raw%.*}" "$(ratio "$put64" "$raw")" ">= 0.5"
row "REST GET req/s c=64 (vs REST PUT, info)" "${get64%.*}" "${put64%.*}" "$(ratio "$get64" "$put64")" "-"

# Cold start: process start to first 200 with a compile cached by an earlier start, median of 7,
# timed in one Python process (tests/bench/cold_start.py) so no shell or curl start-up is counted.
cold() { "$python" "$repo/tests/bench/cold_start.py" 7 -- "$@"; }
ek_cold="$(cold "$edgekv" serve "$hello" --listen 127.0.0.1:0 --data-dir "$work/cold")"
wt_cold="$(cold "$wasmtime" "${wasmtime_flags[@]}" "$hello")"
row "cold start ms (vs wasmtime serve)" "$ek_cold" "$wt_cold" "$(ratio "$ek_cold" "$wt_cold")" "<= 1.0"
