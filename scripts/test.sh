#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs missing build dependencies, builds with warnings as errors, and runs every Check
# suite (unit, integration, faults) with `make check`, then again built with ASan and UBSan,
# in CI also `make distcheck-quick`, then runs the fuzzers briefly (scripts/fuzz.sh), then
# installs the Debian package in a booted Debian 12 container (tests/container/run.sh).
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
# The same suites again, built with AddressSanitizer and UndefinedBehaviorSanitizer in
# ./build-asan (MEDIACANCEL_SANITIZERS=0 skips it). exitcode=99 makes any report, leaks at exit
# included, fail: the test program's own, or the daemon's through tests/harness.c, which fails
# a test whose daemon exits 99. Takes about as long as the plain run (docs/reliability.md).
if [ "${MEDIACANCEL_SANITIZERS:-1}" != 0 ]; then
        BUILD="$TOP/build-asan" build_tree --enable-werror --enable-sanitizers "$@"
        if ! ASAN_OPTIONS=exitcode=99:detect_leaks=1 UBSAN_OPTIONS=exitcode=99:print_stacktrace=1 \
                make -C "$TOP/build-asan" -j"$(nproc)" --no-print-directory check; then
                for log in "$TOP"/build-asan/tests/*.log; do
                        echo "===== $log"
                        tail -n 60 "$log"
                done
                echo "The sanitizer build's suites failed (MEDIACANCEL_SANITIZERS=0 skips them)." >&2
                exit 1
        fi
fi
# In CI ($CI set, or MEDIACANCEL_DISTCHECK=1; =0 skips it) also the release tarball: make
# distcheck-quick is make distcheck (every file shipped, a VPATH build from the read-only
# tarball, install, uninstall, distclean) with only the static tests in its own make check,
# since the full suites just passed on this tree. About 25 s on 2 CPUs; the full make
# distcheck runs every suite again, about 2 min more.
if [ "${MEDIACANCEL_DISTCHECK:-${CI:+1}}" = 1 ]; then
        DEPS="xz-utils" install_deps
        if ! make -C "$BUILD" -j"$(nproc)" --no-print-directory distcheck-quick >"$BUILD/distcheck.log" 2>&1; then
                tail -n 60 "$BUILD/distcheck.log"
                echo "make distcheck-quick failed (whole log: $BUILD/distcheck.log)." >&2
                exit 1
        fi
        echo "make distcheck-quick passed."
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
# The Debian package installed with apt in a booted Debian 12 container, used the way the
# README tells an operator to (tests/container/run.sh, docs/operations.md "Installing the
# package"). It needs root and a machine that allows systemd-nspawn; elsewhere it says why in
# one line and is skipped (exit status 77). MEDIACANCEL_CONTAINER=0 skips it on purpose. The
# first run debootstraps the root into /var/cache/mediacancel-test (about 40 s); the whole
# test takes about 1.5 min after that.
rc=0
timeout 600 "$TOP/tests/container/run.sh" "$BUILD" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        echo "The container test failed (tests/container/run.sh)." >&2
        exit 1
fi
