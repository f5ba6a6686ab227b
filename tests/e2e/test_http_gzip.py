"""http mode asks the function for gzip and inflates the answer, as Go's
http.Client does for the of-watchdog, when the client named no
Accept-Encoding (and no Range, and did not send HEAD)."""
import gzip
import hashlib
import http.client
import json

from harness import SANITIZED, RawConn, http_watchdog

BLOCK = b"0123456789abcdef" * 4096  # as tests/e2e/upstreams/app.py


def expected(n):
    return (BLOCK * (n // len(BLOCK) + 1))[:n]


def test_answer_inflated_for_a_client_that_named_no_encoding(tmp_path):
    n = 3 * 1024 * 1024 + 17
    with http_watchdog(tmp_path) as wd:
        r = wd.get("/gzip?n=%d" % n)
        assert r.status == 200
        assert r.headers.get("X-Seen-AE") == "gzip"
        assert r.headers.get("Content-Encoding") is None
        assert r.headers.get("Content-Length") is None
        assert r.headers.get("Transfer-Encoding") == "chunked"
        assert r.body == expected(n)
        assert wd.wait_log(r"GET /gzip\?n=\d+ - 200 OK - ContentLength: -1B")


def test_client_encoding_passes_through(tmp_path):
    n = 100000
    with http_watchdog(tmp_path) as wd:
        for ae in ("gzip", "identity", "gzip, deflate"):
            r = wd.get("/gzip?n=%d" % n, headers=[("Accept-Encoding", ae)])
            assert r.status == 200
            assert r.headers.get("X-Seen-AE") == ae
            assert r.headers.get("Content-Encoding") == "gzip"
            assert gzip.decompress(r.body) == expected(n)
        # a Range request is not asked for gzip either
        r = wd.get("/gzip?n=%d" % n, headers=[("Range", "bytes=0-9")])
        assert r.headers.get("X-Seen-AE") == "(none)"
        assert gzip.decompress(r.body) == expected(n)
        r = wd.get("/gzip?n=%d" % n, method="HEAD")
        assert r.headers.get("X-Seen-AE") == "(none)"
        assert r.headers.get("Content-Encoding") == "gzip"


def test_an_empty_accept_encoding_counts_as_none(tmp_path):
    with http_watchdog(tmp_path) as wd:
        r = wd.get("/echo", headers=[("Accept-Encoding", "")])
        sent = [v for k, v in json.loads(r.body)["headers"]
                if k.lower() == "accept-encoding"]
        assert sent == ["", "gzip"]


def test_corrupt_answer_logged_and_the_client_connection_kept(tmp_path):
    with http_watchdog(tmp_path) as wd, RawConn(wd.port) as c:
        c.send(b"GET /gzip?bad=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b""
        assert r.headers.get("Content-Encoding") is None
        assert wd.wait_log(r"read body err gzip: invalid header")
        # the same client connection goes on; the upstream one was dropped
        c.send(b"GET /gzip?n=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == expected(1000)


def test_a_large_inflation_is_paced_by_the_client(tmp_path):
    # 64 MiB from about 64 KB of gzip: the watchdog holds a few steps of
    # it at a time, not the whole answer.
    n = 64 * 1024 * 1024
    with http_watchdog(tmp_path) as wd:
        base = wd.rss_kib()
        c = http.client.HTTPConnection("127.0.0.1", wd.port, timeout=60)
        c.putrequest("GET", "/gzip?n=%d" % n, skip_accept_encoding=True)
        c.endheaders()
        r = c.getresponse()
        assert r.status == 200 and r.getheader("X-Seen-AE") == "gzip"
        got, digest = 0, hashlib.sha256()
        while True:
            piece = r.read(1 << 20)
            if not piece:
                break
            got += len(piece)
            digest.update(piece)
        c.close()
        assert got == n
        assert digest.hexdigest() == hashlib.sha256(expected(n)).hexdigest()
        # (sanitizer builds keep freed memory in quarantine: no bound there)
        if not SANITIZED:
            assert wd.peak_rss_kib() - base < 16 * 1024, (base, wd.peak_rss_kib())
