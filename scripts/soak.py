#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""soak.py — the soak test behind scripts/soak.sh.

Runs mediacanceld from a build tree against the Graph/login stand-in (tests/graph-standin.py)
for a number of minutes under a steady load of cancels, while the stand-in injects a cycle of
faults: 503 bursts, 429 with Retry-After, connection resets, stalls past the attempt timeout,
login outages, revoked tokens and a stand-in crash with restart. Once a minute it records the
daemon's RSS, its open file descriptors and the cancels completed per second.

It passes when every cancel sent got exactly one answer, no cancel is reported completed that
Graph did not answer 200, only the error classes these faults can explain occur, and RSS and
the number of fds stay flat after the warm-up (the level they come back to does not rise).
"""

import argparse
import json
import os
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

TENANT = "soak-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ALLOWED_ERRORS = {"Throttled", "Timeout", "GraphUnreachable", "GraphError", "TokenUnavailable"}


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


class Standin:
    def __init__(self, top, work, port=0):
        self.top, self.work, self.port, self.proc = top, work, port, None

    def start(self):
        port_file = os.path.join(self.work, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        args = [sys.executable, os.path.join(self.top, "tests/graph-standin.py"),
                "--cert", os.path.join(self.work, "server.pem"), "--key", os.path.join(self.work, "server.key"),
                "--tenant", TENANT, "--client-id", CLIENT_ID,
                "--client-secret-file", os.path.join(self.work, "client-secret"),
                "--port-file", port_file, "--latency-ms", "20", "--token-lifetime", "300", "--seed", "5",
                "--log", os.path.join(self.work, "requests.jsonl")]
        if self.port:
            args += ["--port", str(self.port)]
        self.proc = subprocess.Popen(args, stdout=open(os.path.join(self.work, "standin.log"), "a"),
                                     stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                with open(port_file) as f:
                    p = int(f.read().strip() or 0)
                if p:
                    self.port = p
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("the stand-in did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def call(self, path, body=None):
        ctx = ssl.create_default_context(cafile=os.path.join(self.work, "ca.pem"))
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), data=data)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return json.loads(r.read())

    def faults(self, rules):
        self.call("/_standin/faults", {"rules": rules})


class Load:
    """Cancels at a steady rate over a few connections; each answer is matched to its cancel."""

    def __init__(self, sock_path, connections, rate):
        self.sel = selectors.DefaultSelector()
        self.conns = []
        for _ in range(connections):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            s.setblocking(False)
            c = {"sock": s, "rbuf": b"", "wbuf": b""}
            self.conns.append(c)
            self.sel.register(s, selectors.EVENT_READ, c)
        self.rate = rate
        self.next_id = 0
        self.sent_at = {}   # id -> monotonic send time, until answered
        self.answers = {}   # id -> (status or error class)
        self.duplicates = 0
        self.failures = {}  # "GraphError 503" -> count
        self.completed_calls = set()

    def send(self):
        i = self.next_id
        self.next_id += 1
        c = self.conns[i % len(self.conns)]
        line = {"jsonrpc": "2.0", "id": i, "method": "cancel",
                "params": {"callId": "soak-%d" % i, "clientContext": "ctx-%d" % i}}
        c["wbuf"] += (json.dumps(line) + "\n").encode()
        self.sent_at[i] = time.monotonic()
        self.flush(c)

    def flush(self, c):
        while c["wbuf"]:
            try:
                n = c["sock"].send(c["wbuf"])
            except BlockingIOError:
                break
            c["wbuf"] = c["wbuf"][n:]
        self.sel.modify(c["sock"], selectors.EVENT_READ | (selectors.EVENT_WRITE if c["wbuf"] else 0), c)

    def pump(self, timeout):
        for key, events in self.sel.select(timeout):
            c = key.data
            if events & selectors.EVENT_WRITE:
                self.flush(c)
            if events & selectors.EVENT_READ:
                data = c["sock"].recv(1 << 16)
                if not data:
                    raise RuntimeError("the daemon closed a client connection")
                c["rbuf"] += data
                *lines, c["rbuf"] = c["rbuf"].split(b"\n")
                for line in lines:
                    if line:
                        self.answer(json.loads(line))

    def answer(self, j):
        i = j.get("id")
        if not isinstance(i, int):
            return  # a notification
        if i in self.answers:
            self.duplicates += 1
            return
        self.sent_at.pop(i, None)
        if "result" in j:
            status = j["result"]["operation"]["status"]
            self.answers[i] = status
            if status == "completed":
                self.completed_calls.add("soak-%d" % i)
        else:
            data = j["error"]["data"]
            self.answers[i] = data["class"]
            # What lies behind each failure, for the report: HTTP status or curl code.
            key = "%s %s" % (data["class"], data.get("httpStatus") or data.get("curlCode") or data.get("reason") or "")
            self.failures[key.strip()] = self.failures.get(key.strip(), 0) + 1

    def close(self):
        for c in self.conns:
            c["sock"].close()


def proc_stats(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def fault_plan(minute, second, now):
    """The faults of one minute of the cycle, as (second, description, action)."""
    plan = [
        (5, "30% of cancels answered 503 for 10 s",
         {"rules": [{"kind": "cancel", "status": 503, "probability": 0.3, "untilT": now + 10}]}),
        (20, "429 storm, Retry-After 1 s, for 3 s",
         {"rules": [{"kind": "cancel", "status": 429, "retryAfter": "1", "untilT": now + 3}]}),
        (30, "20% of requests reset for 5 s",
         {"rules": [{"kind": "cancel", "action": "reset", "probability": 0.2, "untilT": now + 5}]}),
        (40, "3 cancels stall past AttemptTimeoutSec",
         {"rules": [{"kind": "cancel", "action": "stall", "stallMs": 3000, "count": 3}]}),
    ]
    if minute % 3 == 2:
        plan.append((50, "login outage (503, Retry-After 2) for 8 s, tokens revoked",
                     {"rules": [{"kind": "token", "status": 503, "retryAfter": "2", "untilT": now + 8}],
                      "expire": True}))
    if minute % 5 == 4:
        plan.append((55, "stand-in killed, restarted 2 s later", {"restart": True}))
    return [p for p in plan if p[0] == second]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--build", required=True)
    ap.add_argument("--rate", type=float, default=50, help="cancels per second")
    ap.add_argument("--warmup", type=float, default=None, help="minutes excluded from the flatness check")
    ap.add_argument("--report", help="write the per-minute figures here as JSON")
    ap.add_argument("--daemon-prefix", default="",
                    help="run the daemon under this command, e.g. 'valgrind --tool=massif'")
    args = ap.parse_args()
    # Stop cleanly (daemon and stand-in too) on SIGTERM, and on SIGINT even when started in
    # the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    minutes = max(1, int(round(args.minutes)))
    warmup = args.warmup if args.warmup is not None else min(5, max(1, minutes // 5))

    work = tempfile.mkdtemp(prefix="mediacancel-soak.")
    subprocess.run(["bash", os.path.join(top, "tests/make-test-ca.sh"), work], check=True)
    with open(os.path.join(work, "client-secret"), "w") as f:
        f.write("soak-secret")
    os.chmod(os.path.join(work, "client-secret"), 0o600)
    standin = Standin(top, work)
    standin.start()
    sock_path = os.path.join(work, "d.sock")
    with open(os.path.join(work, "mediacanceld.conf"), "w") as f:
        f.write("[Identity]\nTenantId=%s\nClientId=%s\nClientSecretFile=%s\nLoginEndpoint=https://127.0.0.1:%d\n"
                "[Graph]\nEndpoint=https://127.0.0.1:%d\nCAFile=%s\nAttemptTimeoutSec=2\nMaxAttempts=8\n"
                "RetryBaseMs=50\nRetryMaxMs=2000\nRequestTimeoutSec=30\n"
                "[Socket]\nPath=%s\nMaxInFlightPerConnection=4096\n"
                "[Operations]\nRetentionSec=60\nStateDirectory=%s\n"
                # No notifications are delivered here: nothing to fetch signing keys for.
                "[Notifications]\nAuthentication=peer\n"
                % (TENANT, CLIENT_ID, os.path.join(work, "client-secret"), standin.port, standin.port,
                   os.path.join(work, "ca.pem"), sock_path, os.path.join(work, "state")))
    try:
        daemon = subprocess.Popen(args.daemon_prefix.split() + [os.path.join(args.build, "mediacanceld"),
                                   "--config", os.path.join(work, "mediacanceld.conf"), "--log-level", "info"],
                                  stdout=open(os.path.join(work, "daemon.log"), "w"), stderr=subprocess.STDOUT)
    except OSError:
        standin.stop()  # not left running behind a wrong --build
        raise
    for _ in range(200):
        if os.path.exists(sock_path):
            break
        time.sleep(0.05)

    rows = []
    unverifiable = set()
    try:
        load = Load(sock_path, 4, args.rate)
    except OSError:
        daemon.kill()
        standin.stop()
        log("the daemon did not start; its log: %s" % os.path.join(work, "daemon.log"))
        raise
    ok = True
    try:
        start = time.monotonic()
        end = start + minutes * 60
        last_minute_answers = 0
        restart_at = None
        done_seconds = set()
        while time.monotonic() < end:
            now = time.monotonic()
            # Steady load: as many cancels as the schedule says by now.
            due = int((now - start) * args.rate)
            while load.next_id < due:
                load.send()
            elapsed = now - start
            minute, second = int(elapsed // 60), int(elapsed % 60)
            if (minute, second) not in done_seconds:
                done_seconds.add((minute, second))
                for _, what, action in fault_plan(minute, second, time.time()):
                    log("minute %d: %s" % (minute + 1, what))
                    if action.get("restart"):
                        # Answers the dying stand-in gave may never be logged: what was in
                        # flight now cannot be checked against Graph's side.
                        unverifiable |= set("soak-%d" % i for i in load.sent_at)
                        standin.kill()
                        restart_at = now + 2
                        continue
                    if action.get("expire"):
                        standin.call("/_standin/expire-tokens", {})
                    standin.faults(action["rules"])
            if restart_at and now >= restart_at:
                standin.start()
                restart_at = None
            # Once a minute, at the minute's end: figures, and what Graph acknowledged.
            if elapsed >= (len(rows) + 1) * 60 and not restart_at:
                st = standin.call("/_standin/stats")
                standin.call("/_standin/reset", {})  # keeps the stand-in's own lists short
                rss, fds = proc_stats(daemon.pid)
                answered = len(load.answers)
                completed = sum(1 for v in load.answers.values() if v == "completed")
                row = {"minute": len(rows) + 1, "rssKiB": rss, "fds": fds,
                       "opsPerSec": round((answered - last_minute_answers) / 60.0, 1),
                       "completedTotal": completed, "answeredTotal": answered,
                       "pending": len(load.sent_at), "graphRequests": st["cancelRequests"],
                       "tokenRequests": st["tokenRequests"], "retryAfterViolations": st["retryAfterViolations"]}
                last_minute_answers = answered
                rows.append(row)
                log("minute %(minute)d: RSS %(rssKiB)d KiB, %(fds)d fds, %(opsPerSec).1f answers/s, "
                    "%(pending)d pending, Graph saw %(graphRequests)d cancels, %(tokenRequests)d token requests, "
                    "%(retryAfterViolations)d Retry-After violations" % row)
            load.pump(0.01)
        if restart_at:
            standin.start()
        if len(rows) < minutes:
            rss, fds = proc_stats(daemon.pid)
            answered = len(load.answers)
            rows.append({"minute": len(rows) + 1, "rssKiB": rss, "fds": fds,
                         "opsPerSec": round((answered - last_minute_answers) / 60.0, 1),
                         "completedTotal": sum(1 for v in load.answers.values() if v == "completed"),
                         "answeredTotal": answered, "pending": len(load.sent_at)})
            log("minute %(minute)d: RSS %(rssKiB)d KiB, %(fds)d fds, %(opsPerSec).1f answers/s, %(pending)d pending"
                % rows[-1])
        # Drain: every cancel sent must be answered within its deadline.
        drain_end = time.monotonic() + 45
        while load.sent_at and time.monotonic() < drain_end:
            load.pump(0.1)
    finally:
        load.close()
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(timeout=30)
        standin.stop()

    sent = load.next_id
    classes = {}
    for v in load.answers.values():
        classes[v] = classes.get(v, 0) + 1
    log("sent %d cancels; answers: %s; duplicates %d; unanswered %d; daemon exit %d"
        % (sent, json.dumps(classes, sort_keys=True), load.duplicates, len(load.sent_at), rc))
    if load.failures:
        log("failures by cause: %s" % json.dumps(load.failures, sort_keys=True))
    if load.sent_at or len(load.answers) != sent or load.duplicates:
        log("FAIL: lost or duplicated answers")
        ok = False
    # What Graph acknowledged, from the request log that every stand-in instance appended to.
    graph_acked = set()
    with open(os.path.join(work, "requests.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["kind"] == "cancel" and e["status"] == 200:
                graph_acked.add(e["path"].split("/")[-2])
    bogus = load.completed_calls - graph_acked - unverifiable
    if bogus:
        log("FAIL: %d cancels reported completed that Graph never answered 200, e.g. %s" % (len(bogus), sorted(bogus)[:5]))
        ok = False
    odd = {k for k in classes if k != "completed" and k not in ALLOWED_ERRORS}
    if odd:
        log("FAIL: unexpected outcomes %s" % sorted(odd))
        ok = False
    if rc != 0:
        log("FAIL: the daemon exited with %d" % rc)
        ok = False

    # Flat after warm-up: the level the daemon comes back to — the lowest sample of the last
    # third after warm-up — may not exceed that of the first third by more than a small
    # allowance. The highest samples swing with the fault cycle (libcurl's cache of idle
    # connections holds 16-272 fds and several MiB depending on whether a login outage or a
    # restart just released hundreds of waiting cancels), so comparing them compares phases of
    # the cycle; a leak, or memory the process never gives back, raises the floor.
    steady = [r for r in rows if r["minute"] > warmup]
    if len(steady) >= 3:
        k = max(1, len(steady) // 3)
        first, last = steady[:k], steady[-k:]
        rss_first = min(r["rssKiB"] for r in first)
        rss_last = min(r["rssKiB"] for r in last)
        fds_first = min(r["fds"] for r in first)
        fds_last = min(r["fds"] for r in last)
        rss_allow = max(2048, rss_first // 20)
        fds_allow = 8 + fds_first // 10
        log("after warm-up (%g min), lowest sample of the first and the last third: RSS %d -> %d KiB "
            "(allowed +%d), fds %d -> %d (allowed +%d)"
            % (warmup, rss_first, rss_last, rss_allow, fds_first, fds_last, fds_allow))
        if rss_last > rss_first + rss_allow:
            log("FAIL: RSS grows")
            ok = False
        if fds_last > fds_first + fds_allow:
            log("FAIL: file descriptors grow")
            ok = False
    else:
        log("note: too few minutes after warm-up to judge flatness")

    if args.report:
        with open(args.report, "w") as f:
            json.dump({"minutes": minutes, "rate": args.rate, "warmupMinutes": warmup, "rows": rows,
                       "sent": sent, "outcomes": classes, "failures": load.failures, "duplicates": load.duplicates,
                       "unanswered": len(load.sent_at), "daemonExit": rc, "passed": ok}, f, indent=1)
    if ok:
        subprocess.run(["rm", "-rf", work])
        log("PASS")
    else:
        log("work directory kept: %s" % work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
