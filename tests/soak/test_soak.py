"""Soak: a bounded load over loopback in streaming and http modes with zero
failed requests and flat RSS (the last minute's mean within 10% of the
first minute's; a fifth of the run each when it is shorter than 5 min).

Off by default; scripts/soak.sh runs it:
  FWATCHDOG_SOAK=1 FWATCHDOG_SOAK_SECONDS=300 python3 -m pytest tests/soak
"""
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import SHORT_TIMEOUTS, Watchdog, connect, free_port, recv_response  # noqa: E402

SECONDS = int(os.environ.get("FWATCHDOG_SOAK_SECONDS", "300"))
WORKERS = int(os.environ.get("FWATCHDOG_SOAK_WORKERS", "4"))

pytestmark = pytest.mark.skipif(os.environ.get("FWATCHDOG_SOAK") != "1",
                                reason="soak runs only with FWATCHDOG_SOAK=1 (scripts/soak.sh)")

UPSTREAM = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); b = self.rfile.read(n)
        self.send_response(200); self.send_header("Content-Length", str(n)); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def worker(port, stop, stats, idx):
    body = b"soak-%d-" % idx + b"x" * 1000
    req = (b"POST /soak HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    s = None
    while not stop.is_set():
        try:
            if s is None:
                s = connect(port, timeout=10)
            s.sendall(req)
            st, h, got = recv_response(s, timeout=10)
            if st != 200 or got != body:
                stats["failed"] += 1
            else:
                stats["ok"] += 1
            if h.get("connection", "").lower() == "close":
                s.close()
                s = None
        except (OSError, TimeoutError) as e:
            stats["failed"] += 1
            stats["errors"].append(repr(e))
            if s:
                s.close()
            s = None
    if s:
        s.close()


def soak(wd):
    stop = threading.Event()
    stats = {"ok": 0, "failed": 0, "errors": []}
    threads = [threading.Thread(target=worker, args=(wd.port, stop, stats, i)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    samples = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < SECONDS:
            time.sleep(1)
            samples.append(wd.rss_kib() * 1024)
            assert wd.alive()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    window = 60 if SECONDS >= 300 else max(1, len(samples) // 5)
    first = sum(samples[:window]) / window
    last = sum(samples[-window:]) / window
    print("soak %s: %d ok, %d failed in %ds; RSS first %.1f MiB, last %.1f MiB"
          % (wd.env["mode"], stats["ok"], stats["failed"], SECONDS, first / 1048576, last / 1048576))
    assert stats["failed"] == 0, stats["errors"][:5]
    assert stats["ok"] > 0
    assert last <= first * 1.10, "RSS grew from %.1f to %.1f MiB" % (first / 1048576, last / 1048576)


def test_soak_streaming(tmp_path):
    env = {**SHORT_TIMEOUTS, "mode": "streaming", "fprocess": "cat"}
    with Watchdog(env, workdir=tmp_path, ready="healthy") as wd:
        soak(wd)


def test_soak_http(tmp_path):
    up = free_port()
    srv = tmp_path / "up.py"
    srv.write_text(UPSTREAM)
    env = {**SHORT_TIMEOUTS, "mode": "http", "fprocess": "%s %s %d" % (sys.executable, srv, up),
           "upstream_url": "http://127.0.0.1:%d" % up}
    with Watchdog(env, workdir=tmp_path, ready="healthy") as wd:
        soak(wd)
