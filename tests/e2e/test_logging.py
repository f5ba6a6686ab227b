"""Logs on stderr: the text request line (sizes, statuses, log_callid,
kube-probe requests left out), the function's stderr (prefix_logs, lines of
any length), and log_format=json (one object per line, every line)."""
import json
import re
import socket

import pytest

from harness import HOST, LOG_TS, free_port, http_watchdog, wait_until, write_script

FN = """#!/bin/sh
echo 'err "quoted" \\ line' >&2
printf 'bad \\377 byte\\n' >&2
printf 'no newline at the end' >&2
exec cat
"""

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def fn(tmp_path):
    return write_script(tmp_path, FN)


def json_lines(text):
    """Every line parsed; fails on the first that is not a JSON object with
    time, level and msg."""
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            pytest.fail(f"not JSON: {line!r}")
        assert isinstance(obj, dict), line
        assert RFC3339.match(obj.get("time", "")), f"time: {line}"
        assert obj.get("level") in ("info", "warn", "error"), f"level: {line}"
        assert isinstance(obj.get("msg"), str), f"msg: {line}"
        out.append(obj)
    return out


def wait_stderr(wd, pred, timeout=5):
    assert wait_until(lambda: pred(wd.stderr()), timeout), wd.stderr()


def test_json_every_line(watchdog, tmp_path, fn):
    env = {"fprocess": fn, "log_format": "json", "log_callid": "true"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        r = wd.request("POST", "/p?q=1", b"hello", headers={"X-Call-Id": "call-42"})
        assert r.status == 200 and r.body == b"hello"
        assert wd.request("GET", "/").status == 200
        assert wd.request("GET", "/_/health").status == 200
        wait_stderr(wd, lambda t: t.count('"method":') >= 2)
        assert wd.terminate() == 0
        lines = json_lines(wd.stderr())

    msgs = [o["msg"] for o in lines]
    # startup
    assert any(m.startswith("Version: ") for m in msgs)
    assert any(m == f"Listening on port: {wd.port}" for m in msgs)
    assert any(m == f"Metrics listening on port: {wd.metrics_port}" for m in msgs)
    # requests: the fields log pipelines index on
    reqs = [o for o in lines if "method" in o]
    assert len(reqs) == 2, reqs  # /_/health is not logged
    post = reqs[0]
    assert post["method"] == "POST" and post["path"] == "/p?q=1"
    assert post["status"] == 200 and post["bytes"] == 5
    assert isinstance(post["duration_seconds"], float) and 0 <= post["duration_seconds"] < 10
    assert post["call_id"] == "call-42"
    assert reqs[1]["call_id"] == "none"
    # function output, one object per line, whatever the bytes
    out = [o for o in lines if o.get("stream") == "stderr"]
    texts = [o["msg"] for o in out]
    assert texts.count('err "quoted" \\ line') == 2
    assert texts.count("bad \ufffd byte") == 2
    assert texts.count("no newline at the end") == 2
    # shutdown
    assert "SIGTERM: no new connections in 100ms" in msgs
    assert any(m.startswith("Removing lock-file : ") for m in msgs)
    assert "No new connections allowed, draining: 0 requests" in msgs
    assert msgs[-1] == "Exiting. Active connections: 0"


def test_json_startup_error_is_json(watchdog, tmp_path, fn):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {"fprocess": fn, "log_format": "json", "metrics_port": str(port)}
        with watchdog(env, metrics=True, ready=None) as wd:
            assert wd.wait_exit(10) == 1
            lines = json_lines(wd.stderr())
    errors = [o for o in lines if o["level"] == "error"]
    assert [o["msg"] for o in errors] == \
        [f"metrics_port: cannot listen on :{port}: Address already in use"]


def test_config_error_stays_plain_text(watchdog, tmp_path, fn):
    env = {"fprocess": fn, "log_format": "json", "exec_timeout": "soon"}
    with watchdog(env, metrics=True, ready=None) as wd:
        assert wd.wait_exit(10) == 2
        err = wd.stderr()
    assert err.startswith("fwatchdog: exec_timeout") and err.count("\n") == 1, err


def test_text_request_line_and_callid(watchdog, tmp_path, fn):
    env = {"fprocess": fn, "log_callid": "true"}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        wd.request("POST", "/a", b"12345", headers={"X-Call-Id": "abc-1"})
        wd.request("GET", "/b")
        wd.request("GET", "/c", headers={"User-Agent": "kube-probe/1.29"})
        wait_stderr(wd, lambda t: "GET /c" in t or t.count(" - ContentLength: ") >= 2)
        text = wd.stderr()
    assert re.search(rf"^{LOG_TS} POST /a - 200 - ContentLength: 5B \(\d+\.\d{{4}}s\) \[abc-1\]$",
                     text, re.M), text
    assert re.search(rf"^{LOG_TS} GET /b - 200 - ContentLength: 0B \(\d+\.\d{{4}}s\) \[none\]$",
                     text, re.M), text
    assert "GET /c" not in text  # kube-probe requests are not logged


def test_callid_off_by_default(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn}, metrics=True, ready="healthy") as wd:
        wd.request("POST", "/a", b"x", headers={"X-Call-Id": "abc-1"})
        wait_stderr(wd, lambda t: "POST /a" in t)
        text = wd.stderr()
    line = next(l for l in text.splitlines() if "POST /a" in l)
    assert line.endswith("s)") and "[" not in line, line


@pytest.mark.parametrize("value", [None, "", "true"])
def test_prefix_logs_true(watchdog, tmp_path, fn, value):
    # Empty is the default (true), as in the Go watchdog.
    env = {"fprocess": fn} if value is None else {"fprocess": fn, "prefix_logs": value}
    with watchdog(env, metrics=True, ready="healthy") as wd:
        wd.request("GET", "/")
        wait_stderr(wd, lambda t: "no newline at the end" in t)
        text = wd.stderr()
    assert re.search(rf'^{LOG_TS} stderr: err "quoted" \\ line$', text, re.M), text
    assert re.search(rf"^{LOG_TS} stderr: no newline at the end$", text, re.M), text


def test_prefix_logs_false(watchdog, tmp_path, fn):
    with watchdog({"fprocess": fn, "prefix_logs": "false"}, metrics=True, ready="healthy") as wd:
        wd.request("GET", "/")
        wait_stderr(wd, lambda t: "no newline at the end" in t)
        lines = wd.stderr().splitlines()
    assert 'err "quoted" \\ line' in lines
    assert "no newline at the end" in lines
    assert "bad \ufffd byte" in lines  # the raw byte, decoded as replacement here
    assert not any(l.endswith("stderr: no newline at the end") for l in lines)


# The text request line (prefix_logs): "[time ]METHOD URI - STATUS -
# ContentLength: SIZE (DURATIONs)[ [CALLID]]".
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


def test_no_log_line_for_kube_probe(watchdog):
    wd = watchdog({"fprocess": "echo hi"})
    assert wd.request("GET", "/kube", headers={"User-Agent": "kube-probe/1.27"}).status == 200
    wd.request("GET", "/after")
    wd.wait_log(req_line("GET", "/after", 200, "3B"))
    assert "/kube" not in wd.stderr()


def test_long_stderr_line_kept_whole(watchdog):
    """better: no line is dropped, whatever its length (log_buffer_size)."""
    wd = watchdog({"fprocess": "sh -c 'head -c 200000 /dev/zero | tr -c a a >&2; echo done'",
                   "prefix_logs": "false"})
    assert wd.request("GET", "/", timeout=15).body == b"done\n"
    wd.wait_log(r"^a{200000}$")


# ---- start-up lines, in the order the Go watchdogs print them ----

STARTUP = ("Version:", "Forking:", "Started logging:", "Serving files at:", "Watchdog mode:",
           "Timeouts:", "JWT Auth: true", "Listening on port:", "Writing lock-file to:",
           "Metrics listening on port:")


def startup_order(wd):
    """The start-up lines' leading words, in the order they were logged."""
    out = []
    for line in wd.stderr_lines():
        msg = re.sub("^" + LOG_TS + " ", "", line)
        out += [p for p in STARTUP if msg.startswith(p)]
    return out


# As of-watchdog and the classic watchdog print them: a mode's own lines
# (Forking, Serving files) before the banner, the metrics port's line after
# the function's port, after the lock file's line except in classic mode.
@pytest.mark.parametrize("mode,extra,expected", [
    ("streaming", {}, ["Version:", "Watchdog mode:", "Timeouts:", "Listening on port:",
                       "Writing lock-file to:", "Metrics listening on port:"]),
    ("serializing", {}, ["Version:", "Watchdog mode:", "Timeouts:", "Listening on port:",
                         "Writing lock-file to:", "Metrics listening on port:"]),
    ("static", {"static_path": "."}, ["Version:", "Serving files at:", "Watchdog mode:",
                                      "Timeouts:", "Listening on port:",
                                      "Writing lock-file to:", "Metrics listening on port:"]),
    ("classic", {}, ["Version:", "Timeouts:", "Listening on port:",
                     "Metrics listening on port:", "Writing lock-file to:"]),
])
def test_startup_lines_in_go_order(watchdog, tmp_path, mode, extra, expected):
    env = {"fprocess": "cat", "mode": mode, **extra}
    wd = watchdog(env, metrics=True, ready="healthy", cwd=tmp_path)
    assert wait_until(lambda: len(startup_order(wd)) >= len(expected), 5), wd.stderr()
    assert startup_order(wd) == expected


def test_startup_lines_in_go_order_http(tmp_path):
    # The lock file comes once the function's server answers (documented);
    # the rest is in of-watchdog's order.
    expected = ["Version:", "Forking:", "Started logging:", "Started logging:", "Watchdog mode:",
                "Timeouts:", "Listening on port:", "Metrics listening on port:",
                "Writing lock-file to:"]
    with http_watchdog(tmp_path, metrics_port=free_port()) as wd:
        # the line is written at the end of the loop's pass that wrote the file
        assert wait_until(lambda: len(startup_order(wd)) >= len(expected), 10), wd.stderr()
        assert startup_order(wd) == expected
