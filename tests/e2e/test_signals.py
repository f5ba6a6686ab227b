"""Signals, children and shutdown: the drain on SIGTERM, reaping orphans
(also as PID 1 of a PID namespace), the signal state functions start with."""
import signal
import sys
import threading
import time

import pytest

from harness import status_fields, wait_until


def request_in_background(wd, path):
    """A started thread making GET path, and the dict its answer ("r") or
    error ("e") lands in."""
    out = {}

    def call():
        try:
            out["r"] = wd.request("GET", path, timeout=20)
        except Exception as e:
            out["e"] = e

    t = threading.Thread(target=call)
    t.start()
    return t, out


def test_sigterm_drains_in_flight_request(watchdog):
    wd = watchdog({"fprocess": "sh -c 'sleep 2; echo done'", "healthcheck_interval": "5s"})
    wd.wait_lock()
    t, out = request_in_background(wd, "/slow")
    try:
        wd.wait_descendants(3)
        wd.signal(signal.SIGTERM)
        assert wait_until(lambda: not wd.lock_path.exists(), 1.0), "lock not removed on SIGTERM"
        assert wd.request("GET", "/_/health").status == 503
        assert wd.request("GET", "/_/ready").status == 503
        # still serving during the drain window
        fast = wd.request("GET", "/fast", timeout=10)
        assert fast.status == 200
    finally:
        t.join(20)
    assert "e" not in out, out.get("e")
    assert (out["r"].status, out["r"].body) == (200, b"done\n")
    rc = wd.wait_exit(15)
    assert rc == 0, f"exit code {rc}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_nothing_in_flight_exits_early(watchdog, sig):
    wd = watchdog({"fprocess": "cat", "healthcheck_interval": "30s"})
    wd.wait_lock()
    assert wd.request("POST", "/", b"x").status == 200
    t0 = time.monotonic()
    wd.signal(sig)
    rc = wd.wait_exit(5)
    assert rc == 0, f"exit code {rc} ({time.monotonic() - t0:.1f}s after signal)"
    assert time.monotonic() - t0 < 3.5
    assert not wd.lock_path.exists()


@pytest.mark.parametrize("interval", ["0", "-1s"])
def test_no_drain_window_stops_at_once_and_finishes_in_flight(watchdog, interval):
    # The Go watchdogs never exit here (time.Tick of a duration not over 0
    # never fires): no drain window means new connections are refused at
    # once, while the request in flight still gets its answer.
    wd = watchdog({"fprocess": "sh -c 'sleep 1; echo done'", "healthcheck_interval": interval})
    wd.wait_lock()
    t, out = request_in_background(wd, "/slow")
    try:
        wd.wait_descendants(3)
        wd.signal(signal.SIGTERM)
        assert wait_until(lambda: wd.health() is None, 1.0), "still accepting after SIGTERM"
    finally:
        t.join(20)
    assert "e" not in out, out.get("e")
    assert (out["r"].status, out["r"].body) == (200, b"done\n")
    assert wd.wait_exit(5) == 0


def messages(text):
    """The log lines without their date and time."""
    return [l.split(" ", 2)[2] for l in text.splitlines() if l.count(" ") >= 2]


@pytest.mark.parametrize("mode", ["streaming", "classic"])
def test_shutdown_logs_the_go_watchdogs_lines(watchdog, mode):
    wd = watchdog({"fprocess": "cat", "mode": mode, "healthcheck_interval": "200ms"})
    wd.wait_lock()
    wd.signal(signal.SIGTERM)
    assert wd.wait_exit(5) == 0
    assert messages(wd.stderr())[-4:] == [
        "SIGTERM: no new connections in 200ms",
        "Removing lock-file : %s" % wd.lock_path,
        "No new connections allowed, draining: 0 requests",
        "Exiting. Active connections: 0"], wd.stderr()


def test_shutdown_with_suppress_lock_removes_nothing(watchdog):
    wd = watchdog({"fprocess": "cat", "suppress_lock": "true", "healthcheck_interval": "1500ms"})
    assert wd.wait_log(r"Listening on port", 5)
    wd.signal(signal.SIGINT)
    assert wd.wait_exit(5) == 0
    msgs = messages(wd.stderr())
    assert "SIGINT: no new connections in 1.5s" in msgs
    assert not any(m.startswith("Removing lock-file") for m in msgs), msgs


def test_orphaned_grandchild_is_reaped(watchdog):
    """A function that leaves a background child which exits later:
    the watchdog (subreaper) reaps it, no zombie remains."""
    wd = watchdog({"fprocess": "sh -c 'sleep 1 >/dev/null 2>&1 </dev/null & echo started'"})
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"started\n")
    # the background sleep exits after 1 s and must then be reaped
    wd.assert_no_descendants(10)
    assert not wd.zombies()


def test_many_requests_leave_no_zombies(watchdog):
    wd = watchdog({"fprocess": "sh -c 'true & echo x'"})
    for _ in range(20):
        assert wd.request("GET", "/").status == 200
    wd.assert_no_descendants(5)
    assert not wd.zombies()


# The watchdog as PID 1 of a new PID namespace, as in a container.
PID1 = ["unshare", "--pid", "--fork", "--kill-child"]


def test_as_pid1_reaps_orphans(watchdog):
    wd = watchdog({"fprocess": "sh -c 'sleep 1 >/dev/null 2>&1 </dev/null & echo $$'"}, launcher=PID1)
    for _ in range(5):
        r = wd.request("GET", "/")
        assert r.status == 200
    assert int(r.body) > 1, "function should not be PID 1 in the namespace"
    # the background sleep exits after 1 s and must then be reaped
    wd.assert_no_descendants(10)
    assert not wd.zombies()


def test_as_pid1_sigterm_exits_0(watchdog):
    wd = watchdog({"fprocess": "cat", "healthcheck_interval": "30s"}, launcher=PID1)
    wd.wait_lock()
    assert wd.request("POST", "/", b"x").body == b"x"
    t0 = time.monotonic()
    wd.signal(signal.SIGTERM)
    rc = wd.wait_exit(5)
    assert rc == 0, f"PID 1 did not exit 0 on SIGTERM (rc={rc})"
    assert time.monotonic() - t0 < 3.5
    assert not wd.lock_path.exists()


def _sig_masks(status_text):
    fields = status_fields(status_text)
    return fields["SigBlk"][0], fields["SigIgn"][0]


# Starts the watchdog as its child with SIGHUP, SIGINT, SIGQUIT and SIGCHLD
# ignored and SIGTERM blocked, as nohup, a shell's background job or a
# careless parent can.
IGNORING_PARENT = (sys.executable, "-c",
                   "import signal, subprocess, sys\n"
                   "def ignore():\n"
                   "    for s in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD):\n"
                   "        signal.signal(s, signal.SIG_IGN)\n"
                   "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
                   "sys.exit(subprocess.call(sys.argv[1:], preexec_fn=ignore))")


def _bits(*sigs):
    return sum(1 << (s - 1) for s in sigs)


def test_function_keeps_ignored_hup_and_int_and_gets_an_empty_mask(watchdog):
    """The watchdog blocks SIGCHLD and SIGTERM (it reads them from a
    signalfd) and ignores SIGPIPE for itself, and here inherits SIGHUP,
    SIGINT, SIGQUIT and SIGCHLD ignored and SIGTERM blocked from its parent.
    As under the Go watchdogs, SIGHUP and SIGINT stay ignored, for the
    watchdog and for the function (a SIGINT stops nothing), and every other
    signal is back to its default; the watchdog still hears of its
    function's exit and of SIGTERM, and the function starts with an empty
    mask."""
    wd = watchdog({"fprocess": "cat /proc/self/status"}, launcher=IGNORING_PARENT)
    own_status = open("/proc/%d/status" % wd.pid).read()
    own_blk, own_ign = _sig_masks(own_status)
    # No handler for any signal that can arrive from outside, so nothing of
    # ours can run in a vfork child. (Sanitizer runtimes catch the fault
    # signals, which only the faulting code itself raises.)
    own_cgt = status_fields(own_status)["SigCgt"][0]
    faults = _bits(signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL)
    assert int(own_cgt, 16) & ~faults == 0, "the watchdog catches signals: SigCgt " + own_cgt
    read_from_fd = _bits(signal.SIGCHLD, signal.SIGTERM)
    assert int(own_blk, 16) == read_from_fd, "blocks exactly SIGCHLD, SIGTERM: " + own_blk
    assert int(own_ign, 16) & _bits(signal.SIGHUP, signal.SIGINT) == _bits(signal.SIGHUP, signal.SIGINT)
    assert not int(own_ign, 16) & _bits(signal.SIGCHLD), "SIGCHLD still ignored"
    r = wd.request("POST", "/", body=b"", timeout=5)
    assert r.status == 200
    blk, ign = _sig_masks(r.body.decode())
    assert int(blk, 16) == 0, "function started with blocked signals: SigBlk " + blk
    assert int(ign, 16) == _bits(signal.SIGHUP, signal.SIGINT), "function's SigIgn " + ign
    wd.signal(signal.SIGINT)
    # Ignored, so nothing changes: the request after it is answered and
    # the lock stays (a drain would remove it in the pass that reads it).
    assert wd.request("POST", "/", body=b"", timeout=5).status == 200
    assert not wait_until(lambda: not wd.lock_path.exists(), 0.5), "SIGINT started a drain"
    assert wd.alive()
    wd.signal(signal.SIGTERM)
    assert wait_until(lambda: not wd.lock_path.exists(), 3.0), "SIGTERM not handled"


def test_function_gets_default_signals_when_nothing_is_ignored(watchdog):
    """Started with nothing ignored, the function gets nothing ignored,
    SIGPIPE (which the watchdog ignores for itself) included."""
    wd = watchdog({"fprocess": "cat /proc/self/status"})
    r = wd.request("POST", "/", body=b"", timeout=5)
    assert r.status == 200
    blk, ign = _sig_masks(r.body.decode())
    assert int(blk, 16) == 0, "function started with blocked signals: SigBlk " + blk
    assert int(ign, 16) == 0, "function started with ignored signals: SigIgn " + ign
