"""The private endpoints /_/health and /_/ready, ready_path, and the lock
file health follows. (/_/ready under max_inflight: test_inflight.py.)"""
import stat
import time

import pytest



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


