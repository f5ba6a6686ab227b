"""max_inflight: the exact 429 of the Go watchdog under real concurrency
(streaming and serializing), /_/ready reporting it, private endpoints and
ready_path calls never counting against it, and the 429s in the metrics."""

import pytest

from harness import Background, expect_limit, wait_until, write_script
from metricsutil import scrape

FN = """#!/bin/sh
case "$Http_Path" in
  /slow) sleep 1.5 ;;
  /ready) touch "$TMPDIR/ready-running"; sleep 1.5 ;;
esac
echo done
"""


@pytest.fixture
def fn(tmp_path):
    return write_script(tmp_path, FN)


def test_second_request_gets_exact_429(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn, "max_inflight": "1"}, metrics=True, ready="healthy") as wd:
        slow = Background(wd, "/slow")
        # /_/ready says 429 while the one allowed request runs ...
        assert wait_until(lambda: wd.request("GET", "/_/ready").status == 429, 3)
        # Go's readiness answer has no body; the limiter's has its text.
        assert wd.request("GET", "/_/ready").body == b""
        # ... a concurrent request is turned away with the Go text ...
        expect_limit(wd.request("POST", "/other", b"body"), 1)
        # ... and health is unaffected.
        r = wd.request("GET", "/_/health")
        assert r.status == 200 and r.body == b"OK"
        r = slow.join()
        assert r.status == 200 and r.body == b"done\n"
        # The slot is free again.
        assert wd.request("GET", "/_/ready").status == 200
        assert wd.request("GET", "/").status == 200


def test_limit_of_two(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn, "max_inflight": "2"}, metrics=True, ready="healthy") as wd:
        first = Background(wd, "/slow")
        second = Background(wd, "/slow")
        assert wait_until(lambda: wd.request("GET", "/_/ready").status == 429, 3)
        expect_limit(wd.request("GET", "/"), 2)
        assert first.join().status == 200
        assert second.join().status == 200


@pytest.mark.parametrize("value", ["0", "-1"])
def test_below_one_is_no_limit(watchdog, tmp_path, fn, value):
    # As the Go watchdogs: only max_inflight > 0 installs the limiter.
    with watchdog({"fprocess": fn, "max_inflight": value}, metrics=True, ready="healthy") as wd:
        slow = [Background(wd, "/slow") for _ in range(3)]
        assert wait_until(lambda: wd.request("GET", "/").status == 200, 3)
        assert wd.request("GET", "/_/ready").status == 200
        assert all(b.join().status == 200 for b in slow)


def test_private_endpoints_never_count(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn, "max_inflight": "1"}, metrics=True, ready="healthy") as wd:
        # Many health and ready checks in parallel take no slot.
        checks = [Background(wd, p) for p in ["/_/health", "/_/ready"] * 10]
        for c in checks:
            assert c.join().status == 200
        assert wd.request("GET", "/").status == 200


def test_ready_path_call_takes_no_slot(watchdog, tmp_path, fn):
    env = {"fprocess": fn, "max_inflight": "1", "ready_path": "/ready"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        ready = Background(wd, "/_/ready")  # the function sleeps at /ready
        assert wait_until((wd.tmpdir / "ready-running").exists, 3)
        # While the readiness call runs, a function request still gets the slot.
        r = wd.request("GET", "/")
        assert r.status == 200 and r.body == b"done\n"
        r = ready.join()
        assert r.status == 200 and r.body == b"done\n"


@pytest.mark.parametrize("size,chunked,kept,says_close", [
    (100_000, False, True, False), (300_000, False, False, True),
    (100_000, True, True, False), (400_000, True, False, False)])
def test_429_drops_a_small_unread_body_and_keeps_the_connection(watchdog, fn, size, chunked, kept,
                                                                  says_close):
    """As Go's server: up to 256 KiB of a body that the answer did not need
    is read and dropped, and the connection serves the next request; with
    more left, it is closed after the answer, and the answer says so when
    the length was announced (a chunked body's is learnt by reading it)."""
    with watchdog({"fprocess": fn, "max_inflight": "1"}, ready="healthy") as wd:
        slow = Background(wd, "/slow")
        assert wait_until(lambda: wd.request("GET", "/_/ready").status == 429, 3)
        with wd.conn() as c:
            if chunked:
                c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"%x\r\n" % size + b"x" * size + b"\r\n0\r\n\r\n")
            else:
                c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
            r = c.read_response(timeout=10)
            expect_limit(r, 1)
            assert (r.header("Connection") == "close") is says_close
            if kept:
                c.send(b"GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n")
                r = c.read_response(timeout=10)
                assert r.status == 200 and r.body == b"OK"
            else:
                assert c.wait_closed(timeout=10)
        assert slow.join().status == 200


def test_max_inflight_429(watchdog):
    wd = watchdog({"fprocess": "cat", "max_inflight": "1"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nping\n\r\n")
        c.read_until(b"ping\n", timeout=5)
        r = wd.request("POST", "/", b"second")
        assert r.status == 429
        assert r.header("Content-Type", "").startswith("text/plain")
        assert r.header("X-OpenFaaS-Internal") == "faas-middleware"
        assert r.body == b"Concurrent request limit exceeded. Max concurrent requests: 1\n"
        c.send(b"0\r\n\r\n")
        c.read_until(b"0\r\n\r\n", timeout=5)
    assert wait_until(lambda: wd.request("POST", "/", b"third").status == 200, 3)


def test_max_inflight_429_serializing(watchdog):
    wd = watchdog({"fprocess": "sleep 2", "max_inflight": "1", "mode": "serializing"})
    c = wd.conn()
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        wd.wait_descendants(3)
        r = wd.request("GET", "/")
        assert r.status == 429
        assert r.body == b"Concurrent request limit exceeded. Max concurrent requests: 1\n"
        assert c.read_response(timeout=10).status == 200
    finally:
        c.close()


def test_limit_rejections_counted_as_429(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn, "max_inflight": "1"}, metrics=True, ready="healthy") as wd:
        slow = Background(wd, "/slow")
        assert wait_until(lambda: wd.request("GET", "/_/ready").status == 429, 3)
        assert wd.request("POST", "/", b"x").status == 429
        assert slow.join().status == 200
        _, fams = scrape(wd)
        assert fams["http_requests_total"].value(code="429", method="post") == 1
        assert fams["http_requests_total"].value(code="200", method="get") == 1
        assert fams["http_requests_in_flight"].value() == 0
