#!/usr/bin/env bash
# Builds every guest from source for wasm32-wasip2 (release): the examples in guest-examples/ and
# the test guests in tests/guests/. Components land in $EDGEKV_GUESTS_DIR (default target/guests)
# as <name>.wasm; all guests share one cargo target dir, so a rebuild with no change is quick.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
mkdir -p "$out"
export CARGO_TARGET_DIR="$out/target"
rustup target add wasm32-wasip2 >/dev/null

for dir in "$repo"/guest-examples/rust-* "$repo"/tests/guests/*; do
  [ -f "$dir/Cargo.toml" ] || continue
  name="$(basename "$dir")"
  echo "guest: $name"
  cargo build --quiet --release --target wasm32-wasip2 --manifest-path "$dir/Cargo.toml"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/${name//-/_}.wasm" "$out/$name.wasm"
done
echo "guests built in $out"
