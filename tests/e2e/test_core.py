"""CONTRACT 5 (fork-mode environment), 7 (logs), 8 (max_inflight)."""
import re
import time

import pytest

from harness import LOG_TS, wait_until


def env_of(body):
    out = {}
    for line in body.decode().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


# -- 5. CGI environment ------------------------------------------------------------

def test_cgi_variables(watchdog):
    wd = watchdog({"fprocess": "env", "OWN_SETTING": "kept"})
    with wd.conn() as c:
        c.send(b"POST /some/path?a=1&b=2 HTTP/1.1\r\nHost: example.test\r\n"
               b"X-Call-Id: abc-123\r\ncontent-type: text/x-test\r\nx-lower-case: v\r\n"
               b"Content-Length: 5\r\n\r\nhello")
        r = c.read_response()
    e = env_of(r.body)
    assert r.status == 200
    assert e["Http_X_Call_Id"] == "abc-123"
    assert e["Http_Content_Type"] == "text/x-test"
    assert e["Http_X_Lower_Case"] == "v"
    assert e["Http_Method"] == "POST"
    assert e["Http_Path"] == "/some/path"
    assert e["Http_Query"] == "a=1&b=2"
    # Go's of-watchdog has the Host header nowhere in its environment
    assert "Http_Host" not in e
    assert e["Http_Content_Length"] == "5"
    assert "Http_ContentLength" not in e
    assert "Http_Transfer_Encoding" not in e
    assert e["OWN_SETTING"] == "kept", "the watchdog's own environment is passed on"


def test_cgi_no_query_variable_when_empty(watchdog):
    wd = watchdog({"fprocess": "env"})
    assert "Http_Query" not in env_of(wd.request("GET", "/p").body)
    assert "Http_Query" not in env_of(wd.request("GET", "/p?").body)


def test_cgi_chunked_request(watchdog):
    wd = watchdog({"fprocess": "env"})
    r = wd.request("POST", "/", iter([b"abc"]))
    e = env_of(r.body)
    assert "Http_Content_Length" not in e
    assert e["Http_Transfer_Encoding"] == "chunked"


def test_cgi_no_content_length_when_none_sent(watchdog):
    wd = watchdog({"fprocess": "env"})
    e = env_of(wd.request("GET", "/").body)
    assert "Http_Content_Length" not in e
    assert "Http_Transfer_Encoding" not in e


def test_cgi_path_is_decoded(watchdog):
    wd = watchdog({"fprocess": "env"})
    e = env_of(wd.request("GET", "/a%20b/%C3%A9?x=%20").body)
    assert e["Http_Path"] == "/a b/\u00e9"
    assert e["Http_Query"] == "x=%20"


def test_cgi_absolute_form_gives_the_path(watchdog):
    wd = watchdog({"fprocess": "env"})
    with wd.conn() as c:
        c.send(b"GET http://example.test/abs?q=1 HTTP/1.1\r\nHost: example.test\r\n\r\n")
        r = c.read_response()
    e = env_of(r.body)
    assert e["Http_Path"] == "/abs"
    assert e["Http_Query"] == "q=1"


def test_cgi_repeated_headers_joined(watchdog):
    wd = watchdog({"fprocess": "env"})
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Multi: one\r\nX-Multi: two\r\n"
               b"x-multi: three\r\n\r\n")
        e = env_of(c.read_response().body)
    assert e["Http_X_Multi"] == "one, two, three"


def test_cgi_proxy_header_never_passed(watchdog):
    wd = watchdog({"fprocess": "env"})
    e = env_of(wd.request("GET", "/", headers={"Proxy": "http://evil.invalid:1"}).body)
    assert not [k for k in e if k.lower() == "http_proxy"], e


def test_cgi_headers_false(watchdog):
    wd = watchdog({"fprocess": "env", "cgi_headers": "false", "OWN": "1"})
    e = env_of(wd.request("GET", "/p?q=1", headers={"X-Call-Id": "c"}).body)
    assert not [k for k in e if k.startswith("Http_")], e
    assert e["OWN"] == "1"


# -- 7. logs -------------------------------------------------------------------------

REQ = r"^(?:{ts} )?{m} {uri} - {st} - ContentLength: {size} \(\d+(?:\.\d+)?s\){tail}$"


def req_line(method, uri, status, size, tail=""):
    return REQ.format(ts=LOG_TS, m=method, uri=re.escape(uri), st=status,
                      size=size, tail=tail)  # size is a regex


def test_request_log_line(watchdog):
    wd = watchdog({"fprocess": "echo hello world"})
    r = wd.request("GET", "/path")
    assert r.body == b"hello world\n"
    wd.wait_log(req_line("GET", "/path", 200, "12B"))


def test_request_log_human_size_and_query(watchdog):
    wd = watchdog({"fprocess": "head -c 1500 /dev/zero"})
    assert len(wd.request("POST", "/p?x=1", b"a").body) == 1500
    wd.wait_log(req_line("POST", "/p?x=1", 200, r"1\.5kB"))


def test_request_log_error_status(watchdog):
    # Go's serializing mode logs a failed call as 200 with the size of its
    # error text; streaming logs 500.
    wd = watchdog({"fprocess": "sh -c 'exit 1'", "mode": "serializing"})
    assert wd.request("GET", "/fail").status == 500
    wd.wait_log(req_line("GET", "/fail", 200, "13B"))
    wd = watchdog({"fprocess": "sh -c 'exit 1'", "mode": "streaming"})
    assert wd.request("GET", "/fail").status == 500
    wd.wait_log(req_line("GET", "/fail", 500, r"\d+B"))


def test_log_callid(watchdog):
    wd = watchdog({"fprocess": "echo hi", "log_callid": "true"})
    wd.request("GET", "/with", headers={"X-Call-Id": "abc"})
    wd.request("GET", "/without")
    wd.wait_log(req_line("GET", "/with", 200, "3B", r" \[abc\]"))
    wd.wait_log(req_line("GET", "/without", 200, "3B", r" \[none\]"))


def test_no_callid_suffix_by_default(watchdog):
    wd = watchdog({"fprocess": "echo hi"})
    wd.request("GET", "/with", headers={"X-Call-Id": "abc"})
    wd.wait_log(req_line("GET", "/with", 200, "3B"))


def test_no_log_line_for_kube_probe(watchdog):
    wd = watchdog({"fprocess": "echo hi"})
    assert wd.request("GET", "/kube", headers={"User-Agent": "kube-probe/1.27"}).status == 200
    wd.request("GET", "/after")
    wd.wait_log(req_line("GET", "/after", 200, "3B"))
    assert "/kube" not in wd.stderr()


def test_prefix_logs_true(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo hello >&2'"})
    wd.request("GET", "/")
    wd.wait_log(rf"^{LOG_TS} stderr: hello$")


def test_prefix_logs_false(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo hello >&2; echo second line >&2'",
                   "prefix_logs": "false"})
    wd.request("GET", "/")
    wd.wait_log(r"^hello$")
    wd.wait_log(r"^second line$")
    assert "stderr: hello" not in wd.stderr()


def test_long_stderr_line_kept_whole(watchdog):
    """better: no line is dropped, whatever its length (log_buffer_size)."""
    wd = watchdog({"fprocess": "sh -c 'head -c 200000 /dev/zero | tr -c a a >&2; echo done'",
                   "prefix_logs": "false"})
    assert wd.request("GET", "/", timeout=15).body == b"done\n"
    wd.wait_log(r"^a{200000}$")


def test_stderr_partial_last_line_logged(watchdog):
    wd = watchdog({"fprocess": "sh -c 'printf no-newline >&2'", "prefix_logs": "false"})
    wd.request("GET", "/")
    wd.wait_log(r"^no-newline$")


# -- 8. max_inflight --------------------------------------------------------------

def test_max_inflight_429(watchdog):
    wd = watchdog({"fprocess": "cat", "max_inflight": "1"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nping\n\r\n")
        c.read_until(b"ping\n", timeout=5)
        r = wd.request("POST", "/", b"second")
        assert r.status == 429
        assert r.header("Content-Type", "").startswith("text/plain")
        assert r.header("X-OpenFaaS-Internal") == "faas-middleware"
        assert r.body == b"Concurrent request limit exceeded. Max concurrent requests: 1\n"
        c.send(b"0\r\n\r\n")
        c.read_until(b"0\r\n\r\n", timeout=5)
    assert wait_until(lambda: wd.request("POST", "/", b"third").status == 200, 3)


def test_max_inflight_allows_up_to_limit(watchdog):
    wd = watchdog({"fprocess": "cat", "max_inflight": "2"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nping\n\r\n")
        c.read_until(b"ping\n", timeout=5)
        assert wd.request("POST", "/", b"second").status == 200
        c.send(b"0\r\n\r\n")


def test_max_inflight_429_serializing(watchdog):
    wd = watchdog({"fprocess": "sleep 2", "max_inflight": "1", "mode": "serializing"})
    c = wd.conn()
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        wd.wait_descendants(3)
        r = wd.request("GET", "/")
        assert r.status == 429
        assert r.body == b"Concurrent request limit exceeded. Max concurrent requests: 1\n"
        assert c.read_response(timeout=10).status == 200
    finally:
        c.close()
