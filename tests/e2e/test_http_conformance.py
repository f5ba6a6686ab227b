"""HTTP/1.1 and 1.0 on the function port: keep-alive, pipelining, Expect,
HEAD, and bad input."""
import socket
import struct
import threading
import time

import pytest

from harness import DATE_RE, HOST, RawConn, parse_responses, status_of, wait_until

MiB = 1024 * 1024


def served_normally(wd):
    r = wd.request("POST", "/after", b"still fine")
    assert (r.status, r.body) == (200, b"still fine")
    assert wd.alive()


def test_date_header(watchdog):
    wd = watchdog({"fprocess": "cat"})
    for path in ["/", "/_/health"]:
        r = wd.request("POST" if path == "/" else "GET", path, b"x" if path == "/" else None)
        assert DATE_RE.match(r.header("Date", "")), r.headers


def test_keep_alive_two_requests_one_socket(watchdog):
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none")
        assert c.read_response().body == b"one"
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo")
        assert c.read_response().body == b"two"
        c.send(b"GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"OK"


@pytest.mark.parametrize("chunked", [False, True])
def test_answer_streamed_while_a_large_body_arrives(watchdog, chunked):
    """cat answers while most of a 1 MiB body is still on its way: all of it
    is echoed, and as cat reads all of it the connection serves the next
    request. The head went out at cat's first byte, when nothing said the
    body would not be read: it does not say Connection: close."""
    wd = watchdog({"fprocess": "cat", "mode": "streaming"})
    body = b"z" * MiB
    framing = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body) if chunked else \
        b"Content-Length: %d\r\n\r\n" % len(body)
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\n" + framing + body + (b"\r\n0\r\n\r\n" if chunked else b""))
        r = c.read_response(timeout=20)
        assert (r.status, len(r.body), r.header("Connection")) == (200, len(body), None)
        assert r.body == body
        c.send(b"GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response(timeout=10).body == b"OK"


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_pipelining_in_order(watchdog, mode):
    wd = watchdog({"fprocess": "cat", "mode": mode})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
               b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n"
               b"GET /_/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, closed = c.read_until_close(10)
    assert closed
    rs = parse_responses(data)
    assert [(r.status, r.body) for r in rs] == [(200, b"first"), (200, b"second"), (200, b"OK")]


def numbered_body(i, n):
    """n bytes that say which request they answer."""
    unit = b"%06d" % i
    return (unit * (n // len(unit) + 1))[:n]


def test_pipelined_answers_of_every_size_keep_their_order(watchdog):
    """Answers pipelined on one connection to a client that reads late:
    small ones (written from flat memory), ones around that memory's 4 KiB,
    a large one (queued as evbuffer chains) and small ones behind it, all
    arrive whole and in order."""
    wd = watchdog({"fprocess": "cat", "mode": "serializing"})
    sizes = [10, 3000, 3000, 1100, 4096, 4097] + [3000] * 150 + [200000, 10, 3000, 1]
    bodies = [numbered_body(i, n) for i, n in enumerate(sizes)]
    data = b"".join(b"POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                    % (i, len(b), b) for i, b in enumerate(bodies))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect((HOST, wd.port))
    sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
    with RawConn(sock=s) as c:
        sender.start()
        time.sleep(1.0)   # the answers queue behind the client's small window
        got = [c.read_response(timeout=30) for _ in bodies]
        sender.join(10)
    assert [r.status for r in got] == [200] * len(bodies)
    for i, (r, b) in enumerate(zip(got, bodies)):
        assert r.body == b, f"answer {i}: {len(r.body)} bytes, {r.body[:12]!r}"
    assert wd.alive()


def test_http10_no_chunked(watchdog):
    wd = watchdog({"fprocess": "cat"})
    data, closed = wd.raw(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", timeout=5)
    assert closed, "HTTP/1.0 without keep-alive must be closed after the response"
    rs = parse_responses(data, closed=True)
    assert len(rs) == 1
    r = rs[0]
    assert r.status == 200
    assert "chunked" not in (r.header("Transfer-Encoding") or "").lower()
    assert r.body == b"hello"


def test_http10_serializing_content_length(watchdog):
    wd = watchdog({"fprocess": "cat", "mode": "serializing"})
    data, closed = wd.raw(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", timeout=5)
    r = parse_responses(data, closed=True)[0]
    assert (r.status, r.body, r.header("Content-Length")) == (200, b"hello", "5")


@pytest.mark.parametrize("fields, body", [
    (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
    (b"Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello", b"hello"),
    (b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b""),
])
def test_http10_transfer_encoding_ignored(watchdog, fields, body):
    """HTTP/1.0 has no transfer codings: as in Go, the field is dropped and
    the body is what Content-Length says, or nothing."""
    wd = watchdog({"fprocess": "cat"})
    data, closed = wd.raw(b"POST / HTTP/1.0\r\n" + fields, timeout=5)
    assert closed
    r = parse_responses(data, closed=True)[0]
    assert (r.status, r.body) == (200, body)


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_expect_100_continue(watchdog, mode):
    wd = watchdog({"fprocess": "cat", "mode": mode})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_until(b"\r\n\r\n", timeout=5)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        c.send(b"hello")
        r = c.read_response()
    assert (r.status, r.body) == (200, b"hello")


def test_expect_100_continue_among_other_tokens(watchdog):
    # Go looks for the token in a list, in any case
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: foo, 100-Continue\r\n\r\n")
        assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue\r\n")
        c.send(b"hi")
        assert c.read_response().body == b"hi"


def expect_something(wd, path):
    return wd.raw(b"POST %s HTTP/1.1\r\nHost: x\r\nExpect: something\r\n"
                  b"Content-Length: 2\r\n\r\nhi" % path.encode(), timeout=5)


@pytest.mark.parametrize("path", ["/", "/_/health"])
def test_other_expectation_417_and_close(watchdog, path):
    # Go's server answers it itself, before routing
    wd = watchdog({"fprocess": "cat"})
    data, closed = expect_something(wd, path)
    head = data.split(b"\r\n\r\n")[0].lower()
    assert status_of(data) == 417, data[:300]
    assert b"connection: close" in head and b"content-length: 0" in head, data
    assert closed
    served_normally(wd)


def test_other_expectation_not_logged(watchdog):
    wd = watchdog({"fprocess": "cat"})
    assert status_of(expect_something(wd, "/")[0]) == 417
    served_normally(wd)
    wd.wait_log(r"POST /after - 200")
    assert "POST / - " not in wd.stderr(), wd.stderr()


def test_head(watchdog):
    wd = watchdog({"fprocess": "echo hi"})
    with wd.conn() as c:
        c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        assert r.status == 200
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        r2 = c.read_response()
        assert (r2.status, r2.body) == (200, b"hi\n"), "HEAD response leaked a body"


def test_head_health(watchdog):
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"HEAD /_/health HTTP/1.1\r\nHost: x\r\n\r\nGET /_/health HTTP/1.1\r\nHost: x\r\n\r\n")
        c.read_response(head=True)
        assert c.read_response().body == b"OK"


def test_chunk_extensions_and_trailers(watchdog):
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
        assert c.read_response().body == b"abcde"


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_large_trailer_is_read_and_dropped(watchdog, mode):
    """A trailer larger than the head's buffer must not move the head the
    request points into: the answer and its log line stay whole."""
    wd = watchdog({"fprocess": "env", "mode": mode})
    trailer = b"X-Trailer: " + b"t" * 5000 + b"\r\nContent-Length: 7\r\nX-T2: " + b"u" * 5000 + b"\r\n"
    data, _ = wd.raw(b"POST /abc?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n" + trailer + b"\r\n", timeout=5)
    assert status_of(data) == 200, data[:300]
    assert b"Http_Path=/abc\n" in data and b"Http_Query=q=1\n" in data
    assert b"Trailer" not in data.partition(b"\r\n\r\n")[2]
    assert wd.wait_log(r"POST /abc\?q=1 - 200 ")
    assert wd.alive()


@pytest.mark.parametrize("line", [b"X-T(: t", b"X-T: a\x01b", b"NoColon"])
def test_unreadable_trailer_ends_the_body(watchdog, line):
    """The body is whole at its last chunk: the function answers, and the
    connection closes, as nothing after the trailer can be framed."""
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n0\r\n" + line + b"\r\n\r\n")
        data, closed = c.read_until_close(5)
    assert status_of(data) == 200, data[:300]
    assert data.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), data
    assert b"\r\nConnection: close\r\n" in data and closed
    served_normally(wd)


BAD = {
    "garbage": b"THIS IS NOT HTTP\r\n\r\n",
    "junk_after_version": b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n",
    "bad_version": b"GET / HTTP/x.y\r\nHost: x\r\n\r\n",
    "space_in_header_name": b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
    "cl_and_te": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "two_content_lengths": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "bad_content_length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "bad_chunk_size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
}


# Go's texts for what its server refuses after reading a head.
REFUSED_HEADS = {
    "malformed Host header": b"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n",
    "invalid header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01b\r\n\r\n",
}


@pytest.mark.parametrize("why", list(REFUSED_HEADS))
def test_refused_head_400_with_go_text(watchdog, why):
    wd = watchdog({"fprocess": "cat"})
    data, closed = wd.raw(REFUSED_HEADS[why], timeout=5)
    assert status_of(data) == 400, data[:300]
    assert data.endswith(b"\r\n\r\n400 Bad Request: " + why.encode()), data
    assert closed
    served_normally(wd)


# A bad header name or value, sent in three reads (the bad line, the rest,
# the blank line): Go reads the head to its end and refuses what it checks
# first. (status, Go's text, or None for a plain "400 Bad Request").
BAD_NAME = b"Bad(H: v\r\n"
HEAD_ORDER = {
    "name": ([b"Host: x\r\n", BAD_NAME, b""], 400, "invalid header name"),
    "name_8bit": ([b"Host: x\r\n", b"Bad\xffH: v\r\n", b""], 400, "invalid header name"),
    "name_no_host": ([BAD_NAME, b"X-A: b\r\n", b""], 400, "missing required Host header"),
    "space_name_no_host": ([b"Bad H: v\r\n", b"X-A: b\r\n", b""], 400,
                           "missing required Host header"),
    "name_then_bad_host": ([BAD_NAME, b"Host: exa mple\r\n", b""], 400, "malformed Host header"),
    "name_then_two_hosts": ([b"Host: x\r\n", BAD_NAME, b"Host: y\r\n"], 400, None),
    "name_then_te": ([b"Host: x\r\n", BAD_NAME, b"Transfer-Encoding: gzip\r\n"], 501, None),
    "name_then_bad_cl": ([b"Host: x\r\n", BAD_NAME, b"Content-Length: +1\r\n"], 400, None),
    "name_then_differing_cl": ([b"Host: x\r\n", BAD_NAME, b"Content-Length: 1\r\nContent-Length: 2\r\n"],
                               400, None),
    "name_then_no_colon": ([b"Host: x\r\n", BAD_NAME, b"NoColon\r\n"], 400, None),
    "name_then_fold": ([b"Host: x\r\n", BAD_NAME, b" folded\r\n"], 400, None),
    "value_no_host": ([b"X-Ctl: a\x01b\r\n", b"X-A: b\r\n", b""], 400, "missing required Host header"),
    "value_in_host": ([b"Host: a\x01b\r\n", b"X-A: b\r\n", b""], 400, "malformed Host header"),
    "bare_cr_in_value": ([b"Host: x\r\n", b"X-Cr: a\rb\r\n", b""], 400, "invalid header value"),
    # a CR that starts a value, with the byte after it in the same read, in
    # the next, or followed by a folded line
    "bare_cr_leads_value": ([b"Host: x\r\n", b"X-Cr: \rb\r\n", b""], 400, "invalid header value"),
    "bare_cr_leads_value_cut": ([b"Host: x\r\nX-Cr: \r", b"b\r\n", b""], 400, "invalid header value"),
    "bare_cr_leads_value_cut_after": ([b"Host: x\r\nX-Cr: \rb", b"\r\nX-A: b\r\n", b""], 400,
                                      "invalid header value"),
    "bare_cr_leads_value_folded": ([b"Host: x\r\n", b"X-Cr: \r\t b\r\n", b""], 400, "invalid header value"),
    "bare_cr_leads_value_then_host": ([b"X-Cr: \rb\r\n", b"Host: x\r\n", b""], 400, "invalid header value"),
    "bare_cr_leads_value_no_host": ([b"X-Cr: \rb\r\n", b"X-A: b\r\n", b""], 400,
                                    "missing required Host header"),
}


@pytest.mark.parametrize("name", list(HEAD_ORDER))
def test_bad_name_or_value_answered_in_go_order(watchdog, name):
    parts, status, why = HEAD_ORDER[name]
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\n" + parts[0])
        time.sleep(0.05)
        c.send(parts[1])
        time.sleep(0.05)
        c.send(parts[2] + b"\r\n")
        data, closed = c.read_until_close(5)
    assert status_of(data) == status, data[:300]
    body = {400: b"400 Bad Request", 501: b"Unsupported transfer encoding"}[status]
    if why:
        body += b": " + why.encode()
    assert data.endswith(b"\r\n\r\n" + body), data
    assert closed
    served_normally(wd)


def test_bad_name_waits_for_the_whole_head(watchdog):
    """Nothing is answered before the blank line: a Host may still come."""
    wd = watchdog({"fprocess": "cat"})
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\n" + BAD_NAME)
        assert c.wait_closed(0.5) is False
        c.send(b"Host: x\r\n\r\n")
        data, _ = c.read_until_close(5)
    assert data.endswith(b"400 Bad Request: invalid header name"), data


def test_bad_name_then_huge_head_431(watchdog):
    wd = watchdog({"fprocess": "cat"})
    data, _ = _send_big(wd.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + BAD_NAME + b"X-Big: ",
                        MiB + 65536, b"\r\n\r\n")
    assert status_of(data) == 431, data[:300]
    served_normally(wd)


def test_empty_header_name_dropped(watchdog):
    wd = watchdog({"fprocess": "env"})
    data, _ = wd.raw(b"GET / HTTP/1.1\r\nHost: x\r\n: v\r\nX-After: a\r\n"
                     b"Connection: close\r\n\r\n", timeout=5)
    assert status_of(data) == 200, data[:300]
    assert b"Http_X_After=a" in data
    assert b"=v\n" not in data


def test_http1_any_minor_version_served_as_1_1(watchdog):
    wd = watchdog({"fprocess": "cat"})
    data, _ = wd.raw(b"POST / HTTP/1.2\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                     timeout=5)
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    assert data.endswith(b"2\r\nhi\r\n0\r\n\r\n"), data
    # as in 1.1, Host is required
    data, _ = wd.raw(b"GET / HTTP/1.9\r\n\r\n", timeout=5)
    assert data.endswith(b"400 Bad Request: missing required Host header"), data


@pytest.mark.parametrize("host", [b"Host: example.com:443\r\n", b""])
def test_connect_authority_form_404(watchdog, host):
    """Go's ServeMux has no handler for a target without a path, and a
    CONNECT needs no Host; the function does not run."""
    wd = watchdog({"fprocess": "cat"})
    data, _ = wd.raw(b"CONNECT example.com:443 HTTP/1.1\r\n" + host + b"\r\n", timeout=5)
    assert status_of(data) == 404, data[:300]
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in data
    assert data.endswith(b"\r\n\r\n404 page not found\n"), data
    served_normally(wd)


def test_connect_origin_form_reaches_the_function_uncleaned(watchdog):
    wd = watchdog({"fprocess": "env"})
    data, _ = wd.raw(b"CONNECT /a/../b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
    assert status_of(data) == 200, data[:300]
    assert b"Http_Method=CONNECT\n" in data and b"Http_Path=/a/../b\n" in data


@pytest.mark.parametrize("path", ["/", "/_/health"])
def test_upgrade_and_connect_are_requests_like_any_other(watchdog, path):
    """Go's server knows no upgrade and no CONNECT tunnel: the request is
    answered, its body framed as any other, and what follows on the
    connection is the next request."""
    wd = watchdog({"fprocess": "cat"})
    c = wd.conn()
    c.send("GET %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none" % path)
    assert c.read_response().status == 200
    r = c.read_response()
    assert (r.status, r.body) == (200, b"one")
    c.send("CONNECT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo")
    r = c.read_response()
    assert (r.status, r.body) == (200, b"hi")
    r = c.read_response()
    assert (r.status, r.body) == (200, b"two")


REQUEST_LINES = {
    b"GET / HTTP/1.1": 200,
    b"GET  / HTTP/1.1": 400,
    b"GET /  HTTP/1.1": 400,
    b"GET / HTTP/1.1 x": 400,
    b"GET / HTTP/1.1 ": 400,
}


@pytest.mark.parametrize("line", list(REQUEST_LINES), ids=lambda l: l.decode())
def test_request_line_split_between_reads(watchdog, line):
    """A request line that arrives in two reads, cut beside each space, is
    judged as it would be whole: two spaces in a row, or a third, is 400."""
    wd = watchdog({"fprocess": "cat"})
    cuts = sorted({i + d for i, b in enumerate(line) if b == 0x20 for d in (0, 1)})
    for cut in cuts:
        with wd.conn() as c:
            c.send(line[:cut])
            time.sleep(0.05)
            c.send(line[cut:] + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
            data, _ = c.read_until_close(5)
        assert status_of(data) == REQUEST_LINES[line], (cut, data[:200])


def test_host_with_port_and_tab_in_value_accepted(watchdog):
    wd = watchdog({"fprocess": "cat"})
    data, _ = wd.raw(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\nX-Tab: a\tb\r\n"
                     b"Connection: close\r\n\r\n", timeout=5)
    assert status_of(data) == 200, data[:300]


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_400_and_close(watchdog, name, mode):
    wd = watchdog({"fprocess": "cat", "mode": mode})
    data, closed = wd.raw(BAD[name], timeout=5)
    assert status_of(data) == 400, data[:300]
    assert closed, "connection must be closed after a 400"
    assert data.count(b"HTTP/1.") == 1, f"answered more than once: {data!r}"
    served_normally(wd)


def _send_big(port, head, filler_len, tail):
    """Send a huge header block while reading; returns (bytes, closed)."""
    c = RawConn(port, timeout=10)

    def writer():
        try:
            c.send(head)
            block = b"a" * 65536
            left = filler_len
            while left:
                n = min(left, len(block))
                c.sock.sendall(block[:n])
                left -= n
            c.send(tail)
        except OSError:
            pass

    t = threading.Thread(target=writer)
    t.start()
    try:
        return c.read_until_close(10)
    finally:
        c.close()
        t.join(10)


def test_headers_over_1MiB_431(watchdog):
    wd = watchdog({"fprocess": "cat"})
    data, _ = _send_big(wd.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", MiB + 65536, b"\r\n\r\n")
    assert status_of(data) == 431, data[:300]
    served_normally(wd)


def test_many_headers_over_1MiB_431(watchdog):
    wd = watchdog({"fprocess": "cat"})
    hdr = b"X-H: " + b"b" * 1000 + b"\r\n"
    c = RawConn(wd.port, timeout=10)
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(1100):
                c.sock.sendall(hdr)
            c.send(b"\r\n")
        except OSError:
            pass
        data, _ = c.read_until_close(10)
    finally:
        c.close()
    assert status_of(data) == 431, data[:300]
    served_normally(wd)


def test_large_header_under_limit_accepted(watchdog):
    wd = watchdog({"fprocess": "cat", "cgi_headers": "false"})
    r = wd.request("POST", "/", b"ok", headers={"X-Big": "a" * (200 * 1024)})
    assert (r.status, r.body) == (200, b"ok")


def test_slowloris_headers_cut_at_read_timeout(watchdog):
    wd = watchdog({"fprocess": "cat", "read_timeout": "1s"})
    slow = wd.conn(timeout=10)
    try:
        slow.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        for _ in range(3):  # keep trickling, slower than the deadline allows
            time.sleep(0.4)
            try:
                slow.send(b"X-A: b\r\n")
            except OSError:
                break
        # meanwhile another client is served
        served_normally(wd)
        assert slow.wait_closed(5), "slow client still connected"
        assert time.monotonic() - t0 < 4.5
    finally:
        slow.close()


def test_slow_body_cut_at_read_timeout_function_ends_at_exec_timeout(watchdog):
    # As under the Go watchdog, the function's stdin closes and it runs on
    # until its exec timeout.
    wd = watchdog({"fprocess": "sleep 100", "read_timeout": "1s", "exec_timeout": "3s"})
    slow = wd.conn(timeout=10)
    try:
        slow.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        t0 = time.monotonic()
        assert slow.wait_closed(5), "slow body still accepted after read_timeout"
        assert time.monotonic() - t0 < 4
    finally:
        slow.close()
    wd.assert_no_descendants(5)


def test_idle_keepalive_connection_does_not_block_others(watchdog):
    wd = watchdog({"fprocess": "cat"})
    idle = [wd.conn() for _ in range(20)]
    try:
        served_normally(wd)
    finally:
        for c in idle:
            c.close()


def test_abuse_leaks_no_fds_and_no_processes(watchdog):
    wd = watchdog({"fprocess": "cat"})
    served_normally(wd)
    time.sleep(0.2)
    before = wd.fd_count()
    for data in BAD.values():
        wd.raw(data, timeout=5)
    for _ in range(5):  # disconnect mid-body
        c = wd.conn()
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        c.read_until(b"abc", timeout=5)
        c.close()
    for _ in range(5):  # disconnect mid-headers
        c = wd.conn()
        c.send(b"GET / HTTP/1.1\r\nHost")
        c.close()
    for _ in range(5):  # reset
        s = socket.create_connection((HOST, wd.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        time.sleep(0.05)
        s.close()
    served_normally(wd)
    wd.assert_no_descendants(5)
    assert wait_until(lambda: wd.fd_count() <= before, 5), \
        f"fds before {before}, after {wd.fd_count()}"
