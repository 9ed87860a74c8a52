#!/usr/bin/env bash
# Builds python-kv-lib (app.py with guest-libs/python/edgekv.py) into a wasi:http component for the
# world edgekv:kv/edge-app with componentize-py, and copies it to
# $EDGEKV_GUESTS_DIR/python-kv-lib.wasm (default target/guests). componentize-py is the one
# guest-examples/python-kv-api pins, in the same venv ($EDGEKV_PY_GUEST_VENV, default
# target/guest-tools/componentize-py-venv), created on first use. Nothing is rebuilt when the inputs
# are unchanged.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
WORLD=edgekv:kv/edge-app
NAME=python-kv-lib

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${EDGEKV_PY_GUEST_VENV:-$repo/target/guest-tools/componentize-py-venv}"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
work="$out/$NAME.build"
tool="$venv/bin/componentize-py"

if [ "$("$tool" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

stamp="$(
  {
    echo "componentize-py $COMPONENTIZE_PY_VERSION $WORLD"
    cd "$repo" && find wit -name '*.wit' | LC_ALL=C sort | xargs sha256sum
    sha256sum guest-libs/python/edgekv.py tests/guests/$NAME/app.py tests/guests/$NAME/build.sh
  } | sha256sum | cut -d' ' -f1
)"
target="$out/$NAME.wasm"
if [ -f "$target" ] && [ "$(cat "$work/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$NAME is up to date: $target"
  exit 0
fi

# Build from a copy so that componentize-py's bytecode caches stay out of the source tree.
rm -rf "$work" && mkdir -p "$work/src"
cp "$here/app.py" "$repo/guest-libs/python/edgekv.py" "$work/src/"
"$tool" -q -d "$repo/wit" -w "$WORLD" componentize -p "$work/src" app -o "$work/$NAME.wasm"
cp "$work/$NAME.wasm" "$target.tmp"
mv "$target.tmp" "$target"
echo "$stamp" >"$work/stamp"
echo "$NAME built: $target ($(stat -c %s "$target") bytes)"
