#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/bench.py — runs mediacanceld's benchmark scenarios (S1-S7 in docs/performance.md) on
# this machine and records them: starts the nginx stand-in (bench/standin.nginx.conf) and the
# daemon, drives them with bench/loadgen (daemon and direct modes) and the two peers
# (bench/peer_msal.py, bench/node/peer.mjs), counts the daemon's instructions per cancel with
# callgrind, and writes every figure with the exact command lines to a JSON file and, for a
# full run, to the generated part of docs/performance.md. Targets are compared and reported,
# never asserted: nothing here fails because the machine was slow. bench/run.sh is the entry
# point; it installs what this needs and builds the tree first.
import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENANT = "bench-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"

TARGETS = {
    "S1_ratio_min": 0.70,
    "S2_p50_added_us_max": 100,
    "S2_p99_added_us_max": 300,
    "S3_makespan_ms_max": 600,
    "S4_idle_rss_kib_max": 10 * 1024,
    "S4_bytes_per_operation_max": 1024,
    "S5_ready_ms_max": 20,
    "S5_ready_ms_journal_max": 500,
    "S6_ratio_min": 3.0,
    "S7_p99_ratio_max": 1.5,
}

COMMANDS = []  # every command line run, in order, for the record


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_cmd(argv, env_extra=None):
    env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in (env_extra or {}).items())
    line = (env + " " if env else "") + " ".join(shlex.quote(str(a)) for a in argv)
    COMMANDS.append(line)
    return line


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class Standin:
    """The nginx stand-in, in the foreground under our control."""

    def __init__(self, work, login_keepalive=1, short_token_sec=6, token_delay_sec=0.05):
        self.work = work
        self.graph_port = free_port()
        self.login_port = free_port()
        conf = open(os.path.join(TOP, "bench", "standin.nginx.conf")).read()
        for k, v in {"DIR": work, "GRAPH_PORT": self.graph_port, "LOGIN_PORT": self.login_port,
                     "SHORT_TOKEN_SEC": short_token_sec, "TOKEN_DELAY_SEC": token_delay_sec,
                     "LOGIN_KEEPALIVE_SEC": login_keepalive}.items():
            conf = conf.replace("@%s@" % k, str(v))
        self.conf = os.path.join(work, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(work, d), exist_ok=True)
        argv = ["nginx", "-p", work, "-c", self.conf, "-e", os.path.join(work, "nginx-error.log")]
        record_cmd(argv)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.graph_port), timeout=0.2).close()
                socket.create_connection(("127.0.0.1", self.login_port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("nginx exited: " + open(os.path.join(work, "nginx-error.log")).read())
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening")

    def graph(self, delay_ms=None):
        return "https://127.0.0.1:%d%s" % (self.graph_port, "/d%dms" % delay_ms if delay_ms else "")

    def login(self, short=False):
        return "https://127.0.0.1:%d%s" % (self.login_port, "/short" if short else "")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def rpc(path, method, params=None, timeout=10):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf)


def unit_environment():
    """Environment= assignments of the shipped unit, so the bench runs the daemon as deployed."""
    env = {}
    with open(os.path.join(TOP, "systemd", "mediacanceld.service.in")) as f:
        for line in f:
            if line.startswith("Environment="):
                for word in shlex.split(line[len("Environment="):]):
                    k, _, v = word.partition("=")
                    env[k] = v
    return env


UNIT_ENVIRONMENT = unit_environment()


class Daemon:
    """One mediacanceld against the stand-in; READY=1 arrives on a NOTIFY_SOCKET we own."""

    n = 0

    def __init__(self, args, work, standin, delay_ms=None, short_token=False, extra=None, valgrind=None,
                 state_dir=None):
        Daemon.n += 1
        self.work = work
        # A fresh, empty journal unless the scenario brings one.
        self.state_dir = state_dir or os.path.join(args.state_root or work, "state%d" % Daemon.n)
        extra = dict(extra or {})
        extra.setdefault("Operations.StateDirectory", self.state_dir)
        self.sock = os.path.join(work, "d%d.sock" % Daemon.n)
        self.conf = os.path.join(work, "d%d.conf" % Daemon.n)
        sections = {"Graph": [], "Socket": [], "Operations": []}
        for k, v in extra.items():
            sec, key = k.split(".")
            sections[sec].append("%s=%s" % (key, v))
        with open(self.conf, "w") as f:
            f.write("[Identity]\nTenantId=%s\nClientId=%s\nClientSecretFile=%s\nLoginEndpoint=%s\n\n"
                    "[Graph]\nEndpoint=%s\nCAFile=%s\n%s\n[Socket]\nPath=%s\n%s\n[Operations]\n%s\n"
                    # No notifications are delivered here: nothing to fetch signing keys for.
                    "[Notifications]\nAuthentication=peer\n" % (
                        TENANT, CLIENT_ID, os.path.join(work, "client-secret"), standin.login(short_token),
                        standin.graph(delay_ms), os.path.join(work, "ca.pem"),
                        "".join(x + "\n" for x in sections["Graph"]), self.sock,
                        "".join(x + "\n" for x in sections["Socket"]),
                        "".join(x + "\n" for x in sections["Operations"])))
        self.notify_path = os.path.join(work, "notify%d.sock" % Daemon.n)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        argv = [args.daemon, "--config", self.conf]
        if valgrind:
            argv = valgrind + argv
        # The environment the shipped unit gives the daemon.
        unit_env = dict(UNIT_ENVIRONMENT, NOTIFY_SOCKET=self.notify_path)
        env = dict(os.environ, **unit_env)
        self.argv = argv
        self.cmd = record_cmd(argv, unit_env)
        self.log_path = os.path.join(work, "daemon%d.log" % Daemon.n)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "w"))
        self.ready_ms = self._wait_ready(t0, 120 if valgrind else 10)

    def _wait_ready(self, t0, timeout):
        self.notify.settimeout(timeout)
        while True:
            try:
                msg = self.notify.recv(4096)
            except socket.timeout:
                raise RuntimeError("no READY=1 from the daemon; log:\n" + open(self.log_path).read())
            if b"READY=1" in msg.split(b"\n"):
                # Keep reading, as a service manager does: a full notify socket would block
                # the daemon's next sd_notify() and stall the run.
                threading.Thread(target=self._drain_notify, daemon=True).start()
                return (time.monotonic() - t0) * 1e3

    def _drain_notify(self):
        self.notify.settimeout(None)
        try:
            while self.notify.recv(4096):
                pass
        except OSError:
            pass

    def wait_token(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = rpc(self.sock, "status")["result"]
            if st["token"]["state"] == "valid":
                return st
            time.sleep(0.02)
        raise RuntimeError("the daemon got no token; log:\n" + open(self.log_path).read())

    def _proc_status(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None

    def rss_kib(self):
        return self._proc_status("VmRSS")

    def cpu_sec(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()


def loadgen(args, argv, samples=None):
    full = [args.loadgen] + [str(a) for a in argv] + (["--samples", samples] if samples else [])
    record_cmd(full)
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if not p.stdout.strip():
        raise RuntimeError("loadgen failed (%d): %s" % (p.returncode, p.stderr))
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r.get("errors"):
        log("loadgen: %d errors, first: %s" % (r["errors"], r.get("first_error")))
    return r


def daemon_load(args, d, conns, window, duration=None, warmup=None, requests=None, samples=None):
    argv = ["--socket", d.sock, "-n", conns, "-w", window]
    if requests:
        argv += ["--requests", requests]
    else:
        argv += ["--duration", duration, "--warmup", warmup]
    cpu0 = d.cpu_sec()
    r = loadgen(args, argv, samples)
    cpu1 = d.cpu_sec()
    if r["completed"]:
        r["daemon_cpu_us_per_cancel"] = round((cpu1 - cpu0) * 1e6 / r["completed"], 1)
    return r


def direct_load(args, work, standin, delay_ms, conns, window, duration=None, warmup=None, requests=None):
    argv = ["--direct", "--url", standin.graph(delay_ms), "--token-url",
            "%s/%s/oauth2/v2.0/token" % (standin.login(), TENANT), "--client-id", CLIENT_ID,
            "--secret-file", os.path.join(work, "client-secret"), "--ca", os.path.join(work, "ca.pem"),
            "-n", conns, "-w", window]
    if requests:
        argv += ["--requests", requests]
    else:
        argv += ["--duration", duration, "--warmup", warmup]
    return loadgen(args, argv)


def peer(args, work, standin, which, delay_ms, concurrency, duration=None, warmup=None, requests=None):
    common = ["--client-id", CLIENT_ID, "--secret-file", os.path.join(work, "client-secret"),
              "--url", standin.graph(delay_ms), "--authority", "%s/%s" % (standin.login(), TENANT),
              "--concurrency", concurrency]
    if requests:
        common += ["--requests", requests]
    else:
        common += ["--duration", duration, "--warmup", warmup]
    if which == "python":
        argv = ["/usr/bin/python3", os.path.join(TOP, "bench", "peer_msal.py")] + common
        env_extra = {"REQUESTS_CA_BUNDLE": os.path.join(work, "ca.pem")}
    else:
        argv = ["node", os.path.join(TOP, "bench", "node", "peer.mjs")] + common
        env_extra = {"NODE_EXTRA_CA_CERTS": os.path.join(work, "ca.pem")}
    argv = [str(a) for a in argv]
    record_cmd(argv, env_extra)
    p = subprocess.run(argv, env=dict(os.environ, **env_extra), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    if p.returncode != 0 or not p.stdout.strip():
        log("%s peer failed (%d): %s" % (which, p.returncode, p.stderr[-2000:]))
        return None
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r.get("errors"):
        log("%s peer: %d errors, first: %s" % (which, r["errors"], r.get("first_error")))
    return r


def peers_available(args):
    ok = {"python": False, "node": False}
    try:
        subprocess.run(["/usr/bin/python3", "-c", "import msal, requests"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok["python"] = True
    except (OSError, subprocess.CalledProcessError):
        log("python3-msal or python3-requests missing: the Python peer is skipped")
    if shutil.which("node") and os.path.isdir(os.path.join(TOP, "bench", "node", "node_modules", "@azure", "msal-node")):
        ok["node"] = True
    else:
        log("node or bench/node/node_modules missing (npm ci in bench/node): the Node.js peer is skipped")
    return ok


# ---- scenarios ----

def s1_throughput(args, work, standin, p):
    """S1: cancels/s through the daemon vs direct mode at equal concurrency, saturated."""
    runs = []
    d = Daemon(args, work, standin)
    d.wait_token()
    for i in range(p["runs"]):
        # Alternate the order so a drift of the machine does not favour one side.
        first_direct = i % 2 == 0
        res = {}
        for side in (["direct", "daemon"] if first_direct else ["daemon", "direct"]):
            if side == "direct":
                res[side] = direct_load(args, work, standin, None, p["s1_conns"], p["s1_window"],
                                        p["s1_duration"], p["warmup"])
            else:
                res[side] = daemon_load(args, d, p["s1_conns"], p["s1_window"], p["s1_duration"], p["warmup"])
        res["ratio"] = res["daemon"]["throughput"] / res["direct"]["throughput"] if res["direct"]["throughput"] else None
        runs.append(res)
        log("S1 run %d: daemon %.0f/s, direct %.0f/s, ratio %.3f" % (
            i + 1, res["daemon"]["throughput"], res["direct"]["throughput"], res["ratio"] or 0))
    d.stop()
    return {
        "concurrency": p["s1_conns"] * p["s1_window"],
        "connections": p["s1_conns"], "window": p["s1_window"],
        "daemon_throughput": median([r["daemon"]["throughput"] for r in runs]),
        "direct_throughput": median([r["direct"]["throughput"] for r in runs]),
        "ratio": median([r["ratio"] for r in runs]),
        "daemon_cpu_us_per_cancel": median([r["daemon"].get("daemon_cpu_us_per_cancel") for r in runs]),
        "target": ">= %.2f" % TARGETS["S1_ratio_min"],
        "met": (median([r["ratio"] for r in runs]) or 0) >= TARGETS["S1_ratio_min"],
        "runs": runs,
    }


def s2_latency(args, work, standin, p):
    """S2: added latency, one request at a time, stand-in answering after 1 ms."""
    runs = []
    d = Daemon(args, work, standin, delay_ms=1)
    d.wait_token()
    for i in range(p["runs"]):
        res = {}
        order = ["direct", "daemon"] if i % 2 == 0 else ["daemon", "direct"]
        for side in order:
            if side == "direct":
                res[side] = direct_load(args, work, standin, 1, 1, 1, p["s2_duration"], p["warmup"])
            else:
                res[side] = daemon_load(args, d, 1, 1, p["s2_duration"], p["warmup"])
        res["p50_added_us"] = res["daemon"]["p50_us"] - res["direct"]["p50_us"]
        res["p99_added_us"] = res["daemon"]["p99_us"] - res["direct"]["p99_us"]
        runs.append(res)
        log("S2 run %d: p50 %d vs %d us, p99 %d vs %d us" % (
            i + 1, res["daemon"]["p50_us"], res["direct"]["p50_us"], res["daemon"]["p99_us"], res["direct"]["p99_us"]))
    d.stop()
    p50 = median([r["p50_added_us"] for r in runs])
    p99 = median([r["p99_added_us"] for r in runs])
    return {
        "daemon_p50_us": median([r["daemon"]["p50_us"] for r in runs]),
        "direct_p50_us": median([r["direct"]["p50_us"] for r in runs]),
        "daemon_p99_us": median([r["daemon"]["p99_us"] for r in runs]),
        "direct_p99_us": median([r["direct"]["p99_us"] for r in runs]),
        "p50_added_us": p50, "p99_added_us": p99,
        "target": "p50 added <= %d us, p99 added <= %d us" % (TARGETS["S2_p50_added_us_max"], TARGETS["S2_p99_added_us_max"]),
        "met": p50 is not None and p50 <= TARGETS["S2_p50_added_us_max"] and p99 <= TARGETS["S2_p99_added_us_max"],
        "runs": runs,
    }


def s3_burst(args, work, standin, p, peers_ok):
    """S3: 1,000 cancels at once against the 100 ms stand-in, default configuration."""
    n = p["s3_requests"]
    conns, window = 16, (n + 15) // 16  # MaxInFlightPerConnection=64, MaxConnectionsPerUser=32
    runs = []
    for i in range(p["s3_runs"]):
        # A fresh daemon each time, warmed by one cancel: a running daemon has a Graph connection.
        d = Daemon(args, work, standin, delay_ms=100)
        d.wait_token()
        daemon_load(args, d, 1, 1, requests=1)
        res = {"daemon": daemon_load(args, d, conns, window, requests=n)}
        d.stop()
        res["direct"] = direct_load(args, work, standin, 100, 1, n, requests=n)
        for which in ("python", "node"):
            if peers_ok.get(which) and p["peers"]:
                res[which] = peer(args, work, standin, which, 100, p["s3_peer_concurrency"], requests=n)
        runs.append(res)
        log("S3 run %d: " % (i + 1) + ", ".join("%s %.0f ms" % (k, v["makespan_ms"]) for k, v in res.items() if v))
    out = {"requests": n, "connections": conns, "window": window, "peer_concurrency": p["s3_peer_concurrency"]}
    for k in ("daemon", "direct", "python", "node"):
        vals = [r[k]["makespan_ms"] for r in runs if r.get(k)]
        if vals:
            out[k + "_makespan_ms"] = median(vals)
            out[k + "_p99_us"] = median([r[k]["p99_us"] for r in runs if r.get(k)])
            out[k + "_errors"] = sum(r[k]["errors"] for r in runs if r.get(k))
    out["target"] = "all answered within %d ms" % TARGETS["S3_makespan_ms_max"]
    out["met"] = out["daemon_makespan_ms"] <= TARGETS["S3_makespan_ms_max"] and out["daemon_errors"] == 0
    out["runs"] = runs
    return out


def s4_memory(args, work, standin, p):
    """S4: idle RSS, and RSS per tracked final operation."""
    n = p["s4_operations"]
    d = Daemon(args, work, standin, extra={"Operations.MaxOperations": 10 * n})
    d.wait_token()
    time.sleep(0.5)
    idle = d.rss_kib()
    # Warm the pools and the Graph connection first, so what follows is the table's growth.
    daemon_load(args, d, 4, 16, requests=2000)
    before = d.rss_kib()
    r = daemon_load(args, d, 4, 16, requests=n)
    time.sleep(0.2)
    after = d.rss_kib()
    st = rpc(d.sock, "status")["result"]
    d.stop()
    per_op = (after - before) * 1024 / n
    return {
        "idle_rss_kib": idle, "rss_before_kib": before, "rss_after_kib": after, "operations": n,
        "tracked": st["operations"]["total"], "bytes_per_operation": round(per_op, 1),
        "load": r,
        "target": "idle RSS <= 10 MiB, <= 1 KiB per tracked final operation",
        "met": idle <= TARGETS["S4_idle_rss_kib_max"] and per_op <= TARGETS["S4_bytes_per_operation_max"],
    }


def s5_start(args, work, standin, p):
    """S5: exec to READY=1 with an empty state (the token fetch runs after READY), and with a
    journal of s5_journal_operations final operations written by an earlier daemon."""
    times = []
    for _ in range(p["s5_starts"]):
        d = Daemon(args, work, standin)
        times.append(d.ready_ms)
        d.stop()
    m = median(times)
    out = {"ready_ms": round(m, 2), "all_ms": [round(t, 2) for t in times],
           "note": "measured from just before fork/exec in bench.py to READY=1 on a NOTIFY_SOCKET of ours",
           "target": "<= %d ms" % TARGETS["S5_ready_ms_max"], "met": m <= TARGETS["S5_ready_ms_max"]}
    n = p["s5_journal_operations"]
    if n:
        state = os.path.join(work, "s5-journal")
        extra = {"Operations.MaxOperations": 2 * n, "Operations.StateDirectory": state}
        d = Daemon(args, work, standin, extra=extra)
        d.wait_token()
        daemon_load(args, d, 8, 32, requests=n)
        d.stop()
        jt = []
        for _ in range(p["s5_starts"]):
            d = Daemon(args, work, standin, extra=extra)
            jt.append(d.ready_ms)
            tracked = rpc(d.sock, "status")["result"]["operations"]["total"]
            d.stop()
        out["journal_operations"] = tracked
        out["journal_bytes"] = sum(os.path.getsize(os.path.join(state, f)) for f in os.listdir(state))
        out["ready_ms_with_journal"] = round(median(jt), 2)
        out["all_ms_with_journal"] = [round(t, 2) for t in jt]
        out["target_with_journal"] = "<= %d ms" % TARGETS["S5_ready_ms_journal_max"]
        out["met_with_journal"] = out["ready_ms_with_journal"] <= TARGETS["S5_ready_ms_journal_max"]
    return out


def s6_peers(args, work, standin, p, peers_ok, s1, s3):
    """S6: the peers on S1's load (S3's bursts ran inside s3_burst)."""
    c = p["s1_conns"] * p["s1_window"]
    runs = {"python": [], "node": []}
    for which in ("python", "node"):
        if not peers_ok.get(which):
            continue
        for _ in range(p["peer_runs"]):
            r = peer(args, work, standin, which, None, c, p["peer_duration"], p["warmup"])
            if r:
                runs[which].append(r)
        if runs[which]:
            log("S6 %s: %.0f/s" % (which, median([r["throughput"] for r in runs[which]])))
    out = {"concurrency": c}
    for which in ("python", "node"):
        if runs[which]:
            out[which + "_throughput"] = median([r["throughput"] for r in runs[which]])
    best = max([out.get("python_throughput") or 0, out.get("node_throughput") or 0])
    out["best_peer_throughput"] = best
    out["daemon_throughput"] = s1["daemon_throughput"]
    out["ratio_vs_best_peer"] = s1["daemon_throughput"] / best if best else None
    burst_peers = [s3.get(k + "_makespan_ms") for k in ("python", "node") if s3.get(k + "_makespan_ms")]
    out["s3_daemon_makespan_ms"] = s3["daemon_makespan_ms"]
    out["s3_best_peer_makespan_ms"] = min(burst_peers) if burst_peers else None
    out["target"] = "S1 >= 3x the better peer; S3 faster than both"
    out["met"] = bool(best) and out["ratio_vs_best_peer"] >= TARGETS["S6_ratio_min"] and bool(burst_peers) and \
        s3["daemon_makespan_ms"] < min(burst_peers)
    out["runs"] = runs
    return out


def s7_renewal(args, work, standin, p):
    """S7: p99 while the token is being renewed vs the rest, at S1's load."""
    runs = []
    for i in range(p["s7_runs"]):
        d = Daemon(args, work, standin, short_token=True)
        d.wait_token()
        samples = os.path.join(work, "s7-%d.samples" % i)
        log_path = os.path.join(work, "login-access.log")
        t_start = time.time()
        r = daemon_load(args, d, p["s1_conns"], p["s1_window"], p["s7_duration"], p["warmup"], samples=samples)
        d.stop()
        windows = []
        with open(log_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2].startswith("/short/"):
                    end = float(parts[0]) * 1e6
                    windows.append((end - float(parts[1]) * 1e6, end))
        windows = [w for w in windows if w[0] >= t_start * 1e6]
        inside, outside = [], []
        with open(samples) as f:
            for line in f:
                sent, lat = line.split()
                sent, lat = int(sent), int(lat)
                if any(sent <= we and sent + lat >= ws for ws, we in windows):
                    inside.append(lat)
                else:
                    outside.append(lat)
        inside.sort()
        outside.sort()

        def p99(v):
            return v[max(int(len(v) * 0.99 + 0.999999), 1) - 1] if v else None
        res = {"renewals": len(windows), "inside": len(inside), "outside": len(outside),
               "p99_inside_us": p99(inside), "p99_outside_us": p99(outside), "load": r}
        res["ratio"] = res["p99_inside_us"] / res["p99_outside_us"] if inside and outside else None
        runs.append(res)
        log("S7 run %d: %d renewals, p99 inside %s us (%d), outside %s us, ratio %s" % (
            i + 1, len(windows), res["p99_inside_us"], len(inside), res["p99_outside_us"], res["ratio"]))
    ratio = median([r["ratio"] for r in runs])
    return {"ratio": ratio, "p99_inside_us": median([r["p99_inside_us"] for r in runs]),
            "p99_outside_us": median([r["p99_outside_us"] for r in runs]),
            "renewals": sum(r["renewals"] for r in runs),
            "token_lifetime_sec": 6, "login_delay_ms": 50,
            "target": "<= %.1fx" % TARGETS["S7_p99_ratio_max"],
            "met": ratio is not None and ratio <= TARGETS["S7_p99_ratio_max"], "runs": runs}


def instructions_per_cancel(args, work, standin, p):
    """The stable figure: instructions the daemon spends per cancel, by callgrind, as the
    difference of two runs (so start-up and the token fetch cancel out)."""
    if not shutil.which("valgrind"):
        return {"note": "valgrind not installed"}
    totals = {}
    for n in (p["cg_small"], p["cg_large"]):
        out = os.path.join(work, "callgrind.%d.out" % n)
        d = Daemon(args, work, standin, valgrind=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
        d.wait_token(120)
        loadgen(args, ["--socket", d.sock, "-n", 2, "-w", 8, "--requests", n, "--drain", 120])
        d.stop()
        with open(out) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    totals[n] = int(line.split()[1])
    per = (totals[p["cg_large"]] - totals[p["cg_small"]]) / (p["cg_large"] - p["cg_small"])
    log("instructions per cancel: %.0f" % per)
    return {"instructions_per_cancel": round(per), "totals": totals,
            "method": "callgrind Ir, (I(%d) - I(%d)) / %d, 2 connections x 8 in flight, fast stand-in" % (
                p["cg_large"], p["cg_small"], p["cg_large"] - p["cg_small"])}


PROFILES = {
    "full": dict(runs=3, warmup=1, s1_conns=8, s1_window=8, s1_duration=8, s2_duration=5, s3_requests=1000,
                 s3_runs=3, s3_peer_concurrency=256, s4_operations=100000, s5_starts=11, s5_journal_operations=100000,
                 peer_runs=3,
                 peer_duration=5, s7_runs=3, s7_duration=15, cg_small=500, cg_large=2500, peers=True),
    "smoke": dict(runs=1, warmup=0.2, s1_conns=4, s1_window=8, s1_duration=1, s2_duration=0.5, s3_requests=1000,
                  s3_runs=1, s3_peer_concurrency=64, s4_operations=2000, s5_starts=1, s5_journal_operations=0,
                  peer_runs=0,
                  peer_duration=1, s7_runs=1, s7_duration=1.5, cg_small=0, cg_large=0, peers=False),
}


def versions():
    def out(argv):
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            return p.stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return None
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu": next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None),
        "curl": out(["curl", "--version"]), "nginx": out(["nginx", "-v"]), "node": out(["node", "--version"]),
        "python_msal": out(["/usr/bin/python3", "-c", "import msal; print(msal.__version__)"]),
        "commit": out(["git", "-C", TOP, "rev-parse", "--short", "HEAD"]),
        "dirty": bool(subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--untracked-files=no"],
                                     stdout=subprocess.PIPE, text=True).stdout.strip())}


def fmt(v, spec="%.0f"):
    return "—" if v is None else spec % v


def markdown(res):
    s = res["scenarios"]
    rows = []
    if "S1" in s:
        x = s["S1"]
        rows.append(("S1 throughput (C=%d)" % x["concurrency"], ">= 70 % of direct",
                     "daemon %s/s, direct %s/s: **%s %%**" % (fmt(x["daemon_throughput"]), fmt(x["direct_throughput"]),
                                                              fmt(x["ratio"] * 100 if x["ratio"] else None)), x["met"]))
    if "S2" in s:
        x = s["S2"]
        rows.append(("S2 added latency (1 at a time, 1 ms stand-in)", "p50 <= 100 µs, p99 <= 300 µs",
                     "p50 %s vs %s µs: **+%s µs**; p99 %s vs %s µs: **+%s µs**" % (
                         fmt(x["daemon_p50_us"]), fmt(x["direct_p50_us"]), fmt(x["p50_added_us"]),
                         fmt(x["daemon_p99_us"]), fmt(x["direct_p99_us"]), fmt(x["p99_added_us"])), x["met"]))
    if "S3" in s:
        x = s["S3"]
        rows.append(("S3 burst of %d, 100 ms stand-in" % x["requests"], "all answered <= 600 ms",
                     "**%s ms** (p99 %s ms; direct %s ms)" % (fmt(x.get("daemon_makespan_ms")),
                                                              fmt((x.get("daemon_p99_us") or 0) / 1e3),
                                                              fmt(x.get("direct_makespan_ms"))), x["met"]))
    if "S4" in s:
        x = s["S4"]
        rows.append(("S4 memory", "idle <= 10 MiB; <= 1 KiB per final operation",
                     "idle **%.1f MiB**; **%s B** per operation (%d tracked)" % (
                         x["idle_rss_kib"] / 1024, fmt(x["bytes_per_operation"]), x["tracked"]), x["met"]))
    if "S5" in s:
        x = s["S5"]
        rows.append(("S5 start to READY=1 (empty state)", "<= 20 ms", "**%.1f ms**" % x["ready_ms"], x["met"]))
        if x.get("ready_ms_with_journal") is not None:
            rows.append(("S5 start to READY=1, %d journaled operations (%.1f MiB)" % (
                x["journal_operations"], x["journal_bytes"] / 1048576), "<= %d ms" % TARGETS["S5_ready_ms_journal_max"],
                "**%.1f ms**" % x["ready_ms_with_journal"],
                x["ready_ms_with_journal"] <= TARGETS["S5_ready_ms_journal_max"]))
    if "S6" in s:
        x = s["S6"]
        rows.append(("S6 peers", "S1 >= 3x better peer; S3 faster than both",
                     "S1: Python %s/s, Node %s/s, daemon **%.1fx**; S3: Python %s ms, Node %s ms" % (
                         fmt(x.get("python_throughput")), fmt(x.get("node_throughput")), x["ratio_vs_best_peer"] or 0,
                         fmt(s["S3"].get("python_makespan_ms")), fmt(s["S3"].get("node_makespan_ms"))), x["met"]))
    if "S7" in s:
        x = s["S7"]
        rows.append(("S7 p99 during token renewal", "<= 1.5x outside",
                     "%s µs vs %s µs: **%sx** (%d renewals)" % (fmt(x["p99_inside_us"]), fmt(x["p99_outside_us"]),
                                                                fmt(x["ratio"], "%.2f"), x["renewals"]), x["met"]))
    ipc = res.get("instructions", {}).get("instructions_per_cancel")
    lines = ["Run of %s (commit %s%s), %s, %d CPUs; %s; %s." % (
        res["date"], res["machine"]["commit"], " + local changes" if res["machine"]["dirty"] else "",
        res["machine"]["cpu"], res["machine"]["cpus"], res["machine"]["curl"], res["machine"]["nginx"]), "",
        "| Scenario | Target | Measured (medians) | Met |", "|---|---|---|---|"]
    for name, target, measured, met in rows:
        lines.append("| %s | %s | %s | %s |" % (name, target, measured, "yes" if met else "**no**"))
    lines += ["", "Instructions per cancel in the daemon (callgrind): **%s**; daemon CPU per cancel at S1: %s µs." % (
        fmt(ipc), fmt(s.get("S1", {}).get("daemon_cpu_us_per_cancel"), "%.1f")), "",
        "Command lines, in the order they ran:", "", "```"] + res["commands_unique"] + ["```"]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="mediacanceld benchmark (docs/performance.md)")
    ap.add_argument("--build", default=os.path.join(TOP, "build"), help="build tree with mediacanceld and bench/loadgen")
    ap.add_argument("--daemon", help="mediacanceld binary (default BUILD/mediacanceld)")
    ap.add_argument("--loadgen", help="loadgen binary (default BUILD/bench/loadgen)")
    ap.add_argument("--smoke", action="store_true", help="a short run that only checks the harness works")
    ap.add_argument("--only", help="comma-separated scenarios, e.g. S1,S3")
    ap.add_argument("--output", help="results JSON (default bench/results/latest.json; smoke: a temporary file)")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite the results part of docs/performance.md")
    ap.add_argument("--set", action="append", default=[], help="override a profile parameter, e.g. s1_window=32")
    ap.add_argument("--state-root", help="where the daemons' journals go (default: the work directory, on disk); "
                                         "/dev/shm takes fdatasync's cost out, to see the CPU's share")
    args = ap.parse_args()
    args.daemon = args.daemon or os.path.join(args.build, "mediacanceld")
    args.loadgen = args.loadgen or os.path.join(args.build, "bench", "loadgen")
    p = dict(PROFILES["smoke" if args.smoke else "full"])
    for kv in args.set:
        k, v = kv.split("=", 1)
        p[k] = type(p[k])(float(v)) if not isinstance(p[k], bool) else v in ("1", "true", "yes")
    only = set((args.only or "S1,S2,S3,S4,S5,S6,S7,IPC").upper().split(","))
    if args.smoke:
        only.discard("IPC")
        only.discard("S6")

    work = tempfile.mkdtemp(prefix="mediacancel-bench.")
    if args.state_root:
        args.state_root = tempfile.mkdtemp(prefix="mediacancel-bench-state.", dir=args.state_root)
    subprocess.run(["bash", os.path.join(TOP, "tests", "make-test-ca.sh"), work], check=True)
    with open(os.path.join(work, "client-secret"), "w") as f:
        f.write("bench-secret\n")
    os.chmod(os.path.join(work, "client-secret"), 0o600)

    standin = Standin(work)
    res = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "profile": "smoke" if args.smoke else "full",
           "state_root": "tmpfs" if args.state_root else "disk",
           "parameters": p, "machine": versions(), "targets": TARGETS, "scenarios": {}}
    peers_ok = peers_available(args) if p["peers"] else {}
    t0 = time.monotonic()
    try:
        sc = res["scenarios"]
        if "S5" in only:
            sc["S5"] = s5_start(args, work, standin, p)
        if "S1" in only or "S6" in only:
            sc["S1"] = s1_throughput(args, work, standin, p)
        if "S2" in only:
            sc["S2"] = s2_latency(args, work, standin, p)
        if "S3" in only or "S6" in only:
            sc["S3"] = s3_burst(args, work, standin, p, peers_ok)
        if "S4" in only:
            sc["S4"] = s4_memory(args, work, standin, p)
        if "S6" in only:
            sc["S6"] = s6_peers(args, work, standin, p, peers_ok, sc["S1"], sc["S3"])
        if "S7" in only:
            sc["S7"] = s7_renewal(args, work, standin, p)
        if "IPC" in only:
            res["instructions"] = instructions_per_cancel(args, work, standin, p)
    finally:
        standin.stop()
    res["seconds"] = round(time.monotonic() - t0, 1)
    seen = set()
    res["commands_unique"] = [c for c in (re.sub(r"(mediacancel-bench\.)\w+", r"\1XXXX", c) for c in COMMANDS)
                              if not (c in seen or seen.add(c))]
    res["commands"] = COMMANDS
    out = args.output or (os.path.join(work, "smoke.json") if args.smoke else os.path.join(TOP, "bench", "results", "latest.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    print(md)
    if not args.smoke and not args.no_docs and not args.only:
        doc = os.path.join(TOP, "docs", "performance.md")
        text = open(doc).read()
        text = re.sub(r"(<!-- results:begin -->\n).*?(\n<!-- results:end -->)", lambda m: m.group(1) + md + m.group(2),
                      text, flags=re.S)
        with open(doc, "w") as f:
            f.write(text)
    log("results in %s (%.0f s)" % (out, res["seconds"]))
    if args.state_root:
        shutil.rmtree(args.state_root, ignore_errors=True)
    if not args.smoke:
        shutil.rmtree(work, ignore_errors=True)
    else:
        # The smoke run keeps the harness working: errors or unanswered requests fail it, times never do.
        bad = [k for k, v in res["scenarios"].items() for r in (v.get("runs") or [v.get("load")] if isinstance(v, dict) else [])
               if isinstance(r, dict) and any(isinstance(x, dict) and (x.get("errors") or x.get("unanswered")) for x in r.values())]
        shutil.rmtree(work, ignore_errors=True)
        if bad:
            log("smoke run saw errors in: " + ", ".join(sorted(set(bad))))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
