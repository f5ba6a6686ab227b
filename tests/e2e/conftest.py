"""End-to-end harness: start the real fwatchdog binary on a loopback port,
talk HTTP to it (http.client or raw sockets), inspect its processes through
/proc, and always tear it down.

The binary is $FWATCHDOG_BIN, else <repo>/$FWATCHDOG_BUILDDIR/fwatchdog
(builddir default: build). Standard library + pytest only; every wait is
bounded in time.
"""
import ctypes
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import wdproc
from wdproc import Response, request  # noqa: F401 (the tests' helpers)

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def watchdog_bin():
    return Path(wdproc.binary())


BIN = watchdog_bin()


def require_bin():
    if not (BIN.is_file() and os.access(BIN, os.X_OK)):
        pytest.fail(f"fwatchdog binary not found at {BIN} "
                    "(build it with scripts/build.sh or set FWATCHDOG_BIN)", pytrace=False)
    return str(BIN)


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, pgrp, comm) of a pid, or None when it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    head, _, rest = data.rpartition(b")")
    comm = head.split(b"(", 1)[1].decode(errors="replace")
    f = rest.split()
    return f[0].decode(), int(f[1]), int(f[2]), comm


def proc_table():
    """pid -> (state, ppid, pgrp, comm) for every process we can see."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def children(pid, table=None):
    table = proc_table() if table is None else table
    return sorted(p for p, st in table.items() if st[1] == pid)


def descendants(pid, table=None):
    table = proc_table() if table is None else table
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop(), table)
        out += kids
        todo += kids
    return sorted(out)


def zombies(pid, table=None):
    """Children of pid that are zombies (exited, not reaped)."""
    table = proc_table() if table is None else table
    return [p for p in children(pid, table) if table[p][0] == "Z"]


def pgroup_members(pgid):
    return sorted(p for p, st in proc_table().items() if st[2] == pgid)


def describe(pids):
    t = proc_table()
    return ", ".join(f"{p}({t[p][3]},{t[p][0]})" for p in pids if p in t)


def rss_kib(pid):
    """VmRSS of pid in KiB (None if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until truthy or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------

class Incomplete(Exception):
    pass


def parse_response(buf, closed=False, head=False):
    """Parse one response from the front of buf.
    Returns (Response, rest); raises Incomplete when more bytes are needed.
    head=True: the response answers a HEAD request (no body)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete
    head_bytes = buf[:end]
    lines = head_bytes.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    version, status = parts[0], int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    resp = Response(version, status, reason, headers, b"", head_bytes)
    rest = buf[end + 4:]
    te = (resp.header("Transfer-Encoding") or "").lower()
    cl = resp.header("Content-Length")
    if head or 100 <= status < 200 or status in (204, 304):
        return resp, rest
    if "chunked" in te:
        body = b""
        pos = 0
        while True:
            nl = rest.find(b"\r\n", pos)
            if nl < 0:
                raise Incomplete
            size = int(rest[pos:nl].split(b";")[0].strip(), 16)
            pos = nl + 2
            if size == 0:
                # trailers until an empty line
                while True:
                    nl = rest.find(b"\r\n", pos)
                    if nl < 0:
                        raise Incomplete
                    line = rest[pos:nl]
                    pos = nl + 2
                    if line == b"":
                        resp.body = body
                        return resp, rest[pos:]
            if len(rest) < pos + size + 2:
                raise Incomplete
            body += rest[pos:pos + size]
            pos += size + 2
    if cl is not None:
        n = int(cl)
        if len(rest) < n:
            raise Incomplete
        resp.body = rest[:n]
        return resp, rest[n:]
    if not closed:
        raise Incomplete
    resp.body = rest
    return resp, b""


def parse_responses(buf, closed=True, heads=()):
    """All complete responses in buf (1xx included); heads: indexes of final
    responses that answer HEAD."""
    out = []
    final = 0
    while buf:
        try:
            r, buf = parse_response(buf, closed, head=final in heads)
        except Incomplete:
            break
        out.append(r)
        if r.status >= 200:
            final += 1
    return out


class RawConn:
    """A raw TCP connection for malformed, pipelined and keep-alive cases."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.closed = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
        self.buf += data
        return data

    def read_some(self, timeout=5.0):
        """Whatever arrives first (b'' on close); raises socket.timeout."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        data = self._recv(time.monotonic() + timeout)
        self.buf = b""
        return data

    def read_until(self, token, timeout=5.0):
        """Bytes up to and including token (kept out of the buffer)."""
        deadline = time.monotonic() + timeout
        while token not in self.buf:
            if self.closed:
                raise AssertionError(f"closed before {token!r}; got {self.buf!r}")
            self._recv(deadline)
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_response(self, head=False, timeout=5.0, skip_1xx=True):
        """Next complete response; raises AssertionError on close, timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r, self.buf = parse_response(self.buf, self.closed, head)
                if skip_1xx and 100 <= r.status < 200:
                    continue
                return r
            except Incomplete:
                if self.closed:
                    raise AssertionError(f"connection closed mid-response: {self.buf[:500]!r}")
                self._recv(deadline)

    def read_until_close(self, timeout=5.0):
        """(all bytes, closed?) — closed False means the timeout hit first."""
        deadline = time.monotonic() + timeout
        try:
            while not self.closed:
                self._recv(deadline)
        except socket.timeout:
            pass
        data, self.buf = self.buf, b""
        return data, self.closed

    def wait_closed(self, timeout=5.0):
        """True when the peer closed (EOF or reset) within timeout."""
        _, closed = self.read_until_close(timeout)
        return closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_exchange(port, data, timeout=5.0):
    """Send bytes on a new connection, read until close or timeout.
    Returns (bytes, closed)."""
    with RawConn(port, timeout) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return c.read_until_close(timeout)


def status_of(data):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
LOG_TS = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"


# --------------------------------------------------------------------------
# The watchdog under test
# --------------------------------------------------------------------------

class Watchdog:
    def __init__(self, workdir, env=None, args=(), port=None, tmpdir=None, wrapper=()):
        self.wrapper = list(wrapper)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.tmpdir = Path(tmpdir) if tmpdir else self.workdir / "tmp"
        if not tmpdir:
            self.tmpdir.mkdir(exist_ok=True)
        full = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TMPDIR": str(self.tmpdir),
            "port": str(self.port),
            "metrics_port": "0",
            "healthcheck_interval": wdproc.DRAIN,
        }
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        self.env = full
        self.args = list(args)
        self.stderr_path = wdproc.log_path(self.workdir / "stderr.log")
        self.stdout_path = self.workdir / "stdout.log"
        self.proc = None
        self.returncode = None

    # lifecycle ------------------------------------------------------------
    def start(self, wait=True):
        binary = require_bin()
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = wdproc.spawn([*self.wrapper, binary, *self.args], self.env, self._err,
                                 stdout=self._out, start_new_session=True)
        self._pid = self.proc.pid
        if self.wrapper:
            # The watchdog is the wrapper's (e.g. unshare's) only child.
            kids = wait_until(lambda: children(self.proc.pid), 5)
            assert kids, f"wrapper {self.wrapper} started nothing; stderr:\n{self.stderr()}"
            self._pid = kids[0]
        if wait:
            self.wait_listening()
        return self

    @property
    def pid(self):
        """The watchdog's pid (not the wrapper's)."""
        return self._pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_listening(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"fwatchdog exited with {self.proc.returncode} before "
                                     f"listening; stderr:\n{self.stderr()}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"fwatchdog not listening on {self.port} after "
                                         f"{timeout}s; stderr:\n{self.stderr()}")
                time.sleep(0.02)

    @property
    def lock_path(self):
        return self.tmpdir / ".lock"

    def wait_lock(self, timeout=3.0):
        assert wait_until(self.lock_path.exists, timeout), \
            f"lock file {self.lock_path} not written within {timeout}s"

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace=5.0):
        """SIGTERM, SIGKILL after grace, wait; kills whatever it left behind."""
        if self.proc is None:
            return None
        left = []
        if self.proc.poll() is None:
            left = descendants(self.pid)
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait_exit(grace) is None:
                left = sorted(set(left) | set(descendants(self.pid)))
                self.proc.kill()
                self.wait_exit(grace)
        self.returncode = self.proc.returncode
        kill_leftovers(left)
        for f in (self._err, self._out):
            f.close()
        return self.returncode

    # output ---------------------------------------------------------------
    def stderr(self):
        try:
            return self.stderr_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_lines(self):
        return self.stderr().splitlines()

    def wait_log(self, pattern, timeout=5.0, flags=re.M):
        """First match of regex pattern in stderr, waiting up to timeout."""
        rx = re.compile(pattern, flags)
        m = wait_until(lambda: rx.search(self.stderr()), timeout)
        assert m, f"no stderr line matching {pattern!r} within {timeout}s; stderr:\n{self.stderr()[-4000:]}"
        return m

    # processes --------------------------------------------------------------
    def descendants(self):
        return descendants(self.pid)

    def wait_descendants(self, timeout=5.0):
        """Wait until the watchdog has at least one child process."""
        d = wait_until(self.descendants, timeout)
        assert d, f"no function process appeared within {timeout}s"
        return d

    def wait_no_descendants(self, timeout=5.0):
        left = wait_until(lambda: not self.descendants(), timeout) or self.descendants()
        return [] if left is True else left

    def assert_no_descendants(self, timeout=5.0):
        left = self.wait_no_descendants(timeout)
        assert not left, f"processes left under the watchdog: {describe(left)}"

    def zombies(self):
        return zombies(self.pid)

    def rss_kib(self):
        return rss_kib(self.pid)

    def fd_count(self):
        return fd_count(self.pid)

    # HTTP -----------------------------------------------------------------
    def request(self, method="GET", path="/", body=None, headers=None, timeout=10):
        return request(self.port, method, path, body, headers, timeout)

    def raw(self, data, timeout=5.0):
        return raw_exchange(self.port, data, timeout)

    def conn(self, timeout=5.0):
        return RawConn(self.port, timeout)


def kill_leftovers(pids):
    """SIGKILL the process groups of pids and reap those that are ours."""
    for p in pids:
        st = proc_stat(p)
        if st is None:
            continue
        for target in (lambda: os.killpg(st[2], signal.SIGKILL), lambda: os.kill(p, signal.SIGKILL)):
            try:
                target()
            except OSError:
                pass
    reap_ours()


def reap_ours():
    """Reap zombies that were reparented to this (subreaper) process."""
    me = os.getpid()
    for p in children(me):
        st = proc_stat(p)
        if st and st[0] == "Z":
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass


def _become_subreaper():
    """Orphans that escape a watchdog get reparented to pytest, so the
    session check below can see them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


_become_subreaper()


@pytest.fixture
def watchdog(tmp_path):
    """Factory: watchdog(env={...}, args=(), wait=True, port=None, tmpdir=None,
    wrapper=()) -- wrapper: a command prefix such as unshare(1).
    Every watchdog started is stopped at teardown; a test that leaves
    function processes behind fails there."""
    started = []

    def start(env=None, args=(), wait=True, port=None, tmpdir=None, wrapper=()):
        wd = Watchdog(tmp_path / f"wd{len(started)}", env, args, port, tmpdir, wrapper)
        started.append(wd)
        return wd.start(wait)

    yield start
    problems = []
    for wd in started:
        if wd.alive():
            left = wd.wait_no_descendants(3.0)
            if left:
                problems.append(f"processes left under the watchdog: {describe(left)}")
        wd.stop()
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def no_leftover_processes():
    """After the whole suite: no process (running or zombie) that any
    watchdog started is left; they would have been reparented to us."""
    before = set(children(os.getpid()))
    yield
    wait_until(lambda: not (set(children(os.getpid())) - before), 3.0)
    extra = sorted(set(children(os.getpid())) - before)
    if extra:
        msg = describe(extra)
        kill_leftovers(extra)
        pytest.fail(f"processes left behind after the suite: {msg}", pytrace=False)
