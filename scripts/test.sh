#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs missing build dependencies, builds with warnings as errors, and runs every Check
# suite (unit and integration) with `make check`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

install_deps
build_tree --enable-werror "$@"
if ! make -C "$BUILD" -j"$(nproc)" --no-print-directory check; then
        for log in "$BUILD"/tests/*.log; do
                echo "===== $log"
                tail -n 60 "$log"
        done
        exit 1
fi
