"""10,000 concurrent idle keep-alive connections held with the watchdog
under 64 MiB RSS, and still serving; the heap given back after a burst."""
import http.client
import os
import selectors
import socket
import threading
import time

import pytest

from harness import (HOST, SANITIZED, SHORT_TIMEOUTS, get, http_watchdog, minor_faults, nofile_limit,
                     proc_status, read_all, recv_response, wait_until)

CONNS = 10000
NOFILE = CONNS + 512


def test_10000_idle_keepalive_connections(watchdog):
    env = {**SHORT_TIMEOUTS, "fprocess": "cat", "read_timeout": "120s", "write_timeout": "60s",
           "max_connections": str(CONNS + 100)}
    with nofile_limit(NOFILE), watchdog(env, ready="healthy", nofile=NOFILE) as wd:
        socks = []
        try:
            # one request each first, so every connection is a served
            # keep-alive connection, then left idle
            req = b"GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n"
            for i in range(CONNS):
                s = socket.socket()
                s.setblocking(True)
                s.settimeout(10)
                s.connect((HOST, wd.port))
                s.sendall(req)
                socks.append(s)
                if i % 500 == 499:
                    drain(socks[i - 499:i + 1])
            assert wd.alive()
            assert wait_until(lambda: count_conns(wd.pid) >= CONNS, timeout=20), count_conns(wd.pid)
            rss = wd.rss_kib() * 1024
            print("held %d connections, watchdog RSS %.1f MiB" % (CONNS, rss / 1048576))
            # sanitizer and valgrind builds carry their own memory overhead
            if not SANITIZED:
                assert rss < 64 * 1024 * 1024, "RSS %.1f MiB" % (rss / 1048576)
            # still serving new requests and old connections alike
            st, _, body = get(wd.port, "/", body=b"alive")
            assert st == 200 and body == b"alive"
            socks[0].settimeout(10)
            socks[0].sendall(req)
            assert socks[0].recv(4096).startswith(b"HTTP/1.1 200")
        finally:
            for s in socks:
                s.close()


def drain(socks):
    """Read the health answers so every connection is idle and healthy."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    pending = set(socks)
    end = time.monotonic() + 20
    while pending and time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(4096)
            assert data.startswith(b"HTTP/1.1 200"), data
            sel.unregister(key.fileobj)
            pending.discard(key.fileobj)
    sel.close()
    assert not pending, "%d connections got no answer" % len(pending)


def count_conns(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def anon_kib(pid):
    return int(proc_status(pid)["RssAnon"][0])


@pytest.mark.skipif(SANITIZED, reason="ASan's allocator and valgrind's keep freed memory themselves")
def test_heap_goes_back_after_a_burst(watchdog):
    """A burst of concurrent requests raises the heap (each in-flight request
    reads its function's output into buffers of its own, 16 KiB here, well
    above what malloc's caches keep); a second after the last one ends, the
    watchdog gives what it freed back to the system instead of keeping the
    burst's mark."""
    with watchdog({"fprocess": "cat"}, ready="healthy") as wd:
        idle = anon_kib(wd.pid)

        def client():
            conn = http.client.HTTPConnection(HOST, wd.port, timeout=20)
            try:
                for _ in range(40):
                    conn.request("POST", "/", b"x" * 16384)
                    assert conn.getresponse().read() == b"x" * 16384
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        peak = anon_kib(wd.pid)
        assert peak > idle + 128, (idle, peak)
        settled = wait_until(lambda: anon_kib(wd.pid) <= idle + (peak - idle) // 2, timeout=5)
        assert settled, (idle, peak, anon_kib(wd.pid))


@pytest.mark.skipif(SANITIZED, reason="ASan's allocator and valgrind's keep freed memory themselves")
def test_memory_goes_back_when_connections_close_late(watchdog):
    """Connections that stay open after their requests ended hold their
    memory until they close, after the trim that the last request armed:
    it goes back when they close, not only after a request."""
    n = 200
    with watchdog({"fprocess": "cat"}, ready="healthy") as wd:
        base = anon_kib(wd.pid)
        socks = [socket.create_connection((HOST, wd.port), timeout=20) for _ in range(n)]
        for s in socks:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        for s in socks:
            assert recv_response(s)[0] == 200
        time.sleep(1.5)  # past the trim after the last request; all still open
        held = anon_kib(wd.pid) - base
        for s in socks:
            s.close()
        assert wait_until(lambda: wd.fd_count() < n, timeout=5)
        gone = wait_until(lambda: anon_kib(wd.pid) - base < held // 3, timeout=3, interval=0.1)
        print("anon KiB over the start: %d with the connections open, %d after" % (held, anon_kib(wd.pid) - base))
        assert held > 384, held
        assert gone, (held, anon_kib(wd.pid) - base)


def test_burst_memory_goes_back(tmp_path):
    """A burst of requests in flight at once in http mode, each on a
    connection of its own to the function: once it is over and the pooled
    connections have expired, what the burst took goes back to the system.
    The proxies kept for reuse and libevent's per-descriptor records, made
    between the burst's connections, would otherwise pin its heap pages for
    good (1.1 MiB here). Under the sanitizers only the requests are checked:
    their allocators keep freed memory themselves."""
    n = 150
    with http_watchdog(tmp_path) as wd:
        assert wd.request("GET", "/echo")[0] == 200
        base = anon_kib(wd.pid)
        fds = wd.fd_count()
        socks = []
        for _ in range(n):
            s = socket.create_connection((HOST, wd.port), timeout=30)
            s.sendall(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            socks.append(s)
        held = 0
        for s in socks:
            got, closed = read_all(s, timeout=30)
            s.close()
            assert closed and got.startswith(b"HTTP/1.1 200 "), got[:100]
            held = max(held, anon_kib(wd.pid) - base)
        # the pool's connections expire after 4 s of rest
        assert wait_until(lambda: wd.fd_count() <= fds, timeout=10, interval=0.25)
        gone = wait_until(lambda: anon_kib(wd.pid) - base < 512, timeout=3, interval=0.25)
        print("anon KiB over the start: %d during the burst, %d after" %
              (held, anon_kib(wd.pid) - base))
        if not SANITIZED:
            assert held > 512, held
            assert gone, "anon RSS %d KiB over the start" % (anon_kib(wd.pid) - base)
        assert wd.request("GET", "/echo")[0] == 200


@pytest.mark.skipif(SANITIZED, reason="ASan's allocator and valgrind's keep freed memory themselves")
def test_steady_load_keeps_its_heap(tmp_path):
    """Requests a few milliseconds apart leave nothing in flight most of
    the time, but the heap stays: what a trim gave back would be needed
    again at once, each page a fault on the next request. Over four
    seconds of such load (four chances for the trim timer), the pages the
    watchdog faults in stay a handful; each trim would cost some 36. The
    answers pass through the watchdog's buffers (http mode, 64 KiB each)."""
    body = b"x" * 65536
    with http_watchdog(tmp_path) as wd:
        conn = http.client.HTTPConnection(HOST, wd.port, timeout=20)
        try:
            def run(seconds):
                end = time.monotonic() + seconds
                n = 0
                while time.monotonic() < end:
                    conn.request("POST", "/echo", body)
                    resp = conn.getresponse()
                    assert resp.status == 200 and len(resp.read()) > len(body)
                    n += 1
                    time.sleep(0.005)
                return n
            run(0.5)
            before = minor_faults(wd.pid)
            n = run(4.0)
            faults = minor_faults(wd.pid) - before
        finally:
            conn.close()
        assert n > 30, "only %d requests in 4 s" % n
        assert faults < 20, "%d page faults over %d requests" % (faults, n)
