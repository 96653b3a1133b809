#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# cancel_and_watch.py CALL_ID [CLIENT_CONTEXT] — cancels media processing on a call through
# mediacanceld and follows the operation to its end. Standard library only; copy and adapt.
# Socket: $MEDIACANCEL_SOCKET, else /run/mediacancel/mediacanceld.sock.
# Exit: 0 completed, 1 failed or unknown, 2 the daemon refused the request, 3 try again later.
import itertools
import json
import os
import socket
import sys

SETTLED = {"completed", "failed", "unknown"}
RETRY_LATER = {"Throttled", "TokenUnavailable", "GraphUnreachable", "Timeout", "LimitExceeded"}


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(error["message"])
        self.cls = error["data"]["class"]  # the stable name to branch on
        self.data = error["data"]


class Daemon:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.lines = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.ids = itertools.count(1)
        self.events = []  # notifications (no id) that arrived while waiting for a reply

    def call(self, method, params=None):
        req_id = next(self.ids)
        req = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            req["params"] = params
        self.sock.sendall((json.dumps(req) + "\n").encode())  # one JSON text per line
        while True:
            msg = self.read()
            if msg.get("id") == req_id:  # match replies by id, never by order
                if "error" in msg:
                    raise RpcError(msg["error"])
                return msg["result"]
            if "id" not in msg:
                self.events.append(msg)

    def read(self):
        line = self.lines.readline()
        if not line:
            raise ConnectionError("the daemon closed the connection")
        return json.loads(line)

    def next_event(self):
        return self.events.pop(0) if self.events else self.read()


def main():
    call_id = sys.argv[1]
    context = sys.argv[2] if len(sys.argv) > 2 else None
    daemon = Daemon(os.environ.get("MEDIACANCEL_SOCKET") or "/run/mediacancel/mediacanceld.sock")
    params = {"callId": call_id}
    if context:
        params["clientContext"] = context
    try:
        op = daemon.call("cancel", params)["operation"]
        print(f"operation {op['id']}: {op['status']}")
        op = daemon.call("operation.watch", {"operationId": op["id"]})["operation"]
    except RpcError as e:
        print(f"{e.cls}: {e}", file=sys.stderr)
        if "operationId" in e.data:  # recorded: operation.get shows it later
            print(f"operation {e.data['operationId']}", file=sys.stderr)
        return 3 if e.cls in RETRY_LATER else 2
    while op["status"] not in SETTLED:
        event = daemon.next_event()
        if event.get("method") != "operation.changed":
            continue  # skip events this client does not know
        op = event["params"]["operation"]
        print(f"operation {op['id']}: {op['status']}")
    return 0 if op["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
