#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cancel-and-watch.sh CALL_ID [CLIENT_CONTEXT] — cancels media processing on a call through
# mediacanceld and follows the operation to its end, with socat (the socket) and jq (the JSON).
# Copy and adapt. Socket: $MEDIACANCEL_SOCKET, else /run/mediacancel/mediacanceld.sock.
# Exit: 0 completed, 1 failed or unknown, 2 the daemon refused the request, 3 try again later.
set -euo pipefail
call_id=$1 context=${2:-}
sock=${MEDIACANCEL_SOCKET:-/run/mediacancel/mediacanceld.sock}

# One connection, kept open both ways until the end: the daemon treats a half-close as a
# disconnect and would drop the replies still to come.
coproc DAEMON { exec socat - "UNIX-CONNECT:$sock"; }
send() { printf '%s\n' "$1" >&"${DAEMON[1]}"; } # one JSON text per line

# The reply with id $1: replies are matched by id, never by order. Other lines are skipped:
# while this script waits for a reply, it has no watch that could send an event.
reply() {
        local line
        while IFS= read -r line <&"${DAEMON[0]}"; do
                if [ "$(jq -r 'if has("id") then .id else empty end' <<<"$line")" = "$1" ]; then
                        printf '%s\n' "$line"
                        return 0
                fi
        done
        echo "the daemon closed the connection" >&2
        return 1
}

# An error reply: print its class and message, exit 2, or 3 for a class worth retrying later.
check() {
        local class
        class=$(jq -r '.error.data.class // empty' <<<"$1")
        [ -z "$class" ] && return 0
        echo "$class: $(jq -r '.error.message' <<<"$1")" >&2
        case $class in
        Throttled | TokenUnavailable | GraphUnreachable | Timeout | LimitExceeded) exit 3 ;;
        *) exit 2 ;;
        esac
}

send "$(jq -cn --arg call "$call_id" --arg ctx "$context" \
        '{jsonrpc:"2.0", id:1, method:"cancel", params:({callId:$call} + if $ctx == "" then {} else {clientContext:$ctx} end)}')"
r=$(reply 1) || exit 3
check "$r"
op=$(jq -r '.result.operation.id' <<<"$r")
echo "operation $op: $(jq -r '.result.operation.status' <<<"$r")"

send "$(jq -cn --arg op "$op" '{jsonrpc:"2.0", id:2, method:"operation.watch", params:{operationId:$op}}')"
r=$(reply 2) || exit 3
check "$r"
status=$(jq -r '.result.operation.status' <<<"$r")
while ! [[ $status =~ ^(completed|failed|unknown)$ ]]; do
        IFS= read -r line <&"${DAEMON[0]}" || { echo "the daemon closed the connection" >&2; exit 3; }
        # Only operation.changed is known here; skip any other event.
        [ "$(jq -r '.method // empty' <<<"$line")" = operation.changed ] || continue
        status=$(jq -r '.params.operation.status' <<<"$line")
        echo "operation $op: $status"
done
eval "exec ${DAEMON[1]}>&-"
[ "$status" = completed ]
