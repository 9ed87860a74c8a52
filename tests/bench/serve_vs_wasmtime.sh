#!/usr/bin/env bash
# Benchmark: the same plain wasi:http hello component under `edgekv serve` and under `wasmtime serve`
# in its best fresh-instance configuration, at 16 and 64 connections, alternating the two servers
# run by run; plus a KV GET of a 1 KiB value through the rust-kv-api guest. Prints req/s and p99 of
# each and the ratios. Every request gets a fresh instance in both servers.
#
# Needs wrk (apt-get install wrk) and wasmtime 48.0.8 (installed with cargo into $BENCH_TOOLS if
# absent). Usage: tests/bench/serve_vs_wasmtime.sh [seconds-per-run, default 10]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-10}"
tools="${BENCH_TOOLS:-$HOME/.cache/edgekv-bench}"
unset RUST_BACKTRACE  # it triples wasmtime's memory use
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
wasmtime="${WASMTIME:-$tools/bin/wasmtime}"
if [ ! -x "$wasmtime" ]; then
  cargo install wasmtime-cli --version 48.0.8 --locked --root "$tools"
fi
(cd "$repo" && cargo build --release -p edgekv >/dev/null && EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv" guest-examples/build.sh >/dev/null)
edgekv="$CARGO_TARGET_DIR/release/edgekv"
hello="$EDGEKV_GUESTS_DIR/hello.wasm"
kvapi="$EDGEKV_GUESTS_DIR/rust-kv-api.wasm"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

. "$repo/tests/bench/servers.sh"

start edgekv-hello "$edgekv" serve "$hello" --listen 127.0.0.1:0 --data-dir "$work/hello"
ek_hello="$url"
start wasmtime-hello "$wasmtime" serve -S cli=y -O pooling-memory-keep-resident=2097152 \
  -O pooling-table-keep-resident=65536 -O pooling-async-stack-keep-resident=262144 \
  -O pooling-pagemap-scan=y --addr 127.0.0.1:0 "$hello"
wt_hello="$url"
start edgekv-kv "$edgekv" serve "$kvapi" --listen 127.0.0.1:0 --data-dir "$work/kv"
ek_kv="$url"
head -c 1024 /dev/urandom | curl -sf -X PUT --data-binary @- "$ek_kv/kv/bench" >/dev/null

# run URL CONNS : prints "req/s p99-ms"
run() {
  local out
  out="$(wrk -t2 -c"$2" -d"${secs}s" --latency "$1")"
  local rps p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")"
  echo "$rps $p99"
}

for u in "$ek_hello/" "$wt_hello/" "$ek_kv/kv/bench"; do wrk -t2 -c16 -d2s "$u" >/dev/null; done

printf '%-34s %12s %10s\n' "run" "req/s" "p99 ms"
declare -A rps
# At 16 connections the KV GET runs are alternated with the two hello runs too, so each ratio
# compares runs made side by side.
for conns in 16 64; do
  servers=(wasmtime edgekv wasmtime edgekv)
  [ "$conns" = 16 ] && servers=(wasmtime edgekv kv wasmtime edgekv kv)
  for server in "${servers[@]}"; do
    case "$server" in
      edgekv) target="$ek_hello/"; name="hello edgekv" ;;
      wasmtime) target="$wt_hello/"; name="hello wasmtime" ;;
      kv) target="$ek_kv/kv/bench"; name="KV GET 1 KiB edgekv" ;;
    esac
    read -r r p < <(run "$target" "$conns")
    printf '%-34s %12.0f %10.2f\n' "$name c=$conns" "$r" "$p"
    rps["$server-$conns"]="$(awk -v a="${rps[$server-$conns]:-0}" -v b="$r" 'BEGIN {print a + b}')"
  done
done

echo
for conns in 16 64; do
  awk -v e="${rps[edgekv-$conns]}" -v w="${rps[wasmtime-$conns]}" -v c="$conns" \
    'BEGIN {printf "hello c=%d: edgekv / tuned wasmtime serve = %.2fx (target >= 1.0)\n", c, e / w}'
done
awk -v k="${rps[kv-16]}" -v e="${rps[edgekv-16]}" \
  'BEGIN {printf "KV GET c=16 / edgekv hello c=16 = %.2fx (target >= 0.8)\n", k / e}'
