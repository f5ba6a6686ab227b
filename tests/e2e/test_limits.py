"""Resource bounds: max_request_body (413, in the fork modes and http mode),
max_connections, and surviving file-descriptor exhaustion (EMFILE) without
a busy loop."""
import socket
import time

import pytest

from harness import (SHORT_TIMEOUTS, connect, cpu_seconds, get, http_watchdog, parse_response,
                     raw_exchange, read_all, recv_response, send_raw, wait_until)


def post_len(port, n, chunked=False):
    body = b"x" * n
    if chunked:
        raw = (b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n" % n + body + b"\r\n0\r\n\r\n")
    else:
        raw = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % n + body
    return raw_exchange(port, raw, timeout=10)


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
@pytest.mark.parametrize("chunked", [False, True])
def test_max_request_body_413(watchdog, mode, chunked):
    env = {**SHORT_TIMEOUTS, "mode": mode, "fprocess": "cat", "max_request_body": "1000"}
    with watchdog(env, ready="healthy") as wd:
        fds = wd.baseline()
        data, closed = post_len(wd.port, 1000, chunked)
        r, _ = parse_response(data, closed)
        assert (r.status, r.body) == (200, b"x" * 1000), data[:200]
        data, closed = post_len(wd.port, 1001, chunked)
        r, _ = parse_response(data, closed)
        assert r.status == 413, data[:200]
        assert closed
        st, _, _ = get(wd.port, "/", body=b"ok")
        assert st == 200
        assert wd.settled(fds) == (fds, [])


def test_serializing_default_limit_is_64mib(watchdog):
    env = {**SHORT_TIMEOUTS, "mode": "serializing", "fprocess": "cat"}
    with watchdog(env, ready="healthy") as wd:
        raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (64 * 1024 * 1024 + 1)
        st, _, closed = send_raw(wd.port, raw, timeout=5)
        assert st == 413 and closed


def test_streaming_default_unlimited_cl(watchdog):
    """A Content-Length past 64 MiB is accepted in streaming mode (the body
    is never held); the function sees the start of it."""
    env = {**SHORT_TIMEOUTS, "mode": "streaming", "fprocess": "head -c 5"}
    with watchdog(env, ready="healthy") as wd:
        with connect(wd.port) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\nhello" % (100 * 1024 * 1024))
            st, _, body = recv_response(s)
        assert st == 200 and body == b"hello"


def test_max_connections_closes_politely(watchdog):
    env = {**SHORT_TIMEOUTS, "fprocess": "cat", "max_connections": "5"}
    with watchdog(env, ready="healthy") as wd:
        held = [connect(wd.port) for _ in range(5)]
        try:
            # let the watchdog accept them all
            time.sleep(0.2)
            extra = connect(wd.port)
            data, closed = read_all(extra, timeout=3)
            extra.close()
            assert closed and data == b""
            # the held ones still work
            held[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            st, _, _ = recv_response(held[0])
            assert st == 200
        finally:
            for s in held:
                s.close()
        # once they are gone, new connections are served
        assert wait_until(lambda: get(wd.port, "/")[0] == 200, timeout=5)
        assert wd.alive()


def test_emfile_survived_without_spinning(watchdog):
    """With RLIMIT_NOFILE at 64 the watchdog runs out of descriptors; it must
    not spin on the listener, and must serve again once they free up."""
    with watchdog({**SHORT_TIMEOUTS, "fprocess": "cat"}, ready="healthy", nofile=64) as wd:
        held = []
        try:
            # Fill the descriptor table; extra connections wait in the backlog.
            for _ in range(80):
                held.append(connect(wd.port))
            wait_until(lambda: wd.fd_count() >= 63, timeout=5)
            assert wd.fd_count() >= 60
            time.sleep(0.3)
            t0 = cpu_seconds(wd.pid)
            time.sleep(1.0)
            used = cpu_seconds(wd.pid) - t0
            assert used < 0.2, "watchdog used %.2fs CPU in 1s of EMFILE" % used
            # a request while exhausted: a queued connection waits, it is not lost
            late = socket.create_connection(("127.0.0.1", wd.port), timeout=10)
            late.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        finally:
            for s in held:
                s.close()
        try:
            st, _, _ = recv_response(late, timeout=10)
            assert st == 200
        finally:
            late.close()
        st, _, body = get(wd.port, "/", body=b"again")
        assert st == 200 and body == b"again"
        assert "pausing new connections" in wd.stderr()
        assert wd.alive()


def test_tiny_descriptor_table_answers_instead_of_hanging(watchdog):
    """RLIMIT_NOFILE of 12 leaves no room for a function's pipes: the
    reserve must not take the last descriptor from the listener, so the
    request is accepted and answered 500, and the watchdog stays up."""
    with watchdog({**SHORT_TIMEOUTS, "fprocess": "cat"}, ready="healthy", nofile=12) as wd:
        for _ in range(3):
            st, _, body = get(wd.port, "/", body=b"x")
            assert st == 500 and b"Unable to start function" in body
        assert wd.alive()
        assert "descriptor reserve" in wd.stderr()


def test_function_starts_when_descriptors_run_out(watchdog):
    """Descriptors exhausted by client connections: the watchdog keeps a few
    in reserve, so the function of a connection it accepted still starts,
    and the watchdog recovers once the clients leave."""
    with watchdog({**SHORT_TIMEOUTS, "fprocess": "cat"}, ready="healthy", nofile=40) as wd:
        held = []
        try:
            req = connect(wd.port)
            for _ in range(50):
                held.append(connect(wd.port))
            wait_until(lambda: wd.fd_count() >= 39, timeout=5)
            req.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi")
            st, _, body = recv_response(req, timeout=10)
            assert (st, body) == (200, b"hi")
            req.close()
        finally:
            for s in held:
                s.close()
        st, _, body = get(wd.port, "/", body=b"ok")
        assert st == 200 and body == b"ok"


@pytest.mark.parametrize("buffered", ["false", "true"])
def test_max_request_body_holds_in_http_mode(tmp_path, buffered):
    with http_watchdog(tmp_path, max_request_body="1000", http_buffer_req_body=buffered) as wd:
        status, _, body = wd.request("POST", "/upload", body=b"x" * 1000)
        assert status == 200
        status, _, body = wd.request("POST", "/upload", body=b"x" * 5000)
        assert status == 413 and body == b"Request body larger than max_request_body (1000 bytes)\n"
        status, _, body = wd.request("POST", "/upload", body=iter([b"x" * 600, b"y" * 600]))
        assert status == 413
        time.sleep(0.3)
        assert wd.stderr().count("/upload - ") >= 1
