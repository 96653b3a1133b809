#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# with-daemon.sh COMMAND [ARGS] — runs COMMAND against a real mediacanceld from the build tree
# and the Graph/login stand-in (tests/graph-standin.py) over TLS on loopback, both started in a
# throwaway directory and stopped afterwards; exits with COMMAND's status. For the checks and
# examples written in other languages (tests/test-node.sh, tests/test-examples.sh), which
# cannot use tests/harness.c.
#
# The daemon runs as configured by default where that matters to clients: notifications must be
# signed ([Notifications] Authentication=jwt), with the key set fetched from the stand-in (never
# from Microsoft: loopback only), which also signs the tokens (POST /_standin/notification-token).
# A second tenant, fabrikam.onmicrosoft.com (the cancel example of rpc.discover), is allowed
# and known to the stand-in.
#
# The stand-in answers every cancel "notStarted" and moves an operation to "running", then
# "completed", on each of Graph's GETs; the daemon polls (PollIntervalSec=1), so an operation
# reaches its end a few seconds after its cancel, as with real notifications.
#
# COMMAND sees MEDIACANCEL_SOCKET (the daemon's socket), MEDIACANCEL_STANDIN (the stand-in's
# https URL, for its control API under /_standin/), MEDIACANCEL_CA (the CA that signed it),
# MEDIACANCEL_WORK (the throwaway directory) and PATH with the build tree's mediacancelctl.
set -euo pipefail

BUILD=${MEDIACANCEL_BUILDDIR:-.}
SRC=${MEDIACANCEL_SRCDIR:-$(dirname "$0")/..}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$SRC" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mediacancel-with-daemon.XXXXXX")
STANDIN_PID=""
DAEMON_PID=""
cleanup() {
        local rc=$?
        if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
        if [ -n "$STANDIN_PID" ]; then kill "$STANDIN_PID" 2>/dev/null || true; wait "$STANDIN_PID" 2>/dev/null || true; fi
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
                echo "--- daemon log" >&2
                cat "$WORK/daemon.log" >&2 2>/dev/null || true
        fi
        rm -rf "$WORK"
        exit "$rc"
}
trap cleanup EXIT

bash "$SRC/tests/make-test-ca.sh" "$WORK" >/dev/null
head -c 32 /dev/urandom | base64 | tr -d '\n' >"$WORK/client-secret"
chmod 600 "$WORK/client-secret"
python3 "$SRC/tests/graph-standin.py" --cert "$WORK/server.pem" --key "$WORK/server.key" \
        --tenant with-daemon-tenant --tenant fabrikam.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 \
        --client-secret-file "$WORK/client-secret" --cancel-status notStarted \
        --port-file "$WORK/port" >"$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || { echo "with-daemon.sh: the stand-in did not start" >&2; cat "$WORK/standin.log" >&2; exit 1; }
PORT=$(cat "$WORK/port")
STANDIN="https://127.0.0.1:$PORT"
python3 - "$STANDIN" "$WORK/ca.pem" <<'PY'
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
req = urllib.request.Request(sys.argv[1] + "/_standin/config", method="POST",
                             data=json.dumps({"operationSteps": ["running", "completed"]}).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, context=ctx).read()
PY

cat >"$WORK/mediacanceld.conf" <<CONF
[Identity]
TenantId=with-daemon-tenant
ClientId=11111111-2222-3333-4444-555555555555
ClientSecretFile=$WORK/client-secret
LoginEndpoint=$STANDIN
AllowedTenants=fabrikam.onmicrosoft.com

[Graph]
Endpoint=$STANDIN
CAFile=$WORK/ca.pem

[Notifications]
OpenIdConfigurationUrl=$STANDIN/v1/.well-known/OpenIdConfiguration

[Socket]
Path=$WORK/mediacanceld.sock

[Operations]
StateDirectory=$WORK/state
PollIntervalSec=1
CONF
"$BUILD/mediacanceld" --config "$WORK/mediacanceld.conf" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 200); do [ -S "$WORK/mediacanceld.sock" ] && break; sleep 0.05; done
[ -S "$WORK/mediacanceld.sock" ] || { echo "with-daemon.sh: the daemon did not start" >&2; exit 1; }

export MEDIACANCEL_SOCKET="$WORK/mediacanceld.sock" MEDIACANCEL_STANDIN="$STANDIN" MEDIACANCEL_CA="$WORK/ca.pem"
export MEDIACANCEL_WORK="$WORK" PATH="$BUILD:$PATH"
set +e
"$@"
rc=$?
set -e
exit "$rc"
