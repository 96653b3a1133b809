#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-completion.sh — the bash completion of mediacancelctl (shell-completion/bash/
# mediacancelctl) offers exactly the commands of "mediacancelctl --help", each command's own
# options and the global ones, values for --status, files and "-" for deliver, and operation ids
# for get/watch from the daemon (here a one-file stand-in that answers `list`, so the ids are
# rendered by the real mediacancelctl). Exit 0 pass, 1 fail.

set -uo pipefail

src=${MEDIACANCEL_SRCDIR:-..}
build=${MEDIACANCEL_BUILDDIR:-.}
script=$src/shell-completion/bash/mediacancelctl
ctl=$build/mediacancelctl

failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

[[ -x $ctl ]] || { echo "FAIL: $ctl is not built" >&2; exit 1; }
# shellcheck source=/dev/null
source "$script" || { echo "FAIL: cannot source $script" >&2; exit 1; }
complete -p mediacancelctl >/dev/null 2>&1 || fail "the script does not register a completion"
# The completion asks `mediacancelctl` on PATH for operation ids: use the one just built.
PATH=$build:$PATH

# comp WORD... — what completing the last word offers, sorted, one per line.
comp() {
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _mediacancelctl 2>/dev/null
        printf '%s\n' "${COMPREPLY[@]}" | sort -u | sed '/^$/d'
}

# expect DESCRIPTION EXPECTED ACTUAL — both newline-separated sets.
expect() {
        local want got
        want=$(tr -s ' ' '\n' <<<"$2" | sort -u | sed '/^$/d')
        got=$3
        if [[ $want != "$got" ]]; then
                fail "$1: expected [$(paste -sd ' ' <<<"$want")], got [$(paste -sd ' ' <<<"$got")]"
        fi
}

# What --help lists (the same parsing as tests/test-help-man.py, in shell).
help=$("$ctl" --help)
commands=$(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\).*/\1/p')
global=$(printf '%s\n' "$help" | sed -n '/^Options:/,$p' | grep -oE '^ +(-[a-z]( --[a-z-]+)?|--[a-z-]+)' | tr -s ' ' '\n')
command_opts() {
        printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' |
                awk -v c="$1" '/^  [a-z]/ { cur = $1 } /^      --/ && cur == c { print $1 }'
}
all_command_opts=$(for c in $commands; do command_opts "$c"; done)
[[ -n $commands && -n $global ]] || fail "cannot read commands and options from --help"

expect "commands" "$commands" "$(comp mediacancelctl '')"
expect "commands after a global option" "$commands" "$(comp mediacancelctl --json '')"
expect "commands after --socket PATH" "$commands" "$(comp mediacancelctl --socket /x '')"
expect "options before a command" "$global $all_command_opts" "$(comp mediacancelctl -)"
for c in $commands; do
        stdin=
        [[ $c == deliver ]] && stdin=- # FILE may be "-"
        expect "options of $c" "$stdin $global $(command_opts "$c")" "$(comp mediacancelctl "$c" -)"
        expect "options of $c after --json" "$stdin $global $(command_opts "$c")" "$(comp mediacancelctl --json "$c" -)"
done
expect "prefix --t" "--timeout" "$(comp mediacancelctl status --t)"
expect "--status values" "queued submitting notStarted running completed failed unknown" \
        "$(comp mediacancelctl list --status '')"
expect "--status=r" "running" "$(comp mediacancelctl list --status = r)"
expect "--limit takes a number" "" "$(comp mediacancelctl list --limit '')"
expect "nothing after cancel's CALL_ID" "" "$(comp mediacancelctl cancel 57dab8b1 '')"
expect "nothing after list" "" "$(comp mediacancelctl list '')"
expect "a word after -- is positional" "" "$(comp mediacancelctl get -- -x '')"

work=$(mktemp -d "${TMPDIR:-/tmp}/test-completion.XXXXXX")
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
touch "$work/body.json" "$work/other.json"
expect "deliver takes a file" "$work/body.json $work/other.json" "$(comp mediacancelctl deliver "$work/")"
expect "deliver takes a file or -" "- body.json other.json" "$(cd "$work" && comp mediacancelctl deliver '')"
expect "deliver -" "- $global $(command_opts deliver)" "$(comp mediacancelctl deliver -)"
expect "--authorization-file takes a file" "$work/body.json $work/other.json" \
        "$(comp mediacancelctl deliver --authorization-file "$work/")"
expect "--authorization takes text" "" "$(comp mediacancelctl deliver --authorization '')"
expect "FILE after --authorization TEXT" "$work/body.json $work/other.json" \
        "$(comp mediacancelctl deliver --authorization x "$work/")"

# Operation ids from a daemon stand-in that answers every request with two operations.
sock=$work/d.sock
python3 - "$sock" <<'EOF' &
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
ops = [{"id": i, "callId": "c", "status": "running", "createdAt": "2026-11-26T22:00:00.000Z",
        "updatedAt": "2026-11-26T22:00:00.000Z"}
       for i in ("3f0c0000-0000-4000-8000-000000000001", "3f0c0000-0000-4000-8000-000000000002")]
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    req = json.loads(f.readline())
    f.write((json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {"operations": ops}}) + "\n").encode())
    f.flush()
    c.close()
EOF
server=$!
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
ids="3f0c0000-0000-4000-8000-000000000001 3f0c0000-0000-4000-8000-000000000002"
expect "get: ids via --socket" "$ids" "$(comp mediacancelctl --socket "$sock" get '')"
expect "watch: ids via --socket=" "$ids" "$(comp mediacancelctl --socket = "$sock" watch '')"
expect "watch: ids via \$MEDIACANCEL_SOCKET" "${ids% *}" \
        "$(MEDIACANCEL_SOCKET=$sock comp mediacancelctl watch 3f0c0000-0000-4000-8000-000000000001)"
expect "get: no daemon, no ids" "" "$(comp mediacancelctl --socket "$work/none.sock" get '')"

if ((failures > 0)); then
        echo "$failures completion check(s) failed" >&2
        exit 1
fi
echo "all completion checks passed"
