"""http mode's shutdown of its function: function_grace (the time between
SIGTERM and SIGKILL, 5s by default as under the Go watchdog) and
forward_sigterm (SIGTERM as soon as the drain starts, while requests still
reach the function)."""
import signal
import sys
import time

from harness import free_port, wait_until, write_script

# A function server that notes each SIGTERM and, with "ignore", goes on
# serving (a runtime finishing its work).
UPSTREAM = """
import http.server, signal, sys, time
port, marker, ignore = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "ignore"

def on_term(signum, frame):
    with open(marker, "a") as f:
        f.write("TERM %f\\n" % time.monotonic())
    if not ignore:
        sys.exit(0)

signal.signal(signal.SIGTERM, on_term)

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass

http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def env_for(tmp_path, ignore, **extra):
    script = write_script(tmp_path, UPSTREAM, name="upstream.py")
    up = free_port()
    marker = tmp_path / "terms"
    env = {"mode": "http", "upstream_url": f"http://127.0.0.1:{up}",
           "fprocess": f"{sys.executable} {script} {up} {marker} {'ignore' if ignore else 'exit'}"}
    env.update(extra)
    return env, marker


def terms(marker):
    return marker.read_text().split("\n")[:-1] if marker.exists() else []


def test_function_grace_bounds_a_function_that_ignores_sigterm(watchdog, tmp_path):
    env, marker = env_for(tmp_path, True, function_grace="500ms")
    wd = watchdog(env, ready="healthy")
    assert wd.request().body == b"ok"
    t0 = time.monotonic()
    wd.signal(signal.SIGTERM)
    rc = wd.wait_exit(10)
    took = time.monotonic() - t0
    assert rc == 0, wd.stderr()
    assert len(terms(marker)) == 1
    assert "Function process still running 0.5s after SIGTERM: sending SIGKILL" in wd.stderr()
    # killed at the grace, long before the 5 s default
    assert took < 4.5, took


def test_function_grace_is_waited_for(watchdog, tmp_path):
    env, marker = env_for(tmp_path, True, function_grace="3s")
    wd = watchdog(env, ready="healthy")
    wd.signal(signal.SIGTERM)
    assert wait_until(lambda: terms(marker), 5)
    t_term = time.monotonic()
    rc = wd.wait_exit(15)
    assert rc == 0, wd.stderr()
    # SIGKILL no sooner than the grace after SIGTERM
    assert time.monotonic() - t_term >= 2.5
    assert "still running 3s after SIGTERM" in wd.stderr()


def test_function_that_exits_on_sigterm_ends_the_wait(watchdog, tmp_path):
    env, marker = env_for(tmp_path, False, function_grace="20s")
    wd = watchdog(env, ready="healthy")
    wd.signal(signal.SIGTERM)
    assert wd.wait_exit(10) == 0, wd.stderr()
    assert len(terms(marker)) == 1
    assert "sending SIGKILL" not in wd.stderr()


def test_forward_sigterm_tells_the_function_when_the_drain_starts(watchdog, tmp_path):
    env, marker = env_for(tmp_path, True, forward_sigterm="true", healthcheck_interval="3s",
                          function_grace="200ms")
    wd = watchdog(env, ready="healthy")
    wd.signal(signal.SIGTERM)
    # during the drain: the function has its SIGTERM and still serves
    assert wait_until(lambda: terms(marker), 2)
    assert wd.alive()
    assert wd.request().body == b"ok"
    assert wd.wait_exit(15) == 0, wd.stderr()
    # and a second SIGTERM at the stop, as without forward_sigterm
    assert len(terms(marker)) == 2


def test_without_forward_sigterm_the_function_hears_only_at_the_stop(watchdog, tmp_path):
    env, marker = env_for(tmp_path, True, healthcheck_interval="2s", function_grace="200ms")
    wd = watchdog(env, ready="healthy")
    wd.signal(signal.SIGTERM)
    assert wd.wait_log(r"SIGTERM: no new connections in 2s", 5)
    time.sleep(0.5)
    assert terms(marker) == []
    assert wd.request().body == b"ok"
    assert wd.wait_exit(15) == 0, wd.stderr()
    assert len(terms(marker)) == 1
