#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh — the benchmark's one command (docs/performance.md). Installs what the harness
# needs from Debian (nginx and its echo module for the stand-in, python3-msal and
# python3-requests for the Python peer, valgrind for the instruction count) and the Node.js
# peer's packages from bench/node/package-lock.json, builds the tree with bench/loadgen, and
# runs bench/bench.py with the remaining arguments:
#
#   bench/run.sh                    full run: bench/results/latest.json + docs/performance.md
#   bench/run.sh --smoke            ~10 s check that the harness works (CI); no figures kept
#   bench/run.sh --build DIR ...    use (and update) an existing build tree instead of ./build
#
# Exits 77 when the stand-in cannot be installed, so callers can report a skip.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

build=""
args=()
while [ $# -gt 0 ]; do
        case $1 in
        --build) build=$2; shift 2 ;;
        --build=*) build=${1#--build=}; shift ;;
        *) args+=("$1"); shift ;;
        esac
done

smoke=0
for a in "${args[@]}"; do [ "$a" = --smoke ] && smoke=1; done

if ! DEPS="nginx libnginx-mod-http-echo" install_deps || ! command -v nginx >/dev/null ||
   [ ! -e /usr/lib/nginx/modules/ngx_http_echo_module.so ]; then
        echo "bench: nginx with the echo module cannot be installed here; skipping the benchmark." >&2
        exit 77
fi
if [ "$smoke" = 0 ]; then
        # The peers and the instruction count: a run without them still reports the rest.
        DEPS="python3-msal python3-requests valgrind" install_deps ||
                echo "bench: python3-msal, python3-requests or valgrind could not be installed." >&2
        if command -v npm >/dev/null && [ ! -d "$TOP/bench/node/node_modules/@azure/msal-node" ]; then
                (cd "$TOP/bench/node" && npm ci --no-audit --no-fund --loglevel=error) ||
                        echo "bench: npm ci failed in bench/node; the Node.js peer is skipped." >&2
        fi
fi

if [ -n "$build" ]; then
        make -C "$build" -j"$(nproc)" --no-print-directory mediacanceld bench/loadgen >/dev/null
else
        install_deps
        build_tree
        build=$BUILD
fi

exec /usr/bin/python3 "$TOP/bench/bench.py" --build "$build" "${args[@]+"${args[@]}"}"
