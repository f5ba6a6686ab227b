"""Helpers for the metrics, logging and concurrency-limit tests: start the
real fwatchdog on free loopback ports with a private TMPDIR and stderr in a
file, always kill and wait for it, and a strict parser for the Prometheus
text exposition format 0.0.4.

The binary is $FWATCHDOG_BIN, else <repo>/$FWATCHDOG_BUILDDIR/fwatchdog
(builddir default: build). Standard library only; every wait is bounded.
"""
import contextlib
import math
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import wdproc
from wdproc import request  # noqa: F401 (used by the tests)

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def watchdog_bin():
    return wdproc.binary()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.02):
    """Poll pred() until truthy or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

def raw_exchange(port, data, timeout=5.0):
    """Send bytes, read until the peer closes or timeout: (bytes, closed)."""
    deadline = time.monotonic() + timeout
    out = b""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, False
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk


# --------------------------------------------------------------------------
# Which TCP ports a process listens on (from /proc)
# --------------------------------------------------------------------------

def _socket_inodes(pid):
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    return inodes


def listening_ports(pid):
    """TCP ports (v4 and v6) in LISTEN state on sockets pid holds."""
    inodes = _socket_inodes(pid)
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


# --------------------------------------------------------------------------
# The watchdog under test
# --------------------------------------------------------------------------

class Watchdog:
    """One fwatchdog process. env adds to (or, with None, removes from) a
    minimal environment: PATH, TMPDIR, port, metrics_port."""

    def __init__(self, workdir, env=None, metrics=True):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tmpdir = self.workdir / "tmp"
        self.tmpdir.mkdir(exist_ok=True)
        self.port = free_port()
        self.metrics_port = 0
        while metrics and self.metrics_port in (0, self.port):
            self.metrics_port = free_port()
        full = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TMPDIR": str(self.tmpdir),
            "port": str(self.port),
            "metrics_port": str(self.metrics_port),
            "healthcheck_interval": wdproc.DRAIN,
        }
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        self.env = full
        self.stderr_path = wdproc.log_path(self.workdir / "stderr.log")
        self.proc = None
        self._err = None

    def start(self):
        self._err = open(self.stderr_path, "wb")
        self.proc = wdproc.spawn([watchdog_bin()], self.env, self._err, start_new_session=True)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_healthy(self, timeout=10.0):
        """Until /_/health answers 200 (the lock file is written by then)."""
        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError(f"fwatchdog exited with {self.proc.returncode}; "
                                     f"stderr:\n{self.stderr()}")
            try:
                return request(self.port, path="/_/health", timeout=1).status == 200
            except OSError:
                return False
        assert wait_until(healthy, timeout), f"not healthy after {timeout}s:\n{self.stderr()}"
        return self

    def wait_exit(self, timeout):
        """The exit code, or None when still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout=10.0):
        """SIGTERM and wait for a clean exit; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        """Always safe: SIGKILL the whole session if still running, and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self._err:
            self._err.close()

    def stderr(self):
        try:
            return self.stderr_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def request(self, method="GET", path="/", body=None, headers=None, timeout=10):
        return request(self.port, method, path, body, headers, timeout)

    def scrape(self, timeout=5):
        """GET /metrics: (Response, parsed families)."""
        r = request(self.metrics_port, path="/metrics", timeout=timeout)
        assert r.status == 200, r
        return r, parse_exposition(r.body.decode("utf-8"))


@contextlib.contextmanager
def watchdog(tmp_path, env=None, metrics=True, healthy=True):
    """A started watchdog, killed and reaped on the way out whatever happens."""
    wd = Watchdog(tmp_path, env, metrics)
    try:
        wd.start()
        if healthy:
            wd.wait_healthy()
        yield wd
    finally:
        wd.kill()


# --------------------------------------------------------------------------
# Prometheus text format 0.0.4, parsed strictly
# --------------------------------------------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?Inf|NaN|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
SAMPLE_RE = re.compile(
    rf"^(?P<name>{METRIC_NAME})"
    rf"(?:\{{(?P<labels>(?:{LABEL_NAME}={LABEL_VALUE}(?:,{LABEL_NAME}={LABEL_VALUE})*,?)?)\}})?"
    rf" (?P<value>{VALUE})(?: (?P<ts>-?\d+))?$")
LABEL_RE = re.compile(rf"({LABEL_NAME})=({LABEL_VALUE})")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []  # (sample name, labels dict, value)

    def value(self, **labels):
        """The value of the sample named like the family with these labels;
        0 when that series does not exist (yet)."""
        for n, l, v in self.samples:
            if n == self.name and l == labels:
                return v
        return 0.0

    def __repr__(self):
        return f"<Family {self.name} {self.type} {len(self.samples)} samples>"


def _unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v[1:-1])


def _family_of(sample_name, families, current):
    """The family a sample belongs to: its own name, or a histogram/summary
    with the _bucket/_sum/_count suffix stripped."""
    if current is not None:
        if sample_name == current.name:
            return current
        for suffix in ("_bucket", "_sum", "_count"):
            if sample_name == current.name + suffix and current.type in ("histogram", "summary"):
                return current
    return None


def parse_exposition(text):
    """name -> Family. Raises AssertionError on anything the 0.0.4 text
    format does not allow, and on broken histograms."""
    assert text.endswith("\n"), "text must end with a newline"
    families = {}
    current = None
    seen_series = set()
    for i, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {i}: {line!r}"
        assert line != "", f"{where}: empty line"
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({METRIC_NAME}) (.*)$", line)
            if not m:
                assert not re.match(r"^#\s*(HELP|TYPE)\b", line), f"{where}: malformed {line[:6]}"
                continue  # a plain comment
            kind, name, rest = m.groups()
            fam = families.get(name)
            if fam is None:
                fam = families[name] = Family(name)
            else:
                assert fam is current and not fam.samples, \
                    f"{where}: {name} described again or after its samples"
            current = fam
            if kind == "HELP":
                assert fam.help is None, f"{where}: second HELP"
                assert re.fullmatch(r"(?:[^\\\n]|\\[\\n])*", rest), f"{where}: bad escape in HELP"
                fam.help = rest
            else:
                assert fam.type is None, f"{where}: second TYPE"
                assert rest in TYPES, f"{where}: unknown type"
                fam.type = rest
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"{where}: not a well-formed sample"
        name = m.group("name")
        labels = {}
        for ln, lv in LABEL_RE.findall(m.group("labels") or ""):
            assert ln not in labels, f"{where}: label {ln} twice"
            labels[ln] = _unescape(lv)
        fam = _family_of(name, families, current)
        if fam is None:
            assert name not in families, f"{where}: samples of {name} not grouped together"
            fam = current = families[name] = Family(name)  # untyped, no HELP
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen_series, f"{where}: duplicate series"
        seen_series.add(key)
        fam.samples.append((name, labels, float(m.group("value"))))
    for fam in families.values():
        check_family(fam)
    return families


def check_family(fam):
    assert fam.samples, f"{fam.name}: described but has no samples"
    if fam.type == "counter":
        for n, l, v in fam.samples:
            assert n == fam.name and v >= 0, f"{fam.name}: bad counter sample {n} {l} {v}"
    elif fam.type == "gauge":
        for n, _, _ in fam.samples:
            assert n == fam.name, f"{fam.name}: bad gauge sample {n}"
    elif fam.type == "histogram":
        check_histogram(fam)


def check_histogram(fam):
    """Per label set: buckets in increasing le, cumulative, the last +Inf,
    _count equal to the +Inf bucket, _sum present."""
    groups = {}
    for n, labels, v in fam.samples:
        base = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if n == fam.name + "_bucket":
            assert "le" in labels, f"{fam.name}: bucket without le"
            g["buckets"].append((float(labels["le"]), v))
        elif n == fam.name + "_sum":
            assert "le" not in labels and g["sum"] is None
            g["sum"] = v
        elif n == fam.name + "_count":
            assert "le" not in labels and g["count"] is None
            g["count"] = v
        else:
            raise AssertionError(f"{fam.name}: unexpected sample {n}")
    for base, g in groups.items():
        b = g["buckets"]
        assert b, f"{fam.name}{base}: no buckets"
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), f"{fam.name}{base}: le order {les}"
        assert math.isinf(les[-1]) and les[-1] > 0, f"{fam.name}{base}: last bucket is not +Inf"
        counts = [c for _, c in b]
        assert all(x <= y for x, y in zip(counts, counts[1:])), \
            f"{fam.name}{base}: buckets not cumulative {counts}"
        assert g["sum"] is not None, f"{fam.name}{base}: no _sum"
        assert g["count"] == counts[-1], f"{fam.name}{base}: _count {g['count']} != +Inf {counts[-1]}"


def total(fam):
    """Sum of a counter family over all its series (0 when absent)."""
    if fam is None:
        return 0.0
    return sum(v for n, _, v in fam.samples if n == fam.name)


def write_script(directory, text, name="fn.sh"):
    """An executable script in directory; its path as a string."""
    p = directory / name
    p.write_text(text)
    p.chmod(0o755)
    return str(p)
