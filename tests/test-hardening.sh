#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-hardening.sh [BINARY...] — checks that the built mediacanceld and mediacancelctl carry
# the hardening configure.ac asks for: full RELRO (a GNU_RELRO segment and BIND_NOW, so the
# GOT is read-only after start-up), the stack protector (__stack_chk_fail imported),
# _FORTIFY_SOURCE (some __*_chk function imported) and, on x86_64, IBT and shadow stack in
# .note.gnu.property (-fcf-protection) — of the program, or, when the C library's start files
# lack the note (so no program linked with them can have it), of every object built here.
# Static: it reads the files with readelf, runs nothing.
#
# In a sanitizer build (the binary imports __asan_init) _FORTIFY_SOURCE is off by design
# (configure.ac says why): that check is skipped, with a line saying so. Exit 0 pass, 1 fail,
# 77 skip (no readelf).

set -uo pipefail

build=${MEDIACANCEL_BUILDDIR:-.}
if [[ $# -gt 0 ]]; then
        binaries=("$@")
else
        binaries=("$build/mediacanceld" "$build/mediacancelctl")
fi

command -v readelf >/dev/null || { echo "SKIP: readelf (binutils) is not installed"; exit 77; }

# has_cet FILE [all]: whether FILE's .note.gnu.property says IBT and SHSTK (with "all": for
# each of the notes in it, as in an archive of objects).
has_cet() {
        local notes n_notes n_cet
        notes=$(readelf -W -n "$1" 2>/dev/null | grep 'x86 feature:')
        n_cet=$(grep -c 'IBT.*SHSTK' <<<"$notes")
        [[ ${2:-} == all ]] || { [[ $n_cet -gt 0 ]]; return; }
        n_notes=$(readelf -W -n "$1" 2>/dev/null | grep -c 'NT_GNU_PROPERTY_TYPE_0')
        [[ $n_cet -gt 0 && $n_cet -eq $n_notes && $n_notes -ge $(members "$1") ]]
}

# members FILE: how many objects FILE holds (1 for an object).
members() {
        if [[ $1 == *.a ]]; then ar t "$1" | grep -c '\.o$'; else echo 1; fi
}

failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

for bin in "${binaries[@]}"; do
        name=$(basename "$bin")
        before=$failures
        dir=$(dirname "$bin")
        case $name in
        # What each program is linked from (Makefile.am): its own objects and the libraries
        # of the layers below it.
        mediacanceld) objects=("$dir"/src/daemon/mediacanceld-*.o "$dir"/.libs/libdaemon.a "$dir"/.libs/libshared.a
                               "$dir"/.libs/libbasic.a) ;;
        mediacancelctl) objects=("$dir"/src/ctl/mediacancelctl-*.o "$dir"/.libs/libshared.a "$dir"/.libs/libbasic.a) ;;
        *) objects=() ;;
        esac
        [[ -f $bin ]] || { fail "$bin is not built"; continue; }
        if ! readelf -h "$bin" >/dev/null 2>&1; then
                fail "$bin is not an ELF file"
                continue
        fi
        dynamic=$(readelf -W -d "$bin")
        segments=$(readelf -W -l "$bin")
        symbols=$(readelf -W --dyn-syms "$bin")
        machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')

        grep -q 'GNU_RELRO' <<<"$segments" || fail "$name: no GNU_RELRO segment (-Wl,-z,relro)"
        grep -Eq '\(BIND_NOW\)|\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' <<<"$dynamic" ||
                fail "$name: not linked with -Wl,-z,now (no BIND_NOW, no FLAGS_1 NOW)"
        grep -Eq ' UND +__stack_chk_fail(@|$)' <<<"$symbols" ||
                fail "$name: does not import __stack_chk_fail (-fstack-protector-strong)"

        if grep -Eq ' UND +__asan_init(@|$| )' <<<"$symbols"; then
                echo "SKIP: $name: _FORTIFY_SOURCE is off in the sanitizer build (AddressSanitizer checks those calls)"
        elif ! grep -Eq ' UND +__[a-z0-9_]+_chk(@|$)' <<<"${symbols//__stack_chk_fail/}"; then
                fail "$name: imports no __*_chk function (-D_FORTIFY_SOURCE)"
        fi

        if [[ $machine == *X86-64* ]]; then
                if ! has_cet "$bin"; then
                        # The linker keeps the note only when every input has it. Debian 12's
                        # C library start files (Scrt1.o, crti.o) do not, so no program linked
                        # there has it: then our own objects must.
                        crt=$(${CC:-cc} -print-file-name=Scrt1.o 2>/dev/null)
                        if [[ -f $crt ]] && ! has_cet "$crt"; then
                                echo "NOTE: $name: no IBT/SHSTK note, because the C library's $crt has none (the linker drops it); checking the objects built here"
                                for o in "${objects[@]}"; do
                                        [[ -f $o ]] || { fail "$o is not built"; continue; }
                                        has_cet "$o" all || fail "$o: not every object has IBT and SHSTK (-fcf-protection)"
                                done
                        else
                                fail "$name: no IBT and SHSTK in .note.gnu.property (-fcf-protection)"
                        fi
                fi
        else
                echo "SKIP: $name: IBT/SHSTK are x86_64 properties (this is $machine)"
        fi
        [[ $failures -eq $before ]] && echo "ok: $name"
done

[[ $failures -eq 0 ]] || exit 1
exit 0
