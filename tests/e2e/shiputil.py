"""Helpers for the image, template and static-binary tests (stdlib only).

Kept apart from conftest.py: these tests drive the watchdog the way an image
does (environment from a Dockerfile, a chroot, PID 1), not through fixtures.
"""
import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import wdproc

REPO = Path(__file__).resolve().parents[2]

# Every wait in these tests is bounded by one of these (seconds).
START_TIMEOUT = 15
REQUEST_TIMEOUT = 15
STOP_TIMEOUT = 15


def fwatchdog_bin():
    """The regular build: $FWATCHDOG_BIN or build/fwatchdog."""
    return Path(wdproc.binary())


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method="GET", path="/", body=None, headers=None,
            timeout=REQUEST_TIMEOUT):
    """One request to 127.0.0.1:port; returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


class Watchdog:
    """A running fwatchdog: its stderr goes to a file, quoted when it fails.

    Use as a context manager; leaving it kills and waits for the process
    group (the watchdog and whatever it started).
    """

    def __init__(self, argv, env, cwd=None, log_path=None, port=None):
        self.argv = [str(a) for a in argv]
        self.env = {k: str(v) for k, v in env.items()}
        self.cwd = cwd
        self.port = int(port if port is not None else self.env["port"])
        self.log_path = wdproc.log_path(log_path)
        self.proc = None

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.proc = wdproc.spawn(self.argv, self.env, self._log, cwd=self.cwd,
                                 start_new_session=True)
        return self

    def __exit__(self, *exc):
        try:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=STOP_TIMEOUT)
        finally:
            self._log.close()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def describe(self):
        return "watchdog %s (exit %s), env %s, log:\n%s" % (
            self.argv, self.proc.poll(), self.env, self.log())

    def wait_healthy(self, timeout=START_TIMEOUT):
        """Until GET /_/health is 200; fails quoting the log if the watchdog
        exits first (an unsupported mode, a bad setting) or never gets there."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("watchdog exited before it was healthy: "
                                     + self.describe())
            try:
                status, _, _ = request(self.port, path="/_/health", timeout=2)
                if status == 200:
                    return self
                last = status
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("watchdog not healthy after %ss (last: %r): %s"
                             % (timeout, last, self.describe()))

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then the exit code (bounded)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("watchdog still running %ss after SIGTERM: %s"
                                 % (timeout, self.describe()))


# The system's tools (python3 is /usr/bin/python3), not a user's shims.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_env(tmpdir, port):
    """The environment every test watchdog starts from."""
    return {
        "PATH": SYSTEM_PATH,
        "LANG": "C.UTF-8",
        "HOME": str(tmpdir),
        "TMPDIR": str(tmpdir),
        "port": str(port),
        "metrics_port": "0",
        "healthcheck_interval": wdproc.DRAIN,
    }


# --- Dockerfiles -----------------------------------------------------------

def dockerfile_instructions(path):
    """[(INSTRUCTION, args)] with comments dropped and continuations joined."""
    out, pending = [], ""
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            word, _, args = line.partition(" ")
            out.append((word.upper(), args.strip()))
    assert not pending, "%s ends inside a continued line" % path
    return out


def dockerfile_stages(path):
    """(global ARGs, [stages]); a stage is {"from", "name", "body": [...]}"""
    global_args, stages = [], []
    for word, args in dockerfile_instructions(path):
        if word == "FROM":
            parts = args.split()
            parts = [p for p in parts if not p.startswith("--platform")]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append({"from": parts[0], "name": name, "body": []})
        elif not stages:
            global_args.append((word, args))
        else:
            stages[-1]["body"].append((word, args))
    return global_args, stages


def parse_env_args(args):
    """ENV's arguments: key=value pairs (quotes as in a shell) or `key value`."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: args.split(None, 1)[1].strip() if len(words) > 1 else ""}
    env = {}
    for w in words:
        key, sep, value = w.partition("=")
        assert sep, "ENV %r: expected key=value" % args
        env[key] = value
    return env


def final_stage_env(path):
    """The ENV settings and WORKDIR of a Dockerfile's last stage."""
    _, stages = dockerfile_stages(path)
    env, workdir = {}, "/"
    for word, args in stages[-1]["body"]:
        if word == "ENV":
            env.update(parse_env_args(args))
        elif word == "WORKDIR":
            workdir = os.path.join(workdir, args.strip())
    return env, workdir


def exec_form(args):
    """A JSON exec-form argument list, or None for the shell form."""
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) else None
