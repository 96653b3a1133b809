#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-examples.sh [python|shell|node ...] — runs the clients of examples/ as a bot developer
# would, against a real daemon and the stand-in (tests/with-daemon.sh): each must cancel with
# its clientContext (checked with mediacancelctl), follow the operation to "completed" (exit 0),
# and answer a refused request (a bad callId) with its error class, InvalidParams, and exit 2.
# Default: python and shell; tests/test-node.sh runs node, from where it installed json-rpc-2.0
# ($MEDIACANCEL_NODE_DIR). An example whose tools are missing is skipped with one line; exit 77
# when none could run. docs/clients.md must show each example file exactly as it is.
set -euo pipefail

BUILD=$(cd "${MEDIACANCEL_BUILDDIR:-.}" && pwd)
SRC=$(cd "${MEDIACANCEL_SRCDIR:-$(dirname "$0")/..}" && pwd)
export MEDIACANCEL_BUILDDIR="$BUILD" MEDIACANCEL_SRCDIR="$SRC"
[ $# -gt 0 ] || set -- python shell

runnable=()
for lang in "$@"; do
        case $lang in
        python) need=(python3) ;;
        shell) need=(socat jq) ;;
        node) need=(node) ;;
        *) echo "test-examples: unknown example $lang" >&2; exit 1 ;;
        esac
        missing=""
        for tool in "${need[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=" $tool"; done
        if [ -n "$missing" ]; then
                echo "test-examples: $lang example skipped:$missing not found"
        else
                runnable+=("$lang")
        fi
done
# docs/clients.md shows each example whole: it must show the files as they are.
for f in python/cancel_and_watch.py node/cancel-and-watch.mjs shell/cancel-and-watch.sh; do
        python3 - "$SRC/examples/$f" "$SRC/docs/clients.md" <<'PY' || { echo "FAIL: docs/clients.md does not show examples/$f as it is" >&2; exit 1; }
import sys
sys.exit(0 if open(sys.argv[1]).read() in open(sys.argv[2]).read() else 1)
PY
done

[ ${#runnable[@]} -gt 0 ] || exit 77

# Runs inside with-daemon.sh, for each example: "LANG COMMAND...".
cat >"${TMPDIR:-/tmp}/mediacancel-examples.$$" <<'INNER'
set -euo pipefail
CALL=57dab8b1-894c-409a-b240-bd8beae78896
rc=0
run() {
        local lang=$1 context="example-$1-$RANDOM" out err status op
        shift
        set +e
        out=$("$@" "$CALL" "$context" 2>/tmp/mediacancel-example-err.$$)
        status=$?
        err=$(cat /tmp/mediacancel-example-err.$$)
        set -e
        printf '%s\n' "$out" | sed "s/^/  $lang: /"
        if [ "$status" -ne 0 ] || [ "$(printf '%s\n' "$out" | tail -n 1 | sed 's/.*: //')" != completed ]; then
                echo "FAIL: $lang: exit $status, not completed: $out $err" >&2
                rc=1
                return
        fi
        op=$(printf '%s\n' "$out" | head -n 1 | sed 's/^operation \([^:]*\):.*/\1/')
        if [ "$(mediacancelctl --json get "$op" | python3 -c 'import json, sys; print(json.load(sys.stdin)["operation"]["clientContext"])')" != "$context" ]; then
                echo "FAIL: $lang: operation $op does not have clientContext $context" >&2
                rc=1
        fi
        set +e
        "$@" "not a call id" >/dev/null 2>/tmp/mediacancel-example-err.$$
        status=$?
        err=$(cat /tmp/mediacancel-example-err.$$)
        set -e
        if [ "$status" -ne 2 ] || [[ $err != InvalidParams:* ]]; then
                echo "FAIL: $lang: a bad callId gave exit $status and '$err', not 2 and InvalidParams" >&2
                rc=1
        else
                echo "  $lang: a bad callId: exit 2, $err"
        fi
        rm -f /tmp/mediacancel-example-err.$$
}
for lang in $EXAMPLES; do
        case $lang in
        python) run python python3 "$MEDIACANCEL_SRCDIR/examples/python/cancel_and_watch.py" ;;
        shell) run shell bash "$MEDIACANCEL_SRCDIR/examples/shell/cancel-and-watch.sh" ;;
        node) run node node "$MEDIACANCEL_NODE_DIR/example-cancel-and-watch.mjs" ;;
        esac
done
exit $rc
INNER
trap 'rm -f "${TMPDIR:-/tmp}/mediacancel-examples.$$"' EXIT
EXAMPLES="${runnable[*]}" "$SRC/tests/with-daemon.sh" bash "${TMPDIR:-/tmp}/mediacancel-examples.$$"
