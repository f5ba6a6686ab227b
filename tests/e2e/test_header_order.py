"""The order of a response head's fields, as Go's server writes it: the
handler's header map sorted by name (the values of one name in the order
they were set), then the fields the server adds, Date, Content-Length, a
sniffed Content-Type, Connection and Transfer-Encoding. The expected lists
were read off of-watchdog 77e0a2e and classic-watchdog d2e0504 answering
the same requests."""
import pytest

from harness import http_watchdog, parse_response, request, write_script

DURATION = "X-Duration-Seconds"


def names(r):
    return r.headers.names()


def test_serializing_answer(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"})
    assert names(wd.request("POST", "/", b"hello")) == ["Content-Type", DURATION, "Date",
                                                        "Content-Length"]


@pytest.mark.parametrize("mode,expected", [
    ("serializing", ["Content-Type", DURATION, "Date", "Content-Length"]),
    # the classic watchdog left the failure's type to Go's server
    ("classic", ["Date", "Content-Length", "Content-Type"])])
def test_failure(watchdog, tmp_path, mode, expected):
    fn = write_script(tmp_path, "#!/bin/sh\nexit 3\n")
    wd = watchdog({"mode": mode, "fprocess": fn})
    r = wd.request("POST", "/", b"hello")
    assert r.status == 500
    assert names(r) == expected


def test_http10_keep_alive_comes_last(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi")
        r = c.read_response()
    assert names(r) == ["Content-Type", DURATION, "Date", "Content-Length", "Connection"]


def test_connection_close_follows_the_length(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"})
    r = wd.request("POST", "/", b"hi", headers={"Connection": "close"})
    assert names(r) == ["Content-Type", DURATION, "Date", "Content-Length", "Connection"]


def test_health_type_is_sniffed(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"}, ready="healthy")
    assert names(wd.request("GET", "/_/health")) == ["Date", "Content-Length", "Content-Type"]


def test_redirect(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"})
    assert names(wd.request("GET", "//x")) == ["Content-Type", "Location", "Date",
                                               "Content-Length"]


def test_metrics_port_not_found(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"}, metrics=True)
    r = request(wd.metrics_port, path="/other")
    assert r.status == 404
    assert names(r) == ["Content-Type", "X-Content-Type-Options", "Date", "Content-Length"]


def test_malformed_request(watchdog, tmp_path):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"})
    data, _ = wd.raw(b"GARBAGE\r\n\r\n")
    r, _ = parse_response(data, closed=True)
    assert r.status == 400
    # Go writes only these two, in this order (its Date and length are not
    # written: a documented difference)
    got = names(r)
    assert got.index("Content-Type") < got.index("Connection")


# ---- classic: the watchdog left the type of the output to Go's server ----

def test_classic_sniffed_type_follows_the_length(watchdog, tmp_path):
    fn = write_script(tmp_path, "#!/bin/sh\necho hello\n")
    wd = watchdog({"mode": "classic", "fprocess": fn})
    assert names(wd.request("POST", "/", b"x")) == [DURATION, "Date", "Content-Length",
                                                    "Content-Type"]


def test_classic_given_type_is_the_handlers(watchdog, tmp_path):
    fn = write_script(tmp_path, "#!/bin/sh\necho hello\n")
    wd = watchdog({"mode": "classic", "fprocess": fn, "content_type": "text/x"})
    assert names(wd.request("POST", "/", b"x")) == ["Content-Type", DURATION, "Date",
                                                    "Content-Length"]



# ---- http mode: the function's header fields are the handler's ----

def is_go_sorted(got):
    return got == sorted(got)


def test_http_answer_with_length_sorts_it(tmp_path):
    with http_watchdog(tmp_path) as wd:
        r = wd.request("GET", "/status/201")
        got = names(r)
        # BaseHTTPRequestHandler writes Server and Date first: Go sorts
        # them, and the function's Content-Length, with the rest
        assert {"Content-Length", "Date", "Server", "X-Custom", DURATION} <= set(got)
        assert is_go_sorted(got), got


def test_http_chunked_answer(tmp_path):
    with http_watchdog(tmp_path) as wd:
        got = names(wd.request("GET", "/sse?n=1&ms=0"))
        assert got[-1] == "Transfer-Encoding"
        assert is_go_sorted(got[:-1]), got


def test_http_sniffed_type_follows_the_length(tmp_path):
    with http_watchdog(tmp_path) as wd:
        got = names(wd.request("GET", "/notype?kind=text"))
        # the function's length is the handler's: sorted with the rest
        assert got[-1] == "Content-Type" and "Content-Length" in got[:-1], got
        assert is_go_sorted(got[:-1]), got


# ---- static: Go's FileServer sets the length of a file it serves ----

@pytest.fixture
def static_wd(watchdog, tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"hello\n")
    return watchdog({"mode": "static", "static_path": str(root)}, ready="healthy")


def test_static_file(static_wd):
    assert names(static_wd.request("GET", "/a.txt")) == [
        "Accept-Ranges", "Content-Length", "Content-Type", "Etag", "Last-Modified", "Date"]


def test_static_range(static_wd):
    r = static_wd.request("GET", "/a.txt", headers={"Range": "bytes=0-1"})
    assert r.status == 206
    assert names(r) == ["Accept-Ranges", "Content-Length", "Content-Range", "Content-Type",
                        "Etag", "Last-Modified", "Date"]


def test_static_listing_length_is_the_servers(static_wd):
    assert names(static_wd.request("GET", "/sub/")) == ["Content-Type", "Last-Modified", "Date",
                                                       "Content-Length"]


def test_static_not_found(static_wd):
    assert names(static_wd.request("GET", "/nope")) == ["Content-Type", "X-Content-Type-Options",
                                                       "Date", "Content-Length"]


# ---- many fields, repeated names ----

@pytest.mark.parametrize("mode", ["serializing", "classic"])
def test_long_block_sorted_stably(watchdog, tmp_path, mode):
    """40 fields set alternately under two names, past what is sorted on the
    stack: sorted by name, each name's values in the order written."""
    fn = write_script(tmp_path, "#!/bin/sh\ni=0\nwhile [ $i -lt 20 ]; do "
                                "printf 'X-B: b%02d\\r\\nX-A: a%02d\\r\\n' $i $i; i=$((i+1)); done\n"
                                "printf '\\r\\n'\nexec cat\n")
    wd = watchdog({"mode": mode, "fprocess": fn, "cgi_response": "true"})
    r = wd.request("POST", "/", b"hello")
    assert r.body == b"hello"
    got = names(r)
    handler = got[:got.index("Date")]
    assert handler.count("X-A") == 20 and handler.count("X-B") == 20, got
    assert handler == sorted(handler), got
    assert r.header_all("X-A") == ["a%02d" % i for i in range(20)]
    assert r.header_all("X-B") == ["b%02d" % i for i in range(20)]


@pytest.mark.parametrize("value", ["text/plain; charset=utf-8\r\nX-Injected: yes\nX: z", "a\rb\nc",
                                   "0123456\n89abcdef", "0123456789\nbc", "01234567\r"
                                   "89abcdef"])
def test_value_never_splits_the_head(watchdog, tmp_path, value):
    """CR and LF in a value become spaces, as Go's header writer makes them,
    wherever they fall in it."""
    wd = watchdog({"mode": "serializing", "fprocess": "cat", "content_type": value})
    r = wd.request("POST", "/", b"hi")
    assert r.body == b"hi"
    assert r.header("Content-Type") == value.replace("\r", " ").replace("\n", " ")
    assert "X-Injected" not in r.headers and "X" not in r.headers
    assert names(r) == ["Content-Type", DURATION, "Date", "Content-Length"]


@pytest.mark.parametrize("raw,status,expected", [
    # Go's globalOptionsHandler sets the length itself
    (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200, ["Content-Length", "Date"]),
    # ServeMux and sendExpectationFailed set Connection: close themselves
    (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ["Connection", "Date", "Content-Length"]),
    (b"POST / HTTP/1.1\r\nHost: x\r\nExpect: other\r\nContent-Length: 2\r\n\r\nhi", 417,
     ["Connection", "Date", "Content-Length"]),
    # set by the handler, it goes to HTTP/1.0 too; ServeMux sets it for 1.1 only
    (b"POST / HTTP/1.0\r\nExpect: other\r\nContent-Length: 2\r\n\r\nhi", 417,
     ["Connection", "Date", "Content-Length"]),
    (b"GET * HTTP/1.0\r\n\r\n", 400, ["Date", "Content-Length"]),
    (b"OPTIONS * HTTP/1.0\r\n\r\n", 200, ["Content-Length", "Date"])])
def test_servers_own_answers(watchdog, tmp_path, raw, status, expected):
    wd = watchdog({"mode": "serializing", "fprocess": "cat"})
    with wd.conn() as c:
        c.send(raw)
        r = c.read_response()
    assert r.status == status
    assert names(r) == expected
