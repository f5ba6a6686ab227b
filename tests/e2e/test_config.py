"""Configuration: the command line, and settings from the environment
(invalid ones stop the watchdog with exit 2 naming the variable)."""
import os
import re
import time

import pytest

import harness
from harness import free_port

BASE_PATH = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")

ALL_VARIABLES = [
    "fprocess", "function_process", "mode", "port", "metrics_port",
    "read_timeout", "write_timeout", "exec_timeout", "healthcheck_interval",
    "upstream_url", "http_upstream_url", "http_buffer_req_body", "buffer_http",
    "content_type", "static_path", "max_inflight", "suppress_lock", "prefix_logs",
    "log_buffer_size", "log_callid", "ready_path", "cgi_headers", "combine_output",
    "write_debug", "marshal_request", "log_format", "max_request_body",
    "max_connections", "prespawn", "PORT", "TMPDIR", "max_queue", "queue_timeout",
    "cgi_response", "function_grace", "forward_sigterm",
]

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def run_cli(tmp_path, args, env):
    return harness.run_cli(args, {"PATH": BASE_PATH, **env}, tmp_path, timeout=5)


# -- command line ---------------------------------------------------------------

@pytest.mark.parametrize("flag", ["-version", "--version"])
def test_version_flag_prints_version_and_exits_0(flag, tmp_path):
    r = run_cli(tmp_path, [flag], {"TMPDIR": str(tmp_path)})
    out = r.stdout() + r.stderr()
    assert r.returncode == 0, out
    # As the Go watchdogs: one log line on stderr, nothing on stdout.
    assert r.stdout() == "", out
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d Version: \d+\.\d+\.\d+\tSHA: \S+\n",
                        r.stderr()), out


@pytest.mark.parametrize("args", [["--version=true"], ["-run-healthcheck", "-version"]])
def test_flags_are_read_as_go_reads_them(args, tmp_path):
    r = run_cli(tmp_path, args, {"TMPDIR": str(tmp_path)})
    assert r.returncode == 0 and "Version: " in r.stderr(), r.stderr()


@pytest.mark.parametrize("args", [["foo", "-bogus"], ["--", "-bogus"], ["-version=false"]])
def test_arguments_after_the_flags_are_ignored_as_by_go(args, tmp_path):
    # The watchdog runs: here it stops at its configuration, not at the flags.
    r = run_cli(tmp_path, args, {"TMPDIR": str(tmp_path)})
    assert r.returncode == 2 and "fprocess" in r.stderr() and "flag" not in r.stderr(), r.stderr()


def test_a_flag_that_is_not_a_boolean_is_refused(tmp_path):
    r = run_cli(tmp_path, ["-version=maybe"], {"TMPDIR": str(tmp_path)})
    assert r.returncode == 2 and 'invalid boolean value "maybe" for -version' in r.stderr()


def test_help_lists_every_setting_with_defaults(tmp_path):
    r = run_cli(tmp_path, ["--help"], {"TMPDIR": str(tmp_path)})
    out = r.stdout() + r.stderr()
    assert r.returncode == 0, out
    missing = [v for v in ALL_VARIABLES if not re.search(rf"(?<![A-Za-z_]){v}(?![A-Za-z_])", out)]
    assert not missing, f"--help does not mention {missing}:\n{out}"
    for default in ["8080", "8081", "30s", "streaming", "/home/app/public",
                    "65536", "application/octet-stream"]:
        assert default in out, f"--help lacks default {default!r}"


def help_settings(text):
    """variable -> (aliases, default) from --help's table. An alias row says
    "same as NAME"; a default in parentheses is words, not a value; other
    modes' defaults end the meaning: "(classic: 0)"."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.split() == ["VARIABLE", "DEFAULT", "MEANING"])
    head = lines[start]
    at_default, at_meaning = head.index("DEFAULT"), head.index("MEANING")
    rows = [(l[:at_default].strip(), l[at_default:at_meaning].strip(), l[at_meaning:].strip())
            for l in lines[start + 1:] if l.strip()]
    modes = dict((n, m) for n, _, m in rows)["mode"].replace(" or ", ", ").split(", ")
    per_mode = re.compile(r" \(((?:%s)(?:, (?:%s))*): ([^()]+)\)$" % ("|".join(modes), "|".join(modes)))
    settings, aliases = {}, {}
    for name, default, meaning in rows:
        alias_of = re.match(r"same as (\S+);", meaning)
        if alias_of:
            aliases.setdefault(alias_of.group(1), []).append(name)
            continue
        if default.startswith("(") and default.endswith(")"):
            default = default[1:-1]
        other = per_mode.search(meaning)
        if other:
            default += " (%s: %s)" % other.groups()
        settings[name] = default
    return {n: (aliases.get(n, []), d) for n, d in settings.items()}


def readme_settings():
    """variable -> (aliases, default) from the README's Configuration table:
    "`name` / `alias`" and the default cell without its code marks."""
    with open(README) as f:
        section = f.read().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    settings = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
        names = re.findall(r"`([^`]+)`", cells[0])
        settings[names[0]] = (names[1:], cells[1].replace("`", ""))
    return settings


def test_readme_settings_match_help(tmp_path):
    """The README's table and --help (made from the settings table) name the
    same variables, aliases and defaults."""
    r = run_cli(tmp_path, ["--help"], {"TMPDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr()
    shown, documented = help_settings(r.stdout()), readme_settings()
    assert len(shown) > 30 and len(documented) > 30
    only_help = sorted(set(shown) - set(documented))
    only_readme = sorted(set(documented) - set(shown))
    assert not only_help and not only_readme, \
        f"in --help only: {only_help}; in the README only: {only_readme}"
    differ = {n: {"help": shown[n], "README": documented[n]}
              for n in shown if shown[n] != documented[n]}
    assert not differ, f"aliases or defaults differ: {differ}"


def test_run_healthcheck_follows_lock_file(watchdog, tmp_path):
    wd = watchdog({"fprocess": "cat"})
    wd.wait_lock()
    r = run_cli(tmp_path, ["-run-healthcheck"], {"TMPDIR": str(wd.tmpdir)})
    assert r.returncode == 0, r.stderr()
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli(tmp_path, ["-run-healthcheck"], {"TMPDIR": str(empty)})
    assert r.returncode == 1, r.stderr()
    # of-watchdog's words: its version, then why it fails
    assert re.fullmatch(r"\S+ \S+ Version: \S+\tSHA: \S+\nunable to find lock file\.\n", r.stderr())
    # Same TMPDIR once the lock is gone.
    wd.lock_path.unlink()
    r = run_cli(tmp_path, ["-run-healthcheck"], {"TMPDIR": str(wd.tmpdir)})
    assert r.returncode == 1, r.stderr()


def test_run_healthcheck_in_classic_mode_says_only_why_it_fails(tmp_path):
    r = run_cli(tmp_path, ["-run-healthcheck"], {"TMPDIR": str(tmp_path), "mode": "classic"})
    assert (r.returncode, r.stdout(), r.stderr()) == (1, "", "unable to find lock file.\n")
    (tmp_path / ".lock").write_text("")
    r = run_cli(tmp_path, ["-run-healthcheck"], {"TMPDIR": str(tmp_path), "mode": "classic"})
    assert (r.returncode, r.stdout(), r.stderr()) == (0, "", "")


def test_run_healthcheck_hand_made_lock(tmp_path):
    (tmp_path / ".lock").write_text("")
    assert run_cli(tmp_path, ["-run-healthcheck"], {"TMPDIR": str(tmp_path)}).returncode == 0


# -- invalid configuration: one line naming the variable, exit 2 ----------------

INVALID = [
    ({"read_timeout": "abc"}, "read_timeout"),
    ({"write_timeout": "abc"}, "write_timeout"),
    ({"write_timeout": "0"}, "write_timeout"),
    ({"exec_timeout": "abc"}, "exec_timeout"),
    ({"exec_timeout": "10x"}, "exec_timeout"),
    ({"healthcheck_interval": "abc"}, "healthcheck_interval"),
    # a bare negative number is neither seconds nor a Go duration
    ({"exec_timeout": "-1"}, "exec_timeout"),
    ({"port": "abc"}, "port"),
    ({"port": "70000"}, "port"),
    ({"metrics_port": "abc"}, "metrics_port"),
    ({"mode": "bogus"}, "mode"),
    ({"fprocess": None}, "fprocess"),
    ({"fprocess": "sh -c 'echo unbalanced"}, "fprocess"),
    ({"suppress_lock": "maybe"}, "suppress_lock"),
    ({"prefix_logs": "yes"}, "prefix_logs"),
    # Go reads these as false without a word: refused rather than guessed
    ({"suppress_lock": "TRUE"}, "suppress_lock"),
    ({"marshal_request": "True", "mode": "classic"}, "marshal_request"),
    ({"prefix_logs": "tRUE"}, "prefix_logs"),
    ({"log_callid": "2"}, "log_callid"),
    ({"cgi_headers": "on"}, "cgi_headers"),
    ({"max_inflight": "abc"}, "max_inflight"),
    # set and empty: the Go watchdog stops on it too (strconv.Atoi(""))
    ({"log_buffer_size": ""}, "log_buffer_size"),
    # jwt_auth needs the function's name (and namespace): without it the
    # watchdog stops, in every mode, instead of serving the function open.
    ({"jwt_auth": "true"}, "OPENFAAS_NAME"),
    ({"jwt_auth": "1"}, "OPENFAAS_NAME"),
    ({"jwt_auth": "true", "mode": "http", "upstream_url": "http://127.0.0.1:1"}, "OPENFAAS_NAME"),
    ({"jwt_auth": "true", "mode": "static", "fprocess": None}, "OPENFAAS_NAME"),
    ({"jwt_auth": "true", "mode": "classic"}, "OPENFAAS_NAME"),
    ({"jwt_auth": "yes"}, "jwt_auth"),
    ({"max_queue": "-1"}, "max_queue"),
    ({"max_queue": "many"}, "max_queue"),
    ({"queue_timeout": "0"}, "queue_timeout"),
    ({"queue_timeout": "soon"}, "queue_timeout"),
    ({"cgi_response": "yes"}, "cgi_response"),
    ({"function_grace": "later"}, "function_grace"),
    # settings the Go watchdogs lack take no negative duration
    ({"function_grace": "-1s"}, "function_grace"),
    ({"queue_timeout": "-1s"}, "queue_timeout"),
    ({"forward_sigterm": "2"}, "forward_sigterm"),
    ({"mode": "http", "upstream_url": "http://127.0.0.1"}, "upstream_url"),
    ({"mode": "http", "http_upstream_url": "http://no-such-host.invalid:1"}, "http_upstream_url"),
    ({"mode": "http", "upstream_url": "http://127.0.0.1:1", "log_format": "json",
      "http_upstream_url": "http://127.0.0.1:1/?q"}, "http_upstream_url"),
]


@pytest.mark.parametrize("env,var", INVALID, ids=[f"{v}={list(e.values())[0]}" for e, v in INVALID])
def test_invalid_setting_exits_2_naming_variable(env, var, tmp_path):
    full = {"fprocess": "cat", "port": str(free_port()), "metrics_port": "0",
            "TMPDIR": str(tmp_path)}
    for k, v in env.items():
        if v is None:
            full.pop(k)
        else:
            full[k] = v
    r = run_cli(tmp_path, [], full)
    err = r.stderr()
    assert r.returncode == 2, f"exit {r.returncode}, stderr {err!r}"
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert var in lines[0], f"error line does not name {var}: {lines[0]!r}"
    assert not (tmp_path / ".lock").exists()


# -- valid settings ---------------------------------------------------------------

def test_go_durations_and_bare_seconds_accepted(watchdog):
    wd = watchdog({"fprocess": "cat", "read_timeout": "1m30s", "write_timeout": "10s",
                   "exec_timeout": "2", "healthcheck_interval": "1500ms"})
    r = wd.request("POST", "/", b"hi")
    assert (r.status, r.body) == (200, b"hi")


def test_startup_line_shows_durations_as_go_prints_them(watchdog):
    # kept to the nanosecond and printed by Go's rules, sign included
    wd = watchdog({"fprocess": "cat", "read_timeout": "500us", "write_timeout": "2m30.5s",
                   "exec_timeout": "1500us", "healthcheck_interval": "-1s"})
    assert ("Timeouts: read: 500\u00b5s write: 2m30.5s hard: 1.5ms health: -1s"
            in wd.stderr()), wd.stderr()


def test_negative_durations_are_no_limit(watchdog):
    # As the Go watchdogs take them (a negative http.Server timeout and an
    # exec_timeout not over 0 are none); of-watchdog refuses only write_timeout=0.
    wd = watchdog({"fprocess": "sh -c 'sleep 1.2; cat'", "read_timeout": "-1s",
                   "write_timeout": "-1s", "exec_timeout": "-1s", "healthcheck_interval": "-1s"})
    assert "Timeouts: read: -1s write: -1s hard: -1s health: -1s" in wd.stderr()
    c = wd.conn()
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
    time.sleep(1.2)
    c.send("ok")
    head = c.read_until(b"\r\n\r\n", timeout=10)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert c.read_until(b"0\r\n\r\n", timeout=10) == b"2\r\nok\r\n0\r\n\r\n"


def test_negative_read_timeout_closes_kept_alive_connections(watchdog):
    # Go's server waits for a second request until IdleTimeout, which
    # defaults to ReadTimeout: negative, that wait has expired at once. It
    # closes the connection after each answer, with no Connection: close in
    # it, unless 4 bytes of the next request are already read.
    wd = watchdog({"fprocess": "cat", "read_timeout": "-1s"})
    req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    c = wd.conn()
    c.send(req)
    r = c.read_response()
    assert r.status == 200 and "connection" not in r.headers, r.headers
    assert c.wait_closed(), "the connection stayed open"
    c = wd.conn()
    c.send(req + req)
    assert c.read_response().status == 200
    assert c.read_response().status == 200
    assert c.wait_closed(), "the connection stayed open after the pipelined pair"
    c = wd.conn()
    c.send(req + "GE")
    assert c.read_response().status == 200
    data, closed = c.read_until_close()
    assert closed and data == b"", data
    # answered as the request is read: the same
    health = "GET /_/health HTTP/1.1\r\nHost: x\r\n\r\n"
    for n in (1, 2, 3):
        c = wd.conn()
        c.send(health * n)
        for _ in range(n):
            assert c.read_response().status == 200
        assert c.wait_closed(), "the connection stayed open after %d health checks" % n


def test_new_settings_accepted(watchdog):
    wd = watchdog({"fprocess": "cat", "max_queue": "10", "queue_timeout": "1m30s",
                   "cgi_response": "false", "function_grace": "2", "forward_sigterm": "1"})
    r = wd.request("POST", "/", b"hi")
    assert (r.status, r.body) == (200, b"hi")


def test_read_timeout_0_is_no_limit(watchdog):
    # As a Go http.Server's ReadTimeout: 0 is none, for a slow head, a slow
    # body and an idle keep-alive connection alike.
    wd = watchdog({"fprocess": "cat", "read_timeout": "0"})
    assert "read: 0s" in wd.stderr()
    c = wd.conn()
    c.send("POST / HTTP/1.1\r\nHost: x\r\n")
    time.sleep(1.2)
    c.send("Content-Length: 4\r\n\r\nab")
    time.sleep(1.2)
    c.send("cd")
    head = c.read_until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert c.read_until(b"0\r\n\r\n") == b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"
    time.sleep(1.2)
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz")
    assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_bare_integer_duration_is_seconds(watchdog):
    wd = watchdog({"fprocess": "sh -c 'sleep 1; echo ok'", "exec_timeout": "2"})
    r = wd.request("GET", "/", timeout=10)
    assert (r.status, r.body) == (200, b"ok\n"), "exec_timeout=2 must be 2 seconds, not less"


@pytest.mark.parametrize("value,locked", [("1", False), ("true", False), ("0", True),
                                          ("false", True), ("", True)])
def test_bool_values(watchdog, value, locked):
    wd = watchdog({"fprocess": "cat", "suppress_lock": value})
    # As the Go watchdogs: health is the lock file, which suppress_lock
    # stops the watchdog writing.
    if locked:
        wd.wait_lock()
        assert wd.request("GET", "/_/health").status == 200
    else:
        assert wd.request("GET", "/").status == 200
        assert wd.request("GET", "/_/health").status == 503
        assert not wd.lock_path.exists()


@pytest.mark.parametrize("value,locked", [("1", True), ("true", False), ("0", True)])
def test_classic_bool_values(watchdog, value, locked):
    # The classic watchdog reads only "true" as true: suppress_lock=1 still
    # writes the lock file, and marshal_request=1 still sends the raw body.
    wd = watchdog({"fprocess": "cat", "mode": "classic", "suppress_lock": value,
                   "marshal_request": value})
    r = wd.request("POST", "/", b"hi")
    assert r.status == 200
    assert (r.body == b"hi") == (value != "true"), r.body
    if locked:
        wd.wait_lock()
    else:
        assert not wd.lock_path.exists()


def test_prefix_logs_takes_go_parsebool_spellings(watchdog):
    wd = watchdog({"fprocess": "sh -c 'echo to-std\"\"err >&2; cat'", "prefix_logs": "F"})
    assert wd.request("POST", "/", b"x").status == 200
    line = wd.wait_log(r"^.*to-stderr.*$").group(0)
    assert line == "to-stderr", line


def test_function_process_wins_over_fprocess(watchdog):
    wd = watchdog({"fprocess": "echo from-fprocess", "function_process": "echo from-function_process"})
    assert wd.request("GET", "/").body == b"from-function_process\n"


def test_PORT_honoured_when_port_unset(watchdog):
    p = free_port()
    wd = watchdog({"fprocess": "cat", "port": None, "PORT": str(p)}, port=p)
    assert wd.request("POST", "/", b"x").body == b"x"


def test_port_wins_over_PORT(watchdog):
    other = free_port()
    wd = watchdog({"fprocess": "cat", "PORT": str(other)})
    assert wd.request("POST", "/", b"x").body == b"x"


def test_quoted_fprocess_single_quotes(watchdog):
    wd = watchdog({"fprocess": """sh -c 'echo "a b"'"""})
    r = wd.request("GET", "/")
    assert (r.status, r.body) == (200, b"a b\n")


def test_quoted_fprocess_double_quotes_group_words(watchdog):
    wd = watchdog({"fprocess": 'printf "%s|" "a b" c'})
    assert wd.request("GET", "/").body == b"a b|c|"


def test_default_content_type(watchdog):
    wd = watchdog({"fprocess": "cat"})
    r = wd.request("POST", "/", b"x")
    assert r.header("Content-Type") == "application/octet-stream"


@pytest.mark.parametrize("mode", ["streaming", "serializing"])
def test_content_type_setting(watchdog, mode):
    wd = watchdog({"fprocess": "cat", "mode": mode, "content_type": "text/plain"})
    r = wd.request("POST", "/", b"x")
    assert r.status == 200
    assert r.header("Content-Type") == "text/plain"


def test_mode_default_is_streaming(watchdog):
    """mode unset means streaming: chunked answer from cat."""
    wd = watchdog({"fprocess": "cat", "mode": None})
    r = wd.request("POST", "/", b"abc")
    assert r.body == b"abc"
    assert (r.header("Transfer-Encoding") or "").lower() == "chunked"
