#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/peer_msal.py — the Python peer of the benchmark: what a service would do in-process
# instead of asking mediacanceld. MSAL (Debian's python3-msal) gets the app-only token from the
# stand-in once; requests (python3-requests) sends the cancels with one pooled Session shared
# by CONCURRENCY threads, so connections are reused and as many requests are in flight as the
# daemon gets. Prints one JSON object in bench/loadgen's format. Run with Debian's
# /usr/bin/python3, REQUESTS_CA_BUNDLE pointing at the stand-in's CA.
import argparse
import json
import math
import sys
import threading
import time

import msal
import requests
from requests.adapters import HTTPAdapter


def pct(v, p):
    if not v:
        return 0
    i = math.ceil(p / 100.0 * len(v))
    return v[max(i, 1) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--authority", required=True, help="https://127.0.0.1:PORT/TENANT")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--url", required=True, help="Graph endpoint, e.g. https://127.0.0.1:PORT/d100ms")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=0.0)
    ap.add_argument("--requests", type=int, default=0, help="send this many in total (a burst)")
    a = ap.parse_args()

    secret = open(a.secret_file).read().strip()
    app = msal.ConfidentialClientApplication(
        a.client_id, client_credential=secret, authority=a.authority,
        validate_authority=False, instance_discovery=False)
    scope = a.url + "/.default"
    tok = app.acquire_token_for_client(scopes=[scope])
    if "access_token" not in tok:
        sys.exit("peer_msal: no token: %r" % tok)

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=a.concurrency)
    session.mount("https://", adapter)
    lock = threading.Lock()
    state = {"seq": 0, "sent": 0, "completed": 0, "errors": 0, "first_error": None}
    lat = []
    counted = [0]
    start = time.monotonic()
    measure_from = start + a.warmup
    stop_at = measure_from + a.duration
    last_answer = [start]
    first_send = [None]

    def worker():
        while True:
            with lock:
                now = time.monotonic()
                if a.requests:
                    if state["sent"] >= a.requests:
                        return
                elif now >= stop_at:
                    return
                seq = state["seq"]
                state["seq"] += 1
                state["sent"] += 1
                if first_send[0] is None:
                    first_send[0] = now
            call_id = "%08x-0000-4000-8000-%012x" % ((seq * 2654435761) & 0xffffffff, seq)
            # MSAL serves the cached token until it nears expiry, as a service would call it.
            token = app.acquire_token_for_client(scopes=[scope])["access_token"]
            t0 = time.monotonic()
            err = None
            try:
                r = session.post(
                    "%s/v1.0/communications/calls/%s/cancelMediaProcessing" % (a.url, call_id),
                    json={"clientContext": "bench-%d" % seq},
                    headers={"Authorization": "Bearer " + token, "Accept": "application/json",
                             "client-request-id": "%08x-0000-4000-8000-%012x" % (seq & 0xffffffff, seq)},
                    timeout=30)
                body = r.json()
                if r.status_code != 200 or "id" not in body:
                    err = "HTTP %d %s" % (r.status_code, r.text[:200])
            except Exception as e:  # noqa: BLE001 - every failure is an error to count
                err = repr(e)
            t1 = time.monotonic()
            with lock:
                state["completed"] += 1
                last_answer[0] = t1
                if err:
                    state["errors"] += 1
                    state["first_error"] = state["first_error"] or err
                if a.requests or measure_from <= t0 < stop_at:
                    counted[0] += 1
                    if not err:
                        lat.append(int((t1 - t0) * 1e6))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    seconds = (last_answer[0] - first_send[0]) if a.requests else a.duration
    out = {"mode": "python-msal-requests", "concurrency": a.concurrency, "sent": state["sent"],
           "completed": state["completed"], "counted": counted[0], "errors": state["errors"],
           "seconds": seconds, "throughput": counted[0] / seconds if seconds > 0 else 0,
           "mean_us": sum(lat) / len(lat) if lat else 0,
           "p50_us": pct(lat, 50), "p90_us": pct(lat, 90), "p99_us": pct(lat, 99),
           "p999_us": pct(lat, 99.9), "max_us": lat[-1] if lat else 0}
    if a.requests:
        out["makespan_ms"] = seconds * 1e3
    if state["first_error"]:
        out["first_error"] = state["first_error"]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
