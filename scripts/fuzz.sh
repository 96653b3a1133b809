#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fuzz.sh [SECONDS_PER_HARNESS] — builds the libFuzzer harnesses (`make fuzz` in the build
# tree, configuring one first if there is none) and runs each for SECONDS_PER_HARNESS seconds
# (default 60), one after the other, on a scratch copy of its seed corpus in fuzz/corpus/, so the
# committed corpus never changes. Prints the executions of each harness. Fails on the first
# crash, sanitizer report, leak, timeout or out-of-memory and leaves the reproducer in
# $BUILD/fuzz/artifacts/ (rerun it with `$BUILD/fuzz/fuzz-NAME FILE`).
#
# Exit 0 pass, 1 a harness failed, 77 skip: no clang with libFuzzer (see docs/security.md).
#
# Environment: MEDIACANCEL_BUILD_DIR (default ./build), MEDIACANCEL_FUZZ_HARNESSES (a subset,
# e.g. "rpc config"), MEDIACANCEL_FUZZ_JOBS (harnesses run at once, default 1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECONDS_PER=${1:-60}
BUILD=${MEDIACANCEL_BUILD_DIR:-$BUILD}
HARNESSES=${MEDIACANCEL_FUZZ_HARNESSES:-"rpc dispatch config graph-answer record notification-token"}
JOBS=${MEDIACANCEL_FUZZ_JOBS:-1}

if ! [[ $SECONDS_PER =~ ^[1-9][0-9]*$ ]]; then
        echo "usage: $0 [SECONDS_PER_HARNESS]" >&2
        exit 2
fi

[ -f "$BUILD/Makefile" ] || build_tree
if ! grep -q '^CLANG = .' "$BUILD/Makefile"; then
        echo "SKIP: configure found no clang that links libFuzzer (apt-get install clang, then rebuild)"
        exit 77
fi
make -C "$BUILD" --no-print-directory fuzz

ARTIFACTS="$BUILD/fuzz/artifacts"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mediacancel-fuzz.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$ARTIFACTS"

run_one() {
        local h=$1 bin="$BUILD/fuzz/fuzz-$1" corpus="$SCRATCH/$1" log="$SCRATCH/$1.log"
        local args=(-max_total_time="$SECONDS_PER" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
                    -artifact_prefix="$ARTIFACTS/fuzz-$h-")

        mkdir -p "$corpus"
        cp -R "$TOP/fuzz/corpus/$h/." "$corpus/"
        [ -f "$TOP/fuzz/fuzz-$h.dict" ] && args+=(-dict="$TOP/fuzz/fuzz-$h.dict")
        # The dispatch harness reads whole sessions: several lines, some over MaxRequestBytes.
        [ "$h" = dispatch ] && args+=(-max_len=16384)

        if ! "$bin" "${args[@]}" "$corpus" >"$log" 2>&1; then
                echo "fuzz-$h: FAILED" >&2
                grep -E -A40 'ERROR: |invariant failed|runtime error' "$log" | head -n 80 >&2 || tail -n 40 "$log" >&2
                ls -1 "$ARTIFACTS"/fuzz-"$h"-* 2>/dev/null | sed 's/^/  reproducer: /' >&2
                return 1
        fi
        local execs rate
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        printf 'fuzz-%s: %s executions in %ss (%s/s), corpus %s files\n' "$h" "${execs:-?}" "$SECONDS_PER" \
                "${rate:-?}" "$(ls -1 "$corpus" | wc -l)"
}

failed=0
running=0
for h in $HARNESSES; do
        if [ ! -d "$TOP/fuzz/corpus/$h" ]; then
                echo "fuzz-$h: no corpus in fuzz/corpus/$h" >&2
                failed=1
                continue
        fi
        run_one "$h" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then
                wait -n || failed=1
                running=$((running - 1))
        fi
done
while [ "$running" -gt 0 ]; do
        wait -n || failed=1
        running=$((running - 1))
done
exit "$failed"
