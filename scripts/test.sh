#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs missing build dependencies, builds with warnings as errors, and runs every Check
# suite (unit and integration) with `make check`, then runs the fuzzers briefly (scripts/fuzz.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

install_deps
# Fuzzing needs clang with libFuzzer, ~46 MB to download and ~270 MB installed: not in DEPS.
# MEDIACANCEL_FUZZ=1 installs it and requires the fuzz run; unset, the run happens when clang
# is already there; MEDIACANCEL_FUZZ=0 skips it.
FUZZ=${MEDIACANCEL_FUZZ:-auto}
[ "$FUZZ" = 1 ] && DEPS="clang libclang-rt-14-dev" install_deps
build_tree --enable-werror "$@"
if ! make -C "$BUILD" -j"$(nproc)" --no-print-directory check; then
        for log in "$BUILD"/tests/*.log; do
                echo "===== $log"
                tail -n 60 "$log"
        done
        exit 1
fi
# The benchmark harness's smoke run (docs/performance.md): that it still works, never a timing.
rc=0
timeout 120 "$TOP/bench/run.sh" --smoke --build "$BUILD" || rc=$?
if [ "$rc" -eq 77 ]; then
        echo "Benchmark smoke run skipped: nginx with the echo module cannot be installed."
elif [ "$rc" -ne 0 ]; then
        echo "Benchmark smoke run failed (bench/run.sh --smoke)." >&2
        exit 1
fi
if [ "$FUZZ" != 0 ]; then
        # 20 s per harness on the committed seeds (docs/security.md, "Fuzzing").
        rc=0
        "$TOP/scripts/fuzz.sh" 20 || rc=$?
        if [ "$rc" -eq 77 ] && [ "$FUZZ" != 1 ]; then
                echo "Fuzzing skipped: no clang with libFuzzer (MEDIACANCEL_FUZZ=1 installs it)."
        elif [ "$rc" -ne 0 ]; then
                exit 1
        fi
fi
