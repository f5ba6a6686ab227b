"""Helpers for the http-mode end-to-end tests: start the watchdog on a free
loopback port with a test upstream as its fprocess, talk to it, and always
tear everything down. Standard library only."""
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import wdproc

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_APP = os.path.join(HERE, "upstreams", "app.py")
BINARY = wdproc.binary()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, step=0.02):
    """Poll pred until it is true; False when timeout passes first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class Watchdog:
    """One fwatchdog process in http mode (or whatever env says)."""

    def __init__(self, tmpdir, env):
        self.tmpdir = str(tmpdir)
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TMPDIR": self.tmpdir,
            "port": str(self.port),
            "metrics_port": "0",
            "healthcheck_interval": wdproc.DRAIN,
        }
        self.env.update({k: str(v) for k, v in env.items()})
        self.log_path = str(wdproc.log_path(os.path.join(self.tmpdir, "watchdog.log")))
        self.stdout_path = os.path.join(self.tmpdir, "stdout.log")
        self.proc = None

    def start(self):
        self.log_file = open(self.log_path, "wb")
        self.out_file = open(self.stdout_path, "wb")
        self.proc = wdproc.spawn([BINARY], self.env, self.log_file, stdout=self.out_file)
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def function_pid(self, timeout=5):
        """The pid of the fprocess: the watchdog's child."""
        found = []

        def look():
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                    kids = f.read().split()
            except OSError:
                return False
            found[:] = [int(k) for k in kids]
            return bool(found)
        assert wait_until(look, timeout), self.log()
        return found[0]

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, headers dict, body bytes) over a fresh connection."""
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def health(self):
        try:
            return self.request("GET", "/_/health", timeout=2)[0]
        except OSError:
            return None

    def wait_healthy(self, timeout=10):
        assert wait_until(lambda: self.health() == 200, timeout), self.log()
        return self

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def rss_peak_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def stop(self):
        """SIGTERM, then SIGKILL; make sure the function is gone too."""
        if self.proc is None:
            return
        fn_pid = None
        with contextlib.suppress(Exception):
            fn_pid = self.function_pid(timeout=0)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(10) is None:
                self.proc.kill()
                self.proc.wait(5)
        if fn_pid and _alive(fn_pid):
            with open("/proc/%d/cmdline" % fn_pid, "rb") as f:
                mine = UPSTREAM_APP.encode() in f.read()
            if mine:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(fn_pid, signal.SIGKILL)
        self.log_file.close()


def upstream_cmd(port, *args):
    return " ".join([sys.executable, UPSTREAM_APP, "--port", str(port)] + [str(a) for a in args])


@contextlib.contextmanager
def http_watchdog(tmpdir, upstream_args=(), healthy=True, **env):
    """A watchdog in http mode with the test upstream; stopped on exit."""
    up_port = free_port()
    full = {"mode": "http", "fprocess": upstream_cmd(up_port, *upstream_args),
            "upstream_url": "http://127.0.0.1:%d" % up_port}
    full.update(env)
    wd = Watchdog(tmpdir, full)
    try:
        wd.start()
        if healthy:
            wd.wait_healthy()
        yield wd
    finally:
        wd.stop()

