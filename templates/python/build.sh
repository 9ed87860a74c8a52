#!/usr/bin/env bash
# Builds this app (app.py with edgekv.py, for the world edgekv:kv/edge-app in wit/) into a
# wasi:http component with componentize-py: `./build.sh [OUT]` (default build/app.wasm). `edgekv
# dev` runs it on every change. Needs Python 3.10+; componentize-py is installed the first time
# into its own venv: $EDGEKV_PY_GUEST_VENV, default $EDGEKV_GUEST_TOOLS/componentize-py-venv
# (EDGEKV_GUEST_TOOLS defaults to ~/.cache/edgekv/guest-tools, shared by every app). The build is
# skipped when its inputs (the .py files, wit/, this script, the tool's version) are unchanged.
set -euo pipefail
COMPONENTIZE_PY_VERSION=0.25.1
here="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath -m "${1:-$here/build/app.wasm}")"
tools="${EDGEKV_GUEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/edgekv/guest-tools}"
venv="${EDGEKV_PY_GUEST_VENV:-$tools/componentize-py-venv}"
tool="$venv/bin/componentize-py"
if [ "$("$tool" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
  echo "{{name}}: installing componentize-py $COMPONENTIZE_PY_VERSION into $venv (once)"
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --disable-pip-version-check --progress-bar on "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

# Everything the component is made from, in one hash.
inputs="$( {
  echo "componentize-py $COMPONENTIZE_PY_VERSION"
  cd "$here" && find . -maxdepth 1 -name '*.py' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  find wit build.sh -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -d' ' -f1)"
built="$here/build/component.wasm"
stamp="$here/build/inputs.sha256"
if [ -s "$built" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "{{name}}: up to date"
else
  rm -f "$stamp"
  # Build from a copy so that bytecode caches stay out of the source folder.
  work="$here/build/src"
  rm -rf "$work" && mkdir -p "$work"
  cp "$here"/*.py "$work/"
  "$tool" -q -d "$here/wit" -w edgekv:kv/edge-app componentize -p "$work" app -o "$built.tmp"
  mv "$built.tmp" "$built"
  echo "$inputs" > "$stamp"
fi
if ! cmp -s "$built" "$out"; then
  mkdir -p "$(dirname "$out")"
  cp "$built" "$out.tmp"
  mv "$out.tmp" "$out"
fi
echo "{{name}}: built $out"
