#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The demo: builds mediacancel, starts the bundled Graph/login stand-in over TLS on loopback
# with a throwaway CA, starts mediacanceld against it, cancels media processing on a call with
# mediacancelctl, delivers Graph's signed notification that a queued prompt was cancelled (and
# a forged one, refused), shows the operation with that evidence and the daemon's status, and
# stops what it started.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

install_deps
build_tree

WORK=$(mktemp -d /tmp/mediacancel-demo.XXXXXX)
STANDIN_PID=""
DAEMON_PID=""
cleanup() {
        [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
        [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null && wait "$STANDIN_PID" 2>/dev/null || true
        rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Throwaway CA and the Graph/login stand-in on 127.0.0.1"
bash "$TOP/tests/make-test-ca.sh" "$WORK"
head -c 32 /dev/urandom | base64 | tr -d '\n' >"$WORK/client-secret"
chmod 600 "$WORK/client-secret"
python3 "$TOP/tests/graph-standin.py" --cert "$WORK/server.pem" --key "$WORK/server.key" \
        --tenant 0d3e0d3e-0000-4000-8000-000000000001 --client-id 11111111-2222-3333-4444-555555555555 \
        --client-secret-file "$WORK/client-secret" --latency-ms 20 \
        --port-file "$WORK/port" >"$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/port")
echo "stand-in listening on https://127.0.0.1:$PORT"

step "mediacanceld"
cat >"$WORK/mediacanceld.conf" <<CONF
[Identity]
TenantId=0d3e0d3e-0000-4000-8000-000000000001
ClientId=11111111-2222-3333-4444-555555555555
ClientSecretFile=$WORK/client-secret
LoginEndpoint=https://127.0.0.1:$PORT

[Graph]
Endpoint=https://127.0.0.1:$PORT
CAFile=$WORK/ca.pem

[Notifications]
OpenIdConfigurationUrl=https://127.0.0.1:$PORT/v1/.well-known/OpenIdConfiguration

[Socket]
Path=$WORK/mediacanceld.sock

[Operations]
StateDirectory=$WORK/state
CONF
sed 's/^/    /' "$WORK/mediacanceld.conf"
"$BUILD/mediacanceld" --config "$WORK/mediacanceld.conf" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do [ -S "$WORK/mediacanceld.sock" ] && break; sleep 0.05; done

CTL=("$BUILD/mediacancelctl" --socket "$WORK/mediacanceld.sock")

step "mediacancelctl cancel 57dab8b1-894c-409a-b240-bd8beae78896 --context ivr-42"
"${CTL[@]}" cancel 57dab8b1-894c-409a-b240-bd8beae78896 --context ivr-42
OP=$("${CTL[@]}" --json list --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["operations"][0]["id"])')

# What the bot receives from Graph on its callback after the cancel: the prompt that was still
# queued ends failed with 8508, and the request carries Graph's signed token.
standin_control() {
        python3 - "$PORT" "$WORK/ca.pem" "$@" <<'PY'
import json, ssl, sys, urllib.request
port, ca, path, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
req = urllib.request.Request("https://127.0.0.1:%s/_standin/%s" % (port, path), data=body.encode(), method="POST")
print(json.load(urllib.request.urlopen(req, context=ctx))["authorization"])
PY
}
(umask 077 && standin_control notification-token '{"variant":"good"}' >"$WORK/authorization")
(umask 077 && standin_control notification-token '{"variant":"expired"}' >"$WORK/authorization-expired")
cat >"$WORK/notification.json" <<'JSON'
{"@odata.type": "#microsoft.graph.commsNotifications",
 "value": [{"@odata.type": "#microsoft.graph.commsNotification",
            "changeType": "deleted",
            "resourceUrl": "/communications/calls/57DAB8B1894C409AB240BD8BEAE78896/operations/0FE0623F0B974B5FA74A0F3EA7D2E0E1",
            "resourceData": {"@odata.type": "#microsoft.graph.playPromptOperation",
                             "id": "0fe0623f-0b97-4b5f-a74a-0f3ea7d2e0e1",
                             "clientContext": "ivr-42-prompt",
                             "status": "failed",
                             "resultInfo": {"code": 400, "subcode": 8508,
                                            "message": "Action failed, the operation was cancelled."},
                             "completionReason": "operationCanceled"}}]}
JSON

step "mediacancelctl deliver --authorization-file (a token Graph did not sign now: refused)"
"${CTL[@]}" deliver --authorization-file "$WORK/authorization-expired" "$WORK/notification.json" ||
        echo "(exit status $?: nothing was applied)"

step "mediacancelctl deliver --authorization-file (Graph's signed notification: the prompt was cancelled)"
"${CTL[@]}" deliver --authorization-file "$WORK/authorization" "$WORK/notification.json"

step "mediacancelctl get $OP (the cancel, with the evidence of what it cancelled)"
"${CTL[@]}" get "$OP"

step "mediacancelctl cancel unknown-call (Graph answers 404)"
"${CTL[@]}" cancel unknown-call || echo "(exit status $?: the daemon reported Graph's error)"

step "mediacancelctl list"
"${CTL[@]}" list

step "mediacancelctl status"
"${CTL[@]}" status

step "The daemon's log"
sed 's/^/    /' "$WORK/daemon.log"
echo
echo "Demo finished; stopping the daemon and the stand-in."
