"""How every e2e helper starts fwatchdog, so that sanitizer and valgrind
runs (scripts/test-sanitize.sh, scripts/test-valgrind.sh) see every
watchdog whichever helper started it.

Environment:
  FWATCHDOG_BIN       the binary under test (default:
                      <repo>/$FWATCHDOG_BUILDDIR/fwatchdog, builddir "build")
  ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS
                      passed on to the watchdog (helpers build its
                      environment from scratch)
  FWATCHDOG_LOG_DIR   each watchdog's stderr is written there, as
                      <test>-<n>.log, instead of in the test's own directory
  FWATCHDOG_WRAPPER   a command prefix (valgrind ...), for the helpers
                      whose tests do not look at the watchdog's pid
  FWATCHDOG_SANITIZED set by those runs: memory bounds do not hold there
Standard library only.
"""
import http.client
import itertools
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
_seq = itertools.count()
# ASan's quarantine and valgrind keep freed memory resident: RSS bounds
# are checked in regular runs only.
SANITIZED = bool(os.environ.get("FWATCHDOG_SANITIZED"))
# healthcheck_interval for every test watchdog unless a test sets its own:
# the drain after SIGTERM at teardown then takes a tenth of a second
# instead of the second of quiet the watchdog otherwise waits for. The
# tests of the drain itself set their own.
DRAIN = "100ms"


def binary():
    env = os.environ.get("FWATCHDOG_BIN")
    if env:
        return str(Path(env).resolve())
    return str(REPO / os.environ.get("FWATCHDOG_BUILDDIR", "build") / "fwatchdog")


def with_sanitizer_env(env):
    """A copy of env plus the sanitizer settings of this run (a test's own
    setting wins)."""
    out = dict(env)
    for k in SANITIZER_VARS:
        if k in os.environ and k not in out:
            out[k] = os.environ[k]
    return out


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
    return Path(log_dir) / ("%s-%d.log" % (_test_name(), next(_seq)))


def status_fields(text):
    """The fields of a /proc/PID/status text: name -> list of words."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.split()
    return out


def wrapper():
    return os.environ.get("FWATCHDOG_WRAPPER", "").split()


def spawn(argv, env, stderr, stdout=None, use_wrapper=False, **popen_kw):
    """Popen of argv with the sanitizer settings added to env. stderr and
    stdout are open files (stdout None: same as stderr)."""
    argv = [str(a) for a in argv]
    if use_wrapper:
        argv = wrapper() + argv
    return subprocess.Popen(argv, env=with_sanitizer_env(env), stdin=subprocess.DEVNULL,
                            stdout=stderr if stdout is None else stdout, stderr=stderr,
                            **popen_kw)


# HTTP helpers shared by conftest.py and the per-area helper modules.

class Response:
    """A parsed HTTP response: status, reason, version, headers, body."""

    def __init__(self, version, status, reason, headers, body, raw_head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"<Response {self.status} {self.headers!r} body={self.body[:200]!r}>"


def request(port, method="GET", path="/", body=None, headers=None, timeout=10):
    """One request on a fresh http.client connection; returns Response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=not isinstance(body, (bytes, str, type(None))))
        r = conn.getresponse()
        data = r.read()
        return Response(f"HTTP/{r.version // 10}.{r.version % 10}", r.status,
                        r.reason, r.getheaders(), data)
    finally:
        conn.close()
