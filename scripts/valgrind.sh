#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The suite under valgrind memcheck. Builds without sanitizers in ./build-valgrind (ASan and
# valgrind do not mix), then:
#  - runs every unit-test program under valgrind (CK_FORK=no, so the tests run in the process
#    valgrind watches);
#  - runs the integration suites (make check) with every mediacanceld they start wrapped in
#    valgrind: harness_stop() fails a test whose daemon exits 99, valgrind's code for a memory
#    error or a leak found at exit.
# Slow: timeouts are stretched (CK_TIMEOUT_MULTIPLIER). Extra make arguments are passed on,
# e.g. scripts/valgrind.sh TESTS=tests/check_faults.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BUILD="$TOP/build-valgrind"
DEPS="$DEPS valgrind"
install_deps
build_tree --enable-werror
make -C "$BUILD" -j"$(nproc)" --no-print-directory check TESTS= >/dev/null

VALGRIND="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
          --errors-for-leak-kinds=definite,indirect,possible --num-callers=30
          --suppressions=$TOP/tests/valgrind.supp"
VALGRIND=$(echo $VALGRIND)

failed=0
unit_failed=""
cd "$BUILD"
for t in tests/check_*; do
        case "$t" in *.*) continue ;; esac # objects, logs
        [ -x "$t" ] && [ ! -d "$t" ] || continue
        # Programs that start the daemon go through make check below.
        grep -q harness_start_daemon "$t" && continue
        echo "valgrind: $t"
        if ! CK_FORK=no $VALGRIND "./$t" >"$t.valgrind.log" 2>&1; then
                tail -n 60 "$t.valgrind.log"
                failed=1
                unit_failed="$unit_failed $t"
        fi
done

if ! MEDIACANCEL_DAEMON_WRAPPER="$VALGRIND" CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4} \
        make -C "$BUILD" --no-print-directory check "$@"; then
        for log in "$BUILD"/tests/*.log; do
                grep -q "^:test-result: \(FAIL\|ERROR\)" "${log%.log}.trs" 2>/dev/null || continue
                echo "===== $log"
                tail -n 80 "$log"
        done
        failed=1
fi
# A failing test is either valgrind's finding (harness_stop(): "reported errors in the daemon")
# or a test that waits for the daemon within a fixed time, which a 20-50x slower daemon may
# miss (tests can scale such waits by harness_slowdown()).
found=$(grep -l "reported errors in the daemon" "$BUILD"/tests/*.log 2>/dev/null || true)
if [ -n "$unit_failed" ]; then
        echo "Unit tests failing under valgrind (see tests/*.valgrind.log):$unit_failed" >&2
fi
if [ -n "$found" ]; then
        echo "valgrind found memory errors or leaks in the daemon: $found" >&2
elif [ "$failed" = 1 ] && [ -z "$unit_failed" ]; then
        echo "No memory errors or leaks were found; the failures above are not valgrind's." >&2
fi
exit $failed
