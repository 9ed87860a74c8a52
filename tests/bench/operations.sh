#!/usr/bin/env bash
# Benchmark: what metrics and tracing cost. The plain hello guest (GET /) and KV GET of a 1 KiB value
# (rust-kv-api), 16 connections, each served by three servers started side by side:
#   off       --metrics off, no OpenTelemetry exporter
#   metrics   metrics on (the default), no exporter
#   tracing   metrics on and OTEL_EXPORTER_OTLP_ENDPOINT set, exporting every span to a local OTLP
#             sink (a stdlib HTTP server answering 200 to every POST)
# Runs alternate server by server, twice, and print req/s, p99 and each one's ratio to `off`
# measured in the same run. The issue's bounds: metrics costs <= 3%, tracing <= 15%.
#
# Needs wrk (apt-get install wrk) and the guests (guest-examples/build.sh).
# Usage: tests/bench/operations.sh [seconds-per-run, default 8]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-8}"
unset RUST_BACKTRACE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
edgekv="${EDGEKV_BIN:-$CARGO_TARGET_DIR/release/edgekv}"
cache="${EDGEKV_CACHE_DIR:-$CARGO_TARGET_DIR/bench-cache}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The OTLP sink: accepts and drops what the exporter sends.
python3 - "$work/sink.port" <<'EOF' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
open(sys.argv[1], "w").write(str(server.server_port))
server.serve_forever()
EOF
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$work/sink.port" ] && break; sleep 0.1; done
sink="http://127.0.0.1:$(cat "$work/sink.port")"

configs=(off metrics tracing)
guests=(hello rust-kv-api)
declare -A url
start() {  # config guest
  local name="$1-$2" args=() env=()
  case "$1" in
    off) args=(--metrics off) ;;
    tracing) env=(OTEL_EXPORTER_OTLP_ENDPOINT="$sink") ;;
  esac
  env "${env[@]}" "$edgekv" serve "$EDGEKV_GUESTS_DIR/$2.wasm" --listen 127.0.0.1:0 \
    --data-dir "$work/$name" --cache-dir "$cache" "${args[@]}" >"$work/$name.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 3000); do
    url[$name]="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/$name.log" | head -1 || true)"
    [ -n "${url[$name]}" ] && break
    sleep 0.1
  done
  [ -n "${url[$name]}" ] || { echo "$name did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
}
path() { [ "$1" = hello ] && echo / || echo /kv/bench; }

for guest in "${guests[@]}"; do
  for config in "${configs[@]}"; do
    start "$config" "$guest"
    name="$config-$guest"
    if [ "$guest" = rust-kv-api ]; then
      head -c 1024 /dev/zero | tr '\0' x | curl -sf -X PUT --data-binary @- "${url[$name]}/kv/bench" >/dev/null
    fi
    wrk -t2 -c16 -d2s "${url[$name]}$(path "$guest")" >/dev/null
  done
done

declare -A rps p99
for round in 1 2; do
  for guest in "${guests[@]}"; do
    for config in "${configs[@]}"; do
      name="$config-$guest"
      out="$(wrk -t2 -c16 -d"${secs}s" --latency "${url[$name]}$(path "$guest")")"
      r="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
      p="$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")"
      rps[$name]="$(awk -v a="${rps[$name]:-0}" -v b="$r" 'BEGIN {print a + b / 2}')"
      p99[$name]="$p"
    done
  done
done

printf '%-12s %-9s %10s %10s %10s\n' "guest" "config" "req/s" "p99 ms" "vs off"
for guest in "${guests[@]}"; do
  for config in "${configs[@]}"; do
    name="$config-$guest"
    awk -v g="$guest" -v c="$config" -v r="${rps[$name]}" -v p="${p99[$name]}" -v base="${rps[off-$guest]}" \
      'BEGIN {printf "%-12s %-9s %10.0f %10.2f %9.3fx\n", g, c, r, p, r / base}'
  done
done
