"""Fixtures of the end-to-end suite; the harness itself is harness.py."""
import os
import signal

import pytest

from harness import Watchdog, become_subreaper, children, describe, kill_leftovers, wait_until

become_subreaper()

# A suite started in the background by a shell (scripts/test-cross.sh runs
# its suites so) inherits SIGINT ignored, and the watchdog, as Go's, keeps
# an inherited-ignored SIGINT or SIGHUP ignored. The watchdogs under test
# start as from a foreground shell, whatever started the suite; the tests
# of inherited dispositions set their own (test_signals.py).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture
def watchdog(tmp_path):
    """Factory: watchdog(env=None, args=(), **kw) starts a harness.Watchdog
    (keyword arguments as its constructor's; ready="listening" by default)
    in a directory of its own under tmp_path. Every watchdog started is
    stopped at teardown; a test that leaves function processes of a
    process-per-request mode behind fails there."""
    started = []

    def start(env=None, args=(), **kw):
        wd = Watchdog(env, workdir=tmp_path / f"wd{len(started)}", args=args, **kw)
        started.append(wd)
        return wd.start()

    yield start
    problems = []
    for wd in started:
        # In http mode (and with prespawn) function processes live as long
        # as the watchdog: stop() ends them with it.
        per_request = wd.env.get("mode") != "http" and not wd.env.get("prespawn")
        if wd.alive() and per_request:
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
