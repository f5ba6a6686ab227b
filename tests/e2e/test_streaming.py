"""Streaming mode (the default): a process per request, the body piped
through as it arrives and the answer chunked."""
import hashlib
import http.client
import os
import socket
import threading
import time

import pytest

from harness import HOST, SANITIZED, pgroup_members, wait_until

MiB = 1024 * 1024


def test_echo_through_cat_chunked(watchdog):
    wd = watchdog({"fprocess": "cat"})
    r = wd.request("POST", "/", b"hello streaming")
    assert r.status == 200
    assert r.body == b"hello streaming"
    assert (r.header("Transfer-Encoding") or "").lower() == "chunked"
    assert r.header("Content-Type") == "application/octet-stream"


def test_chunked_request_body_through_cat(watchdog):
    wd = watchdog({"fprocess": "cat"})
    r = wd.request("POST", "/", iter([b"one ", b"two ", b"three"]))
    assert (r.status, r.body) == (200, b"one two three")


def test_status_waits_for_first_byte(watchdog):
    wd = watchdog({"fprocess": "sh -c 'sleep 2; echo late'"})
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            c.read_some(timeout=1.0)  # nothing, not even a status line, yet
        r = c.read_response(timeout=10)
    assert (r.status, r.body) == (200, b"late\n")


def test_output_streamed_as_produced(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo first; sleep 3; echo second'"})
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        c.read_until(b"first\n", timeout=2.5)
        assert time.monotonic() - t0 < 2.5
        assert b"second" not in c.buf
        rest = c.read_until(b"0\r\n\r\n", timeout=10)
    assert b"second\n" in rest


def test_request_body_reaches_function_as_it_arrives(watchdog):
    """Full duplex: cat echoes the first chunk before the body has ended."""
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nping\n\r\n")
        got = c.read_until(b"ping\n", timeout=5)
        assert got.startswith(b"HTTP/1.1 200")
        c.send(b"5\r\npong\n\r\n0\r\n\r\n")
        c.read_until(b"pong\n", timeout=5)
        c.read_until(b"0\r\n\r\n", timeout=5)


def test_exit_zero_without_output_is_200_empty(watchdog):
    wd = watchdog({"fprocess": "true"})
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"")


def test_nonzero_exit_before_output_is_500(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo oops >&2; exit 3'"})
    r = wd.request("POST", "/", b"x")
    assert r.status == 500


def test_exec_failure_is_500(watchdog):
    wd = watchdog({"fprocess": "/nonexistent/function --flag"})
    r = wd.request("POST", "/", b"x")
    assert r.status == 500
    assert wd.request("GET", "/_/health").status == 200


@pytest.mark.parametrize("case", ["missing", "in_path", "no_exec_bit", "no_shebang"])
def test_exec_failure_exit_status(watchdog, tmp_path, case):
    """Exec failures as a shell (and posix_spawnp) reports them: 127 when
    nothing is found, 126 when found but not executable. PATH is searched
    in order, an empty entry being the current directory; a file without
    #! is not handed to /bin/sh."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "tool"
    if case == "in_path":
        tool.write_text("#!/bin/sh\necho found-in-path\n")
        tool.chmod(0o755)
    elif case == "no_exec_bit":
        tool.write_text("#!/bin/sh\necho never\n")
        tool.chmod(0o644)
    elif case == "no_shebang":
        tool.write_text("echo never\n")
        tool.chmod(0o755)
    path = "/nonexistent::%s:/usr/bin:/bin" % bindir
    wd = watchdog({"fprocess": "tool", "PATH": path})
    r = wd.request("POST", "/", b"")
    if case == "in_path":
        assert (r.status, r.body) == (200, b"found-in-path\n")
        return
    code = 127 if case == "missing" else 126
    assert r.status == 500
    assert r.body == b"Unable to start function: tool (exit status %d)\n" % code


def test_function_ignoring_stdin_with_big_body(watchdog):
    wd = watchdog({"fprocess": "echo hi"})
    r = wd.request("POST", "/", b"z" * (4 * MiB), timeout=20)
    assert (r.status, r.body) == (200, b"hi\n")
    assert wd.alive()


def test_exec_timeout_with_grandchild_holding_stdout(watchdog, tmp_path):
    mark = tmp_path / "pid"
    wd = watchdog({"fprocess": 'sh -c "echo $$ > $MARK; sleep 100 & sleep 100"',
                   "MARK": str(mark), "exec_timeout": "1s"})
    t0 = time.monotonic()
    r = wd.request("GET", "/", timeout=15)
    elapsed = time.monotonic() - t0
    assert r.status == 504
    assert elapsed < 3.0, f"504 took {elapsed:.2f}s with exec_timeout=1s"
    assert elapsed > 0.8
    pgid = int(mark.read_text())
    assert wait_until(lambda: not pgroup_members(pgid), 3), \
        f"process group {pgid} still has {pgroup_members(pgid)}"
    wd.assert_no_descendants(3)


def test_exec_timeout_after_output_cuts_response(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo start; sleep 100'", "exec_timeout": "1s"})
    with wd.conn(timeout=10) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        data, closed = c.read_until_close(timeout=6)
        elapsed = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 200")
    assert b"start\n" in data
    assert closed and elapsed < 4, "response not ended soon after exec_timeout"
    assert not data.endswith(b"0\r\n\r\n"), "a timed-out body must not look complete"
    wd.assert_no_descendants(3)


def test_client_disconnect_during_body_closes_stdin(watchdog):
    wd = watchdog({"fprocess": "cat"})
    c = wd.conn()
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
    c.read_until(b"0123456789", timeout=5)
    assert wd.descendants()
    c.close()
    # cat sees the end of its stdin and exits
    wd.assert_no_descendants(5)
    assert wd.request("POST", "/", b"ok").body == b"ok"


def test_client_disconnect_lets_a_silent_function_run_to_exec_timeout(watchdog):
    # As under the Go watchdog: the function is not killed with its client.
    wd = watchdog({"fprocess": "sleep 100", "exec_timeout": "1500ms"})
    c = wd.conn()
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    wd.wait_descendants(3)
    c.close()
    time.sleep(0.5)
    assert wd.descendants(), "killed when the client went away"
    wd.assert_no_descendants(5)
    assert not wd.zombies()


def test_client_disconnect_function_that_writes_gets_epipe(watchdog, tmp_path):
    marker = tmp_path / "ran-after"
    fn = "sh -c 'echo first; sleep 1; touch %s; while echo more; do :; done'" % marker
    wd = watchdog({"fprocess": fn, "exec_timeout": "60s"})
    c = wd.conn()
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    c.read_until(b"first", timeout=5)
    c.close()
    assert wait_until(marker.exists, 5), "the function was killed with its client"
    # its next writes fail: it ends long before exec_timeout
    wd.assert_no_descendants(5)
    assert not wd.zombies()


def test_output_then_failure_completes_the_response(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo partial; exit 3'"})
    with wd.conn() as c:
        for _ in range(2):  # the connection stays usable
            c.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response(timeout=5)
            assert (r.status, r.body) == (200, b"partial\n")
    wd.wait_log(r"\d exit status 3$")
    wd.wait_log(r"GET /x - 500 - ContentLength: 8B")


def test_output_then_signal_completes_the_response(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo partial; kill -9 $$'"})
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"partial\n")
    wd.wait_log(r"\d signal: killed$")


def test_signal_before_output_is_500_with_go_text(watchdog):
    wd = watchdog({"fprocess": "sh -c 'kill -9 $$'"})
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (500, b"signal: killed\n")


def test_function_runs_in_own_process_group(watchdog):
    wd = watchdog({"fprocess": "sh -c 'read a b c d e rest < /proc/$$/stat; echo $$ $e'"})
    r = wd.request("GET", "/")
    pid, pgrp = r.body.split()
    assert pid == pgrp, f"function pid {pid} runs in group {pgrp}"
    assert int(pgrp) != os.getpgid(wd.pid)


def test_stderr_goes_to_log_not_response(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo to-log >&2; echo to-client'"})
    r = wd.request("GET", "/")
    assert r.body == b"to-client\n"
    wd.wait_log(r"stderr: to-log$")


def test_200_MiB_through_cat_with_small_rss(watchdog):
    """200 MiB streamed both ways at once; the watchdog never holds it."""
    total = 200 * MiB
    wd = watchdog({"fprocess": "cat"})
    blocks = [hashlib.sha256(bytes([i])).digest() * 2048 for i in range(16)]  # 64 KiB each
    sent_hash = hashlib.sha256()
    recv_hash = hashlib.sha256()
    sock = socket.create_connection((HOST, wd.port), timeout=30)
    errors = []

    def writer():
        try:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)
            left, i = total, 0
            while left:
                b = blocks[i % 16][:left]
                sent_hash.update(b)
                sock.sendall(b)
                left -= len(b)
                i += 1
        except Exception as e:  # reported by the main thread
            errors.append(e)

    samples = []
    done = threading.Event()

    def sampler():
        while not done.is_set():
            v = wd.rss_kib()
            if v:
                samples.append(v)
            done.wait(0.02)

    tw = threading.Thread(target=writer)
    ts = threading.Thread(target=sampler)
    ts.start()
    tw.start()
    received = 0
    try:
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        assert resp.status == 200
        while True:
            piece = resp.read(256 * 1024)
            if not piece:
                break
            recv_hash.update(piece)
            received += len(piece)
    finally:
        tw.join(60)
        done.set()
        ts.join(5)
        sock.close()
    assert not errors, errors
    assert received == total
    assert recv_hash.digest() == sent_hash.digest(), "body corrupted in transit"
    assert len(samples) >= 3, "transfer too short to sample RSS"
    if not SANITIZED:
        assert max(samples) < 16 * 1024, f"watchdog RSS peaked at {max(samples)} KiB"
