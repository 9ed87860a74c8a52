#!/usr/bin/env bash
# Builds every cargo-fuzz target in tests/fuzz once, then runs each for a fixed time on a corpus
# seeded from the wire logs. Exits non-zero if any target crashes, fails an invariant, times out
# on an input or does not build. One line per target on stdout:
#
#   fuzz <target>: ok|FAILED  <runs> runs in <s>s (<n> exec/s), cov <edges>, corpus <inputs>
#
# Works on stable Rust: cargo-fuzz passes nightly -Z flags (sancov, sanitizers), which
# RUSTC_BOOTSTRAP=1 allows on a stable compiler.
#
# Environment:
#   EDGEKV_FUZZ_SECONDS    seconds per target (default 60)
#   EDGEKV_FUZZ_TARGETS    space-separated targets to run (default: all)
#   EDGEKV_FUZZ_SANITIZER  address (default) or none
#   EDGEKV_FUZZ_TOOLS      where cargo-fuzz is installed if missing (default <repo>/target/fuzz-tools)
#   EDGEKV_FUZZ_CORPUS     the growing corpus (default tests/fuzz/corpus; not committed)
#   EDGEKV_WIRE_LOGS       the wire logs the corpus is seeded from (default <repo>/../shared/reference/wire,
#                          then <repo>/shared/reference/wire); absent logs only mean fewer seeds
#   CARGO_TARGET_DIR       the fuzz build's target dir (default tests/fuzz/target), for CI caches
# Crashing inputs land in tests/fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz <target> <file>
set -euo pipefail

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$fuzz_dir/../.." && pwd)
seconds=${EDGEKV_FUZZ_SECONDS:-60}
sanitizer=${EDGEKV_FUZZ_SANITIZER:-address}
tools=${EDGEKV_FUZZ_TOOLS:-$repo/target/fuzz-tools}
corpus=${EDGEKV_FUZZ_CORPUS:-$fuzz_dir/corpus}
target_dir=${CARGO_TARGET_DIR:-$fuzz_dir/target}
artifacts=$fuzz_dir/artifacts
all_targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$fuzz_dir/Cargo.toml" | grep -v '^edgekv-fuzz$')
targets=${EDGEKV_FUZZ_TARGETS:-$all_targets}

export RUSTC_BOOTSTRAP=1
export PATH="$tools/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz into $tools" >&2
    cargo install cargo-fuzz --locked --root "$tools"
fi

wire=${EDGEKV_WIRE_LOGS:-}
if [ -z "$wire" ]; then
    for candidate in "$repo/../shared/reference/wire" "$repo/shared/reference/wire"; do
        if [ -d "$candidate" ]; then wire=$candidate; break; fi
    done
fi
mkdir -p "$corpus"
if [ -n "$wire" ] && [ -d "$wire" ] && command -v python3 >/dev/null; then
    echo "run.sh: seeding $corpus from $wire: $(python3 "$fuzz_dir/seed.py" "$wire" "$corpus")" >&2
else
    echo "run.sh: no wire logs (or no python3); running on the committed seeds only" >&2
fi

# Start from the main workspace's lock file, so the fuzz build uses the versions the server does.
if [ ! -f "$fuzz_dir/Cargo.lock" ] && [ -f "$repo/Cargo.lock" ]; then
    cp "$repo/Cargo.lock" "$fuzz_dir/Cargo.lock"
fi

common=(--fuzz-dir "$fuzz_dir" --target-dir "$target_dir" --sanitizer "$sanitizer" --debug-assertions)
cd "$repo"
start=$(date +%s)
if [ "$targets" = "$all_targets" ]; then
    cargo fuzz build "${common[@]}"
else
    for t in $targets; do cargo fuzz build "${common[@]}" "$t"; done
fi
echo "run.sh: built $(echo "$targets" | wc -w) targets in $(( $(date +%s) - start ))s" >&2

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
for t in $targets; do
    mkdir -p "$corpus/$t" "$artifacts/$t"
    dirs=("$corpus/$t")
    if [ -d "$fuzz_dir/seeds/$t" ]; then dirs+=("$fuzz_dir/seeds/$t"); fi
    status=ok
    if ! cargo fuzz run "${common[@]}" "$t" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t/" >"$logs/$t" 2>&1; then
        status=FAILED
        failed=1
        echo "---- $t: last lines of its log ----" >&2
        tail -n 40 "$logs/$t" >&2
    fi
    stat() { sed -n "s/^stat::$1: *//p" "$logs/$t" | tail -1; }
    runs=$(stat number_of_executed_units || true)
    rate=$(stat average_exec_per_sec || true)
    cov=$({ grep -o 'cov: [0-9]*' "$logs/$t" || true; } | tail -1 | cut -d' ' -f2)
    size=$(find "$corpus/$t" -type f | wc -l)
    echo "fuzz $t: $status  ${runs:-?} runs in ${seconds}s (${rate:-?} exec/s), cov ${cov:-?}, corpus $size"
done
exit $failed
