"""Serializing mode: the whole request body is read before the function
starts and its whole output is buffered before the answer."""
import hashlib
import time

from harness import pgroup_members, wait_until

MiB = 1024 * 1024
SER = {"mode": "serializing"}


def env(**kw):
    e = dict(SER)
    e.update(kw)
    return e


def test_echo_with_content_length_and_duration(watchdog):
    wd = watchdog(env(fprocess="cat"))
    r = wd.request("POST", "/", b"hello serializing")
    assert (r.status, r.body) == (200, b"hello serializing")
    assert r.header("Content-Length") == str(len(b"hello serializing"))
    assert r.header("Transfer-Encoding") is None
    assert r.header("Content-Type") == "application/octet-stream"
    assert float(r.header("X-Duration-Seconds")) >= 0


def test_chunked_request_body(watchdog):
    wd = watchdog(env(fprocess="cat"))
    r = wd.request("POST", "/", iter([b"a" * 1000, b"b" * 3000]))
    assert (r.status, r.body) == (200, b"a" * 1000 + b"b" * 3000)


def test_body_limited_to_content_length(watchdog):
    """Bytes after Content-Length belong to the next (pipelined) request."""
    wd = watchdog(env(fprocess="cat"))
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
               b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbye")
        assert c.read_response().body == b"hello"
        assert c.read_response().body == b"bye"


def test_large_body(watchdog):
    wd = watchdog(env(fprocess="sha256sum"))
    body = bytes(range(256)) * (40 * 1024)  # 10 MiB
    r = wd.request("POST", "/", body, timeout=30)
    assert r.status == 200
    assert r.body.split()[0].decode() == hashlib.sha256(body).hexdigest()


def test_nonzero_exit_is_500_exit_status(watchdog):
    wd = watchdog(env(fprocess="sh -c 'echo partial; exit 3'"))
    r = wd.request("POST", "/", b"x")
    assert r.status == 500
    assert r.body.rstrip(b"\n") == b"exit status 3"


def test_exec_failure_is_500(watchdog):
    wd = watchdog(env(fprocess="/nonexistent/function"))
    assert wd.request("POST", "/", b"x").status == 500
    assert wd.request("GET", "/_/health").status == 200


def test_exec_timeout_504_and_group_killed(watchdog, tmp_path):
    mark = tmp_path / "pid"
    wd = watchdog(env(fprocess='sh -c "echo $$ > $MARK; sleep 100 & sleep 100"',
                      MARK=str(mark), exec_timeout="1s"))
    t0 = time.monotonic()
    r = wd.request("POST", "/", b"x", timeout=15)
    elapsed = time.monotonic() - t0
    assert r.status == 504
    assert 0.8 < elapsed < 3.0, f"504 after {elapsed:.2f}s with exec_timeout=1s"
    pgid = int(mark.read_text())
    assert wait_until(lambda: not pgroup_members(pgid), 3)
    wd.assert_no_descendants(3)


def test_function_ignoring_stdin(watchdog):
    wd = watchdog(env(fprocess="echo hi"))
    r = wd.request("POST", "/", b"z" * (2 * MiB), timeout=20)
    assert (r.status, r.body) == (200, b"hi\n")


def test_stderr_logged(watchdog):
    wd = watchdog(env(fprocess="sh -c 'echo to-log >&2; echo to-client'"))
    assert wd.request("GET", "/").body == b"to-client\n"
    wd.wait_log(r"stderr: to-log$")


def test_client_disconnect_lets_function_finish(watchdog, tmp_path):
    # As under the Go watchdog, the function runs to its end (its output is
    # collected and dropped); a function that writes a lot is not cut.
    marker = tmp_path / "finished"
    wd = watchdog(env(fprocess="sh -c 'sleep 1; head -c 1000000 /dev/zero; echo done > %s'" % marker))
    c = wd.conn()
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    wd.wait_descendants(3)
    c.close()
    assert wait_until(marker.exists, 5), "the function did not run to its end"
    wd.assert_no_descendants(5)


def test_client_disconnect_exec_timeout_still_ends_function(watchdog):
    wd = watchdog(env(fprocess="sleep 100", exec_timeout="1500ms"))
    c = wd.conn()
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    wd.wait_descendants(3)
    c.close()
    time.sleep(0.5)
    assert wd.descendants(), "killed when the client went away"
    wd.assert_no_descendants(5)
    assert not wd.zombies()


