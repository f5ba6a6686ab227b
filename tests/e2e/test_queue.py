"""max_queue and queue_timeout: requests over max_inflight wait first in,
first out instead of getting 429; a full queue or a wait past
queue_timeout still gets the limiter's exact 429; a client that goes away
leaves the queue at once; /_/ready says 429 only when the queue is full;
the queue's depth and wait times are in the metrics. With max_queue=0 (the
default) nothing of this exists (test_inflight.py)."""
import socket
import time

import pytest

from harness import Background, expect_limit, HOST, RawConn, wait_until, write_script
from metricsutil import scrape

# Each call appends its X-Id to a file, then holds its slot for a while.
FN = """#!/bin/sh
echo "$Http_X_Id" >> "$TMPDIR/order"
case "$Http_Path" in
  /slow) sleep 1 ;;
  /long) sleep 3 ;;
esac
cat
"""


@pytest.fixture
def fn(tmp_path):
    return write_script(tmp_path, FN)


def sample(fam, name, **labels):
    """The value of one sample of a family (histograms: _bucket, _count)."""
    for n, l, v in fam.samples:
        if n == name and l == labels:
            return v
    raise AssertionError(f"no sample {name} {labels} in {fam.samples}")


def queue_depth(wd):
    _, fams = scrape(wd)
    return fams["fwatchdog_queue_depth"].value()


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_queued_requests_run_in_arrival_order(watchdog, fn, mode):
    env = {"mode": mode, "fprocess": fn, "max_inflight": "1", "max_queue": "3"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        first = Background(wd, "/slow", headers={"X-Id": "a"})
        assert wait_until(lambda: (wd.tmpdir / "order").exists(), 5)
        queued = []
        for ident in "bcd":
            queued.append(Background(wd, "/", method="POST", body=ident.encode() * 1000,
                                     headers={"X-Id": ident}))
            assert wait_until(lambda: queue_depth(wd) == len(queued), 5)
        # the queue is full: the next is turned away at once, as without one
        expect_limit(wd.request("GET", "/", headers={"X-Id": "e"}), 1)
        assert first.join().status == 200
        for ident, bg in zip("bcd", queued):
            r = bg.join()
            # the body sent while queued reached the function whole
            assert r.status == 200 and r.body == ident.encode() * 1000, r
        assert (wd.tmpdir / "order").read_text().split() == ["a", "b", "c", "d"]
        _, fams = scrape(wd)
        assert fams["fwatchdog_queue_depth"].value() == 0
        assert sample(fams["fwatchdog_queue_wait_seconds"], "fwatchdog_queue_wait_seconds_count") == 3
        assert fams["http_requests_total"].value(code="200", method="post") == 3
        assert fams["http_requests_total"].value(code="429", method="get") == 1


def test_queue_timeout_gives_the_limiters_429(watchdog, fn):
    env = {"fprocess": fn, "max_inflight": "1", "max_queue": "2", "queue_timeout": "300ms"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        first = Background(wd, "/long", headers={"X-Id": "a"})
        assert wait_until(lambda: (wd.tmpdir / "order").exists(), 5)
        t0 = time.monotonic()
        r = wd.request("GET", "/", headers={"X-Id": "b"})
        waited = time.monotonic() - t0
        expect_limit(r, 1)
        # turned away at queue_timeout, not when the running request ended
        assert waited < 2.5, waited
        assert first.join().status == 200
        assert (wd.tmpdir / "order").read_text().split() == ["a"]
        _, fams = scrape(wd)
        assert fams["fwatchdog_queue_depth"].value() == 0
        assert sample(fams["fwatchdog_queue_wait_seconds"], "fwatchdog_queue_wait_seconds_count") == 1
        assert sample(fams["fwatchdog_queue_wait_seconds"], "fwatchdog_queue_wait_seconds_bucket", le="0.25") == 0
        assert sample(fams["fwatchdog_queue_wait_seconds"], "fwatchdog_queue_wait_seconds_bucket", le="0.5") == 1


def test_client_that_leaves_the_queue_leaves_at_once(watchdog, fn):
    env = {"fprocess": fn, "max_inflight": "1", "max_queue": "1"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        first = Background(wd, "/long", headers={"X-Id": "a"})
        assert wait_until(lambda: (wd.tmpdir / "order").exists(), 5)
        with RawConn(wd.port) as c:
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\nX-Id: gone\r\nContent-Length: 5\r\n\r\n")
            assert wait_until(lambda: queue_depth(wd) == 1, 5)
            # full: /_/ready says so
            assert wd.request("GET", "/_/ready").status == 429
        # gone while the first request still runs: its place is free again
        assert wait_until(lambda: queue_depth(wd) == 0, 1.5)
        assert wd.request("GET", "/_/ready").status == 200
        later = Background(wd, "/", headers={"X-Id": "b"})
        r = later.join()
        assert r.status == 200
        assert first.join().status == 200
        # the client that left never reached the function
        assert (wd.tmpdir / "order").read_text().split() == ["a", "b"]


def test_ready_is_200_while_the_queue_has_room(watchdog, fn):
    env = {"fprocess": fn, "max_inflight": "1", "max_queue": "1"}
    with watchdog(env, ready="healthy") as wd:
        first = Background(wd, "/slow", headers={"X-Id": "a"})
        assert wait_until(lambda: (wd.tmpdir / "order").exists(), 5)
        r = wd.request("GET", "/_/ready")
        assert r.status == 200 and r.body == b""
        assert first.join().status == 200


def test_expect_continue_waits_for_the_slot(watchdog, fn):
    env = {"fprocess": fn, "max_inflight": "1", "max_queue": "1"}
    with watchdog(env, ready="healthy") as wd:
        first = Background(wd, "/slow", headers={"X-Id": "a"})
        assert wait_until(lambda: (wd.tmpdir / "order").exists(), 5)
        with RawConn(wd.port) as c:
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\nX-Id: b\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 4\r\n\r\n")
            # no 100 Continue while queued
            with pytest.raises((socket.timeout, TimeoutError)):
                c.read_some(timeout=0.3)
            got = c.read_until(b"\r\n\r\n", timeout=5)
            assert got.startswith(b"HTTP/1.1 100 Continue\r\n"), got
            c.send(b"body")
            r = c.read_response()
            assert r.status == 200 and r.body == b"body"
        assert first.join().status == 200


def test_queued_requests_in_http_mode(watchdog, tmp_path):
    from harness import http_env
    env = http_env(max_inflight="1", max_queue="2")
    with watchdog(env, ready="healthy") as wd:
        slow = Background(wd, "/slow?ms=800", headers={"X-Id": "a"})
        time.sleep(0.2)
        body = b"x" * 100000
        queued = Background(wd, "/upload", headers={"X-Id": "b"}, body=body, method="POST")
        assert slow.join().status == 200
        r = queued.join()
        assert r.status == 200, r
        assert str(len(body)).encode() in r.body
