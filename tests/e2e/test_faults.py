"""Faults: clients that go away at every stage, and functions that misbehave.
After each, the watchdog's descriptors and children return to where they
started and no zombie is left."""
import socket
import sys
import time

import pytest

from harness import (SANITIZED, SHORT_TIMEOUTS, connect, free_port, get, post_in_pieces, raw_exchange,
                     status_of, wait_until, write_script, zombies)

MODES = ["streaming", "serializing"]


def check_clean(wd, fds):
    got_fds, kids = wd.settled(fds, timeout=8)
    assert kids == [], "children left: %r" % kids
    assert got_fds == fds, "descriptors: %d, started with %d" % (got_fds, fds)
    assert zombies(wd.pid) == []
    assert wd.alive()


# ---- clients that disconnect ----

@pytest.mark.parametrize("mode", MODES)
def test_disconnect_during_headers(watchdog, mode):
    with watchdog({**SHORT_TIMEOUTS, "mode": mode, "fprocess": "cat"}, ready="healthy") as wd:
        fds = wd.baseline()
        for _ in range(20):
            s = connect(wd.port)
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
            s.close()
        check_clean(wd, fds)
        assert get(wd.port, "/", body=b"x")[0] == 200


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_during_body(watchdog, mode):
    with watchdog({**SHORT_TIMEOUTS, "mode": mode, "fprocess": "cat"}, ready="healthy") as wd:
        fds = wd.baseline()
        for _ in range(20):
            s = connect(wd.port)
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
            time.sleep(0.01)
            s.close()
        check_clean(wd, fds)
        assert get(wd.port, "/", body=b"x")[0] == 200


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_during_function_run(watchdog, mode):
    # As under the Go watchdog a function outlives its client; the exec
    # timeout still ends it.
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "sleep 30", "exec_timeout": "2s"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        socks = []
        for _ in range(5):
            s = connect(wd.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        assert wait_until(lambda: len(wd.children()) == 5, timeout=5)
        for s in socks:
            s.close()
        time.sleep(1)
        assert len(wd.children()) == 5, "functions killed when their clients went away"
        # ... and killed at exec_timeout, reaped, their descriptors closed
        check_clean(wd, fds)


def test_disconnect_during_response(watchdog):
    env = {**SHORT_TIMEOUTS, "mode": "streaming", "fprocess": "head -c 200000000 /dev/zero"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        for _ in range(5):
            s = connect(wd.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # reset mid-body
        check_clean(wd, fds)
        assert get(wd.port, "/x", method="HEAD")[0] == 200


def test_disconnect_during_serialized_response(watchdog):
    env = {**SHORT_TIMEOUTS, "mode": "serializing", "fprocess": "head -c 20000000 /dev/zero"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        for _ in range(3):
            s = connect(wd.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)
            s.close()
        check_clean(wd, fds)


# ---- functions that misbehave ----

@pytest.mark.parametrize("mode", MODES)
def test_function_exits_without_reading_stdin(watchdog, mode):
    """The body cannot be written (EPIPE): no SIGPIPE death, an answer."""
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "sh -c 'echo early'"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        for _ in range(10):
            st, _, body = get(wd.port, "/", body=b"x" * (4 * 1024 * 1024), timeout=15)
            assert st == 200 and body == b"early\n"
        st, _, body = get(wd.port, "/", body=b"x" * 10)
        assert st == 200
        check_clean(wd, fds)


def test_answer_before_a_paused_body_lets_the_client_finish(watchdog):
    """The function reads nothing, so the body backs up and is paused; then
    it answers and exits. The client, still sending its 64 MiB, gets to send
    all of it and then reads the answer: no reset, nothing lost."""
    env = {**SHORT_TIMEOUTS, "mode": "streaming", "fprocess": "sh -c 'sleep 0.3; echo early'"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        st, body, err = post_in_pieces(wd.port, "/", 64 << 20, 1 << 20, 0)
        assert err is None, "the client met %r" % err
        assert st == 200 and b"early" in body
        check_clean(wd, fds)


def test_slow_body_after_the_answer_is_still_read(watchdog):
    """Answered at once while the body takes 3 s to arrive, longer than the
    2 s the watchdog waits for a quiet client: each piece restarts the wait."""
    env = {**SHORT_TIMEOUTS, "mode": "streaming", "fprocess": "echo early"}
    with watchdog(env, ready="healthy") as wd:
        st, body, err = post_in_pieces(wd.port, "/", 6 << 20, 1 << 20, 0.5)
        assert err is None, "the client met %r" % err
        assert st == 200 and b"early" in body


def test_dropping_a_body_stops_at_read_timeout(watchdog):
    """A client that never stops sending after the answer is cut off once
    the request's read_timeout has passed."""
    env = {**SHORT_TIMEOUTS, "mode": "streaming", "fprocess": "echo early", "read_timeout": "2s"}
    with watchdog(env, ready="healthy") as wd:
        t0 = time.monotonic()
        _, _, err = post_in_pieces(wd.port, "/", 1 << 30, 64 << 10, 0.1, timeout=10)
        elapsed = time.monotonic() - t0
        assert err is not None, "a 1 GiB body at 640 KiB/s was read to its end"
        assert elapsed < 6, "cut off after %.1fs with read_timeout=2s" % elapsed
        assert wd.alive()


@pytest.mark.parametrize("mode", MODES)
def test_function_exits_nonzero_without_reading(watchdog, mode):
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "sh -c 'exit 3'"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        st, _, body = get(wd.port, "/", body=b"x" * (2 * 1024 * 1024), timeout=15)
        assert st == 500 and b"exit status 3" in body
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_closes_stdout_keeps_running(watchdog, mode):
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "sh -c 'exec >&-; sleep 1'"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        t0 = time.monotonic()
        st, _, body = get(wd.port, "/", body=b"x", timeout=10)
        assert st == 200 and body == b""
        assert time.monotonic() - t0 >= 0.9
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_closes_stdout_then_times_out(watchdog, mode):
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "sh -c 'exec >&-; sleep 30'",
           "exec_timeout": "1s"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        t0 = time.monotonic()
        st, _, _ = get(wd.port, "/", body=b"x", timeout=10)
        assert st == 504
        assert time.monotonic() - t0 < 5
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_floods_stderr_with_10mib_line(watchdog, mode):
    env = {**SHORT_TIMEOUTS, "mode": mode,
           "fprocess": "sh -c 'head -c 10485760 /dev/zero | tr \"\\000\" a >&2; echo done'",
           "exec_timeout": "30s", "write_timeout": "30s"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        st, _, body = get(wd.port, "/", timeout=30)
        assert st == 200 and body == b"done\n"
        # the whole line reached the log, in one piece
        log = wd.stderr()
        assert "a" * 10485760 in log
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_forks_a_daemon(watchdog, mode, tmp_path):
    """A daemon (own session, escapes the process group) that keeps the
    stdout pipe open must not hold the request; once it exits it is reaped
    (the watchdog is its subreaper) and no zombie is left."""
    daemon = write_script(tmp_path, "#!/bin/sh\nsetsid sh -c 'sleep 2; echo late' &\necho started\n",
                          "daemon.sh")
    with watchdog({**SHORT_TIMEOUTS, "mode": mode, "fprocess": daemon}, ready="healthy") as wd:
        fds = wd.baseline()
        t0 = time.monotonic()
        st, _, body = get(wd.port, "/", timeout=10)
        elapsed = time.monotonic() - t0
        assert st == 200 and body.startswith(b"started")
        assert elapsed < 1.5, "request held by the daemon for %.2fs" % elapsed
        # the daemon lives on for a moment, then is reaped
        got_fds, kids = wd.settled(fds, timeout=8)
        assert kids == [] and zombies(wd.pid) == []
        assert got_fds == fds


@pytest.mark.parametrize("mode", MODES)
def test_function_killed_by_signal(watchdog, mode):
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "sh -c 'kill -9 $$'"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        st, _, body = get(wd.port, "/", body=b"x")
        assert st == 500 and body.rstrip() == b"signal: killed", body
        check_clean(wd, fds)


def test_stderr_flood_keeps_rss_bounded(watchdog):
    """Repeated floods do not grow the watchdog: the line is written out,
    not kept. (Under sanitizers and valgrind, which keep freed memory
    resident, only the floods themselves are checked.)"""
    flood = "sh -c 'head -c 10485760 /dev/zero | tr \"\\000\" a >&2'"
    env = {**SHORT_TIMEOUTS, "fprocess": flood, "exec_timeout": "30s"}
    with watchdog(env, ready="healthy") as wd:
        assert get(wd.port, "/", timeout=30).status == 200
        first = wd.rss_kib()
        for _ in range(3):
            assert get(wd.port, "/", timeout=30).status == 200
        if not SANITIZED:
            assert wd.rss_kib() < first + 24 * 1024


# ---- http mode: an upstream that resets connections mid-response ----

RESET_SERVER = r'''
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
'''


def test_http_upstream_resets_mid_response(watchdog, tmp_path):
    up = free_port()
    srv = write_script(tmp_path, "#!/bin/sh\nexec %s -c '%s' %d\n"
                       % (sys.executable, RESET_SERVER.replace("'", "'\\''"), up), "reset.sh")
    wd = watchdog({**SHORT_TIMEOUTS, "mode": "http", "fprocess": srv,
                   "upstream_url": "http://127.0.0.1:%d" % up}, ready="healthy")
    fds = wd.baseline()
    for _ in range(10):
        data, closed = raw_exchange(wd.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                    timeout=10)
        assert closed, "the client was left waiting: %r" % data[:300]
        # A reset before the head went out is a 500; after it, the body
        # is cut short and the connection closed.
        st = status_of(data)
        assert st in (200, 500), data[:300]
        if st == 200:
            assert len(data.partition(b"\r\n\r\n")[2]) < 100000
    assert wd.alive()
    # The baseline holds the pooled readiness probe; the server resets it
    # with the first answer, so one descriptor fewer is no leak.
    got_fds, _ = wd.settled(fds, timeout=8, pooled=1)
    assert fds - 1 <= got_fds <= fds
    assert zombies(wd.pid) == []
