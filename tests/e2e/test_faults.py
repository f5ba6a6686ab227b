"""Faults: clients that go away at every stage, and functions that misbehave.
After each, the watchdog's descriptors and children return to where they
started and no zombie is left."""
import os
import socket
import time

import pytest

from relutil import (Watchdog, baseline, children, connect, get, post_in_pieces, read_response,
                     rss_bytes, settled, start_or_skip, wait_for, zombies)

MODES = ["streaming", "serializing"]


def script(wd_dir, name, body):
    path = os.path.join(wd_dir, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
    return path


def check_clean(wd, fds):
    got_fds, kids = settled(wd, fds, timeout=8)
    assert kids == [], "children left: %r" % kids
    assert got_fds == fds, "descriptors: %d, started with %d" % (got_fds, fds)
    assert zombies(wd.pid) == []
    assert wd.alive()


# ---- clients that disconnect ----

@pytest.mark.parametrize("mode", MODES)
def test_disconnect_during_headers(mode):
    with Watchdog(mode=mode, fprocess="cat") as wd:
        fds = baseline(wd)
        for _ in range(20):
            s = connect(wd.port)
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
            s.close()
        check_clean(wd, fds)
        assert get(wd.port, "/", body=b"x")[0] == 200


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_during_body(mode):
    with Watchdog(mode=mode, fprocess="cat") as wd:
        fds = baseline(wd)
        for _ in range(20):
            s = connect(wd.port)
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
            time.sleep(0.01)
            s.close()
        check_clean(wd, fds)
        assert get(wd.port, "/", body=b"x")[0] == 200


@pytest.mark.parametrize("mode", MODES)
def test_disconnect_during_function_run(mode):
    # As under the Go watchdog a function outlives its client; the exec
    # timeout still ends it.
    with Watchdog(mode=mode, fprocess="sleep 30", env={"exec_timeout": "2s"}) as wd:
        fds = baseline(wd)
        socks = []
        for _ in range(5):
            s = connect(wd.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        assert wait_for(lambda: len(children(wd.pid)) == 5, timeout=5)
        for s in socks:
            s.close()
        time.sleep(1)
        assert len(children(wd.pid)) == 5, "functions killed when their clients went away"
        # ... and killed at exec_timeout, reaped, their descriptors closed
        check_clean(wd, fds)


def test_disconnect_during_response():
    with Watchdog(mode="streaming", fprocess="head -c 200000000 /dev/zero") as wd:
        fds = baseline(wd)
        for _ in range(5):
            s = connect(wd.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # reset mid-body
        check_clean(wd, fds)
        assert get(wd.port, "/x", method="HEAD")[0] == 200


def test_disconnect_during_serialized_response():
    with Watchdog(mode="serializing", fprocess="head -c 20000000 /dev/zero") as wd:
        fds = baseline(wd)
        for _ in range(3):
            s = connect(wd.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)
            s.close()
        check_clean(wd, fds)


# ---- functions that misbehave ----

@pytest.mark.parametrize("mode", MODES)
def test_function_exits_without_reading_stdin(mode):
    """The body cannot be written (EPIPE): no SIGPIPE death, an answer."""
    with Watchdog(mode=mode, fprocess="sh -c 'echo early'") as wd:
        fds = baseline(wd)
        for _ in range(10):
            st, _, body = get(wd.port, "/", body=b"x" * (4 * 1024 * 1024), timeout=15)
            assert st == 200 and body == b"early\n"
        st, _, body = get(wd.port, "/", body=b"x" * 10)
        assert st == 200
        check_clean(wd, fds)


def test_answer_before_a_paused_body_lets_the_client_finish():
    """The function reads nothing, so the body backs up and is paused; then
    it answers and exits. The client, still sending its 64 MiB, gets to send
    all of it and then reads the answer: no reset, nothing lost."""
    with Watchdog(mode="streaming", fprocess="sh -c 'sleep 0.3; echo early'") as wd:
        fds = baseline(wd)
        st, body, err = post_in_pieces(wd.port, "/", 64 << 20, 1 << 20, 0)
        assert err is None, "the client met %r" % err
        assert st == 200 and b"early" in body
        check_clean(wd, fds)


def test_slow_body_after_the_answer_is_still_read():
    """Answered at once while the body takes 3 s to arrive, longer than the
    2 s the watchdog waits for a quiet client: each piece restarts the wait."""
    with Watchdog(mode="streaming", fprocess="echo early") as wd:
        st, body, err = post_in_pieces(wd.port, "/", 6 << 20, 1 << 20, 0.5)
        assert err is None, "the client met %r" % err
        assert st == 200 and b"early" in body


def test_dropping_a_body_stops_at_read_timeout():
    """A client that never stops sending after the answer is cut off once
    the request's read_timeout has passed."""
    with Watchdog(mode="streaming", fprocess="echo early", env={"read_timeout": "2s"}) as wd:
        t0 = time.monotonic()
        _, _, err = post_in_pieces(wd.port, "/", 1 << 30, 64 << 10, 0.1, timeout=10)
        elapsed = time.monotonic() - t0
        assert err is not None, "a 1 GiB body at 640 KiB/s was read to its end"
        assert elapsed < 6, "cut off after %.1fs with read_timeout=2s" % elapsed
        assert wd.alive()


@pytest.mark.parametrize("mode", MODES)
def test_function_exits_nonzero_without_reading(mode):
    with Watchdog(mode=mode, fprocess="sh -c 'exit 3'") as wd:
        fds = baseline(wd)
        st, _, body = get(wd.port, "/", body=b"x" * (2 * 1024 * 1024), timeout=15)
        assert st == 500 and b"exit status 3" in body
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_closes_stdout_keeps_running(mode):
    with Watchdog(mode=mode, fprocess="sh -c 'exec >&-; sleep 1'") as wd:
        fds = baseline(wd)
        t0 = time.monotonic()
        st, _, body = get(wd.port, "/", body=b"x", timeout=10)
        assert st == 200 and body == b""
        assert time.monotonic() - t0 >= 0.9
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_closes_stdout_then_times_out(mode):
    with Watchdog(mode=mode, fprocess="sh -c 'exec >&-; sleep 30'",
                  env={"exec_timeout": "1s"}) as wd:
        fds = baseline(wd)
        t0 = time.monotonic()
        st, _, _ = get(wd.port, "/", body=b"x", timeout=10)
        assert st == 504
        assert time.monotonic() - t0 < 5
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_floods_stderr_with_10mib_line(mode):
    with Watchdog(mode=mode, fprocess="sh -c 'head -c 10485760 /dev/zero | tr \"\\000\" a >&2; echo done'",
                  env={"exec_timeout": "30s", "write_timeout": "30s"}) as wd:
        fds = baseline(wd)
        st, _, body = get(wd.port, "/", timeout=30)
        assert st == 200 and body == b"done\n"
        # the whole line reached the log, in one piece
        log = wd.log()
        assert "a" * 10485760 in log
        check_clean(wd, fds)


@pytest.mark.parametrize("mode", MODES)
def test_function_forks_a_daemon(mode, tmp_path):
    """A daemon (own session, escapes the process group) that keeps the
    stdout pipe open must not hold the request; once it exits it is reaped
    (the watchdog is its subreaper) and no zombie is left."""
    daemon = script(str(tmp_path), "daemon.sh",
                    "setsid sh -c 'sleep 2; echo late' &\necho started")
    with Watchdog(mode=mode, fprocess=daemon) as wd:
        fds = baseline(wd)
        t0 = time.monotonic()
        st, _, body = get(wd.port, "/", timeout=10)
        elapsed = time.monotonic() - t0
        assert st == 200 and body.startswith(b"started")
        assert elapsed < 1.5, "request held by the daemon for %.2fs" % elapsed
        # the daemon lives on for a moment, then is reaped
        got_fds, kids = settled(wd, fds, timeout=8)
        assert kids == [] and zombies(wd.pid) == []
        assert got_fds == fds


@pytest.mark.parametrize("mode", MODES)
def test_function_killed_by_signal(mode):
    with Watchdog(mode=mode, fprocess="sh -c 'kill -9 $$'") as wd:
        fds = baseline(wd)
        st, _, body = get(wd.port, "/", body=b"x")
        assert st == 500 and body.rstrip() == b"signal: killed", body
        check_clean(wd, fds)


@pytest.mark.skipif(bool(os.environ.get("FWATCHDOG_SANITIZED")),
                    reason="ASan's quarantine and valgrind keep freed memory resident")
def test_stderr_flood_keeps_rss_bounded():
    """Repeated floods do not grow the watchdog: the line is written out,
    not kept."""
    with Watchdog(fprocess="sh -c 'head -c 10485760 /dev/zero | tr \"\\000\" a >&2'",
                  env={"exec_timeout": "30s"}) as wd:
        get(wd.port, "/", timeout=30)
        first = rss_bytes(wd.pid)
        for _ in range(3):
            get(wd.port, "/", timeout=30)
        assert rss_bytes(wd.pid) < first + 24 * 1024 * 1024


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


def test_http_upstream_resets_mid_response(tmp_path):
    import sys
    from relutil import free_port
    up = free_port()
    srv = script(str(tmp_path), "reset.sh", "exec %s -c '%s' %d" % (sys.executable, RESET_SERVER.replace("'", "'\\''"), up))
    wd = start_or_skip(pytest, mode="http", fprocess=srv,
                       env={"upstream_url": "http://127.0.0.1:%d" % up})
    try:
        fds = baseline(wd)
        for _ in range(10):
            with connect(wd.port) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    st, _, body = read_response(s, timeout=10)
                    # a reset after the head went out cuts the body short
                    assert st == 502 or len(body) < 100000
                except (ConnectionError, TimeoutError):
                    pass
        assert wd.alive()
        # The baseline holds the pooled readiness probe; the server resets it
        # with the first answer, so one descriptor fewer is no leak.
        got_fds, _ = settled(wd, fds, timeout=8, pooled=1)
        assert fds - 1 <= got_fds <= fds
        assert zombies(wd.pid) == []
    finally:
        wd.close()
