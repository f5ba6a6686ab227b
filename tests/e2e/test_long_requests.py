"""Requests that outlast every internal timer of the watchdog (the linger,
the drain quiet period, the upstream pool's idle timeout and trust window)
complete once, over a keep-alive connection, in every fork mode. http mode
has the same cases in test_http_mode.py."""
import pytest

from harness import wait_until

SLOW_S = 5.5
FORK_MODES = ["streaming", "serializing", "classic"]


@pytest.mark.parametrize("mode", FORK_MODES)
def test_slow_request_after_a_quick_one_on_the_same_connection(watchdog, tmp_path, mode):
    runs = tmp_path / "runs"
    fn = "sh -c 'read x; echo \"$x\" >> %s; sleep \"$x\"; echo \"done $x\"'" % runs
    wd = watchdog({"fprocess": fn, "mode": mode})
    with wd.conn(timeout=SLOW_S + 10) as c:
        for delay in ("0", str(SLOW_S)):
            body = (delay + "\n").encode()
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            r = c.read_response(timeout=SLOW_S + 10)
            assert r.status == 200, r
            assert r.body == b"done %s\n" % delay.encode()
    assert wait_until(lambda: runs.exists(), 2)
    assert runs.read_text().split() == ["0", str(SLOW_S)]
