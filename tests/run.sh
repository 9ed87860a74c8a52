#!/usr/bin/env bash
# Runs every edgekv test from a fresh machine: installs what it needs (the wasm32-wasip2 target, a
# Python venv with the real SDKs, local npm packages, each guest language's tools, Debian's Chromium
# and Prometheus, cargo-fuzz), checks formatting and clippy (warnings are errors, the workspace's lints included),
# builds the workspace and every guest once, starts a throwaway PostgreSQL server (tests/postgres.sh,
# stopped on exit) so the store's suites run on both backends, then runs the Rust tests, the
# black-box suites against the real server (the SDK suites a second time with every server on
# PostgreSQL), and each fuzz target for a bounded time.
#
# Caches (all optional): CARGO_TARGET_DIR (build output), EDGEKV_VENV (the Python venv),
# npm_config_cache (npm's download cache). .ci/run points them outside the clone.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
venv="${EDGEKV_VENV:-$repo/.venv}"
step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32-wasip2 target"
rustup target add wasm32-wasip2

step "lint: rustfmt and clippy (warnings are errors), before the long steps"
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings

step "build: workspace (release, once for binaries and tests)"
cargo build --release --workspace --all-targets

if [ -x guest-examples/build.sh ]; then
  step "build: guests (examples and test guests)"
  export EDGEKV_GUESTS_DIR="${EDGEKV_GUESTS_DIR:-$CARGO_TARGET_DIR/guests}"
  # The edgekv just built makes the example apps from the templates (`edgekv new`), so that
  # nothing is rebuilt with other features.
  export EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv"
  guest-examples/build.sh
fi

step "setup: a throwaway PostgreSQL server for the store's PostgreSQL tests"
eval "$(tests/postgres.sh start)"
trap 'tests/postgres.sh stop "$EDGEKV_TEST_POSTGRES_DIR"' EXIT

step "test: Rust unit and integration tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast
else
  cargo test --release --workspace --no-fail-fast
fi
cargo test --release --workspace --doc

step "setup: Python venv with the SDKs"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt

if [ -f tests/node/package.json ]; then
  step "setup: npm packages for the Node SDK tests"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  step "setup: Debian's Chromium for the data browser test"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

if ! command -v prometheus >/dev/null; then
  step "setup: Debian's Prometheus for the metrics test (scrapes a running edgekv)"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

step "test: black-box suites against the real server"
export EDGEKV_BIN="$CARGO_TARGET_DIR/release/edgekv"
if ls tests/test_*.py >/dev/null 2>&1; then
  EDGEKV_TEST_BACKEND=sqlite "$venv/bin/python" -m pytest -q tests
else
  echo "no black-box suites yet"
fi

# The suites that drive vendor SDKs and CLIs; the several-nodes, fault and copy suites already ran
# on PostgreSQL above.
sdk_suites=(tests/test_cloudflare.py tests/test_cloudfront.py tests/test_telnyx.py tests/test_wrangler.py
  tests/test_recipes.py tests/test_messages.py tests/test_visibility.py tests/test_credentials.py)
step "test: the SDK suites once more on PostgreSQL (each server on a database of its own)"
EDGEKV_TEST_BACKEND=postgres "$venv/bin/python" -m pytest -q "${sdk_suites[@]}"

step "fuzz: every cargo-fuzz target for ${EDGEKV_FUZZ_SECONDS:-60} s (tests/fuzz)"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz" \
  EDGEKV_FUZZ_TOOLS="${EDGEKV_FUZZ_TOOLS:-$CARGO_TARGET_DIR/fuzz-tools}" \
  tests/fuzz/run.sh

step "all tests passed"
