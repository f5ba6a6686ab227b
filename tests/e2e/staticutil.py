"""Helpers for the static and classic mode tests: start the real binary on a
free loopback port with a given environment, talk to it over 127.0.0.1, and
always stop and reap it."""
import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

import wdproc

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(wdproc.binary())
HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 30.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Watchdog:
    """One watchdog process. Use as a context manager; stderr goes to
    tmp/stderr.log and is available through .log()."""

    def __init__(self, tmp: Path, env: dict):
        self.tmp = Path(tmp)
        self.port = free_port()
        self.stderr_path = wdproc.log_path(self.tmp / "stderr.log")
        tmpdir = self.tmp / "tmpdir"
        tmpdir.mkdir(exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TMPDIR": str(tmpdir),
            "port": str(self.port),
            "metrics_port": "0",
            "healthcheck_interval": wdproc.DRAIN,
        }
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None

    def start(self, wait=True):
        with open(self.stderr_path, "wb") as err:
            self.proc = wdproc.spawn([BINARY], self.env, err, stdout=subprocess.DEVNULL)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("watchdog exited with %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                if request(self.port, "GET", "/_/health", timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("watchdog not healthy in %.0fs:\n%s" % (START_TIMEOUT, self.log()))

    def wait_exit(self, timeout=START_TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        # SIGKILL: these tests are not about shutdown, and the drain window
        # would make every test wait for it.
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)

    def log(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def rss_kib(self):
        """Resident set size of the watchdog itself, in KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def request(port, method, path, headers=None, body=None, timeout=IO_TIMEOUT):
    """(status, headers as a case-insensitive message, body bytes). path is
    sent exactly as given, so traversal attempts reach the server as is."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


def raw_request(port, data: bytes, timeout=IO_TIMEOUT):
    """Send raw bytes, read until the server closes; for request lines that
    http.client would refuse to send."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
