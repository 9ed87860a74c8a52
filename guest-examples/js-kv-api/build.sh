#!/usr/bin/env bash
# Builds js-kv-api.wasm (the JavaScript guest) with componentize-js, installed locally from the lock,
# for the world edgekv:kv/edge-app in wit/, and copies it to $EDGEKV_GUESTS_DIR (default
# target/guests). The guest imports guest-libs/js/edgekv.js by a relative path, so componentize-js
# runs from the repository root (it resolves relative imports inside the directory it runs in). npm ci runs only when package-lock.json changed, and the component is rebuilt only
# when its source, the WIT or the lock changed, so a second run is quick. npm honours
# npm_config_cache if set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
build="$here/target"
mkdir -p "$out" "$build"
cd "$here"
command -v npm >/dev/null || { echo "js-kv-api: needs Node.js (18 or newer) and npm" >&2; exit 1; }

lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.edgekv-lock.sha256 ] || [ "$(cat node_modules/.edgekv-lock.sha256)" != "$lock_sum" ]; then
  echo "js-kv-api: npm ci"
  npm ci --include=dev --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.edgekv-lock.sha256
fi

# Everything the component is made from: the source, the WIT and the exact tool versions.
inputs_sum="$( (cd "$here" && sha256sum src/*.js package-lock.json build.sh; cd "$repo" && sha256sum guest-libs/js/edgekv.js && find wit -type f -name '*.wit' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1)"
component="$build/js-kv-api.wasm"
if [ ! -f "$component" ] || [ ! -f "$build/inputs.sha256" ] || [ "$(cat "$build/inputs.sha256")" != "$inputs_sum" ]; then
  echo "js-kv-api: componentize-js"
  rm -f "$build/inputs.sha256"
  (cd "$repo" && "$here/node_modules/.bin/componentize-js" --wit "$repo/wit" --world-name edgekv:kv/edge-app \
    --out "$component.tmp" guest-examples/js-kv-api/src/app.js)
  mv "$component.tmp" "$component"
  echo "$inputs_sum" > "$build/inputs.sha256"
fi

if ! cmp -s "$component" "$out/js-kv-api.wasm"; then
  cp "$component" "$out/js-kv-api.wasm.tmp"
  mv "$out/js-kv-api.wasm.tmp" "$out/js-kv-api.wasm"
fi
echo "js-kv-api: $out/js-kv-api.wasm ($(stat -c %s "$out/js-kv-api.wasm") bytes)"
