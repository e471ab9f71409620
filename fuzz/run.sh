#!/usr/bin/env bash
# Runs the NebulaDNS fuzz targets with cargo-fuzz (libFuzzer) on the project's stable toolchain.
#
#   fuzz/run.sh TARGET SECONDS      one target, e.g. fuzz/run.sh message_decode 60
#   fuzz/run.sh all SECONDS         every target in turn, SECONDS each; a summary at the end
#   fuzz/run.sh list                the targets
#
# cargo-fuzz passes nightly-only rustc flags (-Z...); RUSTC_BOOTSTRAP=1 lets the pinned stable
# toolchain (rust-toolchain.toml) accept them. The default sanitizer is none: every crate is
# #![forbid(unsafe_code)], so AddressSanitizer finds nothing coverage-guided fuzzing would not,
# at twice the cost. FUZZ_SANITIZER=address (works on stable too) turns it on.
#
# The corpus grows in fuzz/corpus/TARGET (not committed) and starts from fuzz/seeds/TARGET
# (committed, see make_seeds.py). A crash leaves its input in fuzz/artifacts/TARGET/ and makes
# this script exit 1; turn it into a regression test in the crate it belongs to.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

usage() {
    sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: installing it from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

targets() {
    cargo fuzz list
}

run_one() {
    local target="$1" seconds="$2"
    mkdir -p "corpus/$target"
    local seeds=()
    [[ -d "seeds/$target" ]] && seeds=("seeds/$target")
    echo "=== $target: ${seconds}s, sanitizer $sanitizer" >&2
    cargo fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1
}

case "$1" in
    list)
        targets
        ;;
    all)
        [[ $# -eq 2 ]] || usage
        # Build everything once so the first target's time is spent fuzzing.
        cargo fuzz build --sanitizer "$sanitizer"
        failed=()
        for target in $(targets); do
            if ! run_one "$target" "$2"; then
                failed+=("$target")
            fi
        done
        if [[ ${#failed[@]} -gt 0 ]]; then
            echo "CRASHED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
            exit 1
        fi
        echo "all targets ran ${2}s without a crash" >&2
        ;;
    *)
        [[ $# -eq 2 ]] || usage
        run_one "$1" "$2"
        ;;
esac
