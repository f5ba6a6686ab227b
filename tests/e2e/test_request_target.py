"""What the Go watchdog's net/http does with the request line before any
handler runs, in every mode: any method token reaches the function, paths
that are not clean are redirected (301) to the clean path, "*" and
malformed escapes are refused, transfer codings other than chunked are 501."""
import pytest

from harness import parse_response

ECHO = "sh -c 'echo \"$Http_Method $Http_Path\"'"


def raw(wd, data):
    with wd.conn() as c:
        c.send(data)
        data, _ = c.read_until_close(timeout=5)
    return data


@pytest.mark.parametrize("method", ["QUERY", "X-CUSTOM", "get", "PROPFIND", "M-SEARCH"])
def test_any_method_token_reaches_the_function(watchdog, method):
    wd = watchdog({"fprocess": ECHO})
    with wd.conn() as c:
        for _ in range(2):  # keep-alive: the next request is parsed afresh
            c.send(b"%s /m HTTP/1.1\r\nHost: x\r\n\r\n" % method.encode())
            r = c.read_response(timeout=5)
            assert (r.status, r.body) == (200, b"%s /m\n" % method.encode())
        c.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response(timeout=5).body == b"GET /after\n"
    wd.wait_log(r"%s /m - 200 - ContentLength: " % method)


def test_unknown_method_with_a_body(watchdog):
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"QUERY / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
               b"QUERY / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        assert c.read_response(timeout=5).body == b"hello"
        assert c.read_response(timeout=5).body == b"abc"


def test_method_that_is_not_a_token_is_400(watchdog):
    wd = watchdog({"fprocess": "cat"})
    out = raw(wd, b"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("path,location", [
    ("//x", "/x"),
    ("/a/./b", "/a/b"),
    ("/a/../b", "/b"),
    ("/a//b/?q=1", "/a/b/?q=1"),
    ("/../../etc", "/etc"),
    ("/a%20b/../c%20d", "/c%20d"),
    ("/_/health/../x", "/_/x"),
])
def test_unclean_path_is_redirected(watchdog, path, location):
    wd = watchdog({"fprocess": ECHO})
    out = raw(wd, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    r, _ = parse_response(out, closed=True)
    assert r.status == 301
    assert r.header("Location") == location
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.body == b'<a href="%s">Moved Permanently</a>.\n\n' % location.encode()
    assert not wd.descendants()


def test_redirect_bodies_by_method(watchdog):
    wd = watchdog({"fprocess": ECHO})
    out = raw(wd, b"HEAD //x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r, _ = parse_response(out, closed=True, head=True)
    assert r.status == 301 and r.header("Content-Type") == "text/html; charset=utf-8"
    out = raw(wd, b"POST //x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
    r, _ = parse_response(out, closed=True)
    assert r.status == 301 and r.header("Location") == "/x"
    assert r.header("Content-Type") is None and r.body == b""


def test_redirects_are_not_logged(watchdog):
    wd = watchdog({"fprocess": ECHO})
    raw(wd, b"GET //quiet HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert wd.request("GET", "/loud").status == 200
    wd.wait_log(r"GET /loud - 200")
    assert "quiet" not in wd.stderr()


def test_asterisk(watchdog):
    wd = watchdog({"fprocess": ECHO})
    out = raw(wd, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r, _ = parse_response(out, closed=True)
    assert (r.status, r.body) == (200, b"")
    out = raw(wd, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n")
    r, _ = parse_response(out, closed=True)
    assert r.status == 400 and r.header("Connection") == "close"
    assert not wd.descendants()


@pytest.mark.parametrize("path", ["/%zz", "/a%2", "/%g0/x"])
def test_malformed_escape_is_400(watchdog, path):
    wd = watchdog({"fprocess": ECHO})
    out = raw(wd, b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    r, _ = parse_response(out, closed=True)
    assert (r.status, r.body) == (400, b"400 Bad Request")
    assert r.header("Content-Type") == "text/plain; charset=utf-8"


def test_malformed_escape_in_query_is_passed_on(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo \"$Http_Query\"'"})
    assert wd.request("GET", "/x?a=%zz").body == b"a=%zz\n"


@pytest.mark.parametrize("te", [b"gzip, chunked", b"gzip", b"deflate", b"chunked, chunked"])
def test_transfer_codings_other_than_chunked_are_501(watchdog, te):
    wd = watchdog({"fprocess": "cat"})
    out = raw(wd, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n3\r\nabc\r\n0\r\n\r\n" % te)
    r, _ = parse_response(out, closed=True)
    assert (r.status, r.body) == (501, b"Unsupported transfer encoding")
    assert not wd.descendants()


def test_two_transfer_encoding_lines_are_501(watchdog):
    wd = watchdog({"fprocess": "cat"})
    out = raw(wd, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 501 ")


def test_chunked_in_any_case_is_accepted(watchdog):
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        assert c.read_response(timeout=5).body == b"abc"


def test_classic_refuses_unknown_methods(watchdog):
    wd = watchdog({"fprocess": "cat", "mode": "classic"})
    with wd.conn() as c:
        c.send(b"QUERY / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response(timeout=5).status == 405
