#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# connect-proxy.py — a small HTTP CONNECT proxy on loopback for tests/check_network.c. It writes
# one line per connection it accepts to --log ("CONNECT host:port" for a tunnel request, else
# "OTHER <first line>"), so a test can tell whether and how the daemon used it. With
# --upstream-port N every tunnel goes to 127.0.0.1:N whatever host and port the request names
# (the daemon's endpoints can then name a port where nothing listens: only through the proxy
# does it reach the stand-in); with 0 it only records and closes. Standard library only.

import argparse
import os
import socket
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(conn, args, log_lock):
    with conn:
        conn.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
        except OSError:
            pass
        first = head.split(b"\r\n", 1)[0].decode("latin-1")
        words = first.split()
        is_connect = len(words) == 3 and words[0] == "CONNECT"
        with log_lock, open(args.log, "a", encoding="utf-8") as f:
            f.write(("CONNECT %s" % words[1]) if is_connect else ("OTHER %s" % first[:200]))
            f.write("\n")
        if not is_connect or args.upstream_port <= 0:
            return
        try:
            up = socket.create_connection(("127.0.0.1", args.upstream_port), timeout=10)
        except OSError:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        conn.settimeout(None)
        up.settimeout(None)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            up.sendall(rest)
        t = threading.Thread(target=pump, args=(up, conn), daemon=True)
        t.start()
        pump(conn, up)
        t.join()
        up.close()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--upstream-port", type=int, default=0)
    args = p.parse_args()

    open(args.log, "w").close()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, args.port_file)
    log_lock = threading.Lock()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, args, log_lock), daemon=True).start()


if __name__ == "__main__":
    main()
