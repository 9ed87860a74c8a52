#!/usr/bin/env bash
# Builds this app (src/, with the edgekv-guest crate in edgekv-guest/ and edgekv's wit/) into a
# wasi:http component: `./build.sh [OUT]` (default build/app.wasm). `edgekv dev` runs it on every
# change. Needs Rust (rustup); adds the wasm32-wasip2 target the first time. Cargo's build output
# goes to $CARGO_TARGET_DIR (default target/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath -m "${1:-$here/build/app.wasm}")"
cd "$here"
command -v cargo >/dev/null || { echo "{{name}}: needs Rust (cargo); install it with rustup" >&2; exit 1; }
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "{{name}}: installing the Rust target wasm32-wasip2 (once)"
  rustup target add wasm32-wasip2
fi
target="${CARGO_TARGET_DIR:-$here/target}"
cargo build --release --target wasm32-wasip2 --target-dir "$target"
# Copied only when it changed, so that a server watching the file does not reload for nothing.
built="$target/wasm32-wasip2/release/app.wasm"
if ! cmp -s "$built" "$out"; then
  mkdir -p "$(dirname "$out")"
  cp "$built" "$out.tmp"
  mv "$out.tmp" "$out"
fi
echo "{{name}}: built $out"
