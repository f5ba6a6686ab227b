"""Leak checks: after 2,000 mixed requests (good, bad, private, aborted,
failing functions) the watchdog's descriptors and children are back to
their starting count and no zombie exists."""
import os
import random
import sys

import pytest

from harness import SHORT_TIMEOUTS, connect, free_port, get, recv_response, send_raw, zombies

N = 2000

BAD = [
    b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
]


# cat, but a failure (exit 3) at /fail
FN = """sh -c 'if [ "$Http_Path" = /fail ]; then exit 3; fi; exec cat'"""


def one(wd, rng, i):
    k = i % 10
    if k < 4:
        st, _, body = get(wd.port, "/echo?i=%d" % i, body=b"b%d" % i)
        assert st == 200 and body == b"b%d" % i
    elif k == 4:
        st, _, body = get(wd.port, "/fail")
        assert st == 500 and b"exit status 3" in body
    elif k == 5:
        assert get(wd.port, "/_/health")[0] == 200
    elif k == 6:
        st, _, closed = send_raw(wd.port, rng.choice(BAD), timeout=3)
        assert st == 400 and closed
    elif k == 7:
        # aborted mid-body
        s = connect(wd.port)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        s.close()
    elif k == 8:
        # keep-alive: three requests on one connection
        with connect(wd.port) as s:
            for j in range(3):
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n%d" % j)
                assert recv_response(s)[0] == 200
    else:
        st, _, _ = get(wd.port, "/", method="HEAD")
        assert st == 200


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_2000_mixed_requests_leave_nothing(watchdog, mode):
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": FN, "read_timeout": "2s"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        rng = random.Random(1)
        for i in range(N):
            one(wd, rng, i)
        got_fds, kids = wd.settled(fds, timeout=10)
        assert kids == [] and zombies(wd.pid) == []
        assert got_fds == fds, "descriptors: %d after %d requests, started with %d" % (got_fds, N, fds)


def test_2000_mixed_requests_http_mode(watchdog, tmp_path):
    up = free_port()
    srv = os.path.join(str(tmp_path), "up.py")
    with open(srv, "w") as f:
        f.write("import http.server, sys\n"
                "class H(http.server.BaseHTTPRequestHandler):\n"
                "    protocol_version = 'HTTP/1.1'\n"
                "    def do_GET(self):\n"
                "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')\n"
                "    def do_HEAD(self):\n"
                "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
                "    def do_POST(self):\n"
                "        n = int(self.headers.get('Content-Length', 0)); b = self.rfile.read(n)\n"
                "        self.send_response(200); self.send_header('Content-Length', str(n)); self.end_headers(); self.wfile.write(b)\n"
                "    def log_message(self, *a): pass\n"
                "http.server.ThreadingHTTPServer(('127.0.0.1', %d), H).serve_forever()\n" % up)
    wd = watchdog({**SHORT_TIMEOUTS, "mode": "http", "fprocess": "%s %s" % (sys.executable, srv),
                   "upstream_url": "http://127.0.0.1:%d" % up, "read_timeout": "2s"}, ready="healthy")
    fds = wd.baseline()
    rng = random.Random(2)
    for i in range(N):
        if i % 10 == 4:
            continue  # no /fail semantics upstream
        one(wd, rng, i)
    got_fds, _ = wd.settled(fds, timeout=10)
    assert zombies(wd.pid) == []
    # the pooled upstream connections may stay open; nothing else
    assert got_fds <= fds + 64
