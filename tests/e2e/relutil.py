"""Helpers for the reliability e2e tests: start fwatchdog on a free loopback
port, talk raw HTTP to it, and inspect its descriptors, children and CPU.

Environment:
  FWATCHDOG_BIN      the binary under test (default: build/fwatchdog)
  FWATCHDOG_LOG_DIR  keep each watchdog's stderr here as <test>-<n>.log, so a
                     sanitizer run can scan them afterwards (default: the
                     per-test temporary directory)
  FWATCHDOG_WRAPPER  a command prefix for the watchdog (valgrind)
(see wdproc.py)
Python stdlib only; every wait is bounded; only 127.0.0.1 is contacted.
"""
import contextlib
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time

import wdproc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"


def binary():
    return wdproc.binary()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=5.0, step=0.01):
    """Poll pred until it returns a true value; that value, or None."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class ModeUnavailable(Exception):
    """The binary does not know the requested mode (exit 2, "mode" in stderr)."""


class Watchdog:
    def __init__(self, mode="streaming", fprocess="cat", env=None, nofile=None,
                 ready=True):
        self.tmp = tempfile.TemporaryDirectory(prefix="fwd-rel-")
        self.port = free_port()
        self.log_path = str(wdproc.log_path(os.path.join(self.tmp.name, "watchdog.log")))
        e = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TMPDIR": self.tmp.name,
            "port": str(self.port),
            "metrics_port": "0",
            "mode": mode,
            "read_timeout": "5s",
            "write_timeout": "5s",
            "exec_timeout": "10s",
            "healthcheck_interval": wdproc.DRAIN,
        }
        if fprocess is not None:
            e["fprocess"] = fprocess
        e.update(env or {})
        self.env = e
        self.nofile = nofile
        self.proc = None
        self._log = open(self.log_path, "wb")
        self._start(ready)

    def _preexec(self):
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def _start(self, ready):
        self.proc = wdproc.spawn([binary()], self.env, self._log, use_wrapper=True,
                                 preexec_fn=self._preexec)
        if not ready:
            return
        slow = 20.0 if os.environ.get("FWATCHDOG_WRAPPER") else 5.0
        ok = wait_for(self._healthy, timeout=slow, step=0.02)
        if self.proc.poll() is not None:
            err = self.log()
            self.close()
            if self.proc.returncode == 2 and "mode" in err:
                raise ModeUnavailable(err.strip())
            raise RuntimeError("watchdog exited %d: %s" % (self.proc.returncode, err))
        if not ok:
            self.close()
            raise RuntimeError("watchdog not healthy: " + self.log())

    def _healthy(self):
        if self.proc.poll() is not None:
            return True
        try:
            st, _, _ = request(self.port, b"GET /_/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                               timeout=1.0)
            return st == 200
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        """SIGTERM, then SIGKILL after a bounded wait. Returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        self.tmp.cleanup()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_or_skip(pytest, **kw):
    """A Watchdog, or pytest.skip when the binary lacks the mode."""
    try:
        return Watchdog(**kw)
    except ModeUnavailable as e:
        pytest.skip("mode %s not in this binary: %s" % (kw.get("mode"), e))


# ---- raw HTTP ----

def connect(port, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s, timeout=5.0):
    """Read until the peer closes; (data, closed). closed is False on timeout."""
    s.settimeout(timeout)
    chunks = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks), True
            chunks.append(b)
    except socket.timeout:
        return b"".join(chunks), False
    except ConnectionResetError:
        return b"".join(chunks), True
    return b"".join(chunks), False


def parse_head(data):
    """(status, headers dict lower-cased, rest) of the first response in data."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, data
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode("latin-1")
    return status, hdrs, rest


def read_response(s, timeout=10.0, head=False):
    """One whole response from s (Content-Length or chunked framing):
    (status, headers, body). Leaves s open. head: it answers HEAD, so it
    has no body whatever Content-Length says."""
    s.settimeout(timeout)
    buf = b""
    end = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > end:
            raise TimeoutError("no response head")
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed before head: %r" % buf)
        buf += b
    st, h, rest = parse_head(buf)
    if head:
        return st, h, b""

    def more():
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed mid-body")
        return b

    if "content-length" in h:
        n = int(h["content-length"])
        while len(rest) < n:
            rest += more()
        return st, h, rest[:n]
    if h.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += more()
            line, _, rest = rest.partition(b"\r\n")
            n = int(line.split(b";")[0], 16)
            while len(rest) < n + 2:
                rest += more()
            body += rest[:n]
            rest = rest[n + 2:]
            if n == 0:
                return st, h, body
    data, _ = read_all(s, timeout)
    return st, h, rest + data


def request(port, raw, timeout=10.0, head=False):
    """Send raw bytes on a new connection, read one response."""
    with connect(port, timeout) as s:
        s.sendall(raw)
        return read_response(s, timeout, head)


def get(port, path="/", body=None, method=None, headers=(), timeout=10.0):
    method = method or ("POST" if body is not None else "GET")
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    b = body or b""
    raw = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n"
           % (method, path, h, len(b))).encode() + b
    return request(port, raw, timeout, head=method == "HEAD")


def send_raw(port, raw, timeout=5.0):
    """Send raw bytes, read until close: (status of first response, all data, closed)."""
    with connect(port, timeout) as s:
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, closed = read_all(s, timeout)
    st, _, _ = parse_head(data)
    return st, data, closed


# ---- process inspection ----

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    # fields after the ")" of the command name
    return s[s.rindex(")") + 2:].split()


def children(pid):
    """[(pid, state)] of the direct children of pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = _stat(int(d))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(st[1]) == pid:
            out.append((int(d), st[0]))
    return out


def zombies(pid):
    return [c for c, state in children(pid) if state == "Z"]


def cpu_seconds(pid):
    st = _stat(pid)
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) * 1024
    return 0


def baseline(wd, timeout=3.0):
    """The watchdog's descriptor count once it has been steady for 300 ms
    (the health check's connection closes asynchronously after start)."""
    end = time.monotonic() + timeout
    last, since = fd_count(wd.pid), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        n = fd_count(wd.pid)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 0.3 and not children(wd.pid):
            break
    return last


def settled(wd, fds, timeout=5.0, pooled=0):
    """Wait until the watchdog is back to fds descriptors and no children;
    pooled: up to that many of them (idle upstream connections in http
    mode) may have been closed since. Returns (fd count, children) as last
    seen."""
    def ok():
        return fds - pooled <= fd_count(wd.pid) <= fds and not children(wd.pid)
    wait_for(ok, timeout=timeout, step=0.05)
    return fd_count(wd.pid), children(wd.pid)


@contextlib.contextmanager
def nofile_limit(n):
    """Raise this process's soft RLIMIT_NOFILE to n for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def post_in_pieces(port, path, total, piece, pause, timeout=15.0):
    """POST total bytes (Content-Length) in pieces pause seconds apart, then
    read until the watchdog closes. Returns (status, body, error): error is
    the OSError a send or a read met (a reset), or None."""
    s = connect(port, timeout)
    data, err = b"", None
    try:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % (path.encode(), total))
        block = b"x" * piece
        sent = 0
        while sent < total:
            n = min(piece, total - sent)
            s.sendall(block[:n])
            sent += n
            if pause:
                time.sleep(pause)
        s.settimeout(timeout)
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError as e:
        err = e
    finally:
        s.close()
    st, _, body = parse_head(data) if data else (None, None, b"")
    return st, body, err
