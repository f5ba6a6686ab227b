"""cgi_response=true: a fork-mode function's stdout starts with a CGI header
block (RFC 3875 section 6) that sets the answer's status and headers."""
import re
import signal
import time

import pytest

from harness import children, wait_until

MODES = ["streaming", "serializing", "classic"]
BAD_BLOCK = "Bad CGI header block from the function\n"
LOG_PREFIX = "cgi_response: bad header block from the function: "


def script(tmp_path, text, name="fn.sh"):
    """An executable sh script holding text; its path."""
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + text)
    p.chmod(0o755)
    return str(p)


def cgi(watchdog, mode, fn, **extra):
    env = {"mode": mode, "fprocess": fn, "cgi_response": "true"}
    env.update(extra)
    return watchdog(env)


# -- status and headers ----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_header_lines_past_4_kib(watchdog, tmp_path, mode):
    """90 header lines, some 10 KiB of them: the block the answer's header
    lines are kept in grows, and every line reaches the client in order."""
    fn = script(tmp_path, "i=0\nwhile [ $i -lt 90 ]; do printf 'X-Line: %03d-%s\\r\\n' $i "
                          + "0123456789abcdef" * 6 + "; i=$((i+1)); done\n"
                          "printf '\\r\\n'\nexec cat\n")
    wd = cgi(watchdog, mode, fn)
    r = wd.request("POST", "/", b"hello")
    assert (r.status, r.body) == (200, b"hello")
    assert r.header_all("X-Line") == ["%03d-" % i + "0123456789abcdef" * 6 for i in range(90)]


@pytest.mark.parametrize("mode", MODES)
def test_status_and_headers_crlf(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'Status: 404 Not Found\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n"
                          "X-Custom: yes\\r\\nSet-Cookie: a=1\\r\\nSet-Cookie: b=2\\r\\n\\r\\n'\nexec cat\n")
    wd = cgi(watchdog, mode, fn)
    r = wd.request("POST", "/", b"hello")
    assert r.status == 404, r
    assert r.reason == "Not Found"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("X-Custom") == "yes"
    assert r.header_all("Set-Cookie") == ["a=1", "b=2"]
    assert r.header_all("Status") == []
    assert r.body == b"hello"


@pytest.mark.parametrize("mode", MODES)
def test_lf_line_ends_and_any_status(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'Status: 299 Whatever\\nX-A:  spaced value  \\n\\nbody'\n")
    wd = cgi(watchdog, mode, fn)
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (299, b"body"), r
    assert r.header("X-A") == "spaced value"


@pytest.mark.parametrize("mode", MODES)
def test_function_content_type_replaces_configured(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'Content-Type: application/json\\n\\n{}'\n")
    wd = cgi(watchdog, mode, fn, content_type="text/x-configured")
    r = wd.request("POST", "/", b"x", headers={"Content-Type": "text/x-request"})
    assert (r.status, r.body) == (200, b"{}"), r
    assert r.header_all("Content-Type") == ["application/json"]


@pytest.mark.parametrize("mode", MODES)
def test_no_content_type_keeps_the_modes_own(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'X-A: b\\n\\nbody'\n")
    wd = cgi(watchdog, mode, fn, content_type="text/x-configured")
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"body"), r
    assert r.header_all("Content-Type") == ["text/x-configured"]
    assert r.header("X-A") == "b"


def test_no_content_type_streaming_default(watchdog, tmp_path):
    wd = cgi(watchdog, "streaming", script(tmp_path, "printf 'Status: 201\\n\\nmade'\n"))
    r = wd.request("POST", "/", b"")
    assert (r.status, r.body) == (201, b"made")
    assert r.header("Content-Type") == "application/octet-stream"


def test_classic_without_content_type_echoes_the_request(watchdog, tmp_path):
    wd = cgi(watchdog, "classic", script(tmp_path, "printf 'Status: 202\\n\\nok'\n"))
    r = wd.request("POST", "/", b"x", headers={"Content-Type": "text/x-request"})
    assert (r.status, r.body) == (202, b"ok")
    assert r.header("Content-Type") == "text/x-request"


@pytest.mark.parametrize("mode", MODES)
def test_empty_block_is_200(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, script(tmp_path, "printf '\\r\\nStatus: 404\\n'\n"))
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"Status: 404\n"), r


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_head_request(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'Status: 410\\nX-A: b\\nContent-Type: text/x-gone\\n\\ngone for good'\n")
    wd = cgi(watchdog, mode, fn)
    with wd.conn() as c:
        c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        assert r.status == 410
        assert r.header("X-A") == "b" and r.header("Content-Type") == "text/x-gone"
        # Nothing follows the head: the connection serves the next request.
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        r2 = c.read_response()
    assert (r2.status, r2.body) == (410, b"gone for good")


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_status_204_has_no_body(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, script(tmp_path, "printf 'Status: 204\\n\\nignored'\n"))
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(2):
            r = c.read_response()
            assert (r.status, r.body) == (204, b"")
            assert r.header("Transfer-Encoding") is None and r.header("Content-Length") is None


# -- Location ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_absolute_location_without_status_is_302(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, script(tmp_path, "printf 'Location: https://example.com/there?x=1\\n\\n'\n"))
    r = wd.request("GET", "/")
    assert r.status == 302, r
    assert r.header("Location") == "https://example.com/there?x=1"


@pytest.mark.parametrize("mode", MODES)
def test_location_with_status_keeps_status(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'Status: 301 Moved Permanently\\nLocation: https://example.com/\\n\\n'\n")
    r = cgi(watchdog, mode, fn).request("GET", "/")
    assert (r.status, r.header("Location")) == (301, "https://example.com/")


def test_relative_location_is_only_a_header(watchdog, tmp_path):
    wd = cgi(watchdog, "streaming", script(tmp_path, "printf 'Location: /elsewhere\\n\\nbody'\n"))
    r = wd.request("GET", "/")
    assert (r.status, r.header("Location"), r.body) == (200, "/elsewhere", b"body")


# -- streaming -----------------------------------------------------------------------------

EARLY = {
    # The first body bytes leave before the function ends.
    "body": ("printf 'Status: 203\\nX-A: b\\n\\nfirst\\n'\nsleep 3\necho second\n",
             b"first\n", b"HTTP/1.1 203 ", b"\r\nX-A: b\r\n", b"second\n"),
    # The head leaves at the end of the block, before any body byte: a
    # function can send its status and headers first, its events later.
    "head": ("printf 'Status: 200\\nContent-Type: text/event-stream\\n\\n'\nsleep 3\n"
             "printf 'data: late\\n\\n'\n",
             b"\r\n\r\n", b"HTTP/1.1 200 ", b"\r\nContent-Type: text/event-stream\r\n",
             b"data: late\n"),
}


@pytest.mark.parametrize("case", list(EARLY))
def test_streaming_output_leaves_before_the_function_ends(watchdog, tmp_path, case):
    text, early, status_line, header, late = EARLY[case]
    wd = cgi(watchdog, "streaming", script(tmp_path, text))
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        got = c.read_until(early, timeout=2.5)
        assert time.monotonic() - t0 < 2.5
        assert got.startswith(status_line) and header in got
        assert b"\r\nTransfer-Encoding: chunked\r\n" in got
        assert late not in c.buf
        rest = c.read_until(b"0\r\n\r\n", timeout=10)
    assert late in rest


def test_streaming_block_split_across_writes(watchdog, tmp_path):
    fn = script(tmp_path, "printf 'Stat'\nsleep 0.3\nprintf 'us: 418\\r'\nsleep 0.3\n"
                          "printf '\\nX-A: b\\n'\nsleep 0.3\nprintf '\\nbody'\n")
    r = cgi(watchdog, "streaming", fn).request("GET", "/")
    assert (r.status, r.header("X-A"), r.body) == (418, "b", b"body")


def test_streaming_large_body_after_block(watchdog, tmp_path):
    fn = script(tmp_path, "printf 'Content-Type: text/plain\\n\\n'\nexec cat\n")
    body = bytes(range(256)) * 8192  # 2 MiB
    r = cgi(watchdog, "streaming", fn).request("POST", "/", body)
    assert r.status == 200 and r.body == body


# -- malformed blocks: 502 and a log line saying why ----------------------------------------

MALFORMED = {
    "no-colon": ("hello world\\n\\nbody", "line 1 has no colon"),
    "no-colon-later": ("X-A: b\\nnot a header\\n\\n", "line 2 has no colon"),
    "bad-status-text": ("Status: abc\\n\\n", "line 1: invalid Status"),
    "bad-status-1xx": ("Status: 101 Switching Protocols\\n\\n", "line 1: invalid Status"),
    "bad-status-600": ("Status: 600\\n\\n", "line 1: invalid Status"),
    "repeated-status": ("Status: 200\\nStatus: 404\\n\\n", "line 2: repeated Status"),
    "bad-name": ("X-A: b\\nBad Name: x\\n\\n", "line 2: invalid header name"),
    "folded": ("X-A: b\\n  continued: x\\n\\n", "line 2: invalid header name"),
    "bad-value": ("X-A: a\\001b\\n\\n", "line 1: invalid header value"),
    "bare-cr": ("X-A: a\\rb\\n\\n", "line 1: invalid header value"),
}


def assert_refused(wd, r, why):
    assert r.status == 502, r
    assert r.body == BAD_BLOCK.encode()
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    wd.wait_log(re.escape(LOG_PREFIX + why))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_block_is_502(watchdog, tmp_path, mode, kind):
    out, why = MALFORMED[kind]
    wd = cgi(watchdog, mode, script(tmp_path, f"printf '{out}'\n"))
    assert_refused(wd, wd.request("GET", "/"), why)


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_malformed_block_request_line_says_502(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, script(tmp_path, "printf 'oops\\n\\n'\n"))
    assert wd.request("GET", "/x").status == 502
    wd.wait_log(r"GET /x - 502 - ContentLength: ")


def test_streaming_malformed_block_while_the_function_runs(watchdog, tmp_path):
    """The 502 goes out at once; the function is not killed (as for a client
    that leaves) but ends at its exec timeout, its output dropped."""
    marker = tmp_path / "went-on"
    fn = script(tmp_path, f"echo 'not a header'\nsleep 1\ntouch {marker}\nexec sleep 30\n")
    wd = cgi(watchdog, "streaming", fn, exec_timeout="2s")
    t0 = time.monotonic()
    r = wd.request("GET", "/")
    assert time.monotonic() - t0 < 0.9
    assert_refused(wd, r, "line 1 has no colon")
    assert wait_until(marker.exists, 5), "the function was stopped"
    assert wd.wait_no_descendants(5) == []


@pytest.mark.parametrize("mode", MODES)
def test_block_over_the_bound_is_502(watchdog, tmp_path, mode):
    # 70,000 bytes of header lines and never the empty line.
    fn = script(tmp_path, "i=0\nwhile [ $i -lt 1000 ]; do printf 'X-Pad: %063d\\n' $i; i=$((i+1)); done\n")
    wd = cgi(watchdog, mode, fn)
    assert_refused(wd, wd.request("GET", "/"), "no empty line within 65536 bytes")


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_block_of_exactly_the_bound(watchdog, tmp_path, mode):
    block = tmp_path / "block"
    lines = b"".join(b"X-Pad-%04d: %s\n" % (i, b"a" * 51) for i in range(1024))  # 64 bytes each
    assert len(lines) == 65536
    block.write_bytes(lines[:-64] + b"X-Last: " + b"b" * 54 + b"\n\n")  # 65536 with the empty line
    fn = script(tmp_path, f"cat {block}\nprintf body\n")
    with cgi(watchdog, mode, fn).conn() as c:  # more headers than http.client takes
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    assert (r.status, r.body) == (200, b"body"), r
    assert len(r.header_all("X-Pad-0000")) == 1
    assert r.header("X-Last") == "b" * 54
    # One byte more, and it is over.
    block.write_bytes(lines[:-64] + b"X-Last: " + b"b" * 55 + b"\n\n")
    wd = cgi(watchdog, mode, fn)
    assert_refused(wd, wd.request("GET", "/"), "no empty line within 65536 bytes")


@pytest.mark.parametrize("mode", MODES)
def test_exit_before_the_empty_line_is_502(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, script(tmp_path, "printf 'Status: 200\\nX-A: b\\n'\n"))
    assert_refused(wd, wd.request("GET", "/"), "output ended before the empty line")


@pytest.mark.parametrize("mode", MODES)
def test_no_output_at_all_is_502(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, "true")
    assert_refused(wd, wd.request("GET", "/"), "output ended before the empty line")


# -- failures: as each mode answers a failed function ---------------------------------------

BEFORE, AFTER = "Status: 200\\n", "Status: 404\\n\\npartial"
FAILURES = [
    # Before the empty line: as any function that failed.
    ("streaming", BEFORE, 500, b"exit status 3\n"),
    ("serializing", BEFORE, 500, b"exit status 3"),
    ("classic", BEFORE, 500, b"exit status 3\nStatus: 200\n"),
    # After the block: in streaming mode the head went out with it, so the
    # answer ends cleanly and the request line says 500, as for any output
    # before a failure; the buffering modes answer as without a block.
    ("streaming", AFTER, 404, b"partial"),
    ("serializing", AFTER, 500, b"exit status 3"),
    ("classic", AFTER, 500, b"exit status 3\nStatus: 404\n\npartial"),
]


@pytest.mark.parametrize("mode,out,status,body", FAILURES,
                         ids=[f"{f[0]}-{'before' if f[1] == BEFORE else 'after'}" for f in FAILURES])
def test_failed_function(watchdog, tmp_path, mode, out, status, body):
    wd = cgi(watchdog, mode, script(tmp_path, f"printf '{out}'\nexit 3\n"))
    r = wd.request("GET", "/p")
    assert (r.status, r.body) == (status, body), r
    assert LOG_PREFIX not in wd.stderr()
    if mode == "streaming":
        wd.wait_log(r"GET /p - 500 - ")


@pytest.mark.parametrize("mode,status", [("streaming", 504), ("serializing", 504), ("classic", 408)])
def test_exec_timeout_while_waiting_for_the_block(watchdog, tmp_path, mode, status):
    wd = cgi(watchdog, mode, script(tmp_path, "printf 'Status: 200\\n'\nexec sleep 30\n"),
             exec_timeout="1s")
    t0 = time.monotonic()
    r = wd.request("GET", "/")
    assert r.status == status, r
    assert time.monotonic() - t0 < 4


def test_head_failure_after_the_block_keeps_its_status(watchdog, tmp_path):
    wd = cgi(watchdog, "streaming", script(tmp_path, "printf 'Status: 404\\n\\nx'\nexit 3\n"))
    with wd.conn() as c:
        c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response(head=True).status == 404


# -- headers the watchdog owns ----------------------------------------------------------------

OWNED = ("Content-Length: 1\\nTransfer-Encoding: gzip\\nConnection: close\\nKeep-Alive: timeout=1\\n"
         "Date: Thu, 01 Jan 1970 00:00:00 GMT\\nX-Duration-Seconds: 99\\nUpgrade: h2c\\nTrailer: X-T\\n"
         "X-Kept: yes\\n\\n0123456789")


@pytest.mark.parametrize("mode", MODES)
def test_owned_headers_are_not_taken(watchdog, tmp_path, mode):
    wd = cgi(watchdog, mode, script(tmp_path, f"printf '{OWNED}'\n"))
    with wd.conn() as c:
        for _ in range(2):  # the connection is kept alive despite "Connection: close"
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            assert (r.status, r.body) == (200, b"0123456789"), r
            assert r.header("X-Kept") == "yes"
            assert r.header("Connection") is None
            assert r.header_all("Keep-Alive") == [] and r.header_all("Upgrade") == []
            assert r.header_all("Trailer") == []
            assert "1970" not in r.header("Date")
            assert r.header("Content-Length") in (None, "10")
            assert r.header("Transfer-Encoding") in (None, "chunked")
            assert r.header_all("X-Duration-Seconds") in ([], [r.header("X-Duration-Seconds")])
            assert r.header("X-Duration-Seconds") != "99"


# -- default off -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_default_off_block_is_body(watchdog, tmp_path, mode):
    fn = script(tmp_path, "printf 'Status: 404 Not Found\\nContent-Type: text/x-fn\\n\\nbody'\n")
    wd = watchdog({"mode": mode, "fprocess": fn, "content_type": "text/x-configured"})
    r = wd.request("POST", "/", b"x")
    assert r.status == 200, r
    assert r.body == b"Status: 404 Not Found\nContent-Type: text/x-fn\n\nbody"
    assert r.header_all("Content-Type") == ["text/x-configured"]


def test_cgi_response_false_is_off(watchdog, tmp_path):
    wd = watchdog({"fprocess": script(tmp_path, "printf 'oops\\n\\n'\n"), "cgi_response": "false"})
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"oops\n\n")


def test_bad_boolean_is_a_config_error(watchdog, tmp_path):
    wd = watchdog({"fprocess": "cat", "cgi_response": "yes"}, ready=None)
    assert wd.wait_exit(5) == 2
    assert "cgi_response" in wd.stderr()


# -- prespawn ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_prespawn(watchdog, tmp_path, mode):
    """A prespawned process is waiting on stdin when its request comes: the
    block it prints then is read as from a process started for it."""
    fn = script(tmp_path, "read line\nprintf 'Status: 201\\nX-Got: %s\\n\\n' \"$line\"\n")
    wd = cgi(watchdog, mode, fn, prespawn="1", cgi_headers="false", healthcheck_interval="0")
    assert wait_until(lambda: children(wd.pid), 5)
    for i in range(3):
        r = wd.request("POST", "/", b"hi-%d\n" % i)
        assert (r.status, r.header("X-Got")) == (201, "hi-%d" % i), r
    bad = script(tmp_path, "read line\necho nope\n", name="bad.sh")
    wd2 = cgi(watchdog, mode, bad, prespawn="1", cgi_headers="false", healthcheck_interval="0")
    assert_refused(wd2, wd2.request("POST", "/", b"x\n"), "line 1 has no colon")
    for w in (wd, wd2):
        # Idle prespawned processes are the watchdog's until it stops.
        w.signal(signal.SIGTERM)
        assert w.wait_exit(10) == 0, w.stderr()[-2000:]


def test_classic_combine_output_false_keeps_stderr_out_of_the_block(watchdog, tmp_path):
    fn = script(tmp_path, "echo 'to the log' >&2\nprintf 'Status: 404\\n\\nx'\n")
    r = cgi(watchdog, "classic", fn, combine_output="false").request("GET", "/")
    assert (r.status, r.body) == (404, b"x")


def test_connection_survives_a_refused_block(watchdog, tmp_path):
    wd = cgi(watchdog, "serializing", script(tmp_path, "printf 'junk\\n\\n'\n"))
    with wd.conn() as c:
        for _ in range(2):
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().status == 502
