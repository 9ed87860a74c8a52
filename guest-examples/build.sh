#!/usr/bin/env bash
# Builds guests from source: the Rust examples in guest-examples/ and the Rust test guests in
# tests/guests/ (wasm32-wasip2, release, one shared cargo target dir), and every other example
# folder that has its own build.sh (JavaScript, Python, C; each installs its own tools locally).
# Components land in $EDGEKV_GUESTS_DIR (default target/guests) as <name>.wasm. A rebuild with no
# change is quick.
#
# Usage: guest-examples/build.sh [NAME...]   (no names: every guest; e.g. `build.sh rust-kv-api`)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
mkdir -p "$out"
export EDGEKV_GUESTS_DIR="$out"
wanted() { [ $# -eq 0 ] || [[ " ${names[*]} " == *" $1 "* ]]; }
names=("$@")

for dir in "$repo"/guest-examples/* "$repo"/tests/guests/*; do
  name="$(basename "$dir")"
  [ ${#names[@]} -eq 0 ] || wanted "$name" || continue
  if [ -f "$dir/build.sh" ]; then
    echo "guest: $name"
    "$dir/build.sh"
  elif [ -f "$dir/Cargo.toml" ]; then
    echo "guest: $name"
    rustup target add wasm32-wasip2 >/dev/null
    CARGO_TARGET_DIR="$out/target" cargo build --quiet --release --target wasm32-wasip2 --manifest-path "$dir/Cargo.toml"
    cp "$out/target/wasm32-wasip2/release/${name//-/_}.wasm" "$out/$name.wasm"
  fi
done
echo "guests built in $out"
