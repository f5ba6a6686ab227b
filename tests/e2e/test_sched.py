"""Scheduling policy: in the modes that start a process per request the
watchdog runs SCHED_BATCH, so it does not preempt its functions, and every
function still starts with the default policy. A policy chosen by whoever
started the watchdog is left alone."""
import os
import sys

import pytest


def _policy_in_stat(stat_text):
    """Field 41 of /proc/PID/stat (counted after the parenthesised name)."""
    return int(stat_text.rsplit(")", 1)[1].split()[38])


@pytest.mark.parametrize("mode", ["streaming", "serializing", "classic"])
def test_fork_modes_yield_to_functions(watchdog, mode):
    wd = watchdog({"mode": mode, "fprocess": "cat /proc/self/stat"})
    r = wd.request("POST", "/", body=b"", timeout=5)
    assert r.status == 200
    assert os.sched_getscheduler(wd.pid) == os.SCHED_BATCH
    assert _policy_in_stat(r.body.decode()) == os.SCHED_OTHER, "the function kept SCHED_BATCH"


def test_static_mode_keeps_default_policy(watchdog, tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("hi\n")
    wd = watchdog({"mode": "static", "static_path": str(root)})
    assert wd.request("GET", "/", timeout=5).status == 200
    assert os.sched_getscheduler(wd.pid) == os.SCHED_OTHER


# Starts the watchdog as its child under SCHED_IDLE, as an operator can.
IDLE_PARENT = (sys.executable, "-c",
               "import os, subprocess, sys\n"
               "def idle():\n"
               "    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
               "sys.exit(subprocess.call(sys.argv[1:], preexec_fn=idle))")


def test_policy_set_by_the_operator_is_kept(watchdog):
    wd = watchdog({"fprocess": "cat /proc/self/stat"}, launcher=IDLE_PARENT)
    r = wd.request("POST", "/", body=b"", timeout=5)
    assert r.status == 200
    assert os.sched_getscheduler(wd.pid) == os.SCHED_IDLE
    assert _policy_in_stat(r.body.decode()) == os.SCHED_IDLE, "the function did not inherit it"
