#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-units.sh [UNITDIR [MANDIR]] — checks the generated systemd units: every *.service and
# *.socket in UNITDIR must pass "systemd-analyze verify", and every service must keep its
# "systemd-analyze security --offline=true" exposure at or below 1.5 (--threshold=15).
#
# UNITDIR defaults to $MEDIACANCEL_BUILDDIR/systemd, so the script runs as an automake test
# without arguments. If an ExecStart= binary is not installed yet, the units are checked with
# $MEDIACANCEL_BUILDDIR/mediacanceld in its place. With MANDIR (default
# $MEDIACANCEL_SRCDIR/docs/man, when it exists) the Documentation=man: references must resolve
# to pages there; without it they are not checked. No Exec*= line may run /bin/kill (procps,
# missing on a minimal system). Exit 0 pass, 1 fail, 77 skip (no systemd-analyze).

set -uo pipefail

THRESHOLD=${MEDIACANCEL_SECURITY_THRESHOLD:-15}

unitdir=${1:-${MEDIACANCEL_BUILDDIR:+$MEDIACANCEL_BUILDDIR/systemd}}
mandir=${2:-}
if [[ -z $mandir && -n ${MEDIACANCEL_SRCDIR:-} && -d $MEDIACANCEL_SRCDIR/docs/man ]]; then
        mandir=$MEDIACANCEL_SRCDIR/docs/man
fi

if [[ -z $unitdir ]]; then
        echo "usage: $0 UNITDIR [MANDIR]   (or set MEDIACANCEL_BUILDDIR)" >&2
        exit 2
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "SKIP: systemd-analyze is not installed"
        exit 77
fi
if [[ ! -d $unitdir ]]; then
        echo "FAIL: unit directory $unitdir does not exist (were the units generated?)" >&2
        exit 1
fi

shopt -s nullglob
units=("$unitdir"/*.service "$unitdir"/*.socket)
if ((${#units[@]} == 0)); then
        echo "FAIL: no *.service or *.socket files in $unitdir" >&2
        exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/test-units.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/units"

failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# Work on copies, so that substituting a not-yet-installed binary never touches the originals.
for u in "${units[@]}"; do
        name=${u##*/}
        cp "$u" "$work/units/$name"

        # A placeholder left over means the make rule's sed missed a variable.
        if grep -qE '@[A-Za-z_]+@' "$u"; then
                fail "$name still contains a configure placeholder: $(grep -oE '@[A-Za-z_]+@' "$u" | sort -u | tr '\n' ' ')"
        fi

        # The service's memory cap is part of what the limits promise (docs/security.md).
        if [[ $name == *.service ]]; then
                for key in MemoryHigh MemoryMax; do
                        grep -qE "^$key=[0-9]+[KMG]$" "$u" || fail "$name: no $key= with a size"
                done
        fi
        # kill(1) is procps', which a minimal Debian system lacks: a reload must not need it
        # (the unit uses the shell's built-in kill instead).
        if grep -qE '^Exec[A-Za-z]*=[-@:+!]*(/usr)?/bin/kill( |$)' "$u"; then
                fail "$name runs /bin/kill, which needs procps: $(grep -E '^Exec[A-Za-z]*=[-@:+!]*(/usr)?/bin/kill' "$u")"
        fi

        while IFS= read -r exe; do
                [[ -x $exe ]] && continue
                stand_in=${MEDIACANCEL_BUILDDIR:+$MEDIACANCEL_BUILDDIR/${exe##*/}}
                if [[ -n $stand_in && -x $stand_in ]]; then
                        echo "note: $name: $exe is not installed; checking with $stand_in"
                        sed -i "/^ExecStart=/s|$exe|$stand_in|" "$work/units/$name"
                fi
        done < <(sed -nE 's/^ExecStart=[-@:+!]*([^ ]+).*/\1/p' "$u")
done

verify_args=(--man=no)
if [[ -n $mandir ]]; then
        # man(1) wants section directories; the sources keep the pages flat.
        for page in "$mandir"/*.[1-8]; do
                section=${page##*.}
                mkdir -p "$work/man/man$section"
                ln -s "$(realpath "$page")" "$work/man/man$section/"
        done
        if command -v man >/dev/null 2>&1; then
                verify_args=(--man=yes)
                export MANPATH=$work/man
        else
                echo "note: man(1) is not installed; Documentation= references are not checked"
        fi
fi

# verify searches the directories of the units it is given, so the socket and the service see
# each other; the rest (sockets.target, network.target, ...) comes from the host.
echo "== systemd-analyze verify ${verify_args[*]}"
if out=$(cd "$work/units" && systemd-analyze verify "${verify_args[@]}" "$work"/units/* 2>&1) && [[ -z $out ]]; then
        echo "ok: ${units[*]##*/}"
else
        # verify also exits 0 for some warnings; any output is a finding here.
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        fail "systemd-analyze verify reported problems"
fi

for s in "$work"/units/*.service; do
        name=${s##*/}
        echo "== systemd-analyze security --offline=true --threshold=$THRESHOLD $name"
        out=$(systemd-analyze security --offline=true --threshold="$THRESHOLD" "$s" 2>&1)
        rc=$?
        level=$(printf '%s\n' "$out" | grep -E 'Overall exposure level' | sed 's/^→ *//')
        if ((rc != 0)); then
                printf '%s\n' "$out" | grep -E '✗' | sed 's/^/    /' >&2
                fail "$name: ${level:-no exposure reported}; the limit is $((THRESHOLD / 10)).$((THRESHOLD % 10))"
        else
                echo "ok: ${level}"
        fi
done

if ((failures > 0)); then
        echo "$failures check(s) failed" >&2
        exit 1
fi
echo "all unit checks passed"
