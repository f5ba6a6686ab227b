"""metrics_port: GET /metrics in the Prometheus text format 0.0.4, the
request, function and process series, and the listener itself."""
import gzip
import http.client
import socket
import threading
import time

import pytest

from harness import HOST, listening_ports, raw_exchange, request, wait_until, write_script
from metricsutil import parse_exposition, scrape, total

FN = """#!/bin/sh
case "$Http_Path" in
  /fail) echo failing >&2; exit 3 ;;
  /slow) sleep 1 ;;
  /hang) sleep 30 ;;
esac
exec cat
"""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture
def fn(tmp_path):
    return write_script(tmp_path, FN)


def in_background(target):
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def test_exposition_is_strict_and_complete(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        assert wd.request("POST", "/", b"hello").body == b"hello"
        assert wd.request("GET", "/fail").status == 500
        r, fams = scrape(wd)
        assert r.header("Content-Type") == CONTENT_TYPE
        want = {
            "http_requests_total": "counter",
            "http_request_duration_seconds": "histogram",
            "http_requests_in_flight": "gauge",
            "process_cpu_seconds_total": "counter",
            "process_resident_memory_bytes": "gauge",
            "process_virtual_memory_bytes": "gauge",
            "process_virtual_memory_max_bytes": "gauge",
            "process_open_fds": "gauge",
            "process_max_fds": "gauge",
            "process_start_time_seconds": "gauge",
            "fwatchdog_function_starts_total": "counter",
            "fwatchdog_function_timeouts_total": "counter",
            "fwatchdog_function_exits_total": "counter",
            "promhttp_metric_handler_requests_in_flight": "gauge",
            "promhttp_metric_handler_requests_total": "counter",
        }
        for name, typ in want.items():
            assert name in fams, f"{name} missing; have {sorted(fams)}"
            assert fams[name].type == typ, fams[name]
        for fam in fams.values():
            assert fam.type and fam.help, f"{fam.name}: TYPE and HELP expected"
        reqs = fams["http_requests_total"]
        assert reqs.value(code="200", method="post") == 1
        assert reqs.value(code="500", method="get") == 1
        assert total(reqs) == 2
        hist = fams["http_request_duration_seconds"]
        les = sorted({s[1]["le"] for s in hist.samples if "le" in s[1]}, key=float)
        assert les == ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
                       "5", "10", "+Inf"]
        assert fams["http_requests_in_flight"].value() == 0
        now = time.time()
        start = fams["process_start_time_seconds"].value()
        assert now - 120 < start <= now + 1
        open_fds = fams["process_open_fds"].value()
        assert 3 <= open_fds <= fams["process_max_fds"].value()
        rss = fams["process_resident_memory_bytes"].value()
        assert 0 < rss <= fams["process_virtual_memory_bytes"].value()
        # no address-space limit here: Go's collector says the largest uint64
        assert fams["process_virtual_memory_max_bytes"].value() == float(2**64 - 1)
        assert fams["process_cpu_seconds_total"].value() >= 0


def test_counters_increase_with_requests(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        _, before = scrape(wd)
        for i in range(3):
            assert wd.request("POST", "/x", b"%d" % i).status == 200
        _, after = scrape(wd)

        def diff(name, **labels):
            old = before[name].value(**labels) if name in before else 0
            return after[name].value(**labels) - old

        assert diff("http_requests_total", code="200", method="post") == 3
        hist = after["http_request_duration_seconds"]
        count = [v for n, l, v in hist.samples
                 if n.endswith("_count") and l == {"code": "200", "method": "post"}]
        inf = [v for n, l, v in hist.samples
               if n.endswith("_bucket") and l.get("le") == "+Inf" and l.get("method") == "post"]
        total_sum = [v for n, l, v in hist.samples
                     if n.endswith("_sum") and l == {"code": "200", "method": "post"}]
        assert count == [3] and inf == [3]
        assert 0 < total_sum[0] < 30
        assert diff("fwatchdog_function_starts_total") == 3
        assert diff("fwatchdog_function_exits_total", code="0") == 3


def test_private_endpoints_and_scrapes_not_counted(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        wd.request("GET", "/")
        _, before = scrape(wd)
        for _ in range(5):
            assert wd.request("GET", "/_/health").status == 200
            assert wd.request("GET", "/_/ready").status == 200
            scrape(wd)
        _, after = scrape(wd)
        assert total(after["http_requests_total"]) == total(before["http_requests_total"]) == 1
        assert after["http_requests_in_flight"].value() == 0
        assert after["fwatchdog_function_starts_total"].value() == 1


@pytest.mark.parametrize("accept,gzipped", [
    ("gzip", True), ("br, gzip;q=0.5", True), (" gzip , deflate", True),
    # promhttp of of-watchdog 77e0a2e weighs no q-value and no case
    ("gzip;q=0", True), ("GZIP", False), ("gzipx", False), ("x-gzip", False),
    ("identity", False), (None, False)])
def test_gzip_as_promhttp_gives_it(watchdog, tmp_path, fn, accept, gzipped):
    """Prometheus asks for gzip: the scrape comes compressed, as from the Go
    watchdog, and says so; the same exposition either way."""
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        assert wd.request("POST", "/", b"hello").status == 200
        headers = {"Accept-Encoding": accept} if accept is not None else {}
        r = request(wd.metrics_port, path="/metrics", headers=headers)
        assert r.status == 200
        assert r.header("Content-Type") == CONTENT_TYPE
        assert r.header("Content-Encoding") == ("gzip" if gzipped else None)
        text = gzip.decompress(r.body) if gzipped else r.body
        fams = parse_exposition(text.decode("utf-8"))
        assert fams["http_requests_total"].value(code="200", method="post") == 1
        if gzipped:
            assert r.headers.names() == ["Content-Encoding", "Content-Type", "Date",
                                         "Content-Length"]
            assert len(r.body) < len(text)
        head = request(wd.metrics_port, "HEAD", "/metrics", headers=headers)
        assert (head.status, head.body) == (200, b"")
        assert head.header("Content-Encoding") == ("gzip" if gzipped else None)


def test_scrapes_counted_as_promhttp_counts_them(watchdog, tmp_path, fn):
    # A scrape is counted once answered (not in its own text); other paths
    # of the metrics port are not scrapes.
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        _, first = scrape(wd)
        scrapes = first["promhttp_metric_handler_requests_total"]
        assert [scrapes.value(code=c) for c in ("200", "500", "503")] == [0, 0, 0]
        assert first["promhttp_metric_handler_requests_in_flight"].value() == 1
        assert request(wd.metrics_port, path="/other").status == 404
        assert request(wd.metrics_port, "POST", "/metrics", b"").status == 200
        _, third = scrape(wd)
        assert third["promhttp_metric_handler_requests_total"].value(code="200") == 2


def test_failures_and_timeouts(watchdog, tmp_path, fn):
    env = {"fprocess": fn, "exec_timeout": "1s"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        assert wd.request("GET", "/fail").status == 500
        t0 = time.monotonic()
        assert wd.request("GET", "/hang").status == 504
        assert time.monotonic() - t0 < 5
        _, fams = scrape(wd)
        assert fams["fwatchdog_function_exits_total"].value(code="3") == 1
        assert fams["fwatchdog_function_timeouts_total"].value() == 1
        assert fams["fwatchdog_function_starts_total"].value() == 2
        assert fams["http_requests_total"].value(code="504", method="get") == 1
        assert fams["http_requests_total"].value(code="500", method="get") == 1


def test_in_flight_gauge(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        t = in_background(lambda: wd.request("GET", "/slow"))
        seen = wait_until(lambda: scrape(wd)[1]["http_requests_in_flight"].value() == 1, 3)
        assert seen, "in-flight gauge never reached 1"
        t.join(10)
        assert not t.is_alive()
        assert scrape(wd)[1]["http_requests_in_flight"].value() == 0


def test_method_labels(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        assert wd.request("DELETE", "/").status == 200
        assert wd.request("PROPFIND", "/").status == 200
        assert wd.request("HEAD", "/").status == 200
        _, fams = scrape(wd)
        reqs = fams["http_requests_total"]
        assert reqs.value(code="200", method="delete") == 1
        assert reqs.value(code="200", method="unknown") == 1
        assert reqs.value(code="200", method="head") == 1


def test_scrape_endpoint_http(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        mp = wd.metrics_port
        assert request(mp, path="/metrics?name[]=x").status == 200
        r = request(mp, path="/other")
        assert r.status == 404
        # any method, as promhttp's handler under Go's ServeMux
        r = request(mp, "POST", "/metrics", b"")
        assert r.status == 200 and r.header("Content-Type") == CONTENT_TYPE
        assert parse_exposition(r.body.decode())
        r = request(mp, "HEAD", "/metrics")
        assert r.status == 200 and r.body == b"" and int(r.header("Content-Length")) > 0
        assert r.header("Content-Type") == CONTENT_TYPE

        # keep-alive: two scrapes on one connection
        conn = http.client.HTTPConnection(HOST, mp, timeout=5)
        try:
            for _ in range(2):
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                body = r.read()
                assert r.status == 200 and parse_exposition(body.decode())
                assert r.getheader("Connection") is None
                sock = conn.sock
            assert conn.sock is sock
        finally:
            conn.close()

        data, closed = raw_exchange(mp, b"GET /metrics HTTP/1.0\r\n\r\n")
        assert data.startswith(b"HTTP/1.0 200 OK\r\n") and closed
        data, closed = raw_exchange(mp, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and closed
        data, closed = raw_exchange(mp, b"NOT A REQUEST\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 400 ") and closed
        data, closed = raw_exchange(mp, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 431 ") and closed
        # the same framing rules as the function's port: both lengths is a 400
        data, closed = raw_exchange(mp, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 400 ") and closed
        # pipelined: both answered, in order
        data, closed = raw_exchange(
            mp, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 404 ") and b"HTTP/1.1 200 OK\r\n" in data and closed
        # a half-closed client still gets its answer
        with socket.create_connection((HOST, mp), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 OK\r\n")
        # the function's port never answers /metrics itself
        assert wd.request("GET", "/_/health").status == 200


def test_metrics_port_zero_listens_nowhere(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, ready="healthy") as wd:
        assert wd.env["metrics_port"] == "0"
        assert listening_ports(wd.pid) == {wd.port}


def test_metrics_port_listens(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        assert listening_ports(wd.pid) == {wd.port, wd.metrics_port}
        assert f"Metrics listening on port: {wd.metrics_port}" in wd.stderr()


def test_metrics_port_taken_fails_startup(watchdog, tmp_path, fn):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with watchdog({"fprocess": fn, "metrics_port": str(port)}, metrics=True, ready=None) as wd:
            rc = wd.wait_exit(10)
            err = wd.stderr()
            assert rc == 1, err
            assert f"metrics_port: cannot listen on :{port}: Address already in use" in err
            assert not (wd.tmpdir / ".lock").exists()
            assert "Listening on port" not in err


GOOD = """# HELP h A histogram.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.5
h_count 2
# HELP c A counter.
# TYPE c counter
c{code="200",method="get"} 3
"""


@pytest.mark.parametrize("bad", [
    GOOD.replace('h_bucket{le="0.1"} 1', 'h_bucket{le="0.1"} 3'),        # not cumulative
    GOOD.replace('h_bucket{le="+Inf"} 2\n', ''),                           # no +Inf
    GOOD.replace("h_count 2", "h_count 5"),                                # count != +Inf
    GOOD.replace("h_sum 0.5\n", ""),                                       # no sum
    GOOD.replace("# TYPE c counter\n", "") + "# TYPE c counter\n",         # TYPE after samples
    GOOD.replace('c{code="200",method="get"} 3', 'c{code=200} 3'),         # unquoted label
    GOOD.replace('c{code="200",method="get"} 3', 'c{code="200"} three'),   # bad value
    GOOD + 'c{code="200",method="get"} 4\n',                               # duplicate series
    GOOD.rstrip("\n"),                                                     # no final newline
    GOOD.replace("# TYPE c counter", "# TYPE c countr"),                   # unknown type
])
def test_parser_rejects_malformed(bad):
    parse_exposition(GOOD)
    with pytest.raises(AssertionError):
        parse_exposition(bad)
