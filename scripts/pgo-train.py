#!/usr/bin/env python3
"""The training run of the profile-guided build (scripts/build-static.sh).

    scripts/pgo-train.py BINARY      BINARY built with -fprofile-generate

Runs BINARY the way a function image runs it, in each mode, and sends it
the requests that make up its day: keep-alive GETs proxied in http mode,
POSTs through cat in streaming and serializing mode, the probes and a
metrics scrape. The function behind http mode answers two GETs in three
with the heads of the servers functions are written with (Express, nginx),
whose fields are not in the order Go's server writes them, and passes the
third to a second copy serving a file in static mode, whose fields are.
Each copy is stopped with SIGTERM, as a container is, so that it exits
through its own path and writes its counts. The compiler then lays out
and inlines what ran here as the hot path, and keeps the rest (error
paths, settings never used here) out of its way.

Python, because meson needs it and so every machine that builds has it.
Loopback only; every step is bounded in time; nothing is left running.
"""
import http.client
import os
import socket
import signal
import subprocess
import sys
import tempfile
import threading
import time

BASE_PORT = int(os.environ.get("PGO_BASE_PORT", "21370"))
STEP_TIMEOUT = 60


def start(binary, work, name, port, env):
    full = {"PATH": "/usr/bin:/bin", "TMPDIR": os.path.join(work, name),
            "port": str(port), "metrics_port": str(port + 10),
            "healthcheck_interval": "100ms"}
    full.update(env)
    os.makedirs(full["TMPDIR"])
    log = open(os.path.join(work, name + ".log"), "wb")
    proc = subprocess.Popen([binary], env=full, stdout=log, stderr=subprocess.STDOUT)
    proc.name, proc.port, proc.logpath = name, port, log.name
    return proc


# Heads as functions answer: Express's and nginx's, in their own order.
CANNED = [
    b"HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\n"
    b"Content-Type: text/html; charset=utf-8\r\nContent-Length: 12\r\n"
    b'ETag: W/"c-Lve95gjOVATpfV8EL5X4nxwjKHE"\r\n'
    b"Date: Sun, 06 Dec 2026 06:40:00 GMT\r\nConnection: keep-alive\r\n"
    b"Keep-Alive: timeout=5\r\n\r\nhello world\n",
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
    b"Date: Sun, 06 Dec 2026 06:40:00 GMT\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n",
]


def canned_conn(conn, files_port):
    """Answers each GET on one keep-alive connection; every third one is
    passed on to the static copy, whose head is in Go's order."""
    files = None
    pending = b""
    n = 0
    try:
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, pending = pending.split(b"\r\n\r\n", 1)
            n += 1
            if n % 3 == 0:
                if files is None:
                    files = socket.create_connection(("127.0.0.1", files_port), STEP_TIMEOUT)
                files.sendall(head + b"\r\n\r\n")
                conn.sendall(read_answer(files))
            else:
                conn.sendall(CANNED[n % 3 - 1])
    except OSError:
        pass
    finally:
        conn.close()
        if files is not None:
            files.close()


def read_answer(sock):
    """One answer with a Content-Length, read whole."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise OSError("the static copy closed")
        buf += data
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            raise OSError("the static copy closed")
        body += data
    return head + b"\r\n\r\n" + body


def canned_upstream(port, files_port):
    """A function in http mode: listens on port, a thread per connection."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        lsock.bind(("127.0.0.1", port))
        lsock.listen(64)
    except OSError as e:
        lsock.close()
        raise RuntimeError("the function cannot listen on port %d: %s" % (port, e))

    def accept():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=canned_conn, args=(conn, files_port), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return lsock


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def wait_ready(proc):
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (proc.name, proc.returncode))
        try:
            if get(proc.port, "/_/health") == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("%s did not answer /_/health within %d s" % (proc.name, STEP_TIMEOUT))


def worker(port, count, body, failures):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP_TIMEOUT)
    method = "POST" if body is not None else "GET"
    headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
    try:
        for i in range(count):
            conn.request(method, "/data.txt?n=%d" % i, body, headers)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                failures.append("%s %d" % (method, r.status))
                return
    except (OSError, http.client.HTTPException) as e:
        failures.append(repr(e))
    finally:
        conn.close()


def load(proc, total, conns, body=None):
    failures = []
    threads = [threading.Thread(target=worker, args=(proc.port, total // conns, body, failures))
               for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(STEP_TIMEOUT)
    if failures or any(t.is_alive() for t in threads):
        raise RuntimeError("%s: %s" % (proc.name, failures[0] if failures else "requests timed out"))
    get(proc.port, "/_/ready")
    get(proc.port + 10, "/metrics")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("%s did not stop on SIGTERM" % proc.name)


def train(binary, work):
    www = os.path.join(work, "www")
    os.makedirs(www)
    with open(os.path.join(www, "data.txt"), "w") as f:
        f.write("hello\n" * 80)
    procs = []
    try:
        files = start(binary, work, "static", BASE_PORT, {"mode": "static", "static_path": www})
        procs.append(files)
        wait_ready(files)
        upstream = canned_upstream(BASE_PORT + 3, BASE_PORT)
        proxy = start(binary, work, "http", BASE_PORT + 1,
                      {"mode": "http", "fprocess": "sleep 3600",
                       "upstream_url": "http://127.0.0.1:%d" % (BASE_PORT + 3)})
        procs.append(proxy)
        wait_ready(proxy)
        load(proxy, 16000, 8)
        load(proxy, 2000, 1)
        body = b"x" * 1024
        for mode in ("streaming", "serializing"):
            fork = start(binary, work, mode, BASE_PORT + 2, {"mode": mode, "fprocess": "cat"})
            procs.append(fork)
            wait_ready(fork)
            load(fork, 400, 4, body)
            stop(fork)
        stop(proxy)
        upstream.close()
        stop(files)
    except Exception:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            with open(p.logpath, errors="replace") as f:
                sys.stderr.write("--- %s log ---\n%s" % (p.name, f.read()[-2000:]))
        raise


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/pgo-train.py BINARY")
    with tempfile.TemporaryDirectory(prefix="fwatchdog-pgo.") as work:
        try:
            train(os.path.abspath(sys.argv[1]), work)
        except RuntimeError as e:
            sys.exit("pgo-train: %s" % e)


if __name__ == "__main__":
    main()
