#!/usr/bin/env bash
# Benchmark: KV GET of a 1 KiB value through the same app in each language (rust-kv-api, js-kv-api,
# python-kv-api, c-kv-api), 16 connections, every request in a fresh instance. Prints req/s and p99
# of each, and its ratio to the Rust guest measured in the same run (runs alternate language by
# language, twice).
#
# Needs wrk (apt-get install wrk) and the guests (guest-examples/build.sh).
# Usage: tests/bench/guest_languages.sh [seconds-per-run, default 8]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-8}"
unset RUST_BACKTRACE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
if [ -z "${EDGEKV_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -p edgekv >/dev/null && EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv" guest-examples/build.sh rust-kv-api js-kv-api python-kv-api c-kv-api >/dev/null)
fi
edgekv="${EDGEKV_BIN:-$CARGO_TARGET_DIR/release/edgekv}"
langs=(rust-kv-api js-kv-api python-kv-api c-kv-api)
cache="${EDGEKV_CACHE_DIR:-$CARGO_TARGET_DIR/bench-cache}"  # compiled components, kept between runs
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

declare -A url
for lang in "${langs[@]}"; do
  "$edgekv" serve "$EDGEKV_GUESTS_DIR/$lang.wasm" --listen 127.0.0.1:0 --data-dir "$work/$lang" \
    --cache-dir "$cache" >"$work/$lang.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 3000); do
    url[$lang]="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/$lang.log" | head -1 || true)"
    [ -n "${url[$lang]}" ] && break
    sleep 0.1
  done
  [ -n "${url[$lang]}" ] || { echo "$lang did not start" >&2; cat "$work/$lang.log" >&2; exit 1; }
  head -c 1024 /dev/zero | tr '\0' x | curl -sf -X PUT --data-binary @- "${url[$lang]}/kv/bench" >/dev/null
  wrk -t2 -c16 -d2s "${url[$lang]}/kv/bench" >/dev/null
done

declare -A rps p99
for round in 1 2; do
  for lang in "${langs[@]}"; do
    out="$(wrk -t2 -c16 -d"${secs}s" --latency "${url[$lang]}/kv/bench")"
    r="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p="$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")"
    rps[$lang]="$(awk -v a="${rps[$lang]:-0}" -v b="$r" 'BEGIN {print a + b / 2}')"
    p99[$lang]="$p"
  done
done

printf '%-16s %10s %10s %10s\n' "guest" "req/s" "p99 ms" "vs Rust"
for lang in "${langs[@]}"; do
  awk -v l="$lang" -v r="${rps[$lang]}" -v p="${p99[$lang]}" -v base="${rps[rust-kv-api]}" \
    'BEGIN {printf "%-16s %10.0f %10.2f %9.2fx\n", l, r, p, r / base}'
done
