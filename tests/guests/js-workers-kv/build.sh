#!/usr/bin/env bash
# Builds js-workers-kv.wasm, the test guest of guest-libs/js/edgekv.js, with the componentize-js
# that the js-kv-api app ($EDGEKV_GUESTS_DIR/apps/js-kv-api, made from templates/js) installs from
# its lock (guest-examples/build.sh js-kv-api runs first and installs it if needed), for the world
# edgekv:kv/edge-app, into $EDGEKV_GUESTS_DIR (default target/guests).
# componentize-js runs from the repository root so the guest's relative import of the library
# resolves. Rebuilt only when the source, the library, the WIT or the tools changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
tools="$out/apps/js-kv-api"
build="$here/target"
mkdir -p "$out" "$build"

EDGEKV_GUESTS_DIR="$out" "$repo/guest-examples/build.sh" js-kv-api >/dev/null

inputs_sum="$(cd "$repo" && {
  sha256sum tests/guests/js-workers-kv/src/*.js tests/guests/js-workers-kv/build.sh guest-libs/js/edgekv.js \
    templates/js/package-lock.json
  find wit -type f -name '*.wit' | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -d' ' -f1)"
component="$build/js-workers-kv.wasm"
if [ ! -f "$component" ] || [ "$(cat "$build/inputs.sha256" 2>/dev/null)" != "$inputs_sum" ]; then
  echo "js-workers-kv: componentize-js"
  rm -f "$build/inputs.sha256"
  (cd "$repo" && "$tools/node_modules/.bin/componentize-js" --wit "$repo/wit" --world-name edgekv:kv/edge-app \
    --out "$component.tmp" tests/guests/js-workers-kv/src/worker.js)
  mv "$component.tmp" "$component"
  echo "$inputs_sum" > "$build/inputs.sha256"
fi
if ! cmp -s "$component" "$out/js-workers-kv.wasm"; then
  cp "$component" "$out/js-workers-kv.wasm.tmp"
  mv "$out/js-workers-kv.wasm.tmp" "$out/js-workers-kv.wasm"
fi
echo "js-workers-kv: $out/js-workers-kv.wasm"
