#!/usr/bin/env bash
# Builds this app (src/*.c with lib/edgekv.c, for the world edgekv:kv/edge-app in wit/) into a
# wasi:http component: `./build.sh [OUT]` (default build/app.wasm). `edgekv dev` runs it on every
# change. Uses Debian's clang, lld and wasi-libc, `wit-bindgen c` and `wasm-tools`, and wasmtime's
# WASI preview1 reactor adapter, and installs what is missing the first time:
#   - Debian packages (apt-get, as root or through sudo; or set WASI_SYSROOT and CC_WASM),
#   - wit-bindgen-cli and wasm-tools (cargo install) into $EDGEKV_GUEST_TOOLS (default
#     ~/.cache/edgekv/guest-tools, shared by every app),
#   - the adapter, copied out of the crate wasi-preview1-component-adapter-provider.
# The build is skipped when its inputs (sources, wit/, this script, tools, flags) are unchanged.
set -euo pipefail
WIT_BINDGEN_VERSION=0.63.0   # matches the wit-bindgen 0.63 of the Rust guests
WASM_TOOLS_VERSION=1.262.0   # the wit-component/wit-parser 0.262 that wit-bindgen 0.63 uses
ADAPTER_VERSION=48.0.8       # matches the host's wasmtime 48
APT_PACKAGES=(clang lld wasi-libc libclang-rt-dev-wasm32)
WORLD=edgekv:kv/edge-app

here="$(cd "$(dirname "$0")" && pwd)"
out="$(realpath -m "${1:-$here/build/app.wasm}")"
tools="${EDGEKV_GUEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/edgekv/guest-tools}"
work="$here/build/c"
mkdir -p "$tools" "$work" "$(dirname "$out")"
tools="$(cd "$tools" && pwd)"

log() { echo "{{name}}: $*"; }

# --- Debian packages (skipped when WASI_SYSROOT names another toolchain's sysroot) -------------
missing=()
if [ -z "${WASI_SYSROOT:-}" ]; then
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "{{name}}: needs the Debian packages ${missing[*]}, or WASI_SYSROOT (and CC_WASM) set to another clang + wasi-libc" >&2
    exit 1
  fi
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
CC="${CC_WASM:-clang}"

# A sysroot of wasi-libc alone: Debian ships its headers in /usr/include/wasm32-wasi and its
# libraries in /usr/lib/wasm32-wasi, and clang's default search would also see the host's
# /usr/include. Set WASI_SYSROOT to use another wasi-libc sysroot (e.g. wasi-sdk's).
if [ -n "${WASI_SYSROOT:-}" ]; then
  sysroot="$WASI_SYSROOT"
else
  sysroot="$work/sysroot"
  mkdir -p "$sysroot/lib"
  ln -sfn /usr/include/wasm32-wasi "$sysroot/include"
  ln -sfn /usr/lib/wasm32-wasi "$sysroot/lib/wasm32-wasi"
fi

# --- cargo-installed tools -------------------------------------------------------------------
install_tool() { # crate version binary features
  if [ "$("$tools/bin/$3" --version 2>/dev/null | awk '{print $2}')" != "$2" ]; then
    log "installing $1 $2 into $tools"
    cargo install --locked --root "$tools" "$1" --version "$2" --no-default-features --features "$4"
  fi
}
install_tool wit-bindgen-cli "$WIT_BINDGEN_VERSION" wit-bindgen c
install_tool wasm-tools "$WASM_TOOLS_VERSION" wasm-tools component,validate,print
WIT_BINDGEN="$tools/bin/wit-bindgen"
WASM_TOOLS="$tools/bin/wasm-tools"

# --- the preview1 reactor adapter, from the crate that ships it ------------------------------
adapter="$tools/adapters/$ADAPTER_VERSION/wasi_snapshot_preview1.reactor.wasm"
if [ ! -s "$adapter" ]; then
  log "fetching wasi-preview1-component-adapter-provider $ADAPTER_VERSION"
  scratch="$tools/adapters/fetch-$ADAPTER_VERSION"
  mkdir -p "$scratch/src"
  : > "$scratch/src/lib.rs"
  cat > "$scratch/Cargo.toml" <<EOF
[package]
name = "fetch-adapter"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
wasi-preview1-component-adapter-provider = "=$ADAPTER_VERSION"

[workspace]
EOF
  # cargo metadata downloads and unpacks the crate (checksum-verified) and says where it is.
  manifest="$(cargo metadata --quiet --format-version 1 --manifest-path "$scratch/Cargo.toml" |
    grep -o "\"manifest_path\":\"[^\"]*wasi-preview1-component-adapter-provider-$ADAPTER_VERSION/Cargo.toml\"" |
    head -n1 | sed -e 's/^"manifest_path":"//' -e 's/"$//')"
  [ -n "$manifest" ] || { echo "{{name}}: could not locate the adapter crate" >&2; exit 1; }
  mkdir -p "$(dirname "$adapter")"
  cp "$(dirname "$manifest")/artefacts/wasi_snapshot_preview1.reactor.wasm" "$adapter.tmp"
  mv "$adapter.tmp" "$adapter"
fi

CFLAGS=(--target=wasm32-wasi --sysroot="$sysroot" -Os -std=c11)
WARNINGS=(-Wall -Wextra -Wpedantic -Werror)  # for src/, not for the generated bindings
LDFLAGS=(-mexec-model=reactor -Wl,--strip-all)

# --- up to date? -----------------------------------------------------------------------------
built="$work/component.wasm"
stamp="$work/inputs.sha256"
inputs="$( {
  echo "$WIT_BINDGEN_VERSION $WASM_TOOLS_VERSION $ADAPTER_VERSION $WORLD ${CFLAGS[*]} ${WARNINGS[*]} ${LDFLAGS[*]}"
  "$CC" --version | head -n1
  sha256sum "$adapter"
  cd "$here" && find src lib wit build.sh -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -d' ' -f1)"
if [ -s "$built" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  log "up to date"
else
  rm -f "$stamp"

  # --- bindings, compile, componentize ---------------------------------------------------------
  # No *_component_type.o: `wasm-tools component embed` adds the world's type information instead.
  rm -rf "$work/bindings"
  "$WIT_BINDGEN" c --no-object-file --world "$WORLD" --out-dir "$work/bindings" "$here/wit" >"$work/wit-bindgen.log" 2>&1 ||
    { cat "$work/wit-bindgen.log" >&2; exit 1; }
  rm -rf "$work/obj" && mkdir -p "$work/obj"
  for src in "$here"/src/*.c "$here"/lib/edgekv.c; do
    "$CC" "${CFLAGS[@]}" "${WARNINGS[@]}" -I "$work/bindings" -I "$here/lib" -c "$src" -o "$work/obj/$(basename "$src" .c).o"
  done
  "$CC" "${CFLAGS[@]}" -c "$work/bindings/edge_app.c" -o "$work/obj/edge_app.o"
  "$CC" "${CFLAGS[@]}" "${LDFLAGS[@]}" -o "$work/core.wasm" "$work"/obj/*.o
  "$WASM_TOOLS" component embed "$here/wit" --world "$WORLD" "$work/core.wasm" -o "$work/embedded.wasm"
  "$WASM_TOOLS" component new "$work/embedded.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$built.tmp"
  "$WASM_TOOLS" validate "$built.tmp"
  mv "$built.tmp" "$built"
  echo "$inputs" > "$stamp"
fi

if ! cmp -s "$built" "$out"; then
  cp "$built" "$out.tmp"
  mv "$out.tmp" "$out"
fi
echo "{{name}}: built $out"
