# SPDX-License-Identifier: MIT
# tests/container/lib.sh — helpers of the container test (run.sh): the cached Debian 12 root,
# booting it with systemd-nspawn, running commands inside it, and checks that fail with the
# command's own output.

# The Debian root, made once by debootstrap and kept between runs. ROOT_RECIPE names what is
# in it: a cache made from another recipe is made again.
CACHE=${MEDIACANCEL_CONTAINER_CACHE:-/var/cache/mediacancel-test}
MIRROR=${MEDIACANCEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOT_PACKAGES=systemd,systemd-sysv,dbus
ROOT_RECIPE="bookworm minbase $ROOT_PACKAGES $MIRROR"

STEP=""
step() {
        STEP=$*
        printf '\n== %s\n' "$*"
}

fail() {
        printf 'FAIL (%s): %s\n' "$STEP" "$*" >&2
        exit 1
}

# run CMD...: runs CMD with stdin as given, its output (stdout and stderr) in OUT, its exit
# status in RC.
run() {
        RC=0
        OUT=$("$@" 2>&1) || RC=$?
}

# expect WHAT RC REGEX CMD...: runs CMD; RC is the exit status it must have (a number, or
# "nonzero"), REGEX an extended regular expression its output must match ("" for any).
# On a mismatch, prints the command, its exit status and its output, and fails.
expect() {
        local what=$1 want=$2 re=$3
        shift 3
        run "$@"
        local ok=1
        if [[ $want == nonzero ]]; then
                ((RC != 0)) || ok=0
        elif [[ $RC != "$want" ]]; then
                ok=0
        fi
        if ((ok)) && [[ -n $re ]] && ! grep -Eq -- "$re" <<<"$OUT"; then
                ok=0
        fi
        if ((!ok)); then
                printf 'FAIL (%s): %s\n  command: %s\n  exit status: %s (expected %s)\n' \
                        "$STEP" "$what" "$*" "$RC" "$want" >&2
                [[ -n $re ]] && printf '  expected output matching: %s\n' "$re" >&2
                printf '  output:\n%s\n' "$(sed 's/^/    /' <<<"$OUT")" >&2
                exit 1
        fi
        echo "ok: $what"
}

# wait_for WHAT SECONDS REGEX CMD...: runs CMD every 0.2 s until it exits 0 with output
# matching REGEX; after SECONDS fails with the last output.
wait_for() {
        local what=$1 secs=$2 re=$3
        shift 3
        local end=$((SECONDS + secs))
        while :; do
                run "$@"
                if ((RC == 0)) && grep -Eq -- "$re" <<<"$OUT"; then
                        echo "ok: $what"
                        return 0
                fi
                ((SECONDS < end)) || break
                sleep 0.2
        done
        printf 'FAIL (%s): %s (waited %s s)\n  command: %s\n  exit status: %s\n  expected output matching: %s\n  output:\n%s\n' \
                "$STEP" "$what" "$secs" "$*" "$RC" "$re" "$(sed 's/^/    /' <<<"$OUT")" >&2
        exit 1
}

# make_root: the cached root in $CACHE/bookworm, made by debootstrap when missing (or made
# from another recipe). Runs that share the cache wait for each other here.
make_root() {
        mkdir -p "$CACHE"
        exec 8>"$CACHE/lock"
        flock 8
        if [[ -f $CACHE/bookworm/.recipe && $(cat "$CACHE/bookworm/.recipe") == "$ROOT_RECIPE" ]]; then
                echo "Debian 12 root: $CACHE/bookworm (cached)"
        else
                echo "Debian 12 root: $CACHE/bookworm missing, debootstrap from $MIRROR"
                rm -rf "$CACHE/bookworm" "$CACHE/bookworm.new"
                local t0=$SECONDS
                if ! debootstrap --variant=minbase --include="$ROOT_PACKAGES" bookworm \
                        "$CACHE/bookworm.new" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
                        tail -n 30 "$CACHE/debootstrap.log" >&2
                        fail "debootstrap failed (whole log: $CACHE/debootstrap.log)"
                fi
                # A machine id is made at each boot; journald keeps its files under it.
                : >"$CACHE/bookworm.new/etc/machine-id"
                echo mediacancel-test >"$CACHE/bookworm.new/etc/hostname"
                rm -rf "$CACHE/bookworm.new/var/cache/apt/archives/"*.deb
                printf '%s\n' "$ROOT_RECIPE" >"$CACHE/bookworm.new/.recipe"
                mv "$CACHE/bookworm.new" "$CACHE/bookworm"
                echo "debootstrap took $((SECONDS - t0)) s"
        fi
        flock -u 8
        exec 8>&-
}

# boot_container ROOT LOG BIND...: boots ROOT with systemd-nspawn in the background (host
# network, so the stand-in on 127.0.0.1 is reachable; no registration with machined, which
# needs no systemd on the host) and sets NSPAWN_PID and LEADER (the container's PID 1).
boot_container() {
        local root=$1 log=$2
        shift 2
        systemd-nspawn --quiet --directory="$root" --boot --machine="mediacancel-test-$$" \
                --register=no --keep-unit --console=pipe "$@" </dev/null >"$log" 2>&1 &
        NSPAWN_PID=$!
        LEADER=""
        local end=$((SECONDS + 30)) st
        while [[ -z $LEADER ]]; do
                kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$log" >&2; fail "systemd-nspawn exited"; }
                ((SECONDS < end)) || { cat "$log" >&2; fail "no container init after 30 s"; }
                for st in /proc/[0-9]*/status; do
                        if grep -q "^PPid:[[:space:]]*$NSPAWN_PID$" "$st" 2>/dev/null &&
                                grep -q '^NSpid:.*[[:space:]]1$' "$st" 2>/dev/null; then
                                LEADER=${st#/proc/}
                                LEADER=${LEADER%/status}
                        fi
                done
                [[ -n $LEADER ]] || sleep 0.1
        done
}

# stop_container: halts the container (SIGTERM makes nspawn shut it down), SIGKILL after 20 s.
stop_container() {
        [[ -n ${NSPAWN_PID:-} ]] || return 0
        kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        local end=$((SECONDS + 20))
        while kill -0 "$NSPAWN_PID" 2>/dev/null && ((SECONDS < end)); do
                sleep 0.2
        done
        kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        wait "$NSPAWN_PID" 2>/dev/null || true
        NSPAWN_PID=""
}

# ct CMD...: runs CMD in the container as root, in all its namespaces, with a clean
# environment (what "sudo CMD" gives an operator there).
ct() {
        timeout "${CT_TIMEOUT:-120}" nsenter --target "$LEADER" --all \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root TERM=dumb \
                SYSTEMD_PAGER= SYSTEMD_COLORS=0 DEBIAN_FRONTEND=noninteractive "$@"
}

# ct_as USER CMD...: the same as USER, with USER's groups (runuser, as a login would).
ct_as() {
        local user=$1
        shift
        ct runuser -u "$user" -- "$@"
}
