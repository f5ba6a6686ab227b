"""The end-to-end harness: start the real fwatchdog on a loopback port, talk
HTTP to it (http.client or raw sockets), inspect its processes through
/proc, and always stop it. Every wait is bounded in time; only 127.0.0.1 is
bound or contacted. Standard library only.

Environment:
  FWATCHDOG_BIN       the binary under test (default:
                      <repo>/$FWATCHDOG_BUILDDIR/fwatchdog, builddir "build")
  ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS
                      passed on to the watchdog (its environment is built
                      from scratch otherwise)
  FWATCHDOG_LOG_DIR   each watchdog's stderr is written there, as
                      <test>-<n>.log, instead of in the test's directory
                      (scripts/test-sanitize.sh, scripts/test-valgrind.sh
                      scan them afterwards)
  FWATCHDOG_WRAPPER   a command prefix that runs the watchdog in its own
                      process (valgrind ...); scripts/test-valgrind.sh
                      chooses the tests that run under it
  FWATCHDOG_SANITIZED set by those runs: memory bounds do not hold there
"""
import contextlib
import ctypes
import http.client
import itertools
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ports import free_port  # noqa: E402,F401  (tests import it from here)

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
# ASan's quarantine and valgrind keep freed memory resident: RSS bounds
# are checked in regular runs only.
SANITIZED = bool(os.environ.get("FWATCHDOG_SANITIZED"))
# healthcheck_interval for every test watchdog unless a test sets its own:
# the drain after SIGTERM at teardown then takes a tenth of a second
# instead of the second of quiet the watchdog otherwise waits for. The
# tests of the drain itself set their own.
DRAIN = "100ms"
# Timeouts for the tests of faults and resource bounds: short enough that a
# client or function left hanging shows within their bounded waits.
SHORT_TIMEOUTS = {"read_timeout": "5s", "write_timeout": "5s", "exec_timeout": "10s"}
# The system's tools (python3 is /usr/bin/python3), not a user's shims.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOG_TS = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d"
DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                     r" \d{4} \d\d:\d\d:\d\d GMT$")
_log_seq = itertools.count()


# --------------------------------------------------------------------------
# The binary and its environment
# --------------------------------------------------------------------------

def binary():
    env = os.environ.get("FWATCHDOG_BIN")
    if env:
        return str(Path(env).resolve())
    return str(REPO / os.environ.get("FWATCHDOG_BUILDDIR", "build") / "fwatchdog")


def require_bin():
    """The binary's path; an AssertionError naming it when it is missing."""
    path = binary()
    assert os.path.isfile(path) and os.access(path, os.X_OK), \
        f"fwatchdog binary not found at {path} (build it with scripts/build.sh or set FWATCHDOG_BIN)"
    return path


def with_sanitizer_env(env):
    """A copy of env plus the sanitizer settings of this run (a test's own
    setting wins)."""
    out = dict(env)
    for k in SANITIZER_VARS:
        if k in os.environ and k not in out:
            out[k] = os.environ[k]
    return out


def env_wrapper():
    return os.environ.get("FWATCHDOG_WRAPPER", "").split()


def _test_name():
    name = os.environ.get("PYTEST_CURRENT_TEST", "wd").split(" ")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-120:]


def log_path(default):
    """Where a watchdog's stderr goes: under FWATCHDOG_LOG_DIR when set,
    else default."""
    log_dir = os.environ.get("FWATCHDOG_LOG_DIR")
    if not log_dir:
        return Path(default)
    os.makedirs(log_dir, exist_ok=True)
    return Path(log_dir) / ("%s-%d.log" % (_test_name(), next(_log_seq)))


def port_free(port):
    """Nothing listens on 127.0.0.1:port (connections in TIME_WAIT do not
    count: servers here bind with SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until it returns a true value or timeout seconds pass;
    returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def write_script(directory, text, name="fn.sh"):
    """An executable script in directory; its path as a string."""
    p = Path(directory) / name
    p.write_text(text)
    p.chmod(0o755)
    return str(p)


# --------------------------------------------------------------------------
# /proc
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


def status_fields(text):
    """The fields of a /proc/PID/status text: name -> list of words."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.split()
    return out


def proc_status(pid):
    return status_fields(Path(f"/proc/{pid}/status").read_text())


def rss_kib(pid):
    """VmRSS of pid in KiB (None when it is gone)."""
    try:
        return int(proc_status(pid)["VmRSS"][0])
    except (FileNotFoundError, KeyError):
        return None


def peak_rss_kib(pid):
    """VmHWM (peak RSS) of pid in KiB."""
    return int(proc_status(pid)["VmHWM"][0])


def emulated(pid):
    """Whether pid runs under qemu-user (binfmt_misc): its /proc/PID/exe
    names the interpreter, and its memory figures are qemu's, translated
    code included."""
    try:
        return "qemu" in os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """User plus system CPU time of pid."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def minor_faults(pid):
    """The page faults pid took without I/O (minflt)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def listening_ports(pid):
    """TCP ports (v4 and v6) in LISTEN state on sockets pid holds."""
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{name}"))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in (f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


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
    for p in children(os.getpid()):
        st = proc_stat(p)
        if st and st[0] == "Z":
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass


def become_subreaper():
    """Orphans that escape a watchdog are reparented to this process, where
    the session check of conftest.py sees them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def nofile_limit(n):
    """This process's RLIMIT_NOFILE at n (soft, and hard where it is lower)
    for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, max(n, hard)))


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

class Headers(list):
    """A response's header fields: a list of (name, value) in order, also
    looked up by name, whatever its case (None when absent)."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.get(key)
        return list.__getitem__(self, key)

    def __contains__(self, key):
        if isinstance(key, str):
            return self.get(key) is not None
        return list.__contains__(self, key)

    def get(self, name, default=None):
        for k, v in self:
            if k.lower() == name.lower():
                return v
        return default

    def get_all(self, name):
        return [v for k, v in self if k.lower() == name.lower()]

    def names(self):
        """The names as written (Go writes its own in canonical case)."""
        return [k for k, _ in self]


class Response:
    """A parsed HTTP response. It also unpacks, and indexes, as
    (status, headers, body)."""

    def __init__(self, version, status, reason, headers, body, raw_head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = Headers(headers)
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def header_all(self, name):
        return self.headers.get_all(name)

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __getitem__(self, i):
        return (self.status, self.headers, self.body)[i]

    def __repr__(self):
        return f"<Response {self.status} {list(self.headers)!r} body={self.body[:200]!r}>"


def request(port, method="GET", path="/", body=None, headers=None, timeout=10):
    """One request on a fresh http.client connection; returns a Response.
    The path is sent as given; an iterable body goes chunked."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=not isinstance(body, (bytes, str, type(None))))
        r = conn.getresponse()
        data = r.read()
        return Response(f"HTTP/{r.version // 10}.{r.version % 10}", r.status,
                        r.reason, r.getheaders(), data)
    finally:
        conn.close()


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


def connect(port, timeout=5.0):
    """A TCP connection to 127.0.0.1:port, TCP_NODELAY set."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class RawConn:
    """A raw TCP connection for malformed, pipelined and keep-alive cases."""

    def __init__(self, port=None, timeout=5.0, sock=None):
        self.sock = sock if sock is not None else connect(port, timeout)
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


def read_all(sock, timeout=5.0):
    """Read a socket until the peer closes: (data, closed); closed is False
    when the timeout came first."""
    c = RawConn(sock=sock)
    return c.read_until_close(timeout)


def recv_response(sock, timeout=10.0, head=False):
    """One whole response from a socket: a Response (which unpacks as
    (status, headers, body)). Leaves the socket open; raises
    ConnectionError when it closes first, TimeoutError on timeout."""
    c = RawConn(sock=sock)
    try:
        return c.read_response(head=head, timeout=timeout)
    except socket.timeout:
        raise TimeoutError(f"no whole response within {timeout}s: {c.buf[:300]!r}")
    except AssertionError as e:
        raise ConnectionError(str(e))


def get(port, path="/", body=None, method=None, headers=(), timeout=10.0):
    """One request with Connection: close and a Content-Length (POST when
    there is a body), written by hand; the Response."""
    method = method or ("POST" if body is not None else "GET")
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    b = body or b""
    raw = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n"
           % (method, path, h, len(b))).encode() + b
    with connect(port, timeout) as s:
        s.sendall(raw)
        return recv_response(s, timeout, head=method == "HEAD")


def send_raw(port, raw, timeout=5.0):
    """Send raw bytes, read until close: (status of the first response, all
    bytes, closed)."""
    data, closed = raw_exchange(port, raw, timeout)
    return status_of(data), data, closed


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
    if not data:
        return None, b"", err
    return status_of(data), data.partition(b"\r\n\r\n")[2], err


# --------------------------------------------------------------------------
# The watchdog under test
# --------------------------------------------------------------------------

def _number(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class Watchdog:
    """One fwatchdog process.

    env adds to (or, with a None value, removes from) a minimal environment:
    PATH, TMPDIR (workdir/tmp, or tmpdir), port (a free one, or port),
    metrics_port (0, or a free one with metrics=True) and
    healthcheck_interval; bare_env=True uses env as it is instead.
    args follow the binary (binary: another one than the build under test);
    launcher is a command that starts the watchdog as its only child
    (unshare, a parent with other settings): pid is then that child's;
    nofile sets its RLIMIT_NOFILE; cwd its working directory.
    ready: what start() waits for, "listening" (a TCP connect succeeds),
    "healthy" (GET /_/health is 200) or None; it fails, quoting stderr, when
    the watchdog exits first. It runs in a session of its own and stop()
    (SIGTERM, SIGKILL after grace) leaves nothing of it behind. As a
    context manager it is started on entry (unless it already runs) and
    stopped on exit.
    """

    def __init__(self, env=None, *, workdir, args=(), binary=None, launcher=(), port=None,
                 metrics=False, tmpdir=None, nofile=None, cwd=None, bare_env=False,
                 ready="listening", ready_timeout=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tmpdir = Path(tmpdir) if tmpdir else self.workdir / "tmp"
        if not tmpdir:
            self.tmpdir.mkdir(exist_ok=True)
        if bare_env:
            full = {k: str(v) for k, v in (env or {}).items()}
            # (a test of invalid settings may give ports that are not numbers)
            self.port = port or _number(full.get("port"), 8080)
            self.metrics_port = _number(full.get("metrics_port"), 8081)
        else:
            self.port = port or free_port()
            self.metrics_port = 0
            while metrics and self.metrics_port in (0, self.port):
                self.metrics_port = free_port()
            full = {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "TMPDIR": str(self.tmpdir),
                "port": str(self.port),
                "metrics_port": str(self.metrics_port),
                "healthcheck_interval": DRAIN,
            }
            for k, v in (env or {}).items():
                if v is None:
                    full.pop(k, None)
                else:
                    full[k] = str(v)
            self.port = _number(full.get("port"), self.port)
            self.metrics_port = _number(full.get("metrics_port"), 0)
        self.env = full
        self.binary = str(binary) if binary else None
        self.args = [str(a) for a in args]
        self.launcher = [str(a) for a in launcher]
        self.nofile = nofile
        self.cwd = cwd
        self.ready = ready
        slow = bool(env_wrapper())
        self.ready_timeout = ready_timeout or (30.0 if slow else 10.0)
        self.stderr_path = log_path(self.workdir / "stderr.log")
        self.stdout_path = self.workdir / "stdout.log"
        self.proc = None
        self.returncode = None
        self._pid = None
        self._files = []

    # lifecycle ------------------------------------------------------------
    @property
    def argv(self):
        return [*self.launcher, *env_wrapper(), self.binary or require_bin(), *self.args]

    def _preexec(self):
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self):
        err = open(self.stderr_path, "wb")
        out = open(self.stdout_path, "wb")
        self._files = [err, out]
        self.proc = subprocess.Popen(self.argv, env=with_sanitizer_env(self.env), cwd=self.cwd,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     start_new_session=True,
                                     preexec_fn=self._preexec if self.nofile is not None else None)
        self._pid = self.proc.pid
        if self.launcher:
            kids = wait_until(lambda: children(self.proc.pid), self.ready_timeout)
            assert kids, f"{self.launcher} started nothing; {self.describe()}"
            self._pid = kids[0]
        if self.ready == "listening":
            self.wait_listening()
        elif self.ready == "healthy":
            self.wait_healthy()
        return self

    def __enter__(self):
        if self.proc is not None:
            return self
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        """The watchdog's pid (not its launcher's)."""
        return self._pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _check_running(self, what):
        if self.proc.poll() is not None:
            raise AssertionError(f"fwatchdog exited with {self.proc.returncode} before {what}; "
                                 f"{self.describe()}")

    def wait_listening(self, timeout=None):
        """Until a TCP connect to its port succeeds."""
        timeout = timeout or self.ready_timeout

        def listening():
            self._check_running("listening")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        assert wait_until(listening, timeout), \
            f"fwatchdog not listening on {self.port} after {timeout}s; {self.describe()}"
        return self

    def health(self):
        """The status of GET /_/health, None when it cannot be asked."""
        try:
            return request(self.port, path="/_/health", timeout=2).status
        except OSError:
            return None

    def wait_healthy(self, timeout=None):
        """Until GET /_/health is 200 (the lock file is written by then)."""
        timeout = timeout or self.ready_timeout
        last = []

        def healthy():
            self._check_running("it was healthy")
            last[:] = [self.health()]
            return last[0] == 200
        assert wait_until(healthy, timeout), \
            f"fwatchdog not healthy after {timeout}s (last: {last}); {self.describe()}"
        return self

    @property
    def lock_path(self):
        return self.tmpdir / ".lock"

    def wait_lock(self, timeout=3.0):
        assert wait_until(self.lock_path.exists, timeout), \
            f"lock file {self.lock_path} not written within {timeout}s"

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """The exit code, or None when still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout=10.0):
        """SIGTERM; the exit code, or None when still running after timeout."""
        self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def stop(self, grace=10.0):
        """SIGTERM, SIGKILL after grace, wait; kills whatever it left behind.
        Safe to call more than once; returns the exit code."""
        if self.proc is None:
            for f in self._files:
                f.close()
            return None
        left = []
        if self.proc.poll() is None:
            left = descendants(self.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            if self.wait_exit(grace) is None:
                left = sorted(set(left) | set(descendants(self.proc.pid)))
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.kill()
                self.wait_exit(grace)
        self.returncode = self.proc.returncode
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        kill_leftovers(left)
        for f in self._files:
            f.close()
        return self.returncode

    # output ---------------------------------------------------------------
    def stderr(self):
        try:
            return self.stderr_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            return self.stdout_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_lines(self):
        return self.stderr().splitlines()

    def describe(self):
        code = self.proc.poll() if self.proc else None
        return f"fwatchdog {self.argv} (exit {code}), stderr:\n{self.stderr()[-4000:]}"

    def wait_log(self, pattern, timeout=5.0, flags=re.M):
        """First match of regex pattern in stderr, waiting up to timeout."""
        rx = re.compile(pattern, flags)
        m = wait_until(lambda: rx.search(self.stderr()), timeout)
        assert m, f"no stderr line matching {pattern!r} within {timeout}s; stderr:\n{self.stderr()[-4000:]}"
        return m

    # processes --------------------------------------------------------------
    def children(self):
        return children(self.pid)

    def descendants(self):
        return descendants(self.pid)

    def wait_descendants(self, timeout=5.0):
        """Wait until the watchdog has at least one child process."""
        d = wait_until(self.descendants, timeout)
        assert d, f"no function process appeared within {timeout}s"
        return d

    def function_pid(self, timeout=5.0):
        """The pid of the watchdog's (first) child."""
        kids = wait_until(self.children, timeout)
        assert kids, f"no function process appeared within {timeout}s; {self.describe()}"
        return kids[0]

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

    def peak_rss_kib(self):
        return peak_rss_kib(self.pid)

    def emulated(self):
        return emulated(self.pid)

    def fd_count(self):
        return fd_count(self.pid)

    def baseline(self, timeout=3.0):
        """The descriptor count once it has been steady for 300 ms with no
        child (the readiness probe's connection closes asynchronously)."""
        end = time.monotonic() + timeout
        last, since = self.fd_count(), time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.05)
            n = self.fd_count()
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= 0.3 and not self.children():
                break
        return last

    def settled(self, fds, timeout=5.0, pooled=0):
        """Wait until the watchdog is back to fds descriptors and has no
        children; pooled: up to that many of them (idle upstream connections
        in http mode) may have been closed since. Returns (fd count,
        children) as last seen."""
        seen = {}

        def ok():
            # one sample, judged and returned as it is: a second read could
            # catch a descriptor qemu-user opens for a moment on its own
            seen["fds"], seen["kids"] = self.fd_count(), self.children()
            return fds - pooled <= seen["fds"] <= fds and not seen["kids"]
        wait_until(ok, timeout, 0.05)
        return seen["fds"], seen["kids"]

    # HTTP -----------------------------------------------------------------
    def request(self, method="GET", path="/", body=None, headers=None, timeout=10):
        return request(self.port, method, path, body, headers, timeout)

    def get(self, path="/", body=None, method=None, headers=(), timeout=10.0):
        return get(self.port, path, body, method, headers, timeout)

    def raw(self, data, timeout=5.0):
        return raw_exchange(self.port, data, timeout)

    def conn(self, timeout=5.0):
        return RawConn(self.port, timeout)

    def http_conn(self, timeout=10):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)


_cli_seq = itertools.count()


def run_cli(args, env, workdir, timeout=10):
    """Run the binary with args and exactly env until it exits (its files in
    a new directory under workdir): the stopped Watchdog, with returncode,
    stdout() and stderr(); fails when it runs past timeout."""
    wd = Watchdog(env, workdir=Path(workdir) / f"cli{next(_cli_seq)}", args=args, bare_env=True,
                  ready=None)
    with wd:
        rc = wd.wait_exit(timeout)
        assert rc is not None, f"fwatchdog {args} did not exit within {timeout}s; {wd.describe()}"
    return wd


# --------------------------------------------------------------------------
# The http-mode test upstream (upstreams/app.py)
# --------------------------------------------------------------------------

UPSTREAM_APP = str(HERE / "upstreams" / "app.py")


def upstream_cmd(port, *args):
    return " ".join([sys.executable, UPSTREAM_APP, "--port", str(port)] + [str(a) for a in args])


def http_env(upstream_args=(), **env):
    """The environment of a watchdog in http mode with the test upstream as
    its function, on a free port."""
    up = free_port()
    full = {"mode": "http", "fprocess": upstream_cmd(up, *upstream_args),
            "upstream_url": "http://127.0.0.1:%d" % up}
    full.update(env)
    return full


@contextlib.contextmanager
def http_watchdog(workdir, upstream_args=(), healthy=True, **env):
    """A started watchdog in http mode with the test upstream; stopped on
    the way out whatever happens."""
    with Watchdog(http_env(upstream_args, **env), workdir=workdir,
                  ready="healthy" if healthy else None) as wd:
        yield wd


class Background:
    """A request to a watchdog on its own thread; join() gives its response
    (or raises what the request raised)."""

    def __init__(self, wd, path, method="GET", body=None, headers=None, timeout=20):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       args=(wd, method, path, body, headers, timeout))
        self.thread.start()

    def _run(self, wd, method, path, body, headers, timeout):
        try:
            self.result = wd.request(method, path, body=body, headers=headers, timeout=timeout)
        except Exception as e:  # reported by join()
            self.error = e

    def join(self, timeout=20):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background request did not finish"
        assert self.error is None, self.error
        return self.result


def expect_limit(r, n):
    """The limiter's exact 429, as the Go watchdog's (faas-middleware)."""
    assert r.status == 429, r
    assert r.body == f"Concurrent request limit exceeded. Max concurrent requests: {n}\n".encode()
    assert r.header_all("Content-Type") == ["text/plain"]
    assert r.header_all("X-OpenFaaS-Internal") == ["faas-middleware"]
    assert "X-Openfaas-Internal" in r.headers.names(), r.headers
