"""http mode: the watchdog as a reverse proxy in front of a long-lived
function server (tests/e2e/upstreams/app.py)."""
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import threading
import time

import pytest

from harness import (SANITIZED, Watchdog, free_port, http_env, http_watchdog, post_in_pieces,
                     status_of, upstream_cmd, wait_until)

MiB = 1 << 20


def echo(wd, method="GET", path="/echo", body=None, headers=None):
    status, hdrs, data = wd.request(method, path, body=body, headers=headers)
    assert status == 200, data
    return json.loads(data), hdrs


def header_values(echoed, name):
    return [v for k, v in echoed["headers"] if k.lower() == name.lower()]


# ---- proxying ----

def test_echo_method_path_headers_body(tmp_path):
    with http_watchdog(tmp_path) as wd:
        out, hdrs = echo(wd, "PUT", "/echo/a%20b?x=1&y=2", body=b"payload",
                         headers={"X-Custom": "v1", "Content-Type": "text/plain"})
        assert out["method"] == "PUT"
        assert out["path"] == "/echo/a%20b?x=1&y=2"
        assert out["body"] == "payload"
        assert header_values(out, "X-Custom") == ["v1"]
        assert header_values(out, "Content-Length") == ["7"]
        assert header_values(out, "Transfer-Encoding") == []
        assert header_values(out, "Host") == ["127.0.0.1:%d" % wd.port]
        # as the Go watchdog, no X-Forwarded-* of our own
        assert header_values(out, "X-Forwarded-Host") == []
        assert header_values(out, "X-Forwarded-For") == []
        assert float(hdrs["x-duration-seconds"]) >= 0


@pytest.mark.parametrize("prefix,path", [("/api", "/api/echo?q=1"), ("/api/", "/api//echo?q=1"),
                                         ("/", "//echo?q=1")])
def test_prefix_is_prepended(tmp_path, prefix, path):
    # upstream_url + the request-target, as written: a trailing slash
    # doubles, as from the Go watchdog.
    up = free_port()
    with http_watchdog(tmp_path, fprocess=upstream_cmd(up),
                       upstream_url="http://127.0.0.1:%d%s" % (up, prefix)) as wd:
        out, _ = echo(wd, path="/echo?q=1")
        assert out["target"] == path
        # a request for an event stream too, where the newest Go watchdog's
        # reverse proxy leaves the prefix out
        out, _ = echo(wd, path="/echo?q=1", headers={"Accept": "text/event-stream"})
        assert out["target"] == path
        assert header_values(out, "X-Forwarded-For") == ["127.0.0.1"]


def test_hop_by_hop_headers_dropped(tmp_path):
    with http_watchdog(tmp_path) as wd:
        out, _ = echo(wd, headers={
            "Connection": "keep-alive, X-Private", "X-Private": "secret", "Keep-Alive": "timeout=5",
            "TE": "trailers", "Trailer": "X-T", "Proxy-Authorization": "Basic x", "Proxy": "http://evil",
            "X-Forwarded-For": "10.0.0.1", "X-Kept": "yes"})
        names = {k.lower() for k, _ in out["headers"]}
        for gone in ("connection", "x-private", "keep-alive", "te", "trailer",
                     "proxy-authorization", "proxy"):
            assert gone not in names, out["headers"]
        assert header_values(out, "X-Kept") == ["yes"]
        # the client's own X-Forwarded-For passes unchanged
        assert header_values(out, "X-Forwarded-For") == ["10.0.0.1"]


def test_status_and_headers_pass_through(tmp_path):
    with http_watchdog(tmp_path) as wd:
        for code in (201, 404, 418, 500, 503):
            status, hdrs, body = wd.request("GET", "/status/%d" % code)
            assert status == code
            assert hdrs["x-custom"] == "yes"
            assert body == b"status %d\n" % code
            assert "x-duration-seconds" in hdrs
        status, hdrs, body = wd.request("GET", "/status/204")
        assert status == 204 and body == b"" and hdrs["x-custom"] == "yes"


def test_head_request(tmp_path):
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        c.request("HEAD", "/big?n=12345")
        r = c.getresponse()
        assert r.status == 200
        assert r.getheader("Content-Length") == "12345"
        assert r.read() == b""
        # the connection is still usable
        c.request("GET", "/status/200")
        assert c.getresponse().read() == b"status 200\n"
        c.close()


UNSOLICITED = 'Unsolicited response received on idle HTTP channel starting with "%s"; err=<nil>$'


@pytest.mark.parametrize("path", ["/headbody", "/headbody?ms=100"])
def test_body_to_a_head_is_logged_as_go_logs_it(tmp_path, path):
    """A function that answers HEAD with a body, with its head or after it:
    the client gets the head alone, the bytes are logged as Go's client
    logs them, and the connection that carried them is not used again (the
    requests after it would read them as their answer)."""
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        c.request("HEAD", path)
        r = c.getresponse()
        assert r.status == 200 and r.getheader("Content-Length") == "6"
        assert r.read() == b""
        for _ in range(3):
            c.request("GET", "/status/200")
            assert c.getresponse().read() == b"status 200\n"
        c.close()
        wd.wait_log(UNSOLICITED % r"hello\\n")


def test_bytes_past_the_answer_are_logged_as_go_logs_them(tmp_path):
    with http_watchdog(tmp_path) as wd:
        status, _, body = wd.request("GET", "/extra")
        assert status == 200 and body == b"hello\n"
        wd.wait_log(UNSOLICITED % "junk")
        assert wd.request("GET", "/status/200")[2] == b"status 200\n"


@pytest.mark.parametrize("kind,n", [("chunked", 0), ("length", 6), ("length", 3000),
                                    ("length", 4000), ("length", 10000), ("length", 200000),
                                    ("close", 0)])
def test_answers_read_whole_with_their_head(tmp_path, kind, n):
    """A function that writes its whole answer at once (head and body in
    one read, or the body running on past it): every byte reaches the
    client, and the connection serves the next answers."""
    block = b"0123456789abcdef" * 4096
    want = {"chunked": b"one\ntwo\nthree\n", "close": b"until the close\n"}.get(
        kind, (block * (n // len(block) + 1))[:n])
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        for _ in range(3):
            c.request("GET", "/oneread?kind=%s&n=%d" % (kind, n))
            r = c.getresponse()
            assert (r.status, r.read()) == (200, want)
            c.request("GET", "/status/200")
            assert c.getresponse().read() == b"status 200\n"
        c.close()


def test_head_answers_hold_few_sockets_briefly(tmp_path):
    """The connections kept to see whether a HEAD answer's body follows are
    at most 8 at a time, and close within a second or two."""
    with http_watchdog(tmp_path) as wd:
        # one pooled connection to the function, then each HEAD takes it or
        # opens one, which is kept after the answer or closed
        assert wd.request("GET", "/status/200")[0] == 200
        base = wd.fd_count()
        for _ in range(40):
            assert wd.request("HEAD", "/big?n=100")[0] == 200
        # the 8 kept, and one more: under qemu-user a descriptor of its own
        # may be open for a moment
        assert wd.fd_count() <= base + 8, base
        # base may still hold the first client's connection, closing
        seen = []
        assert wait_until(lambda: seen.append(wd.fd_count()) or seen[-1] <= base - 1, 5), (base, seen[-1])


def test_keep_alive_many_requests_one_connection(tmp_path):
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        for i in range(50):
            c.request("POST", "/echo", body=b"n%d" % i)
            out = json.loads(c.getresponse().read())
            assert out["body"] == "n%d" % i
        c.close()


def test_close_delimited_upstream_body(tmp_path):
    with http_watchdog(tmp_path) as wd:
        status, hdrs, body = wd.request("GET", "/close")
        assert status == 200
        assert body == b"until the close\n" * 100


def test_chunked_upload_stays_chunked(tmp_path):
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        parts = [b"a" * 1000, b"b" * 70000, b"c"]
        c.request("POST", "/upload", body=iter(parts), encode_chunked=True)
        out = json.loads(c.getresponse().read())
        c.close()
        assert out["size"] == 71001
        assert out["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
        assert out["transfer_encoding"] == "chunked"
        assert out["content_length"] is None


def test_buffered_body_gets_content_length(tmp_path):
    with http_watchdog(tmp_path, http_buffer_req_body="true") as wd:
        c = wd.http_conn()
        parts = [b"x" * 5000, b"y" * 5000]
        c.request("POST", "/upload", body=iter(parts), encode_chunked=True)
        out = json.loads(c.getresponse().read())
        c.close()
        assert out["size"] == 10000
        assert out["transfer_encoding"] is None
        assert out["content_length"] == "10000"


def test_sse_streams_in_real_time(tmp_path):
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        t0 = time.monotonic()
        c.request("GET", "/sse?n=5&ms=300")  # no Accept header
        r = c.getresponse()
        assert r.status == 200
        assert r.getheader("Content-Type") == "text/event-stream"
        arrivals = []
        buf = b""
        while len(arrivals) < 5:
            piece = r.read1(65536)
            if not piece:
                break
            buf += piece
            while b"\n\n" in buf:
                _, buf = buf.split(b"\n\n", 1)
                arrivals.append(time.monotonic() - t0)
        c.close()
        assert len(arrivals) == 5
        # the last event is sent 1.2 s after the first
        assert arrivals[-1] >= 1.1
        assert arrivals[0] < 0.5, arrivals
        assert arrivals[1] < 0.8, arrivals


def test_large_bodies_both_ways_small_rss(tmp_path):
    size = 100 * MiB
    with http_watchdog(tmp_path) as wd:
        block = bytes(range(256)) * 256  # 64 KiB
        h = hashlib.sha256()

        def gen():
            for _ in range(size // len(block)):
                h.update(block)
                yield block
        c = wd.http_conn(timeout=60)
        c.request("POST", "/upload", body=gen(), headers={"Content-Length": str(size)})
        out = json.loads(c.getresponse().read())
        assert out["size"] == size
        assert out["sha256"] == h.hexdigest()
        assert out["content_length"] == str(size)

        c.request("GET", "/big?n=%d" % size)
        r = c.getresponse()
        got = 0
        while True:
            piece = r.read(1 << 20)
            if not piece:
                break
            got += len(piece)
        c.close()
        assert got == size
        peak = wd.peak_rss_kib()
        # Under qemu-user the figure is qemu's too, its translated code
        # included (16,388 KiB seen once on arm64): a wider bound there,
        # which a body held whole (100 MiB) would still pass far beyond.
        limit = 48 * 1024 if wd.emulated() else 16 * 1024
        if not SANITIZED:
            assert peak < limit, "peak RSS %d KiB" % peak


def test_upgrade_tunnel(tmp_path):
    with http_watchdog(tmp_path) as wd:
        s = socket.create_connection(("127.0.0.1", wd.port), timeout=5)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: test-proto\r\n"
                  b"Connection: Upgrade\r\n\r\nearly")
        head = b""
        while b"\r\n\r\n" not in head:
            piece = s.recv(4096)
            assert piece, head
            head += piece
        head, rest = head.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101")
        assert b"upgrade: test-proto" in head.lower()
        got = rest
        while len(got) < 5:
            got += s.recv(4096)
        assert got == b"EARLY"
        for msg in (b"hello", b"x" * 300000):
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                piece = s.recv(65536)
                assert piece
                got += piece
            assert got == msg.upper()
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        assert s.recv(10) == b""
        s.close()
        assert wd.request("GET", "/status/200")[0] == 200


def test_upgrade_refused_keeps_the_connection(tmp_path):
    # The upstream answers an upgrade request as any other: the client's
    # connection stays HTTP, and what follows on it is the next request.
    with http_watchdog(tmp_path) as wd:
        c = wd.conn()
        c.send("GET /status/200 HTTP/1.1\r\nHost: x\r\nUpgrade: test-proto\r\n"
               "Connection: Upgrade\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200
        assert c.read_response().status == 201
        c.send("GET /status/202 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 202


def test_upstream_listening_late(tmp_path):
    results = []
    with http_watchdog(tmp_path, upstream_args=("--delay", "1"), healthy=False) as wd:
        assert wait_until(lambda: wd.health() is not None, 5)
        t0 = time.monotonic()
        assert wd.health() == 503
        assert not wd.lock_path.exists()

        def early():
            results.append(wd.request("GET", "/status/200", timeout=10))
        th = threading.Thread(target=early)
        th.start()
        wd.wait_healthy(5)
        ready_after = time.monotonic() - t0
        th.join(10)
        assert results and results[0][0] == 200, results
        assert wd.lock_path.exists()
        assert ready_after > 0.5


def test_function_stdin_stays_open(tmp_path):
    # As of-watchdog gives it: a pipe nothing is written to, so a function
    # that reads its stdin waits instead of ending at EOF.
    up = free_port()
    fn = "sh -c '%s & read line; echo stdin-ended >&2; kill $!'" % upstream_cmd(up)
    with http_watchdog(tmp_path, fprocess=fn, upstream_url="http://127.0.0.1:%d" % up) as wd:
        time.sleep(0.5)
        assert wd.request("GET", "/status/200")[0] == 200
        assert not [l for l in wd.stderr_lines() if l.endswith("stdin-ended")], wd.stderr()
        kid = wd.function_pid()
        assert os.readlink("/proc/%d/fd/0" % kid).startswith("pipe:")


def test_ready_path_forwards(tmp_path):
    with http_watchdog(tmp_path, ready_path="/ready") as wd:
        status, _, body = wd.request("GET", "/_/ready")
        assert status == 200 and body == b"ready-ok\n"


def test_idle_keep_alive_closed_by_upstream(tmp_path):
    with http_watchdog(tmp_path, upstream_args=("--idle-timeout", "0.2")) as wd:
        c = wd.http_conn()
        for pause in (0, 0.3, 0.19, 0.21, 0.5, 0.2):
            time.sleep(pause)
            c.request("GET", "/status/200")
            r = c.getresponse()
            assert r.status == 200, r.read()
            r.read()
        c.close()
        assert "Upstream HTTP request error" not in wd.stderr()


# ---- errors ----

def _internal(hdrs):
    return hdrs.get("x-openfaas-internal") == "of-watchdog"


def test_answer_before_the_body_ends(tmp_path):
    """The upstream answers without reading a 64 MiB body: the client can
    still send all of it and reads the answer, not a reset."""
    with http_watchdog(tmp_path) as wd:
        st, body, err = post_in_pieces(wd.port, "/slow?ms=300", 64 * MiB, MiB, 0)
        assert err is None, "the client met %r" % err
        assert st == 200 and body == b"slow done\n"
        # and the watchdog goes on serving
        out, _ = echo(wd, "POST", "/echo", body=b"after")
        assert out["body"] == "after"


def test_answer_before_a_paused_body_ends(tmp_path):
    """The upstream reads nothing, so the body backs up until the watchdog
    pauses it; then it answers and keeps the connection. Once the answer is
    out the client can still send all 64 MiB and read it."""
    with http_watchdog(tmp_path) as wd:
        st, body, err = post_in_pieces(wd.port, "/early?ms=1000", 64 * MiB, MiB, 0)
        assert err is None, "the client met %r" % err
        assert st == 200 and body == b"early\n"


def test_500_on_reset_before_response(tmp_path):
    """A function that hangs up without answering is at fault: 500, as
    under Go (502 is for one that cannot be reached)."""
    with http_watchdog(tmp_path) as wd:
        status, hdrs, body = wd.request("GET", "/reset")
        assert status == 500 and _internal(hdrs)
        assert body == b"" and "x-duration-seconds" in hdrs  # Go's error answers are empty
        assert wd.request("GET", "/status/200")[0] == 200


def test_error_when_upstream_stops_listening(tmp_path):
    """A connection the pool holds may sit in the closed socket's backlog:
    it is reset after the request went out (500, the function hung up), or
    there is none and the connect fails (502, unreachable)."""
    with http_watchdog(tmp_path) as wd:
        assert wd.request("GET", "/unlisten")[0] == 200
        status, hdrs, _ = wd.request("GET", "/status/200")
        assert _internal(hdrs)
        why = {500: "the function closed the connection without a response",
               502: "cannot connect to the function"}
        assert status in why
        wd.wait_log("Upstream HTTP request error: " + why[status])


def test_504_on_exec_timeout(tmp_path):
    with http_watchdog(tmp_path, exec_timeout="500ms") as wd:
        t0 = time.monotonic()
        status, hdrs, body = wd.request("GET", "/slow?ms=3000")
        took = time.monotonic() - t0
        assert status == 504 and _internal(hdrs)
        assert body == b""
        assert 0.4 < took < 2


def test_x_timeout_shortens(tmp_path):
    with http_watchdog(tmp_path, exec_timeout="10s") as wd:
        t0 = time.monotonic()
        status, hdrs, _ = wd.request("GET", "/slow?ms=3000", headers={"X-Timeout": "300ms"})
        assert status == 504 and _internal(hdrs)
        assert time.monotonic() - t0 < 2
        # longer than exec_timeout: ignored; bare integers are seconds
        status, _, _ = wd.request("GET", "/slow?ms=200", headers={"X-Timeout": "100"})
        assert status == 200


def test_timeout_after_start_truncates(tmp_path):
    with http_watchdog(tmp_path, exec_timeout="700ms") as wd:
        c = wd.http_conn()
        c.request("GET", "/sse?n=10&ms=300")
        r = c.getresponse()
        assert r.status == 200
        with pytest.raises(http.client.IncompleteRead):
            r.read()
        c.close()


def test_upstream_failure_mid_body_truncates(tmp_path):
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn()
        c.request("GET", "/truncate")
        r = c.getresponse()
        assert r.status == 200
        with pytest.raises(http.client.IncompleteRead):
            r.read()
        c.close()


# ---- lifecycle ----

def ask_to_exit(wd, code):
    """GET /exit?code=N: the upstream exits without answering, so the
    client sees a 500, a 502 (a retry on a fresh connection found nothing
    listening) or the connection closed."""
    try:
        status = wd.request("GET", "/exit?code=%d" % code, timeout=5).status
    except (http.client.HTTPException, OSError):
        status = None
    assert status in (None, 500, 502)


def test_function_exit_code_becomes_watchdog_exit_code(tmp_path):
    with http_watchdog(tmp_path) as wd:
        ask_to_exit(wd, 7)
        assert wd.wait_exit(10) == 7
        # of-watchdog's line (it exits 1)
        wd.wait_log(r"^\S+ \S+ Forked function has terminated: exit status 7$")


def test_function_killed_watchdog_exits_128_plus_signal(tmp_path):
    with http_watchdog(tmp_path) as wd:
        pid = wd.function_pid()
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: wd.health() != 200 or wd.proc.poll() is not None, 5)
        assert wd.wait_exit(10) == 137
        wd.wait_log(r"^\S+ \S+ Forked function has terminated: signal: killed$")


def test_sigterm_drains_then_stops_function(tmp_path):
    with http_watchdog(tmp_path, healthcheck_interval="2s") as wd:
        pid = wd.function_pid()
        results = []

        def slow():
            results.append(wd.request("GET", "/slow?ms=1000"))
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.2)
        wd.proc.send_signal(signal.SIGTERM)
        th.join(10)
        assert results and results[0][0] == 200
        assert wd.wait_exit(15) == 0
        assert wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                          open("/proc/%d/stat" % pid).read().split()[2] == "Z", 5)
        wd.wait_log(r"^\S+ \S+ Function process stopped: signal: terminated$")


def test_function_output_logged(tmp_path):
    with http_watchdog(tmp_path) as wd:
        wd.request("GET", "/status/200")
        # as under the Go watchdog: stdout lines to our stdout, stderr to stderr
        out = lambda: open(wd.stdout_path, "rb").read().decode()
        assert wait_until(lambda: "stdout: listening on" in out(), 3), out()
        assert wait_until(lambda: "stderr: request:" in wd.stderr(), 3), wd.stderr()


@pytest.mark.parametrize("var,url,why", [
    ("upstream_url", "http://127.0.0.1", "port"),
    ("upstream_url", "http://127.0.0.1:99999", "port"),
    ("upstream_url", "https://127.0.0.1:8000", "https"),
    ("upstream_url", "http://no-such-host.invalid:8000", "no-such-host"),
    ("upstream_url", "http://127.0.0.1:8000/x?y", "query"),
    ("upstream_url", "http://u@127.0.0.1:8000", "credentials"),
    ("http_upstream_url", "http://[::1:8000", "["),
])
def test_bad_upstream_url_exits_2(watchdog, var, url, why):
    wd = watchdog({"mode": "http", "fprocess": "sleep 100", var: url}, ready=None)
    assert wd.wait_exit(5) == 2
    log = wd.stderr()
    assert ("fwatchdog: %s:" % var) in log and why in log, log


def test_upstream_url_forms_accepted(tmp_path):
    up = free_port()
    for url in ("http://localhost:%d" % up, "http://[::1]:%d/" % up):
        with http_watchdog(tmp_path, healthy=False, fprocess="sleep 30", upstream_url=url) as wd:
            assert wait_until(lambda: wd.health() == 503, 5)
            assert wd.proc.poll() is None


# ---- pooled connections and requests longer than the internal timers ----
# The pool's idle timeout (4 s), the trust window of a recently used idle
# connection (1 s), the linger (2 s) and the drain quiet period (1 s) must
# none of them end or repeat a request that simply takes longer.

SLOW_MS = 5500


def runs_of(wd, tag):
    """How many times the upstream saw a request carrying tag (its own log
    lines, "request: ...", not the watchdog's)."""
    return sum(1 for line in wd.stderr().splitlines()
               if 'request: "' in line and ("id=%s " % tag in line or "id=%s&" % tag in line))


def keepalive_exchange(conn, method, path, body=None):
    conn.request(method, path, body=body)
    r = conn.getresponse()
    return r.status, r.read()


@pytest.mark.parametrize("method,body", [("POST", b"payload"), ("GET", None)],
                         ids=["with-body", "without-body"])
def test_slow_request_on_a_reused_pooled_connection(tmp_path, method, body):
    with http_watchdog(tmp_path) as wd:
        c = wd.http_conn(timeout=SLOW_MS / 1000 + 10)
        try:
            assert keepalive_exchange(c, "POST", "/echo", b"warm")[0] == 200
            time.sleep(0.5)
            t0 = time.monotonic()
            status, data = keepalive_exchange(c, method, "/slow?ms=%d&id=once" % SLOW_MS, body)
            took = time.monotonic() - t0
        finally:
            c.close()
        assert status == 200, data
        assert data == b"slow done\n"
        assert took >= SLOW_MS / 1000 - 0.1
        assert wait_until(lambda: runs_of(wd, "once") >= 1, 5), wd.stderr()
        time.sleep(0.3)
        assert runs_of(wd, "once") == 1, wd.stderr()


def test_slow_and_fast_requests_share_the_pool(tmp_path):
    with http_watchdog(tmp_path) as wd:
        # Fill the pool with a few connections first.
        for i in range(3):
            assert wd.request("POST", "/echo", body=b"warm")[0] == 200
        results = {}

        def slow(tag):
            results[tag] = wd.request("POST", "/slow?ms=%d&id=%s" % (SLOW_MS, tag),
                                      body=b"x" * 100, timeout=SLOW_MS / 1000 + 10)

        threads = [threading.Thread(target=slow, args=("slow%d" % i,)) for i in range(2)]
        for t in threads:
            t.start()
        fast = 0
        deadline = time.monotonic() + SLOW_MS / 1000 - 0.5
        while time.monotonic() < deadline:
            status, _, data = wd.request("POST", "/slow?ms=0&id=fast%d" % fast, body=b"y")
            assert status == 200, data
            fast += 1
            time.sleep(0.2)
        for t in threads:
            t.join(SLOW_MS / 1000 + 15)
        for tag in ("slow0", "slow1"):
            assert results[tag][0] == 200, results[tag]
            assert results[tag][2] == b"slow done\n"
        time.sleep(0.3)
        for tag in ["slow0", "slow1"] + ["fast%d" % i for i in range(fast)]:
            assert runs_of(wd, tag) == 1, (tag, wd.stderr())


# ---- what the Go watchdog's proxy path does ----

@pytest.mark.parametrize("kind,ctype", [
    ("html", "text/html; charset=utf-8"),
    ("text", "text/plain; charset=utf-8"),
    ("empty", None),
    ("bin", "application/octet-stream"),
])
def test_missing_content_type_is_sniffed(tmp_path, kind, ctype):
    # Go's writer sniffs the bytes it writes: none for an empty body or HEAD.
    with http_watchdog(tmp_path) as wd:
        status, hdrs, _ = wd.request("GET", "/notype?kind=%s" % kind)
        assert status == 200
        assert hdrs.get("content-type") == ctype
        status, hdrs, _ = wd.request("HEAD", "/notype?kind=%s" % kind)
        assert "content-type" not in hdrs


def test_bytes_held_for_sniffing_never_reach_the_next_request(tmp_path):
    # The head waits for the body's first bytes, to sniff its type. A
    # client that leaves meanwhile leaves those bytes behind; the next
    # exchange, on the state the first one gave back, starts without them.
    with http_watchdog(tmp_path) as wd:
        with socket.create_connection(("127.0.0.1", wd.port), timeout=5) as s:
            s.sendall(b"GET /notype?kind=html&hold=4000 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(1.0)   # time for the first bytes to arrive, even under emulation
        assert wd.wait_log(r"GET /notype\?kind=html&hold=4000 ", timeout=10)
        status, hdrs, data = wd.request("GET", "/notype?kind=text")
        assert status == 200
        assert hdrs.get("content-type") == "text/plain; charset=utf-8"
        assert data == b"plain words\n"


def test_a_body_held_for_a_late_function_never_reaches_the_next_request(tmp_path):
    # Until the function listens, a request's body is held by the watchdog.
    # A client that leaves meanwhile leaves it behind; the next request, on
    # the state the first one gave back, sends only its own.
    with http_watchdog(tmp_path, upstream_args=("--delay", "3"), healthy=False) as wd:
        assert wait_until(lambda: wd.health() is not None, 5)
        with socket.create_connection(("127.0.0.1", wd.port), timeout=5) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nSTALE")
            time.sleep(1.0)   # time to read it, even under emulation
        time.sleep(0.3)
        status, _, data = wd.request("POST", "/echo", body=b"fresh", timeout=15)
        assert status == 200
        assert json.loads(data)["body"] == "fresh"


def test_no_content_type_sniffed_for_204(tmp_path):
    with http_watchdog(tmp_path) as wd:
        status, hdrs, _ = wd.request("GET", "/notype?kind=empty&code=204")
        assert status == 204 and "content-type" not in hdrs


def test_bodiless_answers_log_the_length_go_s_client_reports(tmp_path):
    # No body (0) for a 204 or 304; to HEAD, whatever the status, the
    # Content-Length the function sent, or -1 for none.
    with http_watchdog(tmp_path) as wd:
        assert wd.request("GET", "/status/204")[0] == 204
        assert wd.request("HEAD", "/status/204")[0] == 204
        assert wd.wait_log(r"GET /status/204 - 204 No Content - ContentLength: 0B")
        assert wd.wait_log(r"HEAD /status/204 - 204 No Content - ContentLength: -1B")


def test_log_line_has_the_status_text_and_the_functions_length(tmp_path):
    with http_watchdog(tmp_path) as wd:
        assert wd.request("GET", "/status/404")[0] == 404
        assert wd.request("GET", "/sse?n=1&ms=1")[0] == 200
        log = wd.stderr()
        assert wait_until(lambda: "GET /sse?n=1&ms=1 - 200 OK - ContentLength: -1B" in wd.stderr(), 5), log
        assert "GET /status/404 - 404 Not Found - ContentLength: 11B" in wd.stderr()


def test_function_stdout_goes_to_the_watchdogs_stdout(tmp_path):
    with http_watchdog(tmp_path) as wd:
        assert wd.request("GET", "/print?msg=hello-stdout")[0] == 200
        out = lambda: open(wd.stdout_path, "rb").read().decode()
        assert wait_until(lambda: "stdout: hello-stdout" in out(), 5), out()
        assert "hello-stdout" not in wd.stderr().replace("/print?msg=hello-stdout", "")


def test_errors_carry_the_duration_and_log_no_request_line(tmp_path):
    with http_watchdog(tmp_path, exec_timeout="500ms") as wd:
        status, hdrs, _ = wd.request("GET", "/slow?ms=2000")
        assert status == 504
        assert float(hdrs["x-duration-seconds"]) >= 0.4
        assert hdrs["x-openfaas-internal"] == "of-watchdog"
        status, hdrs, _ = wd.request("GET", "/reset")
        assert status == 500 and "x-duration-seconds" in hdrs
        time.sleep(0.3)
        assert "GET /slow?ms=2000 - " not in wd.stderr()
        assert "Upstream HTTP killed due to exec_timeout" in wd.stderr()


def test_x_timeout_zero_lifts_the_limit_and_bare_numbers_are_ignored(tmp_path):
    with http_watchdog(tmp_path, exec_timeout="1s") as wd:
        status, _, _ = wd.request("GET", "/slow?ms=1500", headers={"X-Timeout": "0"})
        assert status == 200
        status, _, _ = wd.request("GET", "/slow?ms=1500", headers={"X-Timeout": "5"})
        assert status == 504
        status, _, _ = wd.request("GET", "/slow?ms=800", headers={"X-Timeout": "300ms"})
        assert status == 504
        # a negative duration is not over exec_timeout and, as Go's, no limit;
        # a signed bare number is no Go duration and is ignored
        status, _, _ = wd.request("GET", "/slow?ms=1500", headers={"X-Timeout": "-1s"})
        assert status == 200
        status, _, _ = wd.request("GET", "/slow?ms=1500", headers={"X-Timeout": "+5"})
        assert status == 504


def test_negative_exec_timeout_fails_every_dial_as_go(tmp_path):
    """The Go watchdogs give their client's dialer exec_timeout as its
    timeout, and Go takes a negative one as a deadline already past: every
    request gets a 500 at once, with the dialer's error in the log. A
    request the newest one hands to its reverse proxy is served."""
    with http_watchdog(tmp_path, exec_timeout="-1s") as wd:
        url = wd.env["upstream_url"]
        addr = url[len("http://"):]
        status, hdrs, body = wd.request("POST", "/echo?a=1", body=b"x")
        assert status == 500 and body == b"" and _internal(hdrs)
        assert "x-duration-seconds" in hdrs
        wd.wait_log(re.escape('Upstream HTTP request error: Post "%s/echo?a=1": dial tcp %s: '
                              'i/o timeout' % (url, addr)))
        status, _, body = wd.request("GET", "/echo", headers={"Accept": "text/event-stream"})
        assert status == 200
        assert "POST /echo?a=1 - " not in wd.stderr()


def test_negative_exec_timeout_names_the_lookup_of_a_host_name(tmp_path):
    env = http_env(exec_timeout="-1s")
    port = env["upstream_url"].rsplit(":", 1)[1]
    env["upstream_url"] = "http://localhost:%s/api/" % port
    with Watchdog(env, workdir=tmp_path, ready="healthy") as wd:
        assert wd.request("GET", "/x")[0] == 500
        wd.wait_log(re.escape('Upstream HTTP request error: Get "http://localhost:%s/api//x": '
                              'dial tcp: lookup localhost: i/o timeout' % port))


def test_request_waiting_for_an_upstream_that_never_listens_gets_502(watchdog):
    # the fprocess runs but nothing listens on upstream_url
    wd = watchdog({"mode": "http", "fprocess": "sleep 60",
                   "upstream_url": "http://127.0.0.1:%d" % free_port(),
                   "exec_timeout": "0", "suppress_lock": "true"}, ready=None)
    assert wait_until(lambda: wd.health() is not None, 5)
    t0 = time.monotonic()
    status, hdrs, _ = wd.request("GET", "/", timeout=20)
    took = time.monotonic() - t0
    assert status == 502 and hdrs["x-openfaas-internal"] == "of-watchdog"
    assert 9 <= took < 15, took
    assert "Waiting up to 10s for the function to accept connections" in wd.stderr()


def test_daemonising_fprocess_keeps_serving(tmp_path):
    up = free_port()
    with http_watchdog(tmp_path, fprocess=upstream_cmd(up, "--daemon"),
                       upstream_url="http://127.0.0.1:%d" % up) as wd:
        assert wait_until(lambda: "still accepts connections" in wd.stderr(), 5), wd.stderr()
        for _ in range(3):
            assert wd.request("POST", "/echo", body=b"x")[0] == 200
            time.sleep(0.5)
        assert wd.proc.poll() is None
        # the server goes away: the watchdog exits with the fprocess's code
        ask_to_exit(wd, 0)
        assert wait_until(lambda: wd.proc.poll() is not None, 5), wd.stderr()
        assert wd.proc.returncode == 0


# ---- answers Go's client takes or refuses ----

@pytest.mark.parametrize("values,status,body", [
    ("6,6", 200, b"hello\n"),       # one value repeated counts once, as in Go's client
    ("6,6,6", 200, b"hello\n"),
    ("6,5", 500, b""),              # differing values: the answer cannot be framed
    ("6,06", 500, b""),             # Go compares the values as written
])
def test_repeated_content_length_in_the_answer(tmp_path, values, status, body):
    with http_watchdog(tmp_path) as wd:
        st, hdrs, got = wd.request("GET", "/dupcl?v=" + values)
        assert (st, got) == (status, body)
        if status == 200:
            assert hdrs["content-length"] == "6"
        else:
            assert _internal(hdrs)
            assert wd.wait_log("Upstream HTTP request error: the function sent an invalid HTTP response")
        # the watchdog goes on serving on a fresh or kept connection
        assert wd.request("GET", "/status/200")[0] == 200


@pytest.mark.parametrize("kind,status,kept,gone", [
    # Go's server drops a field whose name is not a token
    ("names", 200, {"x-ok": "1"}, ("bad name", "name ", "")),
    # a control byte in a value passes, as through Go's client
    ("ctl", 200, {"x-ctl": "a\x01b"}, ()),
    ("nul", 200, {"x-nul": "a\x00b"}, ()),
    # Go's client knows one lone "chunked", and fails the rest
    ("te-gzip", 500, {}, ()),
    ("te-twice", 500, {}, ()),
    # chunked beside a Content-Length frames the body
    ("cl-and-te", 200, {}, ("content-length",)),
    # hop-by-hop headers describe the function's connection, not the client's
    ("hop", 200, {"x-ok": "1"}, ("x-private", "keep-alive", "upgrade")),
    # Go's client reads any name up to its colon; its server drops a name
    # that is not a token, and writes a bare CR in a value as a space
    ("name-bytes", 200, {"x-ok": "1"}, ("x-paren(", "{x}", "x@at")),
    # split: the bad line's name begun in one read, ended in the next
    ("name-bytes&split=50", 200, {"x-ok": "1"}, ("x-paren(", "{x}", "x@at", "x-paren")),
    ("name-bytes&split=67", 200, {"x-ok": "1"}, ("x-paren(", "{x}", "x@at")),
    ("bare-cr", 200, {"x-cr": "a b", "x-cr2": "x   y", "x-ok": "1"}, ()),
    ("bare-cr&split=60", 200, {"x-cr": "a b", "x-cr2": "x   y", "x-ok": "1"}, ()),
    ("bare-cr&split=66", 200, {"x-cr": "a b", "x-cr2": "x   y", "x-ok": "1"}, ()),
    # a CR that starts a value, where llhttp would end the line at the byte
    # after it (and the head at the next CRLF): read as Go's client reads it,
    # with the line cut before the CR, after it and after the byte after it
    ("lead-cr", 200, {"x-a": "c", "x-b": "d", "x-c": "e f", "x-ok": "1"}, ()),
    ("lead-cr&split=48", 200, {"x-a": "c", "x-b": "d", "x-c": "e f", "x-ok": "1"}, ()),
    ("lead-cr&split=49", 200, {"x-a": "c", "x-b": "d", "x-c": "e f", "x-ok": "1"}, ()),
    ("lead-cr&split=50", 200, {"x-a": "c", "x-b": "d", "x-c": "e f", "x-ok": "1"}, ()),
    # continuation lines (obs-fold) join the value with one space
    ("fold", 200, {"x-fold": "a b c", "x-e": "e", "x-ok": "1"}, ()),
    # a line without a colon, and a Content-Length Go cannot read: refused
    ("name-no-colon", 500, {}, ()),
    ("name-no-colon&split=61", 500, {}, ()),
    ("cl-bare-cr", 500, {}, ()),
    # a CR where a line starts, and a byte other than LF: no blank line to
    # Go's client (llhttp 8 would end the head there), the line is refused
    ("line-cr", 500, {}, ()),
    ("line-cr&split=51", 500, {}, ()),
    ("line-cr&split=52", 500, {}, ()),
])
def test_odd_answer_heads_as_go_client_takes_them(tmp_path, kind, status, kept, gone):
    with http_watchdog(tmp_path) as wd:
        data, _ = wd.raw(b"GET /odd?kind=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         % kind.encode(), timeout=5)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert status_of(data) == status, data[:300]
        names = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:]}
        for name, value in kept.items():
            assert names.get(name) == value, lines
        for name in gone:
            assert name not in names, lines
        if status == 200:
            assert body in (b"hello\n", b"6\r\nhello\n\r\n0\r\n\r\n"), body
        else:
            assert wd.wait_log("Upstream HTTP request error: the function sent an invalid HTTP response")
        assert wd.request("GET", "/status/200")[0] == 200


# the chunk's data before a bad CRLF after it reaches the client, as Go's
# client reads it
SIZE_FAULT = ("invalid byte in chunk length", b"hello\n")
DATA_FAULT = ("malformed chunked encoding", b"hello\nabc")


@pytest.mark.parametrize("kind,fault", [
    ("size", SIZE_FAULT),
    # llhttp 8 takes a CR and any byte after it for the CRLF after a size,
    # and any two bytes for the one after a chunk's data
    ("size-cr", SIZE_FAULT),
    # split: cut before the CR, after it, and after the byte after it
    ("size-cr&split=85", SIZE_FAULT),
    ("size-cr&split=86", SIZE_FAULT),
    ("data-cr", DATA_FAULT),
    ("data-cr&split=90", DATA_FAULT),
    ("data-cr&split=91", DATA_FAULT),
    ("data-cr&split=92", DATA_FAULT),
    ("data-bytes", DATA_FAULT),
    ("last-cr", SIZE_FAULT),
])
def test_bad_chunk_in_the_answer_cuts_it(tmp_path, kind, fault):
    """A chunk Go's client cannot read: what came before the fault reaches
    the client, the answer is cut (no last chunk), the line Go logs is
    logged, and the function's connection is not used again."""
    why, passed = fault
    with http_watchdog(tmp_path) as wd:
        data, closed = wd.raw(b"GET /badchunk?kind=%s HTTP/1.1\r\nHost: x\r\n\r\n" % kind.encode(),
                              timeout=5)
        assert closed
        assert status_of(data) == 200, data[:300]
        chunks, complete = read_chunks(data.partition(b"\r\n\r\n")[2])
        assert (chunks, complete) == (passed, False), data[:300]
        assert wd.wait_log("read body err " + why)
        assert wd.request("GET", "/status/200")[0] == 200


def read_chunks(body):
    """The data of a chunked body as far as it goes, and whether its last
    chunk came."""
    out = b""
    while b"\r\n" in body:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out, True
        out, body = out + body[:n], body[n + 2:]
    return out, False


def head_names(data):
    """The header names of a raw answer, as written."""
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1")
    return [ln.split(":", 1)[0] for ln in head.split("\r\n")[1:]]


def test_header_names_go_out_in_go_canonical_case(tmp_path):
    """Go's client reads the function's names into canonical case and its
    server writes them so; the function sees the client's names the same
    way. A client or function that matches a name exactly sees Go's."""
    with http_watchdog(tmp_path) as wd:
        data, _ = wd.raw(b"GET /odd?kind=case HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status_of(data) == 200, data[:300]
        names = head_names(data)
        for name in ("Etag", "X-Lower-Case", "Www-Authenticate", "X_under", "Content-Length"):
            assert name in names, names
        data, _ = wd.raw(b"GET /echo HTTP/1.1\r\nHost: x\r\nx-lower: 1\r\nX-UPPER-CASE: 2\r\n"
                         b"x_under: 3\r\ncontent-TYPE: text/plain\r\nConnection: close\r\n\r\n")
        sent = [k for k, _ in json.loads(data.partition(b"\r\n\r\n")[2])["headers"]]
        for name in ("X-Lower", "X-Upper-Case", "X_under", "Content-Type"):
            assert name in sent, sent
        # the watchdog's own header, as Go's Header().Add writes it
        data, _ = wd.raw(b"GET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\nX-Timeout: 100ms\r\n"
                         b"Connection: close\r\n\r\n")
        assert status_of(data) == 504 and "X-Openfaas-Internal" in head_names(data), data[:300]


@pytest.mark.parametrize("lines,sent", [
    (b"", ["Go-http-client/1.1"]),
    (b"User-Agent: one/1\r\nUser-Agent: two/2\r\n", ["one/1"]),
    (b"User-Agent:\r\n", []),
    (b"User-Agent:\r\nUser-Agent: two/2\r\n", []),
    (b"user-agent: low/1\r\n", ["low/1"]),
])
def test_user_agent_as_go_client_sends_it(tmp_path, lines, sent):
    """Go's client writes the first User-Agent once, none when that one is
    empty, and its own name when the client sent none."""
    with http_watchdog(tmp_path) as wd:
        data, _ = wd.raw(b"GET /echo HTTP/1.1\r\nHost: x\r\n" + lines + b"Connection: close\r\n\r\n")
        assert status_of(data) == 200, data[:300]
        echoed = json.loads(data.partition(b"\r\n\r\n")[2])
        assert header_values(echoed, "User-Agent") == sent


@pytest.mark.parametrize("lines,stream", [
    (b"Accept: text/event-stream\r\n", True),
    (b"Accept: TEXT/Event-Stream; q=1\r\n", True),
    (b"Accept: application/json, application/x-ndjson\r\n", True),
    (b"Upgrade: websocket\r\n", True),
    # Go reads the first Accept only, and compares Upgrade exactly
    (b"Accept: application/json\r\nAccept: text/event-stream\r\n", False),
    (b"Upgrade: WebSocket\r\n", False),
    (b"", False),
])
def test_stream_requests_go_as_through_go_reverse_proxy(tmp_path, lines, stream):
    """The newest Go watchdog hands a request for an event stream, NDJSON or
    a websocket to httputil.ReverseProxy: the function gets X-Forwarded-For
    and no User-Agent of the proxy's own, and the answer has no
    X-Duration-Seconds. Other requests go as from Go's http.Client."""
    with http_watchdog(tmp_path) as wd:
        data, _ = wd.raw(b"GET /echo HTTP/1.1\r\nHost: x\r\n" + lines + b"Connection: close\r\n\r\n")
        assert status_of(data) == 200, data[:300]
        echoed = json.loads(data.partition(b"\r\n\r\n")[2])
        assert header_values(echoed, "X-Forwarded-For") == (["127.0.0.1"] if stream else [])
        assert header_values(echoed, "User-Agent") == ([] if stream else ["Go-http-client/1.1"])
        assert header_values(echoed, "Upgrade") == []
        assert ("X-Duration-Seconds" in head_names(data)) == (not stream)


def test_stream_request_joins_the_clients_forwarded_for(tmp_path):
    """Go's reverse proxy joins the client's X-Forwarded-For values with
    ", " and appends the client's address, in one field; a User-Agent the
    client sent goes as from Go's client."""
    with http_watchdog(tmp_path) as wd:
        data, _ = wd.raw(b"GET /echo HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                         b"X-Forwarded-For: 10.0.0.1\r\nUser-Agent: mine/1\r\n"
                         b"X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nConnection: close\r\n\r\n")
        assert status_of(data) == 200, data[:300]
        echoed = json.loads(data.partition(b"\r\n\r\n")[2])
        assert header_values(echoed, "X-Forwarded-For") == ["10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1"]
        assert header_values(echoed, "User-Agent") == ["mine/1"]


def test_500_on_an_answer_that_is_not_http(tmp_path):
    with http_watchdog(tmp_path) as wd:
        st, hdrs, body = wd.request("GET", "/garbage")
        assert st == 500 and _internal(hdrs) and body == b""
        assert "x-duration-seconds" in hdrs
        assert wd.request("GET", "/status/200")[0] == 200


@pytest.mark.parametrize("buffered", ["false", "true"])
def test_empty_body_length_as_go_client_says_it(tmp_path, buffered):
    """Content-Length: 0 reaches the function for POST, PUT and PATCH, and
    nothing for other methods, whether the client sent the 0 or nothing."""
    with http_watchdog(tmp_path, http_buffer_req_body=buffered) as wd:
        for method in ("POST", "PUT", "PATCH", "GET", "DELETE", "OPTIONS"):
            for sent in ({"Content-Length": "0"}, {}):
                out, _ = echo(wd, method, headers=sent)
                want = ["0"] if method in ("POST", "PUT", "PATCH") else []
                assert header_values(out, "Content-Length") == want, (method, sent, out)
                assert header_values(out, "Transfer-Encoding") == []
