#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The soak test: scripts/soak.sh [MINUTES] (default 30). Builds the tree, then runs
# mediacanceld against the Graph/login stand-in under a steady load of cancels while the
# stand-in injects a fault cycle (503 bursts, 429 storms, resets, stalls, login outages,
# revoked tokens, a crash and restart). Prints RSS, open fds and answers/s each minute; fails
# when a cancel is lost, answered twice or wrongly reported completed, or when RSS or fds keep
# growing after the warm-up. SOAK_RATE (cancels/s, default 50) and SOAK_REPORT (a JSON file
# for the figures) tune it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MINUTES=${1:-30}
install_deps
build_tree --enable-werror
exec python3 "$TOP/scripts/soak.py" --minutes "$MINUTES" --build "$BUILD" --rate "${SOAK_RATE:-50}" \
        ${SOAK_REPORT:+--report "$SOAK_REPORT"}
