"""The private endpoints /_/health and /_/ready, ready_path, and the lock
file health follows. (/_/ready under max_inflight: test_inflight.py.)"""
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import harness
from harness import free_port, upstream_cmd


def test_health_ok_and_lock_file_mode_0660(watchdog):
    wd = watchdog({"fprocess": "cat"})
    wd.wait_lock()
    r = wd.request("GET", "/_/health")
    assert (r.status, r.body) == (200, b"OK")
    mode = stat.S_IMODE(wd.lock_path.stat().st_mode)
    assert mode == 0o660, f"lock file mode {oct(mode)}, want 0o660"


def test_lock_directory_created_when_missing(watchdog, tmp_path):
    tmpdir = tmp_path / "does" / "not" / "exist"
    wd = watchdog({"fprocess": "cat"}, tmpdir=tmpdir)
    wd.wait_lock()
    assert (tmpdir / ".lock").is_file()
    assert wd.request("GET", "/_/health").status == 200


@pytest.mark.parametrize("mode", ["streaming", "http"])
def test_unwritable_lock_file_stops_the_watchdog_with_2(tmp_path, mode):
    # As the Go watchdogs (which panic, exit 2): a watchdog that can never
    # be healthy stops and says how to go on, instead of serving unready.
    # A regular file on the way fails even for root.
    (tmp_path / "file").write_bytes(b"")
    tmpdir = tmp_path / "file" / "sub"
    env = {"PATH": "/usr/bin:/bin", "port": str(free_port()), "metrics_port": "0",
           "TMPDIR": str(tmpdir), "healthcheck_interval": "1s"}
    if mode == "http":
        up = free_port()
        env.update(mode="http", fprocess=upstream_cmd(up), upstream_url="http://127.0.0.1:%d" % up)
    else:
        env.update(fprocess="cat")
    r = harness.run_cli([], env, tmp_path, timeout=15)
    assert r.returncode == 2, r.stderr()
    err = r.stderr()
    assert ("Writing lock-file to: %s/.lock\n" % tmpdir) in err, err
    assert ("Cannot write %s/.lock. To disable lock-file set env suppress_lock=true.\n"
            " Error: mkdir %s: not a directory.\n" % (tmpdir, tmp_path / "file")) in err, err


def test_classic_mode_does_not_make_the_lock_directory(tmp_path):
    # The classic watchdog only opens the file: a missing TMPDIR stops it.
    tmpdir = tmp_path / "missing"
    env = {"PATH": "/usr/bin:/bin", "port": str(free_port()), "metrics_port": "0",
           "TMPDIR": str(tmpdir), "fprocess": "cat", "mode": "classic"}
    r = harness.run_cli([], env, tmp_path, timeout=15)
    assert r.returncode == 2, r.stderr()
    assert (" Error: open %s/.lock: no such file or directory.\n" % tmpdir) in r.stderr()
    assert not tmpdir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the watchdog as another user")
def test_lock_file_in_a_directory_without_write_permission():
    # What a read-only root file system without a /tmp volume gives a
    # function run as a non-root user.
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        locked = base / "ro"
        locked.mkdir(mode=0o555)
        env = {"PATH": "/usr/bin:/bin", "port": str(free_port()), "metrics_port": "0",
               "TMPDIR": str(locked), "fprocess": "cat"}
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            harness.require_bin()], env=env, cwd=base, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=15)
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert (" Error: open %s/.lock: permission denied.\n" % locked) in err, err
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_suppress_lock_health_follows_a_lock_file_made_by_others(watchdog):
    # As the Go watchdogs: suppress_lock only stops the watchdog writing
    # the lock file; health is still whether the file exists.
    wd = watchdog({"fprocess": "cat", "suppress_lock": "true"})
    assert wd.request("POST", "/", b"x").status == 200
    r = wd.request("GET", "/_/health")
    assert (r.status, r.body) == (503, b"")
    assert wd.request("GET", "/_/ready").status == 503
    time.sleep(0.3)
    assert not wd.lock_path.exists()
    assert list(wd.tmpdir.iterdir()) == []
    wd.wait_log(r'Warning: "suppress_lock" is enabled')
    wd.lock_path.write_bytes(b"")
    r = wd.request("GET", "/_/health")
    assert (r.status, r.body) == (200, b"OK")


def test_health_503_when_lock_file_removed(watchdog):
    wd = watchdog({"fprocess": "cat"})
    wd.wait_lock()
    wd.lock_path.unlink()
    assert wd.request("GET", "/_/health").status == 503
    assert wd.request("GET", "/_/ready").status == 503


@pytest.mark.parametrize("path", ["/_/health", "/_/ready"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_private_endpoints_other_methods_405(watchdog, path, method):
    wd = watchdog({"fprocess": "cat"})
    assert wd.request(method, path, b"").status == 405


def test_ready_200_empty(watchdog):
    wd = watchdog({"fprocess": "cat"})
    wd.wait_lock()
    r = wd.request("GET", "/_/ready")
    assert (r.status, r.body) == (200, b"")


def test_private_endpoints_never_reach_function(watchdog, tmp_path):
    mark = tmp_path / "ran"
    wd = watchdog({"fprocess": "sh -c 'echo ran >> $MARK; echo function'", "MARK": str(mark)})
    wd.wait_lock()
    assert wd.request("GET", "/_/health").body == b"OK"
    assert wd.request("GET", "/_/ready").body == b""
    time.sleep(0.3)
    assert not mark.exists(), "a private endpoint started the function"
    assert wd.request("GET", "/x").body == b"function\n"
    assert mark.exists()


def test_ready_path_returns_function_answer(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo ready $Http_Method $Http_Path'",
                   "ready_path": "/check-me"})
    wd.wait_lock()
    r = wd.request("GET", "/_/ready")
    assert (r.status, r.body) == (200, b"ready GET /check-me\n")


def test_ready_path_failure_is_reported(watchdog):
    wd = watchdog({"fprocess": "sh -c 'exit 1'", "mode": "serializing", "ready_path": "/r"})
    wd.wait_lock()
    assert wd.request("GET", "/_/ready").status == 500


