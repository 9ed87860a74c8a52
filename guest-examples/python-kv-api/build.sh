#!/usr/bin/env bash
# Builds python-kv-api (app.py) into a wasi:http component for the edgekv:kv/keyvalue-app world with
# componentize-py, and copies it to $EDGEKV_GUESTS_DIR/python-kv-api.wasm (default target/guests).
#
# componentize-py (pinned below) lives in its own venv, $EDGEKV_PY_GUEST_VENV (default
# target/guest-tools/componentize-py-venv), created on first use. Before building, app.py is
# unit-checked on the host against the bindings componentize-py generates for the world. Nothing is
# rebuilt when app.py, the WIT, this script and the tool version are unchanged.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
WORLD=edgekv:kv/keyvalue-app
NAME=python-kv-api

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${EDGEKV_PY_GUEST_VENV:-$repo/target/guest-tools/componentize-py-venv}"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
work="$repo/target/guest-tools/$NAME"
tool="$venv/bin/componentize-py"

if [ "$("$tool" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

# Everything the component is made from, in one hash.
stamp="$(
  {
    echo "componentize-py $COMPONENTIZE_PY_VERSION $WORLD"
    cd "$repo" && find wit -name '*.wit' | LC_ALL=C sort | xargs sha256sum
    cd "$here" && sha256sum app.py test_app.py build.sh
  } | sha256sum | cut -d' ' -f1
)"
target="$out/$NAME.wasm"
stamp_file="$out/.$NAME.stamp"
if [ -f "$target" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
  echo "$NAME is up to date: $target"
  exit 0
fi

mkdir -p "$out" "$work"
# Build from a copy so that componentize-py's bytecode caches stay out of the source tree.
rm -rf "$work/src" "$work/bindings"
mkdir -p "$work/src"
cp "$here/app.py" "$work/src/"

"$tool" -q -d "$repo/wit" -w "$WORLD" bindings "$work/bindings"
if ! log="$(cd "$here" && PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$work/bindings" "$venv/bin/python3" -m unittest test_app 2>&1)"; then
  echo "$log" >&2
  echo "$NAME: unit checks failed" >&2
  exit 1
fi

"$tool" -q -d "$repo/wit" -w "$WORLD" componentize -p "$work/src" app -o "$work/$NAME.wasm"
cp "$work/$NAME.wasm" "$target.tmp"
mv "$target.tmp" "$target"
echo "$stamp" >"$stamp_file"
echo "$NAME built: $target ($(stat -c %s "$target") bytes)"
