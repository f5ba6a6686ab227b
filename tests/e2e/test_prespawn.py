"""prespawn=N: fork-mode function processes started ahead of requests.

Idle prespawned processes are children of the watchdog while it runs, so
every test here stops its watchdog itself and checks what it left behind
(the fixture's "no descendants while alive" check does not apply)."""
import http.client
import os
import signal
import threading
import time

import pytest

import harness
from harness import children, cpu_seconds, free_port, proc_stat, proc_table, wait_until

BASE_PATH = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
CGI_MSG = ("prespawn: needs cgi_headers=false (prespawned functions start before the "
           "request, so they cannot receive Http_* variables)")
MODES_MSG = "prespawn: only for the fork modes"


def prespawn_env(n, **extra):
    env = {"fprocess": "cat", "prespawn": str(n), "cgi_headers": "false",
           "healthcheck_interval": "0"}
    env.update(extra)
    return env


def idle(wd):
    """Live (not zombie) direct children of the watchdog."""
    table = proc_table()
    return sorted(p for p in children(wd.pid, table) if table[p][0] != "Z")


def wait_idle(wd, n, timeout=5.0):
    got = wait_until(lambda: len(idle(wd)) == n, timeout)
    assert got, f"expected {n} idle function processes, have {idle(wd)}; stderr:\n{wd.stderr()[-3000:]}"
    return idle(wd)


def stop_and_check(wd):
    """SIGTERM; exit 0; none of its processes (running or zombie) remain."""
    pids = wd.descendants()
    wd.signal(signal.SIGTERM)
    code = wd.wait_exit(10)
    assert code == 0, f"exit {code}; stderr:\n{wd.stderr()[-3000:]}"
    # Reaped by the watchdog itself: not even a zombie reparented to us.
    left = [p for p in pids if proc_stat(p) is not None]
    assert not left, f"left behind after shutdown: {left}; stderr:\n{wd.stderr()[-3000:]}"
    wd.stop()


# -- configuration ------------------------------------------------------------------

def run_cli(env, tmp_path):
    full = {"PATH": BASE_PATH, "TMPDIR": str(tmp_path), "port": str(free_port()),
            "metrics_port": "0"}
    full.update(env)
    return harness.run_cli([], full, tmp_path, timeout=5)


CONFIG_ERRORS = [
    ({"fprocess": "cat", "prespawn": "2"}, CGI_MSG),
    ({"fprocess": "cat", "prespawn": "2", "cgi_headers": "true", "mode": "serializing"}, CGI_MSG),
    ({"fprocess": "cat", "prespawn": "1", "cgi_headers": "false", "mode": "http",
      "upstream_url": "http://127.0.0.1:1"}, MODES_MSG),
    ({"prespawn": "1", "cgi_headers": "false", "mode": "static"}, MODES_MSG),
    ({"fprocess": "cat", "prespawn": "65", "cgi_headers": "false"}, "prespawn: invalid number"),
    ({"fprocess": "cat", "prespawn": "-1", "cgi_headers": "false"}, "prespawn: invalid number"),
    ({"fprocess": "cat", "prespawn": "two", "cgi_headers": "false"}, "prespawn: invalid number"),
]


@pytest.mark.parametrize("env,msg", CONFIG_ERRORS,
                         ids=["cgi", "cgi-serializing", "http", "static", "65", "-1", "two"])
def test_config_errors_exit_2_naming_prespawn(env, msg, tmp_path):
    r = run_cli(env, tmp_path)
    err = r.stderr()
    assert r.returncode == 2, f"exit {r.returncode}, stderr {err!r}"
    assert msg in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_help_mentions_prespawn(tmp_path):
    r = harness.run_cli(["--help"], {}, tmp_path, timeout=5)
    assert r.returncode == 0
    assert "prespawn" in r.stdout()


def test_prespawn_0_keeps_cgi_headers_allowed(watchdog):
    wd = watchdog({"fprocess": "cat", "prespawn": "0"})
    assert wd.request("POST", "/", b"x").body == b"x"
    assert wd.wait_no_descendants(3) == []
    stop_and_check(wd)


# -- correctness ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["streaming", "serializing", "classic"])
def test_echo_sequential_and_concurrent(watchdog, mode):
    wd = watchdog(prespawn_env(2, mode=mode))
    wait_idle(wd, 2)
    for i in range(30):
        body = f"seq-{i}-".encode() * (i + 1)
        r = wd.request("POST", "/", body)
        assert (r.status, r.body) == (200, body), (i, r)

    errors = []

    def client(t):
        for i in range(10):
            body = f"thread-{t}-{i}".encode() * 50
            try:
                r = wd.request("POST", "/", body)
                if (r.status, r.body) != (200, body):
                    errors.append((t, i, r))
            except OSError as e:
                errors.append((t, i, e))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "clients did not finish"
    assert not errors, errors[:5]
    wait_idle(wd, 2)
    stop_and_check(wd)


def test_request_uses_a_prespawned_process_and_pool_refills(watchdog):
    wd = watchdog(prespawn_env(3))
    before = set(wait_idle(wd, 3))
    for i in range(5):
        assert wd.request("POST", "/", b"r%d" % i).body == b"r%d" % i
    after = set(wait_idle(wd, 3))
    # Five requests took the three first processes (and two refills).
    assert not before & after, (before, after)
    # A refill is a child from its fork on; it is cat once its exec is done
    # (under qemu-user, many milliseconds later).
    assert wait_until(lambda: all((proc_stat(p) or "????")[3] == "cat" for p in after), 5), \
        [proc_stat(p) for p in after]
    stop_and_check(wd)


def test_output_before_the_request_goes_to_that_request(watchdog):
    wd = watchdog(prespawn_env(1, fprocess="sh -c 'echo ready; cat'"))
    wait_idle(wd, 1)
    time.sleep(0.2)  # "ready" is written while the process is idle
    r = wd.request("POST", "/", b"body")
    assert (r.status, r.body) == (200, b"ready\nbody")
    stop_and_check(wd)


def test_idle_stderr_goes_to_the_log(watchdog):
    wd = watchdog(prespawn_env(1, fprocess="sh -c 'echo warming-up >&2; exec cat'"))
    wd.wait_log(r"stderr: warming-up", 5)
    assert wd.request("POST", "/", b"x").body == b"x"
    stop_and_check(wd)


# -- exec_timeout ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_exec_timeout_counts_from_the_request(watchdog, mode):
    # The body is how long the function sleeps before answering.
    wd = watchdog(prespawn_env(1, mode=mode, exec_timeout="1s",
                               fprocess="sh -c 'read d; sleep $d; echo done'"))
    wait_idle(wd, 1)
    time.sleep(1.5)  # idle longer than exec_timeout: a timer from the start would have fired
    t0 = time.monotonic()
    r = wd.request("POST", "/", b"0.5\n")
    assert (r.status, r.body) == (200, b"done\n"), r
    assert time.monotonic() - t0 >= 0.45

    wait_idle(wd, 1)
    time.sleep(1.5)
    t0 = time.monotonic()
    r = wd.request("POST", "/", b"5\n")
    took = time.monotonic() - t0
    assert r.status == 504, r
    assert 0.9 <= took < 3.0, took
    wait_idle(wd, 1)
    stop_and_check(wd)


# -- a function that cannot wait ------------------------------------------------------

def test_function_exiting_at_once_does_not_spin(watchdog):
    wd = watchdog(prespawn_env(2, fprocess="true"))
    cpu0 = cpu_seconds(wd.pid)
    time.sleep(2.5)
    used = cpu_seconds(wd.pid) - cpu0
    assert used < 0.3, f"watchdog used {used:.2f}s of CPU in 2.5s"
    log = wd.stderr()
    assert log.count("prespawning stopped") == 1, log[-3000:]
    # Requests still work: each starts its own process.
    r = wd.request("POST", "/", b"x")
    assert (r.status, r.body) == (200, b"")
    assert wd.wait_no_descendants(3) == []
    stop_and_check(wd)


def test_idle_process_that_dies_later_is_replaced(watchdog):
    wd = watchdog(prespawn_env(2))
    first = wait_idle(wd, 2)
    os.kill(first[0], signal.SIGKILL)
    now = wait_until(lambda: (lambda s: len(s) == 2 and first[0] not in s and s)(idle(wd)), 5)
    assert now, f"not replaced: {idle(wd)}"
    assert "prespawning stopped" not in wd.stderr()
    assert wd.request("POST", "/", b"ok").body == b"ok"
    stop_and_check(wd)


# -- shutdown -------------------------------------------------------------------------

def test_shutdown_kills_and_reaps_idle_processes(watchdog):
    wd = watchdog(prespawn_env(3, fprocess="sh -c 'sleep 60 & cat'"))
    wait_until(lambda: len(wd.descendants()) >= 6, 5)
    assert len(wd.descendants()) >= 6, wd.descendants()
    stop_and_check(wd)
    assert "prespawn: stopping 3 idle function process(es)" in wd.stderr()


# -- metrics --------------------------------------------------------------------------

def function_starts(metrics_port):
    c = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=5)
    try:
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
    finally:
        c.close()
    for line in text.splitlines():
        if line.startswith("fwatchdog_function_starts_total "):
            return int(float(line.split()[1]))
    raise AssertionError("no fwatchdog_function_starts_total in /metrics")


def test_metrics_count_a_start_when_the_process_starts(watchdog):
    mport = free_port()
    wd = watchdog(prespawn_env(2, metrics_port=str(mport)))
    wait_idle(wd, 2)
    assert function_starts(mport) == 2  # before any request
    for i in range(3):
        assert wd.request("POST", "/", b"m").body == b"m"
    wait_idle(wd, 2)
    assert function_starts(mport) == 5  # three taken, three replaced
    stop_and_check(wd)
