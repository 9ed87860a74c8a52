#!/usr/bin/env bash
# Builds this app (src/app.js with lib/edgekv.js, for the world edgekv:kv/edge-app in wit/) into a
# wasi:http component with componentize-js: `./build.sh [OUT]` (default build/app.wasm). `edgekv
# dev` runs it on every change. Needs Node.js 18+ and npm; `npm ci` installs componentize-js into
# node_modules/ the first time (and when package-lock.json changes; npm honours npm_config_cache).
# The build is skipped when its inputs (sources, wit/, the lock, this script) are unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath -m "${1:-$here/build/app.wasm}")"
cd "$here"
command -v npm >/dev/null || { echo "{{name}}: needs Node.js (18 or newer) and npm" >&2; exit 1; }
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.edgekv-lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
  echo "{{name}}: installing componentize-js (npm ci, once)"
  npm ci --include=dev --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.edgekv-lock.sha256
fi

# Everything the component is made from, in one hash.
inputs="$(find src lib wit package-lock.json build.sh -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
built="$here/build/component.wasm"
stamp="$here/build/inputs.sha256"
if [ -s "$built" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "{{name}}: up to date"
else
  rm -f "$stamp"
  mkdir -p "$here/build"
  # componentize-js reports a syntax error without its place; node's parser names file and line.
  for src in src/*.js lib/*.js; do node --check "$src"; done
  # componentize-js resolves relative imports inside the directory it runs in: this one.
  node_modules/.bin/componentize-js --wit wit --world-name edgekv:kv/edge-app --out "$built.tmp" src/app.js
  mv "$built.tmp" "$built"
  echo "$inputs" > "$stamp"
fi
if ! cmp -s "$built" "$out"; then
  mkdir -p "$(dirname "$out")"
  cp "$built" "$out.tmp"
  mv "$out.tmp" "$out"
fi
echo "{{name}}: built $out"
