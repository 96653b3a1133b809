#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/container/run.sh [BUILDDIR] — the installed package under a booted systemd. Builds the
# .deb (and the next version's, for the upgrade), checks it with lintian, boots a minimal
# Debian 12 root with systemd-nspawn (debootstrap'ed once into /var/cache/mediacancel-test,
# see lib.sh) and, inside it, does what the README tells an operator to do, with the Graph
# stand-in on the host's loopback: apt install, the secret as a credential (LoadCredential=,
# then LoadCredentialEncrypted=), the configuration, socket activation, clients in and out of
# the group, reload, restart, the watchdog, the journal's fields, the live sandbox's exposure,
# upgrade, remove and purge. Every check compares what a user would see and fails with the
# command's output.
#
# BUILDDIR (default ./build) is a configured build tree; it is built first when missing.
# Exit 0 pass, 1 fail, 77 skipped (not root, no namespaces, or MEDIACANCEL_CONTAINER=0), with
# one line saying why. MEDIACANCEL_CONTAINER_KEEP=1 keeps BUILDDIR/container after the run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../../scripts/lib.sh"    # TOP, install_deps, build_tree
. "$HERE/lib.sh"

skip() {
        echo "Container test skipped: $*"
        exit 77
}
[[ ${MEDIACANCEL_CONTAINER:-1} != 0 ]] || skip "MEDIACANCEL_CONTAINER=0."
[[ $(id -u) -eq 0 ]] || skip "it needs root (systemd-nspawn, debootstrap)."
unshare --mount --pid --uts --ipc --fork true 2>/dev/null ||
        skip "this machine does not allow new namespaces (systemd-nspawn cannot work here)."

T0=$SECONDS
BUILD=$(realpath -m "${1:-$TOP/build}")
[[ -f $BUILD/Makefile ]] || build_tree

WORK=$BUILD/container
DEBS=$WORK/debs
STANDIN_PID=""
NSPAWN_PID=""
NEXT_PID=""
cleanup() {
        local rc=$?
        if ((rc != 0)) && [[ -n ${NSPAWN_PID:-} && -n ${LEADER:-} ]]; then
                echo "--- the container's journal for mediacanceld, last 40 lines:" >&2
                ct journalctl -u mediacanceld.service -u mediacanceld.socket -n 40 --no-pager >&2 || true
        fi
        stop_container
        [[ -n $STANDIN_PID ]] && kill "$STANDIN_PID" 2>/dev/null && wait "$STANDIN_PID" 2>/dev/null
        [[ -n $NEXT_PID ]] && kill "$NEXT_PID" 2>/dev/null && wait "$NEXT_PID" 2>/dev/null
        if ((rc == 0)) && [[ ${MEDIACANCEL_CONTAINER_KEEP:-0} != 1 ]]; then
                rm -rf "$WORK"
        elif [[ -d $WORK ]]; then
                echo "Kept: $WORK (root/, logs)." >&2
        fi
        exit "$rc"
}
trap cleanup EXIT

step "Tools on the host"
DEPS="debhelper dpkg-dev fakeroot lintian debootstrap systemd-container python3 openssl" install_deps
rm -rf "$WORK"
mkdir -p "$DEBS"

step "The package"
VERSION=$(cd "$TOP" && dpkg-parsechangelog -SVersion)
NEXT=$VERSION+1
t=$SECONDS
"$HERE/build-deb.sh" "$BUILD" "$DEBS" >/dev/null
echo "ok: mediacancel_${VERSION}_amd64.deb and mediacancel-dbgsym_${VERSION}_amd64.deb built ($((SECONDS - t)) s)"
ls "$DEBS/mediacancel_${VERSION}_amd64.deb" "$DEBS/mediacancel-dbgsym_${VERSION}_amd64.deb" >/dev/null
# The next version, for the upgrade at the end, builds while the rest runs.
"$HERE/build-deb.sh" "$BUILD" "$DEBS" "$NEXT" >"$WORK/next.log" 2>&1 &
NEXT_PID=$!
# lintian: no error and no warning (overrides in debian/mediacancel.lintian-overrides).
expect "lintian reports no error and no warning" 0 "" \
        lintian --fail-on error,warning "$DEBS/mediacancel_${VERSION}_amd64.changes"
[[ -z $OUT ]] || printf '%s\n' "$OUT" | sed 's/^/    /'
expect "Depends: the libraries the binaries link" 0 "libcurl4.*libjson-c5.*libssl3.*libsystemd0" \
        dpkg-deb --field "$DEBS/mediacancel_${VERSION}_amd64.deb" Depends
expect "Depends: systemd (units, sysusers, credentials)" 0 "(^|, )systemd(,|$)" \
        dpkg-deb --field "$DEBS/mediacancel_${VERSION}_amd64.deb" Depends

step "Debian 12 under systemd-nspawn"
make_root
t=$SECONDS
cp -a "$CACHE/bookworm" "$WORK/root"
echo "root copied ($((SECONDS - t)) s)"

# The Graph/login stand-in on the host's loopback, which the container shares.
mkdir -p "$WORK/standin"
bash "$TOP/tests/make-test-ca.sh" "$WORK/standin"
TENANT=11111111-2222-3333-4444-555555555555
CLIENT=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s\n' "$SECRET" >"$WORK/standin/secret"
python3 "$TOP/tests/graph-standin.py" --cert "$WORK/standin/server.pem" --key "$WORK/standin/server.key" \
        --tenant "$TENANT" --client-id "$CLIENT" --client-secret-file "$WORK/standin/secret" \
        --port-file "$WORK/standin/port" --log "$WORK/standin/requests.jsonl" \
        >"$WORK/standin/stderr.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 100); do [[ -s $WORK/standin/port ]] && break; sleep 0.05; done
[[ -s $WORK/standin/port ]] || { cat "$WORK/standin/stderr.log" >&2; fail "the stand-in did not start"; }
PORT=$(cat "$WORK/standin/port")
BASE=https://127.0.0.1:$PORT
# standin PATH [JSON]: the stand-in's control API (GET, or POST with JSON).
standin() {
        python3 - "$BASE$1" "$WORK/standin/ca.pem" "${2:-}" <<'EOF'
import ssl, sys, urllib.request
url, ca, body = sys.argv[1:4]
req = urllib.request.Request(url, data=body.encode() if body else None,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca)).read().decode())
EOF
}
echo "stand-in on $BASE"

t=$SECONDS
boot_container "$WORK/root" "$WORK/nspawn.log" --bind-ro="$DEBS:/srv/debs"
wait_for "the container booted (systemctl is-system-running)" 60 "^running" \
        ct systemctl is-system-running --wait
echo "booted in $((SECONDS - t)) s"
expect "no kill(1) on the minimal system (procps is not installed)" 0 "^none$" \
        ct sh -c 'command -v kill >/dev/null && [ ! -e /bin/kill ] && [ ! -e /usr/bin/kill ] && echo none'

step "apt install ./mediacancel_${VERSION}_amd64.deb"
expect "apt-get update" 0 "" ct apt-get update -qq
CT_TIMEOUT=300 expect "apt installs the package and the libraries it needs" 0 \
        "Setting up mediacancel \(${VERSION//+/\\+}\)" \
        ct sh -c "cd /srv/debs && apt install -y ./mediacancel_${VERSION}_amd64.deb"
expect "the libraries came from the mirror" 0 "libcurl4.*libjson-c5|libjson-c5.*libcurl4" \
        ct sh -c "dpkg-query -W -f='\${Package} ' libcurl4 libjson-c5 libssl3"
expect "the group mediacancel exists" 0 "^mediacancel:x:[0-9]+:" ct getent group mediacancel
expect "mediacanceld.socket is enabled" 0 "^enabled$" ct systemctl is-enabled mediacanceld.socket
expect "mediacanceld.socket is listening" 0 "^active$" ct systemctl is-active mediacanceld.socket
expect "mediacanceld.service is not enabled" nonzero "^disabled$" ct systemctl is-enabled mediacanceld.service
expect "mediacanceld.service is not running yet" nonzero "^inactive$" ct systemctl is-active mediacanceld.service
expect "the socket belongs to root:mediacancel, mode 0660" 0 "^srw-rw---- root mediacancel$" \
        ct stat -c '%A %U %G' /run/mediacancel/mediacanceld.sock
expect "manual pages, completion, documentation and example are installed" 0 "" \
        ct ls /usr/share/man/man8/mediacanceld.8.gz /usr/share/man/man5/mediacanceld.conf.5.gz \
        /usr/share/man/man1/mediacancelctl.1.gz /usr/share/bash-completion/completions/mediacancelctl \
        /usr/share/doc/mediacancel/README.md.gz /usr/share/doc/mediacancel/copyright \
        /usr/share/doc/mediacancel/examples/mediacanceld.conf.example /usr/lib/sysusers.d/mediacancel.conf
ct dpkg -L mediacancel >"$WORK/package-files"

# What the operator writes, as the README shows it. The test adds only what points the daemon
# at the stand-in ([Identity] LoginEndpoint=, [Graph] Endpoint= and CAFile=, [Notifications]
# OpenIdConfigurationUrl=, where Graph's notification signing keys are published) and a short
# CompletionTimeoutSec= (for the reload step).
OPERATOR_FILES=()
step "The client secret as a credential (LoadCredential=, README step 3)"
expect "the secret goes to /etc/mediacancel/client-secret, readable by root only" 0 "^-rw------- root root$" \
        ct sh -c 'install -d -m 0755 /etc/mediacancel &&
                  sh -c "umask 077; cat > /etc/mediacancel/client-secret" &&
                  stat -c "%A %U %G" /etc/mediacancel/client-secret' <<<"$SECRET"
OPERATOR_FILES+=(/etc/mediacancel/client-secret)

step "The configuration (README step 4)"
install -m 0644 "$WORK/standin/ca.pem" "$WORK/root/etc/mediacancel/test-ca.pem"
OPERATOR_FILES+=(/etc/mediacancel/test-ca.pem)
expect "/etc/mediacancel/mediacanceld.conf written, mode 0644" 0 "^-rw-r--r--$" ct sh -c '
        install -d -m 0755 /etc/mediacancel
        tee /etc/mediacancel/mediacanceld.conf >/dev/null
        chmod 0644 /etc/mediacancel/mediacanceld.conf
        stat -c %A /etc/mediacancel/mediacanceld.conf' <<EOF
[Identity]
TenantId=$TENANT
ClientId=$CLIENT
# No ClientSecretFile=: the secret is the client-secret credential.
LoginEndpoint=$BASE

[Graph]
Endpoint=$BASE
CAFile=/etc/mediacancel/test-ca.pem

[Access]
# Who may ask, besides root: the socket's group.
AllowGroups=mediacancel

[Notifications]
OpenIdConfigurationUrl=$BASE/v1/.well-known/OpenIdConfiguration

[Operations]
CompletionTimeoutSec=8s
EOF
OPERATOR_FILES+=(/etc/mediacancel/mediacanceld.conf)

step "Clients join the group (README step 5)"
expect "alice and dave join mediacancel, bob does not" 0 "" ct sh -c '
        useradd -m alice && useradd -m bob && useradd -m dave &&
        usermod -aG mediacancel alice && usermod -aG mediacancel dave'
ALICE_UID=$(ct id -u alice)

step "systemctl enable --now mediacanceld.socket; the first connection starts the daemon (README step 6)"
expect "enable --now" 0 "" ct systemctl enable --now mediacanceld.socket
expect "the service still waits for a connection" nonzero "^inactive$" ct systemctl is-active mediacanceld.service
expect "root: mediacancelctl status answers (socket activation)" 0 "Version: ${VERSION//+/\\+} \(protocol 2\)" \
        ct mediacancelctl status
expect "the connection started mediacanceld.service" 0 "^active$" ct systemctl is-active mediacanceld.service
wait_for "root: status shows a valid token" 15 "Token: valid" ct mediacancelctl status
expect "systemctl status shows both units running (README step 7)" 0 \
        "mediacanceld.socket.*Active: active \((listening|running)\).*mediacanceld.service.*Active: active \(running\)" \
        ct sh -c 'systemctl status --no-pager mediacanceld.socket mediacanceld.service | tr "\n" " "'
expect "a clean start logs nothing at warning level or above" 0 "^$" \
        ct journalctl -u mediacanceld -b -p warning --no-pager -q
expect "journalctl -u mediacanceld -b shows the daemon listening" 0 "mediacanceld ${VERSION//+/\\+} listening on /run/mediacancel/mediacanceld.sock" \
        ct journalctl -u mediacanceld -b --no-pager

step "Who may cancel"
CALL=57dab8b1-894c-409a-b240-bd8beae78896
expect "alice (in mediacancel) cancels" 0 "Status: completed" \
        ct_as alice mediacancelctl cancel "$CALL" --context ivr-42
expect "bob (not in mediacancel) is refused at the socket" 3 "cannot connect to /run/mediacancel/mediacanceld.sock: Permission denied" \
        ct_as bob mediacancelctl status
expect "root sees the token valid and alice's operation" 0 "Token: valid.*Operations: 1 total" \
        ct sh -c 'mediacancelctl status | tr "\n" " "'

step "A cancel Graph refuses, in the journal"
GONE=9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d
standin /_standin/config "{\"endedCalls\":[\"$GONE\"]}" >/dev/null
expect "alice's cancel on an ended call fails with Graph's error" 1 "GraphError: .*HTTP 404" \
        ct_as alice mediacancelctl cancel "$GONE" --context gone-1
REQUEST_ID=$(sed -nE 's/.*request-id ([^ )]+).*/\1/p' <<<"$OUT")
[[ -n $REQUEST_ID ]] || fail "no request-id in: $OUT"
ct journalctl -u mediacanceld -o json --no-pager >"$WORK/journal.json"
expect "journalctl -o json has the failed cancel's structured fields" 0 "^found$" \
        python3 - "$WORK/journal.json" "$GONE" "$REQUEST_ID" "$ALICE_UID" <<'EOF'
import json, sys
path, call, rid, uid = sys.argv[1:5]
entries = [json.loads(line) for line in open(path)]
for e in entries:
    if (e.get("MESSAGE_ID") == "c2d8e4f6a0b24c9e8f1a3b5d7c9e0f50" and e.get("CALL_ID") == call
            and e.get("GRAPH_REQUEST_ID") == rid and e.get("PEER_UID") == uid
            and e.get("PEER_PID", "").isdigit() and len(e.get("OPERATION_ID", "")) == 36
            and e.get("PRIORITY") == "6" and e.get("_SYSTEMD_UNIT") == "mediacanceld.service"):
        print("found")
        break
else:
    print(f"wanted MESSAGE_ID=c2d8e4f6a0b24c9e8f1a3b5d7c9e0f50 CALL_ID={call} GRAPH_REQUEST_ID={rid} "
          f"PEER_UID={uid}, a PEER_PID, an OPERATION_ID and PRIORITY=6 (info); the daemon's entries:")
    for e in entries:
        if e.get("_SYSTEMD_UNIT") == "mediacanceld.service" and e.get("_PID", "1") != "1":
            print({k: v for k, v in e.items() if not k.startswith("_")})
EOF
expect "journalctl MESSAGE_ID=c2d8e4f6... lists it (README step 7)" 0 "$GONE" \
        ct journalctl -u mediacanceld MESSAGE_ID=c2d8e4f6a0b24c9e8f1a3b5d7c9e0f50 --no-pager

step "systemctl reload applies an [Access] change without dropping a connection"
standin /_standin/config '{"cancelStatus":"notStarted"}' >/dev/null
expect "alice's cancel is accepted, Graph has not finished it" 0 "Status: notStarted" \
        ct_as alice mediacancelctl cancel "$CALL" --context reload-1
OP=$(sed -nE 's/^ *ID: *//p' <<<"$OUT")
# alice watches it on one connection across the reload: the watch ends "unknown" when
# CompletionTimeoutSec= passes (exit status 1); a dropped connection would be exit status 3.
ct_as alice mediacancelctl watch "$OP" >"$WORK/watch.out" 2>&1 &
WATCH_PID=$!
wait_for "alice's watch is open" 5 "notStarted" cat "$WORK/watch.out"
expect "dave (in mediacancel) may ask before the change" 0 "Token: valid" ct_as dave mediacancelctl status
PID_BEFORE=$(ct systemctl show -P MainPID mediacanceld.service)
expect "a drop-in allows alice alone" 0 "" ct sh -c '
        install -d -m 0755 /etc/mediacancel/mediacanceld.conf.d
        tee /etc/mediacancel/mediacanceld.conf.d/50-access.conf >/dev/null
        chmod 0644 /etc/mediacancel/mediacanceld.conf.d/50-access.conf' <<'EOF'
[Access]
AllowGroups=
AllowUsers=alice
EOF
OPERATOR_FILES+=(/etc/mediacancel/mediacanceld.conf.d/50-access.conf)
expect "systemctl reload mediacanceld" 0 "" ct systemctl reload mediacanceld
expect "the same process serves on" 0 "^$PID_BEFORE$" ct systemctl show -P MainPID mediacanceld.service
expect "dave is refused now" 1 "PermissionDenied" ct_as dave mediacancelctl status
expect "alice may still ask" 0 "Token: valid" ct_as alice mediacancelctl status
kill -0 "$WATCH_PID" 2>/dev/null || fail "alice's watch ended at the reload: $(cat "$WORK/watch.out")"
echo "ok: alice's watch is still open after the reload"
rc=0
wait "$WATCH_PID" || rc=$?
[[ $rc -eq 1 ]] && grep -q "unknown" "$WORK/watch.out" ||
        fail "the watch should end 'unknown' with exit status 1 on its connection, got $rc: $(cat "$WORK/watch.out")"
echo "ok: the watch's connection lasted until the operation settled ('unknown')"
standin /_standin/config '{"cancelStatus":"completed"}' >/dev/null

step "systemctl restart keeps every operation"
ct mediacancelctl --json list >"$WORK/ops-before.json"
expect "three operations before" 0 "^3$" python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["operations"]))' "$WORK/ops-before.json"
expect "systemctl restart mediacanceld" 0 "" ct systemctl restart mediacanceld
expect "a new process" 0 "^active [0-9]+$" \
        ct sh -c "pid=\$(systemctl show -P MainPID mediacanceld.service); [ \"\$pid\" != $PID_BEFORE ] && echo \"\$(systemctl is-active mediacanceld.service) \$pid\""
ct mediacancelctl --json list >"$WORK/ops-after.json"
# list_ops FILE: id, status and call of every operation, sorted.
list_ops() { python3 -c 'import json,sys; [print(o["id"], o["status"], o["callId"]) for o in sorted(json.load(open(sys.argv[1]))["operations"], key=lambda o: o["id"])]' "$1"; }
expect "the same operations, in the same states" 0 "" diff <(list_ops "$WORK/ops-before.json") <(list_ops "$WORK/ops-after.json")

step "The watchdog restarts a stopped daemon"
expect "a drop-in with WatchdogSec=3s" 0 "" ct sh -c '
        mkdir -p /etc/systemd/system/mediacanceld.service.d
        printf "[Service]\nWatchdogSec=3s\n" >/etc/systemd/system/mediacanceld.service.d/watchdog.conf
        systemctl daemon-reload && systemctl restart mediacanceld'
STOPPED=$(ct systemctl show -P MainPID mediacanceld.service)
expect "systemctl kill -s SIGSTOP mediacanceld" 0 "" ct systemctl kill --kill-whom=main -s SIGSTOP mediacanceld
wait_for "systemd noticed the watchdog timeout" 15 "Watchdog timeout" \
        ct journalctl -u mediacanceld -b --no-pager _PID=1
wait_for "restarted with a new process" 30 "^active [0-9]+$" \
        ct sh -c "pid=\$(systemctl show -P MainPID mediacanceld.service); [ \"\$pid\" != $STOPPED ] && echo \"\$(systemctl is-active mediacanceld.service) \$pid\""
expect "and it answers" 0 "Operations: 3 total" ct mediacancelctl status
expect "the watchdog drop-in goes again" 0 "" ct sh -c '
        rm -r /etc/systemd/system/mediacanceld.service.d && systemctl daemon-reload'

step "The client secret encrypted at rest (LoadCredentialEncrypted=, README step 3)"
# A new secret, so the token proves that the encrypted credential is the one in use.
SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
standin /_standin/config "{\"clientSecret\":\"$SECRET\"}" >/dev/null
expect "systemd-creds encrypt --with-key=host" 0 "" ct sh -c '
        install -d -m 0700 /etc/credstore.encrypted
        systemd-creds encrypt --with-key=host --name=client-secret - /etc/credstore.encrypted/mediacancel-client-secret' \
        < <(printf %s "$SECRET")
OPERATOR_FILES+=(/etc/credstore.encrypted/mediacancel-client-secret)
expect "the drop-in replaces LoadCredential=" 0 "" ct sh -c '
        mkdir -p /etc/systemd/system/mediacanceld.service.d
        tee /etc/systemd/system/mediacanceld.service.d/credential.conf >/dev/null
        systemctl daemon-reload' <<'EOF'
[Service]
LoadCredential=
LoadCredentialEncrypted=client-secret:/etc/credstore.encrypted/mediacancel-client-secret
EOF
OPERATOR_FILES+=(/etc/systemd/system/mediacanceld.service.d /etc/systemd/system/mediacanceld.service.d/credential.conf)
expect "the plain secret goes" 0 "" ct rm /etc/mediacancel/client-secret
OPERATOR_FILES=("${OPERATOR_FILES[@]/\/etc\/mediacancel\/client-secret/}")
expect "systemctl restart mediacanceld" 0 "" ct systemctl restart mediacanceld
wait_for "status shows a valid token from the new secret" 15 "Token: valid" ct mediacancelctl status
expect "alice cancels with it" 0 "Status: completed" ct_as alice mediacancelctl cancel "$CALL" --context encrypted-1

step "systemd-analyze security on the live unit"
expect "exposure 1.2 or lower" 0 "Overall exposure level for mediacanceld.service: (0\.[0-9]|1\.[0-2]) " \
        ct systemd-analyze security --no-pager mediacanceld.service

step "Upgrade to $NEXT"
ct mediacancelctl --json list >"$WORK/ops-before.json"
wait "$NEXT_PID" || { cat "$WORK/next.log" >&2; fail "building the $NEXT package failed"; }
NEXT_PID=""
PID_BEFORE=$(ct systemctl show -P MainPID mediacanceld.service)
SOCKET_SINCE=$(ct systemctl show -P ActiveEnterTimestampMonotonic mediacanceld.socket)
CT_TIMEOUT=300 expect "apt install ./mediacancel_${NEXT}_amd64.deb" 0 "Unpacking mediacancel \(${NEXT//+/\\+}\) over \(${VERSION//+/\\+}\)" \
        ct sh -c "cd /srv/debs && apt install -y ./mediacancel_${NEXT}_amd64.deb"
expect "the service was restarted: running, with a new process" 0 "^active [0-9]+$" \
        ct sh -c "pid=\$(systemctl show -P MainPID mediacanceld.service); [ \"\$pid\" != $PID_BEFORE ] && echo \"\$(systemctl is-active mediacanceld.service) \$pid\""
expect "the new daemon answers" 0 "Version: ${NEXT//+/\\+} \(protocol 2\)" ct mediacancelctl status
ct mediacancelctl --json list >"$WORK/ops-after.json"
expect "every operation is still there" 0 "" diff <(list_ops "$WORK/ops-before.json") <(list_ops "$WORK/ops-after.json")
expect "the socket stayed enabled" 0 "^enabled$" ct systemctl is-enabled mediacanceld.socket
expect "and kept listening through the upgrade" 0 "^$SOCKET_SINCE$" \
        ct systemctl show -P ActiveEnterTimestampMonotonic mediacanceld.socket

step "apt remove"
CT_TIMEOUT=300 expect "apt remove mediacancel" 0 "Removing mediacancel" ct apt remove -y mediacancel
expect "the service is stopped" nonzero "^inactive$" ct systemctl is-active mediacanceld.service
expect "the socket is gone" 0 "^(not-found|)$" ct systemctl show -P LoadState mediacanceld.socket
expect "no mediacanceld process" 1 "" ct sh -c 'grep -lx mediacanceld /proc/[0-9]*/comm'
expect "no socket node" nonzero "" ct test -e /run/mediacancel/mediacanceld.sock

step "apt purge"
CT_TIMEOUT=300 expect "apt purge mediacancel" 0 "Purging configuration files for mediacancel" ct apt purge -y mediacancel
expect "dpkg knows the package no more" nonzero "no packages found|not installed" ct dpkg -s mediacancel
expect "the group is gone" 2 "" ct getent group mediacancel
expect "no mediacanceld process" 1 "" ct sh -c 'grep -lx mediacanceld /proc/[0-9]*/comm'
# No file of the package: none of dpkg -L's files (directories other packages share stay),
# no state, no enablement links; what is left named *mediacancel* is only what the operator
# wrote.
left=()
while IFS= read -r f; do
        [[ -n $f ]] || continue
        if [[ -e $WORK/root$f || -L $WORK/root$f ]] && [[ ! -d $WORK/root$f || $f == *mediacancel* ]]; then
                left+=("$f")
        fi
done <"$WORK/package-files"
((${#left[@]} == 0)) || fail "files of the package are left: ${left[*]}"
echo "ok: no file dpkg -L listed is left"
# leftovers: every path named *mediacancel*, and what is in the directories the operator made.
leftovers() {
        ct sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /srv/debs \) -prune \
                        -o -name "*mediacancel*" -print
                  find /etc/mediacancel /etc/credstore.encrypted /etc/systemd/system/mediacanceld.service.d \
                        -mindepth 1 -print 2>/dev/null' | sort -u
}
expected=$(printf '%s\n' /etc/mediacancel /etc/mediacancel/mediacanceld.conf.d "${OPERATOR_FILES[@]}" | grep . | sort -u)
expect "only the operator's own files are left" 0 "" diff <(printf '%s\n' "$expected") <(leftovers)
expect "no state and no socket directory" 0 "^none$" \
        ct sh -c '[ ! -e /var/lib/mediacancel ] && [ ! -e /var/lib/private/mediacancel ] && [ ! -e /run/mediacancel ] && echo none'
expect "no enablement link" 0 "^$" ct sh -c 'find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled ! -type d -name "mediacanceld.*"'

step "Done"
echo "Container test passed in $((SECONDS - T0)) s."
