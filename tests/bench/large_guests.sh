#!/usr/bin/env bash
# Benchmark of large guests (JavaScript and Python, whose components carry a whole language
# runtime): KV GET of a 1 KiB value at 16 connections through js-kv-api and python-kv-api, with a
# fresh instance per request (the default) and with `--instance-reuse 128`, each as a ratio to
# Miniflare's KV GET measured in the same run (a Worker doing the same `get` through its own KV
# binding; tests/node/miniflare_kv.mjs). Alongside, the runtime benchmark's two ratios, so a
# change for large guests is seen not to slow the small ones: hello and rust-kv-api's KV GET vs
# tuned `wasmtime serve` hello. Then peak RSS (VmHWM) of js-kv-api under 64 connections, at the
# default settings and with reuse. Runs alternate server by server, twice; each figure is the mean.
#
# Needs wrk (apt-get install wrk), wasmtime 48.0.8 (cargo-installed into $BENCH_TOOLS if absent),
# the npm packages of tests/node, and the guests (guest-examples/build.sh).
# Usage: tests/bench/large_guests.sh [seconds-per-run, default 6]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-6}"
tools="${BENCH_TOOLS:-$HOME/.cache/edgekv-bench}"
unset RUST_BACKTRACE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
wasmtime="${WASMTIME:-$tools/bin/wasmtime}"
[ -x "$wasmtime" ] || cargo install wasmtime-cli --version 48.0.8 --locked --root "$tools"
[ -d "$repo/tests/node/node_modules/miniflare" ] || (cd "$repo/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
if [ -z "${EDGEKV_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -p edgekv >/dev/null)
  export EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv"
  (cd "$repo" && guest-examples/build.sh hello rust-kv-api js-kv-api python-kv-api >/dev/null)
fi
edgekv="$EDGEKV_BIN"
cache="${EDGEKV_CACHE_DIR:-$CARGO_TARGET_DIR/bench-cache}"  # compiled components, kept between runs
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. "$repo/tests/bench/servers.sh"

declare -A url_of pid_of
# serve NAME GUEST [edgekv flags...]
serve() {
  local name="$1" guest="$2"; shift 2
  start "$name" "$edgekv" serve "$EDGEKV_GUESTS_DIR/$guest.wasm" --listen 127.0.0.1:0 \
    --data-dir "$work/$name" --cache-dir "$cache" "$@"
  url_of[$name]="$url"; pid_of[$name]="$pid"
}
serve js js-kv-api
serve js-reuse js-kv-api --instance-reuse 128
serve py python-kv-api
serve py-reuse python-kv-api --instance-reuse 128
serve rust rust-kv-api
serve hello hello
start wasmtime "$wasmtime" serve -S cli=y -O pooling-memory-keep-resident=2097152 -O pooling-table-keep-resident=65536 \
  -O pooling-async-stack-keep-resident=262144 -O pooling-pagemap-scan=y --addr 127.0.0.1:0 "$EDGEKV_GUESTS_DIR/hello.wasm"
url_of[wasmtime]="$url"
start miniflare node "$repo/tests/node/miniflare_kv.mjs"
url_of[miniflare]="$url"

declare -A path_of=([hello]=/ [wasmtime]=/ [miniflare]=/)
for name in js js-reuse py py-reuse rust; do
  path_of[$name]=/kv/bench
  head -c 1024 /dev/zero | tr '\0' x | curl -sf -X PUT --data-binary @- "${url_of[$name]}/kv/bench" >/dev/null
done
names=(miniflare js js-reuse py py-reuse rust hello wasmtime)
for name in "${names[@]}"; do wrk -t2 -c16 -d2s "${url_of[$name]}${path_of[$name]}" >/dev/null; done

declare -A sum
for round in 1 2; do
  for name in "${names[@]}"; do
    r="$(wrk -t2 -c16 -d"${secs}s" "${url_of[$name]}${path_of[$name]}" | awk '/Requests\/sec/ {print $2}')"
    sum[$name]="$(awk -v a="${sum[$name]:-0}" -v b="$r" 'BEGIN {print a + b}')"
  done
done
mean() { awk -v s="${sum[$1]}" 'BEGIN {print s / 2}'; }
row() { printf '%-52s %9.0f %9.0f %7.2fx  target %s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN {print a / b}')" "$4"; }

echo "large guests: KV GET of 1 KiB, 16 connections ($secs s per run, 2 runs each, $(nproc) cores)"
printf '%-52s %9s %9s %8s\n' "figure" "req/s" "baseline" "ratio"
mf="$(mean miniflare)"
row "js-kv-api, fresh instance (vs Miniflare KV GET)" "$(mean js)" "$mf" ">= 2"
row "js-kv-api, instance_reuse = 128 (vs Miniflare)" "$(mean js-reuse)" "$mf" ">= 4"
row "python-kv-api, fresh instance (vs Miniflare)" "$(mean py)" "$mf" ">= 1"
row "python-kv-api, instance_reuse = 128 (vs Miniflare)" "$(mean py-reuse)" "$mf" "-"
row "hello (vs tuned wasmtime serve hello)" "$(mean hello)" "$(mean wasmtime)" ">= 1.2 (as before)"
row "rust-kv-api KV GET (vs wasmtime serve hello)" "$(mean rust)" "$(mean wasmtime)" ">= 1.0 (as before)"

for name in js js-reuse; do
  wrk -t2 -c64 -d"${secs}s" "${url_of[$name]}/kv/bench" >/dev/null
  echo "peak RSS of $name under 64 connections: $(( $(awk '/VmHWM/ {print $2}' "/proc/${pid_of[$name]}/status") / 1024 )) MiB (target at the default settings: < 512)"
done
