"""Request smuggling and framing: every ambiguous or malformed head gets a
400 (505, 431 where fitting) and a closed connection, the function is never
left running, and the next connection is served normally."""
import time

import pytest

from harness import SHORT_TIMEOUTS, Watchdog, get, send_raw

H = b"Host: x\r\n"
CASES = {
    "cl_and_te": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "te_and_cl": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"),
    "two_content_lengths": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"),
    "two_content_lengths_led": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nContent-Length: 04\r\n\r\nabcd"),
    "same_content_lengths_and_te": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "content_length_list": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4, 5\r\n\r\nabcde"),
    "negative_content_length": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n"),
    "plus_content_length": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +4\r\n\r\nabcd"),
    "huge_content_length": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n"),
    "space_in_content_length": (400, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1 2\r\n\r\nabc"),
    "invalid_chunk_size": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"),
    "oversized_chunk_size": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nab\r\n0\r\n\r\n"),
    "chunk_longer_than_size": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n"),
    # llhttp 8 takes a CR and any byte as the CRLF after a chunk's size,
    # and any two bytes as the one after its data: Go refuses both bodies
    "chunk_size_cr_byte": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\rcab\r\n0\r\n\r\n"),
    "chunk_ext_cr_byte": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2;a=b\rcab\r\n0\r\n\r\n"),
    "chunk_data_cr_byte": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\rc0\r\n\r\n"
                           b"GET /two HTTP/1.1\r\n" + H + b"\r\n"),
    "chunk_data_two_bytes": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n"),
    "last_chunk_cr_byte": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\rc\r\n\r\n"
                           b"GET /two HTTP/1.1\r\n" + H + b"\r\n"),
    "chunk_size_bare_lf": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n"),
    # Go answers 501 to any transfer coding but a lone "chunked".
    "te_not_chunked_last": (501, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    "te_unknown": (501, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabc"),
    "te_space_before_colon": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    "space_before_colon": (400, b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n"),
    "obs_fold": (400, b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n"),
    "obs_fold_te": (400, b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
    "obs_fold_tab": (400, b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n\tb\r\n\r\n"),
    "bare_lf": (400, b"GET / HTTP/1.1\n" + H.replace(b"\r", b"") + b"\n"),
    "bare_lf_in_header": (400, b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n"),
    "bare_cr": (400, b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n"),
    # llhttp 8 would end this line at the byte after the CR, and the head at
    # the CRLF after that: the second request must not be read as one
    "bare_cr_leading_value": (400, b"GET / HTTP/1.1\r\n" + H + b"X-A: \rc\r\nGET /two HTTP/1.1\r\n" + H + b"\r\n"),
    # ... and the blank line: a CR and any byte after it end the head
    "blank_line_cr": (400, b"GET / HTTP/1.1\r\n" + H + b"\rc\r\nGET /two HTTP/1.1\r\n" + H + b"\r\n"),
    "blank_line_cr_cr": (400, b"GET / HTTP/1.1\r\n" + H + b"\r\rGET /two HTTP/1.1\r\n" + H + b"\r\n"),
    "bare_cr_leading_value_colon": (400, b"GET / HTTP/1.1\r\n" + H + b"X-A: \r:\r\nGET /two HTTP/1.1\r\n" + H + b"\r\n"),
    "nul_in_value": (400, b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n"),
    "nul_in_name": (400, b"GET / HTTP/1.1\r\n" + H + b"X-\x00A: ab\r\n\r\n"),
    "nul_in_target": (400, b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n"),
    "overlong_request_line": (431, b"GET /" + b"a" * (2 * 1024 * 1024) + b" HTTP/1.1\r\n" + H + b"\r\n"),
    "oversized_headers": (431, b"GET / HTTP/1.1\r\n" + H + b"X-A: " + b"a" * (2 * 1024 * 1024) + b"\r\n\r\n"),
    "http09": (400, b"GET /\r\n"),
    "http09_lf": (400, b"GET /\n"),
    "http2_preface": (505, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    "http2_version": (505, b"GET / HTTP/2.0\r\n" + H + b"\r\n"),
    "http3_version": (505, b"GET / HTTP/3.1\r\n" + H + b"\r\n"),
    "garbage": (400, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
}


@pytest.fixture(scope="module", params=["streaming", "serializing"])
def wd(request, tmp_path_factory):
    env = {**SHORT_TIMEOUTS, "mode": request.param, "fprocess": "cat", "read_timeout": "3s"}
    with Watchdog(env, workdir=tmp_path_factory.mktemp("wd"), ready="healthy") as w:
        yield w


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejected_and_closed(wd, name):
    fds = wd.baseline()
    status, raw = CASES[name]
    st, data, closed = send_raw(wd.port, raw, timeout=2.5)
    assert st == status, data[:300]
    assert closed, "connection left open after %d" % status
    # exactly one response, nothing the function produced after it
    assert data.count(b"HTTP/1.1 ") == 1, data[:300]
    assert wd.alive()
    st, _, body = get(wd.port, "/", body=b"next")
    assert st == 200 and body == b"next"
    assert wd.settled(fds) == (fds, [])


def test_blank_line_cr_cut_from_its_next_byte(wd):
    """The CR where the head's blank line starts ends one read and a byte
    other than LF starts the next: still no head end, and no second request."""
    fds = wd.baseline()
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\n" + H + b"\r")
        time.sleep(0.1)
        c.send(b"c\r\nGET /two HTTP/1.1\r\n" + H + b"\r\n")
        data, closed = c.read_until_close(3)
    assert closed
    assert data.startswith(b"HTTP/1.1 400 "), data[:300]
    assert data.count(b"HTTP/1.1 ") == 1, data[:300]
    assert wd.settled(fds) == (fds, [])


CHUNKED = b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("body,cut", [
    (b"2\rcab\r\n0\r\n\r\n", 1),
    (b"2\rcab\r\n0\r\n\r\n", 2),
    (b"2\r\nab\rc0\r\n\r\n", 4),
    (b"2\r\nab\rc0\r\n\r\n", 5),
    (b"2\r\nab\rc0\r\n\r\n", 6),
    (b"2\r\nab\r\n0\rc\r\n\r\n", 9),
    (b"2\r\nab\r\n0\rc\r\n\r\n", 10),
], ids=["size-before-cr", "size-after-cr", "data-before-cr", "data-after-cr", "data-after-byte",
        "last-before-cr", "last-after-cr"])
def test_chunk_line_end_cut_between_reads(wd, body, cut):
    """A chunk's line or data ended by a CR and a byte other than LF, cut
    between reads around them: refused all the same, and nothing after it
    read as a request."""
    fds = wd.baseline()
    with wd.conn() as c:
        c.send(CHUNKED + body[:cut])
        time.sleep(0.1)
        c.send(body[cut:] + b"GET /two HTTP/1.1\r\n" + H + b"\r\n")
        data, closed = c.read_until_close(3)
    assert closed
    assert data.count(b"HTTP/1.1 ") == 1, data[:300]
    if not data.startswith(b"HTTP/1.1 400 "):
        # streaming: cat answered the first read before the fault came; that
        # answer is cut without its last chunk, never completed
        assert wd.env["mode"] == "streaming" and data.startswith(b"HTTP/1.1 200 "), data[:300]
        assert not data.endswith(b"0\r\n\r\n"), data[:300]
    assert "/two" not in wd.stderr()
    assert wd.settled(fds) == (fds, [])


def test_chunks_cut_at_every_byte_still_read(wd):
    """Well-formed chunks, extensions and a trailer, one byte a read: the
    CRLF checks at each chunk's ends see across reads."""
    body = b"2;a=b\r\nab\r\n3\r\ncde\r\n0\r\nX-T: 1\r\n\r\n"
    with wd.conn() as c:
        c.send(CHUNKED)
        for i in range(len(body)):
            c.send(body[i:i + 1])
            time.sleep(0.01)
        c.send(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\nContent-Length: 2\r\n\r\nok")
        data, closed = c.read_until_close(5)
    assert closed
    assert data.count(b"HTTP/1.1 200 ") == 2, data[:600]
    first, _, second = data.partition(b"HTTP/1.1 200 ")[2].partition(b"HTTP/1.1 200 ")
    assert dechunk(first) == b"abcde" and dechunk(second) == b"ok", data[:600]


def dechunk(answer):
    """The body of an answer (head included), chunked or not."""
    head, _, rest = answer.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" not in head:
        return rest
    out = b""
    while True:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return out
        out, rest = out + rest[:n], rest[n + 2:]


def test_trailer_ended_by_cr_and_a_byte_ends_the_connection(wd):
    """After the last chunk, a CR and a byte other than LF: the body ends
    there, as for Go, and what follows is no request of its own."""
    raw = (b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\rc"
           b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n")
    st, data, closed = send_raw(wd.port, raw, timeout=2.5)
    assert st == 200 and closed, data[:300]
    assert data.count(b"HTTP/1.1 ") == 1, data[:300]
    assert "/smuggled" not in wd.stderr()


def test_smuggled_request_never_runs(wd):
    """A second request hidden in a body with conflicting framing must not
    be answered as a request of its own."""
    hidden = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           % (5 + len(hidden))) + hidden
    st, data, closed = send_raw(wd.port, raw, timeout=2.5)
    assert st == 400 and closed
    assert data.count(b"HTTP/1.1 ") == 1
    assert "/smuggled" not in wd.stderr()


def test_repeated_content_length_is_one(wd):
    """The same Content-Length twice frames the body as one would (as Go
    reads it), and the next request on the connection is read after it."""
    one = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc"
    last = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    st, data, closed = send_raw(wd.port, one + last, timeout=5)
    assert st == 200 and closed
    assert data.count(b"HTTP/1.1 200") == 2, data[:600]
    # cat's output, chunked or not: the first body, then the second
    bodies = [part.partition(b"\r\n\r\n")[2] for part in data.split(b"HTTP/1.1 200")[1:]]
    assert b"abc" in bodies[0] and b"ok" not in bodies[0], bodies
    assert b"ok" in bodies[1] and b"abc" not in bodies[1], bodies


def test_pipelined_after_valid_body_still_works(wd):
    body = b"a\r\n b\r\n\r\n c"
    one = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    last = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    st, data, closed = send_raw(wd.port, one * 2 + last, timeout=5)
    assert st == 200 and closed
    assert data.count(b"HTTP/1.1 200") == 3
