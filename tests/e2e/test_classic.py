"""mode=classic: the classic watchdog's rules, so its images run unchanged."""
import base64
import json
import time

import pytest

from harness import raw_exchange, request, wait_until

OUT_AND_ERR = "sh -c 'echo to-stdout; echo to-stderr >&2'"


def classic(watchdog, fprocess, **env):
    return watchdog(dict({"mode": "classic", "fprocess": fprocess}, **env), ready="healthy")


def test_echo_body(watchdog):
    with classic(watchdog, "cat") as w:
        status, h, body = request(w.port, "POST", "/", b"hello classic", {})
        assert status == 200
        assert body == b"hello classic"
        assert float(h["X-Duration-Seconds"]) >= 0


@pytest.mark.parametrize("value", [None, ""])
def test_combine_output_default_puts_stderr_in_response(watchdog, value):
    # Empty is the default (true), as in the classic watchdog.
    env = {} if value is None else {"combine_output": value}
    with classic(watchdog, OUT_AND_ERR, **env) as w:
        status, _, body = request(w.port, "GET", "/")
        assert status == 200
        assert b"to-stdout\n" in body and b"to-stderr\n" in body


def test_combine_output_false_logs_stderr(watchdog):
    with classic(watchdog, OUT_AND_ERR, combine_output="false") as w:
        status, _, body = request(w.port, "GET", "/")
        assert status == 200
        assert body == b"to-stdout\n"
        w.wait_log("to-stderr")


def test_marshal_request_json(watchdog):
    payload = bytes(range(256)) + b"<&>"
    with classic(watchdog, "cat", marshal_request="true") as w:
        status, _, body = request(w.port, "POST", "/fn?q=1", payload, {"X-Test": "a<b>", "x-multi": "1", "X-Multi": "2",
                                   "Content-Type": "application/x-custom"})
        assert status == 200
    doc = json.loads(body)
    assert list(doc) == ["header", "body"]
    assert base64.b64decode(doc["body"]["raw"]) == payload
    hdr = doc["header"]
    assert hdr["X-Test"] == ["a<b>"]
    assert hdr["X-Multi"] == ["1", "2"]
    assert hdr["Content-Type"] == ["application/x-custom"]
    assert hdr["Content-Length"] == [str(len(payload))]
    assert "Host" not in hdr
    assert all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in hdr.values())
    # Go's encoding/json: sorted keys, HTML-safe escapes, no spaces.
    assert list(hdr) == sorted(hdr)
    assert b"\\u003c" in body and b"<b>" not in body
    assert body.startswith(b'{"header":{')


def test_marshal_request_empty_body(watchdog):
    with classic(watchdog, "cat", marshal_request="true") as w:
        status, _, body = request(w.port, "GET", "/")
        assert status == 200
    assert json.loads(body)["body"] == {"raw": ""}


def test_write_debug_as_the_classic_watchdog(watchdog):
    # The output goes to stdout as it is; the log gets the query, the path
    # and the duration (the request body is not logged).
    wd = watchdog({"mode": "classic", "fprocess": "sh -c 'cat; echo response-marker'",
                   "write_debug": "true"})
    r = wd.request("POST", "/d%20x?x=1", b"request-marker")
    assert (r.status, r.body) == (200, b"request-markerresponse-marker\n")
    assert wait_until(lambda: "response-marker" in wd.stdout_path.read_text(), 5)
    assert wd.stdout_path.read_text() == "request-markerresponse-marker\n"
    wd.wait_log(r"\d Duration: [0-9.]+s$")
    wd.wait_log(r"\d Query  x=1$")
    wd.wait_log(r"\d Path  /d x$")
    assert "request-marker" not in wd.stderr()


def test_write_debug_failure_logs_the_output(watchdog):
    wd = watchdog({"mode": "classic", "fprocess": "sh -c 'echo partial; exit 2'",
                   "write_debug": "true"})
    assert wd.request("POST", "/", b"x").status == 500
    wd.wait_log(r"Success=false, Error=exit status 2$")
    wd.wait_log(r"Out=partial$")


def test_without_write_debug_bodies_stay_out_of_the_log(watchdog):
    with classic(watchdog, "cat") as w:
        request(w.port, "POST", "/", b"request-marker", {})
        log = w.stderr()
    assert "request-marker" not in log
    assert "Wrote 14 Bytes" in log


def test_timeout_is_408(watchdog):
    with classic(watchdog, "sleep 10", exec_timeout="1s") as w:
        start = time.monotonic()
        status, _, body = request(w.port, "POST", "/", b"x", {})
        took = time.monotonic() - start
        assert status == 408
        assert body == b"Killed process.\n"
        assert took < 5
        assert "Killing process: sleep 10" in w.stderr()


def test_exec_timeout_defaults_to_none(watchdog):
    with classic(watchdog, "sh -c 'sleep 1.2; echo done'") as w:
        status, _, body = request(w.port, "GET", "/")
        assert status == 200 and body == b"done\n"
        assert "hard: 0s" in w.stderr()


def test_content_type_echoes_request(watchdog):
    with classic(watchdog, "cat") as w:
        _, h, _ = request(w.port, "POST", "/", b"{}", {"Content-Type": "application/json"})
        assert h["Content-Type"] == "application/json"


def test_content_type_override(watchdog):
    with classic(watchdog, "cat", content_type="text/x-override") as w:
        _, h, _ = request(w.port, "POST", "/", b"{}", {"Content-Type": "application/json"})
        assert h["Content-Type"] == "text/x-override"


def test_content_type_sniffed_without_either(watchdog):
    with classic(watchdog, "echo plain") as w:
        _, h, _ = request(w.port, "GET", "/")
        assert h["Content-Type"] == "text/plain; charset=utf-8"
    with classic(watchdog, "printf '<html><body>x'") as w:
        _, h, _ = request(w.port, "GET", "/")
        assert h["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_allowed_methods(watchdog, method):
    with classic(watchdog, "echo ok") as w:
        status, _, body = request(w.port, method, "/")
        assert status == 200 and body == b"ok\n"


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "TRACE", "PROPFIND"])
def test_other_methods_405(watchdog, method):
    with classic(watchdog, "echo ok") as w:
        status, _, body = request(w.port, method, "/")
        assert status == 405
        assert body == b""


def test_nonzero_exit_is_500_with_error_and_output(watchdog):
    with classic(watchdog, "sh -c 'echo partial; echo oops >&2; exit 3'") as w:
        status, _, body = request(w.port, "GET", "/")
        assert status == 500
        assert body.startswith(b"exit status 3\n")
        assert b"partial\n" in body and b"oops\n" in body


def test_cgi_environment(watchdog):
    with classic(watchdog, "env") as w:
        _, _, body = request(w.port, "POST", "/some/path?a=b", b"", {"X-Call-Id": "abc"})
    env = body.decode()
    assert "Http_Method=POST" in env
    assert "Http_Path=/some/path" in env
    assert "Http_Query=a=b" in env
    assert "Http_X_Call_Id=abc" in env
    # the classic watchdog's own set: Host, both Content-Length spellings
    assert "Http_Host=127.0.0.1:%d" % w.port in env
    assert "Http_Content_Length=0" in env
    assert "Http_ContentLength=0" in env


def test_cgi_environment_chunked(watchdog):
    with classic(watchdog, "env") as w:
        out = raw_exchange(w.port, b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                                  b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", timeout=30)[0]
    assert b"Http_Content_Length=-1\n" in out
    assert b"Http_ContentLength=-1\n" in out
    assert b"Http_Transfer_Encoding=chunked\n" in out
    assert b"Http_Host=h\n" in out


def test_chunked_body(watchdog):
    with classic(watchdog, "cat") as w:
        out = raw_exchange(w.port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                  b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", timeout=30)[0]
    assert out.startswith(b"HTTP/1.1 200")
    assert out.endswith(b"\r\n\r\nhello world")


def test_serializing_unchanged(watchdog):
    """serializing shares the buffered engine and keeps its own answers."""
    with watchdog({"mode": "serializing", "fprocess": "sh -c 'cat; exit 2'"}, ready="healthy") as w:
        status, _, body = request(w.port, "POST", "/", b"x", {})
        assert status == 500 and body == b"exit status 2"
    with watchdog({"mode": "serializing", "fprocess": "cat"}, ready="healthy") as w:
        status, h, body = request(w.port, "POST", "/", b"{}", {"Content-Type": "application/json"})
        assert status == 200 and body == b"{}"
        assert h["Content-Type"] == "application/octet-stream"
        assert "X-Duration-Seconds" in h


def test_debug_headers_prints_request_and_response_headers(watchdog):
    wd = watchdog({"mode": "classic", "fprocess": "cat", "debug_headers": "true",
                   "content_type": "text/plain"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: h\r\nX-One: a\r\nx-one: b\r\nContent-Length: 2\r\n\r\nhi")
        assert c.read_response().body == b"hi"
    out = lambda: wd.stdout_path.read_text()
    assert wait_until(lambda: "[out] X-Duration-Seconds=[" in out(), 5), out()
    lines = out().splitlines()
    assert "[in] X-One=[a b]" in lines
    assert "[in] Content-Length=[2]" in lines
    assert not any(l.startswith("[in] Host=") for l in lines)
    assert "[out] Content-Type=[text/plain]" in lines


def test_debug_headers_off_by_default(watchdog):
    wd = watchdog({"mode": "classic", "fprocess": "cat"})
    assert wd.request("POST", "/", b"x").body == b"x"
    assert "[in]" not in wd.stdout_path.read_text()
