#!/usr/bin/env bash
# Builds guests from source into $EDGEKV_GUESTS_DIR (default target/guests) as <name>.wasm:
#   - the example guests that are instances of the app templates (templates/<lang>, the one
#     source of each language's app): rust-kv-api, js-kv-api, c-kv-api and python-kv-lib. Each is
#     made with `edgekv new --lang <lang> <name>`, as a user makes an app, into
#     $EDGEKV_GUESTS_DIR/apps/<name>, and built by that app's own build.sh;
#   - the Rust guests in guest-examples/ and tests/guests/ (wasm32-wasip2, release);
#   - every other folder there that has its own build.sh (JavaScript, Python, C).
# Rust guests share one cargo target dir, $EDGEKV_GUESTS_DIR/target. The tools the other languages
# install go to $EDGEKV_GUEST_TOOLS (default target/guest-tools) and npm's cache. A rebuild with no
# change is quick: an app's files are rewritten only when their content changed, and each build
# skips what is up to date.
#
# `edgekv new` is $EDGEKV_BIN when set, else the edgekv built here with `cargo build --release -p
# edgekv`.
#
# Usage: guest-examples/build.sh [NAME...]   (no names: every guest; e.g. `build.sh rust-kv-api`)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${EDGEKV_GUESTS_DIR:-$repo/target/guests}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export EDGEKV_GUESTS_DIR="$out"
export EDGEKV_GUEST_TOOLS="${EDGEKV_GUEST_TOOLS:-$repo/target/guest-tools}"
names=("$@")
wanted() { [ ${#names[@]} -eq 0 ] || [[ " ${names[*]} " == *" $1 "* ]]; }

# The guests made from the templates: name and language.
INSTANCES=(rust-kv-api:rust js-kv-api:js c-kv-api:c python-kv-lib:python)

# The edgekv whose `new` makes the apps (exported, so that guests built later reuse it).
edgekv_bin() {
  if [ -z "${EDGEKV_BIN:-}" ]; then
    echo "building edgekv (cargo build --release -p edgekv)"
    EDGEKV_BIN="$(cd "$repo" && cargo build --release -p edgekv --message-format=json-render-diagnostics |
      sed -n 's/.*"executable":"\([^"]*\/edgekv\)".*/\1/p' | tail -n1)"
    [ -x "$EDGEKV_BIN" ] || { echo "could not build edgekv" >&2; exit 1; }
  fi
  export EDGEKV_BIN
}

# Makes app $1 (language $2) in $out/apps/$1 with `edgekv new`. Only files whose content changed
# are rewritten, and files the template no longer has are removed, so that build output, installed
# packages and build stamps stay warm.
instantiate() {
  local name="$1" lang="$2" app="$out/apps/$1" fresh rel
  mkdir -p "$out/apps"
  fresh="$(mktemp -d "$out/apps/.new.XXXXXX")"
  "$EDGEKV_BIN" new --lang "$lang" "$fresh/$name" >/dev/null
  mkdir -p "$app"
  while IFS= read -r -d '' rel; do
    if ! cmp -s "$fresh/$name/$rel" "$app/$rel"; then
      mkdir -p "$(dirname "$app/$rel")"
      cp -p "$fresh/$name/$rel" "$app/$rel"
    fi
  done < <(cd "$fresh/$name" && find . -type f -print0)
  while IFS= read -r -d '' rel; do
    [ -e "$fresh/$name/$rel" ] || rm -f "$app/$rel"
  done < <(cd "$app" && find . \( -path ./node_modules -o -path ./build -o -path ./target -o -path ./.edgekv \) -prune \
    -o -type f -print0)
  rm -rf "$fresh"
}

for instance in "${INSTANCES[@]}"; do
  name="${instance%%:*}"
  wanted "$name" || continue
  echo "guest: $name (templates/${instance#*:})"
  edgekv_bin
  instantiate "$name" "${instance#*:}"
  CARGO_TARGET_DIR="$out/target" "$out/apps/$name/build.sh" "$out/$name.wasm"
done

for dir in "$repo"/guest-examples/* "$repo"/tests/guests/*; do
  name="$(basename "$dir")"
  wanted "$name" || continue
  if [ -f "$dir/build.sh" ]; then
    echo "guest: $name"
    "$dir/build.sh"
  elif [ -f "$dir/Cargo.toml" ]; then
    echo "guest: $name"
    rustup target add wasm32-wasip2 >/dev/null
    CARGO_TARGET_DIR="$out/target" cargo build --quiet --release --target wasm32-wasip2 --manifest-path "$dir/Cargo.toml"
    built="$out/target/wasm32-wasip2/release/${name//-/_}.wasm"
    cmp -s "$built" "$out/$name.wasm" || cp "$built" "$out/$name.wasm"
  fi
done
echo "guests built in $out"
