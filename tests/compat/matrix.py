"""The compatibility request matrix: groups of cases, each group one watchdog
configuration (one process serves all of its cases).

A group: {"id", "watchdog": "of-watchdog" | "classic-watchdog", "env": {...},
"cases": [...]}, plus optional "static" (make a static tree, see
harness.make_static_tree), "upstream_wait" (http mode: wait until the
function listens), "startup_only" (only start it: exit code and log).
Env values may use {UPSTREAM_PORT}, {STATIC}, {TMP}.

A case: {"id", "kind": "request" | "sequence" | "pipeline" | "concurrent",
"request": {...} or "requests": [...]}. A request: method, target, version
(default HTTP/1.1), headers ([name, value] pairs; Host: example.com is added
unless given or no_host), body (None, {"text"}, {"size"}, {"binary"},
{"chunks"}; Content-Length added unless a framing header is given),
expect100; or "raw" (the exact bytes). Concurrent items are
{"at": seconds, "request": {...}}.

Functions: functions/fn.sh picks a behaviour from the path /fn/<name>;
any other path reports what the function saw (argv, Http_*, stdin).
"""
import copy

OF = "of-watchdog"
CLASSIC = "classic-watchdog"

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "QUERY", "X-CUSTOM"]

PATHS = [
    ("root", "/"),
    ("a-b", "/a/b"),
    ("double-slash", "//x"),
    ("dot", "/a/./b"),
    ("dotdot", "/a/../b"),
    ("bad-escape", "/%zz"),
    ("escaped-space", "/a%20b"),
    ("query", "/q?x=1&y=two%20words"),
    ("empty-query", "/q?"),
    ("repeated-query", "/q?x=1&x=2"),
    ("trailing-slash", "/a/b/"),
    ("encoded-slash", "/a%2Fb"),
]

FEW_PATHS = [p for p in PATHS if p[0] in ("root", "a-b", "query", "dotdot", "bad-escape")]

HEADER_SETS = [
    ("none", []),
    ("custom", [["X-Custom", "value"], ["X-Another", "two words"]]),
    ("repeated", [["X-Rep", "one"], ["X-Rep", "two"]]),
    ("lowercase", [["x-lower-case", "v"], ["content-type", "text/plain"]]),
    ("call-id", [["X-Call-Id", "call-123"]]),
    ("x-timeout-0", [["X-Timeout", "0"]]),
    ("x-timeout-1s", [["X-Timeout", "1s"]]),
    ("content-type-json", [["Content-Type", "application/json"]]),
    ("underscore", [["X_Under_Score", "u"]]),
    ("empty-value", [["X-Empty", ""]]),
    ("long-value", [["X-Long", "v" * 8192]]),
    ("utf8-value", [["X-Utf8", "caf\u00e9"]]),
    ("cookie", [["Cookie", "a=1; b=2"]]),
    ("proxy", [["Proxy", "http://evil.example:3128"]]),
    ("user-agent-probe", [["User-Agent", "kube-probe/1.27"]]),
    ("accept-sse", [["Accept", "text/event-stream"]]),
    ("authorization", [["Authorization", "Bearer abc"]]),
]

BODIES = [
    ("none", None),
    ("empty", {"text": ""}),
    ("small", {"text": "hello world"}),
    ("json", {"text": '{"k": "v"}'}),
    ("binary", {"binary": 300}),
    ("chunked", {"chunks": ["first ", "second ", "third"]}),
    ("1mib", {"size": 1048576}),
    ("4mib", {"size": 4 << 20}),
]

# over fwatchdog's default max_request_body of the buffering modes (64 MiB)
# Whitespace around values is not part of them, for Go's textproto.
SPACED_HEADERS = [["X-Trail", "v  "], ["X-Tab", "\tt\t"], ["X-Inner", "a  b "],
                  ["X-Blank", "  "]]
BIG_BODY = {"id": "body/POST/70mib", "kind": "request", "timeout": 60,
            "request": {"method": "POST", "target": "/b", "body": {"size": 70 << 20}}}

PRIVATE_PATHS = [("health", "/_/health"), ("ready", "/_/ready")]

BEHAVIOURS = ["echo", "stdin", "exit-after", "exit-before", "kill9-after", "kill9", "slow",
              "slow-after", "silent", "stderr", "stderr-flood", "stderr-long", "big"]


def rq(method="GET", target="/", headers=(), body=None, **kw):
    r = {"method": method, "target": target}
    if headers:
        r["headers"] = [list(h) for h in headers]
    if body is not None:
        r["body"] = copy.deepcopy(body)
        if "chunks" in body:
            r.setdefault("headers", []).append(["Transfer-Encoding", "chunked"])
    r.update(kw)
    return r


def case(cid, request=None, **kw):
    c = {"id": cid}
    if request is not None:
        c["kind"] = "request"
        c["request"] = request
    c.update(kw)
    return c


def method_path_cases(paths=PATHS, methods=METHODS):
    return [case("method-path/%s/%s" % (m, name), rq(m, target)) for m in methods
            for name, target in paths]


def header_cases(methods=("GET", "POST")):
    out = []
    for m in methods:
        for name, hs in HEADER_SETS:
            if m == "POST" and name == "long-value":
                # the Go watchdog's streaming answer to a request with a body and
                # an output over its 4 KiB buffer depends on timing ("http:
                # invalid Read on closed Body"): GET only
                continue
            body = {"text": "x"} if m == "POST" else None
            out.append(case("headers/%s/%s" % (m, name), rq(m, "/h", hs, body)))
    return out


def body_cases(methods=("POST", "PUT"), target="/b", bodies=BODIES):
    out = []
    for m in methods:
        for name, b in bodies:
            out.append(case("body/%s/%s" % (m, name), rq(m, target, body=b), timeout=30))
    # a body with methods that usually have none
    for m in ("GET", "DELETE", "OPTIONS"):
        out.append(case("body/%s/small" % m, rq(m, target, body={"text": "hello world"})))
    out.append(case("body/POST/expect-100", rq("POST", target, [["Expect", "100-continue"]],
                                                {"text": "after continue"}, expect100=True)))
    out.append(case("body/POST/content-type-form",
                    rq("POST", target, [["Content-Type", "application/x-www-form-urlencoded"]],
                       {"text": "a=1&b=2"})))
    return out


def private_cases(methods=METHODS):
    out = []
    for name, p in PRIVATE_PATHS:
        for m in methods:
            out.append(case("private/%s/%s" % (name, m), rq(m, p)))
        out.append(case("private/%s/query" % name, rq("GET", p + "?x=1")))
        out.append(case("private/%s/trailing-slash" % name, rq("GET", p + "/")))
    out.append(case("private/underscore-root", rq("GET", "/_/")))
    out.append(case("private/healthz", rq("GET", "/_/healthz")))
    return out


def behaviour_cases(method="POST", behaviours=BEHAVIOURS):
    out = []
    for b in behaviours:
        out.append(case("behaviour/%s" % b, rq(method, "/fn/" + b, body={"text": "input"}),
                        timeout=15))
    return out


def form_cases():
    """Request-target forms and versions."""
    return [
        case("form/absolute", {"raw": "GET http://other.example/abs?q=1 HTTP/1.1\r\n"
                                      "Host: example.com\r\n\r\n"}),
        case("form/absolute-post", {"raw": "POST http://other.example/abs HTTP/1.1\r\n"
                                           "Host: example.com\r\nContent-Length: 2\r\n\r\nhi"}),
        case("form/options-star", {"raw": "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n"}),
        case("form/get-star", {"raw": "GET * HTTP/1.1\r\nHost: example.com\r\n\r\n"}),
        case("form/http10", rq("GET", "/v10", version="HTTP/1.0")),
        case("form/http10-no-host", rq("GET", "/v10", version="HTTP/1.0", no_host=True)),
        case("form/http11-no-host", rq("GET", "/v11", no_host=True)),
        case("form/http10-post", rq("POST", "/v10", version="HTTP/1.0", body={"text": "ten"})),
        case("form/lowercase-method", {"raw": "get /lower HTTP/1.1\r\nHost: example.com\r\n\r\n"}),
    ]


def malformed_cases():
    raw = lambda s: {"raw": s}  # noqa: E731
    return [
        case("bad/cl-and-te", raw("POST /x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")),
        case("bad/two-cl", raw("POST /x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n"
                               "Content-Length: 4\r\n\r\nabcd")),
        case("bad/bad-chunk-size", raw("POST /x HTTP/1.1\r\nHost: example.com\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")),
        case("bad/te-gzip", raw("POST /x HTTP/1.1\r\nHost: example.com\r\n"
                                "Transfer-Encoding: gzip\r\n\r\nabc")),
        case("bad/te-gzip-chunked", raw("POST /x HTTP/1.1\r\nHost: example.com\r\n"
                                        "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")),
        case("bad/space-in-header-name", raw("GET /x HTTP/1.1\r\nHost: example.com\r\n"
                                             "Bad Name: v\r\n\r\n")),
        case("bad/no-colon", raw("GET /x HTTP/1.1\r\nHost: example.com\r\nNoColon\r\n\r\n")),
        case("bad/http2", raw("GET /x HTTP/2.0\r\nHost: example.com\r\n\r\n")),
        case("bad/http09", raw("GET /x\r\n\r\n")),
        case("bad/version-garbage", raw("GET /x HTTQ/1.1\r\nHost: example.com\r\n\r\n")),
        case("bad/negative-cl", raw("POST /x HTTP/1.1\r\nHost: example.com\r\n"
                                    "Content-Length: -1\r\n\r\n")),
        case("bad/header-too-large", rq("GET", "/x", [["X-Big", "b" * (1100 * 1024)]])),
        case("bad/two-hosts", raw("GET /x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n")),
        case("bad/obs-fold", raw("GET /x HTTP/1.1\r\nHost: example.com\r\nX-Fold: a\r\n b\r\n\r\n")),
    ]


def lenient_cases():
    """What Go's parser lets through and a strict one refuses."""
    raw = lambda s: {"raw": s}  # noqa: E731
    return [
        case("bad/bare-lf", raw("GET /x HTTP/1.1\nHost: example.com\nX-Lf: y\n\n")),
        case("bad/empty-header-name", raw("GET /x HTTP/1.1\r\nHost: example.com\r\n: v\r\n\r\n")),
    ]


def edge_cases(target="/env"):
    """Request syntax at the edges of what Go's server takes: expectations,
    chunk extensions and trailers, transfer-coding spellings, Host and
    header values with odd bytes, request lines with odd forms."""
    raw = lambda s: {"raw": s}  # noqa: E731
    host = "Host: example.com\r\n"
    post = "POST %s HTTP/1.1\r\n%s" % (target, host)
    post10 = "POST %s HTTP/1.0\r\n%s" % (target, host)
    get = lambda extra: raw("GET %s HTTP/1.1\r\n%s%s\r\n" % (target, host, extra))  # noqa: E731
    chunked = post + "Transfer-Encoding: chunked\r\n\r\n"
    return [
        case("edge/expect-other", raw(post + "Expect: something\r\nContent-Length: 2\r\n\r\nhi")),
        case("edge/expect-100-get", get("Expect: 100-continue\r\n")),
        case("edge/chunk-extension", raw(chunked + "3;name=v\r\nabc\r\n0\r\n\r\n")),
        case("edge/chunk-trailer", raw(chunked + "3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")),
        # a trailer Go's textproto cannot read ends the body
        case("edge/trailer-bad-name", raw(chunked + "3\r\nabc\r\n0\r\nX-T(: t\r\n\r\n")),
        case("edge/trailer-ctl-value", raw(chunked + "3\r\nabc\r\n0\r\nX-T: a\x01b\r\n\r\n")),
        case("edge/trailer-no-colon", raw(chunked + "3\r\nabc\r\n0\r\nNoColon\r\n\r\n")),
        case("edge/chunk-upper-hex", raw(chunked + "A\r\n0123456789\r\n0\r\n\r\n")),
        case("edge/chunk-no-crlf", raw(chunked + "3\r\nabcX\r\n0\r\n\r\n")),
        # a chunk's line or data ended by a CR and another byte, then a request
        case("edge/chunk-size-cr", raw(chunked + "2\rchi\r\n0\r\n\r\n"
                                       "GET /two HTTP/1.1\r\nHost: example.com\r\n\r\n")),
        case("edge/chunk-data-cr", raw(chunked + "2\r\nhi\rc0\r\n\r\n"
                                       "GET /two HTTP/1.1\r\nHost: example.com\r\n\r\n")),
        case("edge/chunk-data-bytes", raw(chunked + "2\r\nhiXY0\r\n\r\n")),
        case("edge/last-chunk-cr", raw(chunked + "2\r\nhi\r\n0\rc\r\n\r\n"
                                       "GET /two HTTP/1.1\r\nHost: example.com\r\n\r\n")),
        case("edge/te-identity", raw(post + "Transfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nhi")),
        case("edge/te-identity-after-cl", raw(post + "Content-Length: 2\r\nTransfer-Encoding: identity\r\n\r\nhi")),
        case("edge/te-upper", raw(post + "Transfer-Encoding: CHUNKED\r\n\r\n2\r\nhi\r\n0\r\n\r\n")),
        # a trailer ended by a CR and a byte other than LF, then a request
        case("edge/trailer-end-cr", raw(post + "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\rc"
                                        "GET /two HTTP/1.1\r\nHost: example.com\r\n\r\n")),
        case("edge/cl-spaces", raw(post + "Content-Length:  2 \r\n\r\nhi")),
        case("edge/cl-plus", raw(post + "Content-Length: +2\r\n\r\nhi")),
        case("edge/host-space", raw("GET %s HTTP/1.1\r\nHost: exa mple.com\r\n\r\n" % target)),
        case("edge/host-empty", raw("GET %s HTTP/1.1\r\nHost:\r\n\r\n" % target)),
        case("edge/host-port", raw("GET %s HTTP/1.1\r\nHost: example.com:8080\r\n\r\n" % target)),
        case("edge/value-ctl", get("X-Ctl: a\x01b\r\n")),
        case("edge/value-del", get("X-Del: a\x7fb\r\n")),
        case("edge/value-tab", get("X-Tab: a\tb\r\n")),
        case("edge/method-bad-char", raw("G(T %s HTTP/1.1\r\n%s\r\n" % (target, host))),
        case("edge/double-space", raw("GET  %s HTTP/1.1\r\n%s\r\n" % (target, host))),
        case("edge/fragment", raw("GET %s#frag HTTP/1.1\r\n%s\r\n" % (target, host))),
        case("edge/leading-crlf", raw("\r\nGET %s HTTP/1.1\r\n%s\r\n" % (target, host))),
        # HTTP/1.0 has no transfer codings: Go drops the field and frames
        # the body by Content-Length alone, or reads none.
        case("edge/http10-te-cl", raw(post10 + "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nhi")),
        case("edge/http10-cl-te", raw(post10 + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nhi")),
        case("edge/http10-te-only", raw(post10 + "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")),
        case("edge/http10-te-unknown", raw(post10 + "Transfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nhi")),
    ] + head_order_cases(target)


def head_order_cases(target):
    """A bad header name or value: Go reads the whole head, and refuses a
    bad path, a repeated Host, a transfer coding, a bad Content-Length, a
    missing or a malformed Host first."""
    raw = lambda s: {"raw": s}  # noqa: E731
    host = "Host: example.com\r\n"
    line = "GET %s HTTP/1.1\r\n" % target
    get = lambda extra: raw(line + host + extra + "\r\n")  # noqa: E731
    bad = "Bad(H: v\r\n"
    return [
        case("edge/name-paren", get(bad)),
        case("edge/name-at", get("Bad@H: v\r\n")),
        case("edge/name-8bit", get("Bad\xffH: v\r\n")),
        case("edge/name-tab", get("Bad\tH: v\r\n")),
        case("edge/name-first-char", get("(H: v\r\n")),
        case("edge/name-no-host", raw(line + bad + "\r\n")),
        case("edge/name-space-no-host", raw(line + "Bad H: v\r\n\r\n")),
        case("edge/name-then-bad-host", raw(line + bad + "Host: exa mple.com\r\n\r\n")),
        case("edge/name-then-host", raw(line + bad + host + "\r\n")),
        case("edge/name-two-hosts", get(bad + "Host: b.example\r\n")),
        case("edge/name-te-gzip", raw("POST %s HTTP/1.1\r\n%s%sTransfer-Encoding: gzip\r\n\r\nabc"
                                      % (target, host, bad))),
        case("edge/name-cl-plus", raw("POST %s HTTP/1.1\r\n%s%sContent-Length: +2\r\n\r\nhi"
                                      % (target, host, bad))),
        case("edge/name-bad-path", raw("GET /%%zz HTTP/1.1\r\n%s%s\r\n" % (host, bad))),
        case("edge/name-then-no-colon", get(bad + "NoColon\r\n")),
        case("edge/name-http10-no-host", raw("GET %s HTTP/1.0\r\n%s\r\n" % (target, bad))),
        case("edge/value-ctl-no-host", raw(line + "X-Ctl: a\x01b\r\n\r\n")),
        case("edge/value-ctl-in-host", raw(line + "Host: a\x01b\r\n\r\n")),
        case("edge/value-bare-cr", get("X-Cr: a\rb\r\n")),
        case("edge/value-bare-cr-no-host", raw(line + "X-Cr: a\rb\r\n\r\n")),
        # a CR that starts a value: the line and the head go on past it
        case("edge/value-lead-cr", get("X-Cr: \rb\r\nX-A: b\r\n")),
        case("edge/value-lead-cr-then-host", raw(line + "X-Cr: \rb\r\n" + host + "\r\n")),
        case("edge/value-lead-cr-no-host", raw(line + "X-Cr: \rb\r\n\r\n")),
        case("edge/value-lead-cr-folded", get("X-Cr: \r\t b\r\n")),
        case("edge/blank-line-cr", raw(line + host + "\rc\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")),
        case("edge/value-lead-cr-next-request",
             raw(line + host + "X-Cr: \rb\r\nGET /two HTTP/1.1\r\n" + host + "\r\n")),
        case("edge/empty-name-no-host", raw(line + ": v\r\n\r\n")),
        # any one-digit minor version of HTTP/1 is 1.1 to Go
        case("edge/http12", raw("GET %s HTTP/1.2\r\n%s\r\n" % (target, host))),
        case("edge/http19-no-host", raw("GET %s HTTP/1.9\r\n\r\n" % target)),
        # ServeMux: an authority-form CONNECT matches no handler; it needs no Host
        case("edge/connect-authority", raw("CONNECT example.com:443 HTTP/1.1\r\n%s\r\n" % host)),
        case("edge/connect-no-host", raw("CONNECT example.com:443 HTTP/1.1\r\n\r\n")),
    ]


def repeat_cl_cases(target="/env"):
    """Content-Length repeated: Go takes one value repeated as one field."""
    raw = lambda s: {"raw": s}  # noqa: E731
    post = "POST %s HTTP/1.1\r\nHost: example.com\r\n" % target
    return [
        case("cl/same", raw(post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc")),
        case("cl/same-apart", raw(post + "Content-Length: 3\r\nX-Between: 1\r\n"
                                         "content-length: 3\r\n\r\nabc")),
        case("cl/three", raw(post + "Content-Length: 3\r\nContent-Length: 3\r\n"
                                    "Content-Length: 3\r\n\r\nabc")),
        case("cl/zero-led", raw(post + "Content-Length: 3\r\nContent-Length: 03\r\n\r\nabc")),
        case("cl/list", raw(post + "Content-Length: 3, 3\r\n\r\nabc")),
        case("cl/same-then-te", raw(post + "Content-Length: 3\r\nContent-Length: 3\r\n"
                                           "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")),
        case("cl/same-keep-alive", kind="sequence",
             requests=[raw(post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
                       rq("GET", "/after")]),
    ]


def connection_cases():
    return [
        case("conn/keep-alive-3", kind="sequence",
             requests=[rq("GET", "/k1"), rq("POST", "/k2", body={"text": "two"}), rq("GET", "/k3")]),
        case("conn/pipeline-2", kind="pipeline",
             requests=[rq("GET", "/p1"), rq("POST", "/p2", body={"text": "two"})]),
        case("conn/connection-close", rq("GET", "/cc", [["Connection", "close"]])),
        case("conn/http10-keep-alive", rq("GET", "/ka", [["Connection", "keep-alive"]],
                                          version="HTTP/1.0")),
        # Go's server knows no upgrade and no CONNECT tunnel: a request that
        # asks for one is answered, and what follows it is the next request
        case("conn/upgrade-then-next", kind="pipeline",
             requests=[rq("GET", "/u1", [["Connection", "Upgrade"], ["Upgrade", "websocket"]]),
                       rq("GET", "/u2")]),
        case("conn/upgrade-health-then-next", kind="pipeline",
             requests=[rq("GET", "/_/health", [["Connection", "Upgrade"], ["Upgrade", "x"]]),
                       rq("GET", "/_/health")]),
        case("conn/connect-body-then-next", kind="pipeline",
             requests=[rq("CONNECT", "/c1", body={"text": "hi"}), rq("GET", "/c2")]),
    ]


def inflight_cases(slow_path="/fn/slow"):
    hold = rq("POST", slow_path, body={"text": "hold"})
    return [
        case("inflight/second-request", kind="concurrent", timeout=15,
             requests=[{"at": 0, "request": hold},
                       {"at": 0.6, "request": rq("GET", "/second")}]),
        case("inflight/ready-while-busy", kind="concurrent", timeout=15,
             requests=[{"at": 0, "request": hold},
                       {"at": 0.6, "request": rq("GET", "/_/ready")}]),
        case("inflight/health-while-busy", kind="concurrent", timeout=15,
             requests=[{"at": 0, "request": hold},
                       {"at": 0.6, "request": rq("GET", "/_/health")}]),
        case("inflight/after", rq("GET", "/after")),
    ]


def prefixed(gid, cases):
    out = []
    for c in cases:
        c = copy.deepcopy(c)
        c["id"] = gid + "/" + c["id"]
        out.append(c)
    return out


def group(gid, watchdog, env, cases, **kw):
    g = {"id": gid, "watchdog": watchdog, "env": env, "cases": prefixed(gid, cases)}
    g.update(kw)
    return g


def startup(gid, watchdog, env):
    return {"id": gid, "watchdog": watchdog, "env": env, "cases": [], "startup_only": True}


def duration_groups(prefix, watchdog, fn, negative_exec):
    """A negative duration is valid Go syntax and no limit (write_timeout
    too: of-watchdog refuses only 0); the startup line prints each value
    as Go does, whatever its spelling."""
    return [
        group(prefix + "-negative-timeouts", watchdog,
              dict(fn, read_timeout="-1s", write_timeout="-1s", exec_timeout=negative_exec,
                   healthcheck_interval="1s"),
              [case("post", rq("POST", "/r", body={"text": "negative"})),
               # IdleTimeout defaults to ReadTimeout: negative, it has
               # expired when the server waits for a second request
               case("keep-alive", kind="sequence",
                    requests=[rq("GET", "/k1"), rq("GET", "/k2")]),
               case("pipeline-2", kind="pipeline",
                    requests=[rq("GET", "/p1"), rq("POST", "/p2", body={"text": "two"})]),
               # answered at once, as the request is read
               case("health-keep-alive", kind="sequence",
                    requests=[rq("GET", "/_/health"), rq("GET", "/_/health")]),
               case("health-pipeline-3", kind="pipeline",
                    requests=[rq("GET", "/_/health"), rq("GET", "/_/health"),
                              rq("GET", "/_/health")])]),
        group(prefix + "-duration-spellings", watchdog,
              dict(fn, read_timeout="1m30.25s", write_timeout="2h", exec_timeout="90",
                   healthcheck_interval="500us"),
              [case("post", rq("POST", "/r", body={"text": "spelt"}))]),
    ]


# --------------------------------------------------------------------------
# of-watchdog
# --------------------------------------------------------------------------

def of_groups():
    fn = {"fprocess": "fn.sh arg1 arg2"}
    gs = []
    gs.append(group("of-streaming", OF, dict(fn, mode="streaming", exec_timeout="1s"),
                    method_path_cases() + header_cases() + body_cases() + private_cases()
                    + behaviour_cases() + form_cases() + malformed_cases()
                    + connection_cases()))
    gs.append(group("of-serializing", OF, dict(fn, mode="serializing", exec_timeout="1s"),
                    method_path_cases(FEW_PATHS) + header_cases(("POST",))
                    + body_cases(("POST",)) + private_cases(["GET", "POST"])
                    + behaviour_cases() + form_cases()[:4]))
    gs.append(group("of-serializing-big-body", OF, dict(fn, mode="serializing"), [BIG_BODY]))
    gs.append(group("of-lenient-parse", OF, fn, lenient_cases()))
    gs.append(group("of-repeat-cl", OF, fn, repeat_cl_cases()))
    gs.append(group("of-request-edges", OF, fn, edge_cases()))
    gs.append(group("of-header-space", OF, fn,
                    [case("env", rq("GET", "/env", SPACED_HEADERS)),
                     case("post", rq("POST", "/env", SPACED_HEADERS, {"text": "x"}))]))
    gs.append(group("of-streaming-settings", OF,
                    dict(fn, content_type="text/plain; charset=utf-8", prefix_logs="false",
                         exec_timeout="0"),
                    [case("ct/GET", rq("GET", "/ct")),
                     case("ct/POST-json", rq("POST", "/ct", [["Content-Type", "application/json"]],
                                             {"text": "{}"})),
                     case("noprefix/stderr", rq("POST", "/fn/stderr", body={"text": "x"})),
                     case("noprefix/stderr-flood", rq("POST", "/fn/stderr-flood")),
                     case("no-exec-timeout/slow-after", rq("POST", "/fn/slow-after"), timeout=15)]))
    gs.append(group("of-serializing-settings", OF,
                    dict(fn, mode="serializing", content_type="text/html", prefix_logs="false",
                         exec_timeout="0"),
                    [case("ct/GET", rq("GET", "/ct")),
                     case("noprefix/stderr", rq("POST", "/fn/stderr", body={"text": "x"})),
                     case("no-exec-timeout/slow-after", rq("POST", "/fn/slow-after"), timeout=15)]))
    gs.append(group("of-logbuf-small", OF, dict(fn, log_buffer_size="16"),
                    [case("stderr", rq("POST", "/fn/stderr", body={"text": "x"})),
                     case("stderr-flood", rq("POST", "/fn/stderr-flood"))]))
    gs.append(group("of-logbuf-unlimited", OF, dict(fn, log_buffer_size="-1"),
                    [case("stderr-long", rq("POST", "/fn/stderr-long"))]))
    gs.append(group("of-maxinflight", OF, dict(fn, max_inflight="1"), inflight_cases()))
    # below 1 is no limit, "+2" is 2: Go's strconv.Atoi and its "> 0"
    gs.append(group("of-maxinflight-negative", OF, dict(fn, max_inflight="-1"),
                    inflight_cases()[:1]))
    gs.append(group("of-maxinflight-plus", OF, dict(fn, max_inflight="+1"),
                    inflight_cases()[:1]))
    gs.append(group("of-maxinflight-serializing", OF,
                    dict(fn, mode="serializing", max_inflight="1"), inflight_cases()))
    ready_cases = [case("ready/%s" % m, rq(m, "/_/ready")) for m in METHODS] + [
        case("ready/with-header", rq("GET", "/_/ready", [["X-Probe", "1"]])),
        case("ready/query", rq("GET", "/_/ready?x=1")),
        case("function-still-served", rq("GET", "/fn/ready"))]
    gs.append(group("of-ready-path", OF, dict(fn, ready_path="/fn/ready"), ready_cases))
    gs.append(group("of-ready-path-fails", OF, dict(fn, ready_path="/fn/notready"),
                    [case("ready/GET", rq("GET", "/_/ready"))]))
    gs.append(group("of-ready-path-serializing", OF,
                    dict(fn, mode="serializing", ready_path="/fn/ready"),
                    [case("ready/GET", rq("GET", "/_/ready")),
                     case("ready/POST", rq("POST", "/_/ready"))]))
    gs.append(group("of-suppress-lock", OF, dict(fn, suppress_lock="true"),
                    [case("health", rq("GET", "/_/health")),
                     case("ready", rq("GET", "/_/ready")),
                     case("request", rq("GET", "/x"))]))
    # 1 is true for the newest of-watchdog's booleans, false for 77e0a2e's
    gs.append(group("of-suppress-lock-one", OF, dict(fn, suppress_lock="1"),
                    [case("health", rq("GET", "/_/health")),
                     case("ready", rq("GET", "/_/ready"))]))
    gs.append(group("of-write-timeout", OF, dict(fn, write_timeout="1s", exec_timeout="3s"),
                    [case("slow", rq("POST", "/fn/slow"), timeout=10),
                     case("slow-after", rq("POST", "/fn/slow-after"), timeout=10),
                     case("quick", rq("GET", "/quick"))]))
    gs.append(group("of-cgi-headers-false", OF, dict(fn, cgi_headers="false"),
                    [case("env", rq("GET", "/env?q=1", [["X-Custom", "v"]]))]))
    # an empty boolean is its default (prefix_logs stays true); an empty
    # content_type is an empty Content-Type
    gs.append(group("of-empty-values", OF,
                    dict(fn, prefix_logs="", suppress_lock="", content_type=""),
                    [case("stderr", rq("POST", "/fn/stderr", body={"text": "x"})),
                     case("health", rq("GET", "/_/health"))]))
    # prefix_logs goes through strconv.ParseBool: F is false, T true
    gs.append(group("of-prefix-logs-parsebool", OF, dict(fn, prefix_logs="F"),
                    [case("stderr", rq("POST", "/fn/stderr", body={"text": "x"}))]))
    # read_timeout=0: no read deadline, as a Go http.Server's
    gs.append(group("of-read-timeout-0", OF, dict(fn, read_timeout="0"),
                    [case("post", rq("POST", "/r", body={"text": "zero"}))]))
    gs += duration_groups("of", OF, fn, "-1m30s")
    gs.append(group("of-function-process", OF,
                    {"fprocess": "fn.sh ignored", "function_process": "fn.sh  two  spaces"},
                    [case("argv", rq("GET", "/argv"))]))

    # http mode
    up = {"fprocess": "upstream.py", "mode": "http",
          "upstream_url": "http://127.0.0.1:{UPSTREAM_PORT}", "exec_timeout": "1s"}
    endpoints = [
        ("status-201", "POST", "/status/201"), ("status-404", "GET", "/status/404"),
        ("status-500", "GET", "/status/500"), ("status-503", "GET", "/status/503"),
        ("status-204", "GET", "/status/204"), ("status-304", "GET", "/status/304"),
        ("status-418", "GET", "/status/418"),
        ("slow-fast-enough", "GET", "/slow/200"), ("slow-timeout", "GET", "/slow/2500"),
        ("noct", "GET", "/noct"), ("chunked", "GET", "/chunked"), ("close", "GET", "/close"),
        ("headers", "GET", "/headers"), ("redirect", "GET", "/redirect"),
        ("empty", "GET", "/empty"), ("big", "GET", "/big"), ("sse", "GET", "/sse"),
        ("head-big", "HEAD", "/big"), ("head-echo", "HEAD", "/echo"),
    ]
    http_cases = (method_path_cases() + header_cases() + body_cases(target="/echo")
                  + private_cases() + form_cases() + malformed_cases() + connection_cases()
                  + [case("endpoint/" + n, rq(m, p), timeout=15) for n, m, p in endpoints]
                  + [case("endpoint/sse-accept", rq("GET", "/sse", [["Accept", "text/event-stream"]])),
                     case("x-timeout/shorter", rq("GET", "/slow/1500", [["X-Timeout", "500ms"]]),
                          timeout=15),
                     case("x-timeout/zero", rq("GET", "/slow/100", [["X-Timeout", "0"]]))])
    gs.append(group("of-http", OF, up, http_cases, upstream_wait=True))
    gs.append(group("of-http-request-edges", OF, up, edge_cases("/echo"), upstream_wait=True))
    gs.append(group("of-http-buffered", OF, dict(up, http_buffer_req_body="true"),
                    body_cases(("POST",), target="/echo"), upstream_wait=True))
    gs.append(group("of-http-maxinflight", OF, dict(up, max_inflight="1", exec_timeout="5s"),
                    inflight_cases("/slow/2000"), upstream_wait=True))
    gs.append(group("of-http-ready-path", OF, dict(up, ready_path="/ready"),
                    [case("ready/GET", rq("GET", "/_/ready")),
                     case("ready/POST", rq("POST", "/_/ready"))], upstream_wait=True))
    # upstream_url + the request-target as written: a trailing slash doubles
    gs.append(group("of-http-prefix-slash", OF,
                    dict(up, upstream_url="http://127.0.0.1:{UPSTREAM_PORT}/api/"),
                    [case("get", rq("GET", "/echo?q=1")),
                     case("post", rq("POST", "/echo", body={"text": "p"}))], upstream_wait=True))
    gs.append(group("of-http-daemon", OF, dict(up, fprocess="daemon.sh"),
                    [case("echo", rq("GET", "/echo")), case("health", rq("GET", "/_/health")),
                     case("post", rq("POST", "/echo", body={"text": "d"}))], upstream_wait=True))
    gs.append(group("of-http-nolisten", OF, dict(up, fprocess="nolisten.sh"),
                    [case("request", rq("GET", "/echo")), case("health", rq("GET", "/_/health")),
                     case("ready", rq("GET", "/_/ready"))], lock_wait=1))
    # the client's dialer has exec_timeout as its timeout: negative, every
    # dial has timed out before it starts
    gs.append(group("of-http-negative-exec-timeout", OF, dict(up, exec_timeout="-1s"),
                    [case("post", rq("POST", "/echo", body={"text": "n"})),
                     case("get-x-timeout", rq("GET", "/echo?q=1", [["X-Timeout", "2s"]])),
                     case("health", rq("GET", "/_/health"))], upstream_wait=True))
    # statuses Go has no text for: "status code N" on the status line
    gs.append(group("of-http-status-text", OF, up,
                    [case("299", rq("GET", "/status/299")), case("599", rq("GET", "/status/599"))],
                    upstream_wait=True))
    gs.append(group("of-http-repeat-cl", OF, up, repeat_cl_cases("/echo"), upstream_wait=True))
    # an empty body: Go's client says Content-Length: 0 only for POST, PUT and PATCH
    empty = [case("empty/" + m, rq(m, "/echo", body={"text": ""}))
             for m in ("GET", "HEAD", "DELETE", "OPTIONS", "X-CUSTOM", "POST", "PUT", "PATCH")]
    empty.append(case("empty/GET-chunked", rq("GET", "/echo", body={"chunks": []})))
    gs.append(group("of-http-empty-body", OF, up, empty, upstream_wait=True))
    gs.append(group("of-http-buffered-empty-body", OF, dict(up, http_buffer_req_body="true"),
                    empty, upstream_wait=True))
    # answers the Go client refuses (500) or takes (a repeated Content-Length)
    gs.append(group("of-http-upstream-framing", OF, up,
                    [case("raw/" + n, rq("GET", "/raw/" + n)) for n in
                     ("cl-same", "cl-differ", "cl-list", "cl-zero", "cl-three", "garbage",
                      "nothing", "no-reason", "empty-reason", "own-reason", "http10-te-cl",
                      "space-name", "empty-name", "ctl-value", "nul-value", "bare-lf", "te-gzip", "te-identity",
                      "te-twice", "te-upper", "cl-and-te", "hop-by-hop", "name-case", "name-bytes",
                      "name-bytes-first", "name-bytes-chunked", "value-bare-cr", "value-lead-cr", "line-cr",
                      "obs-fold", "chunk-bad-size", "chunk-size-cr", "chunk-data-cr", "chunk-data-bytes",
                      "chunk-later-bad")],
                    upstream_wait=True))
    gs.append(group("of-http-header-space", OF, up,
                    [case("echo", rq("GET", "/echo", SPACED_HEADERS))], upstream_wait=True))
    # Go's client sends the first User-Agent only, and none when it is empty
    agents = [("repeated", [["User-Agent", "one/1"], ["User-Agent", "two/2"]]),
              ("empty", [["User-Agent", ""]]),
              ("empty-then-value", [["User-Agent", ""], ["User-Agent", "two/2"]]),
              ("lowercase", [["user-agent", "low/1"]])]
    gs.append(group("of-http-user-agent", OF, up,
                    [case(n, rq("GET", "/echo", hs)) for n, hs in agents]
                    # X-Post keeps Host off the last line of the echo (the Go
                    # client's chunked body is http-request-content-length)
                    + [case("post-" + n, rq("POST", "/echo", hs + [["X-Post", "1"]], {"text": "x"}))
                       for n, hs in agents[:2]], upstream_wait=True))
    gs.append(group("of-user-agent", OF, fn,
                    [case(n, rq("GET", "/env", hs)) for n, hs in agents]))
    # Go's http.Client asks for gzip when the client did not, and inflates
    gz = [(n, rq("GET", "/gzip/" + n)) for n in
          ("basic", "plain", "noct", "upper", "other", "empty", "twice", "big", "bad", "cut",
           "status", "chunked")]
    gz += [("post", rq("POST", "/gzip/basic", body={"text": "x"})),
           ("head", rq("HEAD", "/gzip/basic")),
           ("client-gzip", rq("GET", "/gzip/basic", [["Accept-Encoding", "gzip"]])),
           ("client-identity", rq("GET", "/gzip/basic", [["Accept-Encoding", "identity"]])),
           ("client-empty", rq("GET", "/gzip/basic", [["Accept-Encoding", ""]])),
           ("client-range", rq("GET", "/gzip/basic", [["Range", "bytes=0-9"]])),
           ]
    gs.append(group("of-http-gzip", OF, up,
                    [case("gzip/" + n, r) for n, r in gz]
                    + [case("gzip/keep-alive", kind="sequence",
                            requests=[rq("GET", "/gzip/basic"), rq("GET", "/gzip/bad"),
                                      rq("GET", "/gzip/chunked"), rq("GET", "/echo")])],
                    upstream_wait=True))

    # static mode
    st = {"mode": "static", "static_path": "{STATIC}"}
    spaths = [
        ("root", "/"), ("index", "/index.html"), ("txt", "/hello.txt"), ("json", "/data.json"),
        ("css", "/style.css"), ("js", "/app.js"), ("noext", "/noext"), ("unknown", "/unknown.xyz"),
        ("space", "/a%20b.txt"), ("big", "/big.bin"), ("sub-noslash", "/sub"), ("sub", "/sub/"),
        ("sub-index", "/sub/index.html"), ("sub-page", "/sub/page.html"), ("list", "/list/"),
        ("missing", "/missing.txt"), ("dotdot", "/../secret.txt"), ("enc-dotdot", "/%2e%2e/secret.txt"),
        ("sub-dotdot", "/sub/../hello.txt"), ("symlink-escape", "/escape.txt"),
        ("symlink-inside", "/link.txt"), ("hidden", "/.hidden"), ("query", "/hello.txt?x=1"),
        ("double-slash", "//hello.txt"), ("bad-escape", "/%zz"),
    ]
    static_cases = [case("get/" + n, rq("GET", p)) for n, p in spaths]
    static_cases += [case("head/" + n, rq("HEAD", p)) for n, p in spaths[:10]]
    static_cases += [case("method/%s" % m, rq(m, "/hello.txt")) for m in METHODS
                     if m not in ("GET", "HEAD")]
    static_cases += [
        case("range/first", rq("GET", "/hello.txt", [["Range", "bytes=0-4"]])),
        case("range/suffix", rq("GET", "/hello.txt", [["Range", "bytes=-3"]])),
        case("range/open", rq("GET", "/hello.txt", [["Range", "bytes=6-"]])),
        case("range/unsatisfiable", rq("GET", "/hello.txt", [["Range", "bytes=100-200"]])),
        case("range/multi", rq("GET", "/hello.txt", [["Range", "bytes=0-1,3-4"]])),
        case("range/multi-three", rq("GET", "/hello.txt", [["Range", "bytes=6-,0-1,-2"]])),
        case("range/multi-head", rq("HEAD", "/hello.txt", [["Range", "bytes=0-1,3-4"]])),
        case("range/multi-past-end", rq("GET", "/hello.txt", [["Range", "bytes=0-1,100-200"]])),
        case("range/over-size", rq("GET", "/hello.txt", [["Range", "bytes=0-9,2-12"]])),
        case("range/reversed", rq("GET", "/hello.txt", [["Range", "bytes=5-2"]])),
        case("range/not-bytes", rq("GET", "/hello.txt", [["Range", "items=0-4"]])),
        case("range/upper-case", rq("GET", "/hello.txt", [["Range", "Bytes=0-4"]])),
        case("range/garbage", rq("GET", "/hello.txt", [["Range", "bytes=abc"]])),
        case("range/suffix-zero", rq("GET", "/hello.txt", [["Range", "bytes=-0"]])),
        case("range/signs-spaces", rq("GET", "/hello.txt", [["Range", "bytes= +1 - +3 "]])),
        case("range/empty-list", rq("GET", "/hello.txt", [["Range", "bytes=,"]])),
        case("range/if-range-stale", rq("GET", "/hello.txt", [["Range", "bytes=0-4"],
                                                               ["If-Range", '"stale"']])),
        case("range/if-range-stale-post", rq("POST", "/hello.txt", [["Range", "bytes=0-4"],
                                                                     ["If-Range", '"stale"']])),
        case("range/if-range-date", rq("GET", "/hello.txt", [
            ["Range", "bytes=0-4"], ["If-Range", "Fri, 01 Jan 2021 00:00:00 GMT"]])),
        case("cond/if-match-other", rq("GET", "/hello.txt", [["If-Match", '"x"']])),
        case("cond/if-match-star", rq("GET", "/hello.txt", [["If-Match", "*"]])),
        case("cond/if-match-head", rq("HEAD", "/hello.txt", [["If-Match", '"x"']])),
        case("cond/inm-star-post", rq("POST", "/hello.txt", [["If-None-Match", "*"]])),
        case("cond/ims-post", rq("POST", "/hello.txt",
                                 [["If-Modified-Since", "Fri, 01 Jan 2021 00:00:00 GMT"]])),
        case("cond/ius-delete", rq("DELETE", "/hello.txt",
                                   [["If-Unmodified-Since", "Thu, 31 Dec 2020 00:00:00 GMT"]])),
        case("cond/listing-ims", rq("GET", "/list/",
                                    [["If-Modified-Since", "Fri, 01 Jan 2021 00:00:00 GMT"]])),
        case("get/nul", rq("GET", "/hello.txt%00")),
        case("types/ico", rq("GET", "/types/icon.ico")),
        case("types/md", rq("GET", "/types/notes.md")),
        case("types/yaml", rq("GET", "/types/conf.yaml")),
        case("types/upper-c", rq("GET", "/types/prog.C")),
        case("types/lower-c", rq("GET", "/types/prog.c")),
        case("types/upper-txt", rq("GET", "/types/NOTES.TXT")),
        case("types/map", rq("GET", "/types/app.js.map")),
        case("odd/listing", rq("GET", "/odd/")),
        case("odd/redirect-amp", rq("GET", "/odd/c&d")),
        case("odd/redirect-head", rq("HEAD", "/odd/c&d")),
        case("odd/file-slash-colon", rq("GET", "/odd/x:y.txt/")),
        case("odd/redirect-space", rq("GET", "/odd/a%20b")),
        case("odd/redirect-colon", rq("GET", "/odd/e:f")),
        case("odd/redirect-percent", rq("GET", "/odd/g%25h")),
        case("ims/not-modified", rq("GET", "/hello.txt",
                                    [["If-Modified-Since", "Fri, 01 Jan 2021 00:00:00 GMT"]])),
        case("ims/modified", rq("GET", "/hello.txt",
                                [["If-Modified-Since", "Thu, 31 Dec 2020 00:00:00 GMT"]])),
        case("ius/failed", rq("GET", "/hello.txt",
                              [["If-Unmodified-Since", "Thu, 31 Dec 2020 00:00:00 GMT"]])),
        case("post-body", rq("POST", "/hello.txt", body={"text": "x"})),
    ]
    static_cases += private_cases(["GET", "POST", "HEAD"]) + form_cases()[:4]
    gs.append(group("of-static", OF, st, static_cases, static=True))

    # configuration errors and odd values
    gs.append(startup("of-startup-no-fprocess", OF, {}))
    gs.append(startup("of-startup-bad-mode", OF, dict(fn, mode="bogus")))
    gs.append(startup("of-startup-write-timeout-0", OF, dict(fn, write_timeout="0")))
    gs.append(startup("of-startup-http-no-upstream", OF, dict(fn, mode="http")))
    gs.append(startup("of-startup-bad-duration", OF, dict(fn, exec_timeout="soon")))
    gs.append(startup("of-startup-bad-log-buffer", OF, dict(fn, log_buffer_size="big")))
    gs.append(startup("of-startup-empty-log-buffer", OF, dict(fn, log_buffer_size="")))
    # the lock file cannot be written: a regular file on the way (root too)
    gs.append(startup("of-startup-lock-unwritable", OF, dict(fn, TMPDIR="/dev/null/x")))
    gs.append(startup("of-startup-bad-max-inflight", OF, dict(fn, max_inflight="many")))
    gs.append(startup("of-startup-static-missing", OF, {"mode": "static",
                                                        "static_path": "/nonexistent/public"}))
    # the http-mode function cannot be started at all
    gs.append(startup("of-startup-http-fprocess-missing", OF,
                      {"mode": "http", "fprocess": "/nonexistent/fn arg",
                       "upstream_url": "http://127.0.0.1:{UPSTREAM_PORT}"}))
    # the http-mode function fails: of-watchdog logs it and exits 1
    gs.append(startup("of-startup-http-fprocess-fails", OF,
                      {"mode": "http", "fprocess": "fails.sh",
                       "upstream_url": "http://127.0.0.1:{UPSTREAM_PORT}"}))
    return gs


# --------------------------------------------------------------------------
# classic-watchdog
# --------------------------------------------------------------------------

def classic_groups():
    fn = {"fprocess": "fn.sh arg1 arg2"}
    gs = []
    gs.append(group("classic", CLASSIC, dict(fn, exec_timeout="1s"),
                    method_path_cases() + header_cases(("GET", "POST", "PUT", "PATCH", "DELETE"))
                    + body_cases(("POST", "PUT", "PATCH"))
                    + private_cases() + behaviour_cases() + form_cases() + malformed_cases()
                    + connection_cases()))
    gs.append(group("classic-big-body", CLASSIC, fn, [BIG_BODY]))
    gs.append(group("classic-lenient-parse", CLASSIC, fn, lenient_cases()))
    gs.append(group("classic-repeat-cl", CLASSIC, fn, repeat_cl_cases()))
    gs.append(group("classic-request-edges", CLASSIC, fn, edge_cases()))
    gs.append(group("classic-header-space", CLASSIC, fn,
                    [case("env", rq("GET", "/env", SPACED_HEADERS)),
                     case("marshal-free", rq("POST", "/env", SPACED_HEADERS, {"text": "x"}))]))
    gs.append(group("classic-combine-false", CLASSIC, dict(fn, combine_output="false"),
                    [case("stderr", rq("POST", "/fn/stderr", body={"text": "x"})),
                     case("stderr-flood", rq("POST", "/fn/stderr-flood")),
                     case("exit-after", rq("POST", "/fn/exit-after")),
                     case("env", rq("GET", "/env"))]))
    gs.append(group("classic-marshal", CLASSIC, dict(fn, marshal_request="true"),
                    [case("post", rq("POST", "/m?x=1", [["X-Custom", "v"]], {"text": "hi"})),
                     case("get", rq("GET", "/m")),
                     case("binary", rq("POST", "/m", body={"binary": 40}))]))
    # a header value that is not UTF-8 (latin-1 bytes): U+FFFD in Go's JSON
    gs.append(group("classic-marshal-utf8", CLASSIC, dict(fn, marshal_request="true"),
                    [case("latin1", rq("POST", "/m", [["X-Utf8", "caf\u00e9"],
                                                      ["X-Mixed", "\u00e9t\u00e9 <b>"]],
                                       {"text": "x"}))]))
    gs.append(group("classic-write-debug", CLASSIC, dict(fn, write_debug="true"),
                    [case("post", rq("POST", "/d?x=1", body={"text": "hi"})),
                     case("exit-after", rq("POST", "/fn/exit-after")),
                     case("stderr", rq("POST", "/fn/stderr"))]))
    gs.append(group("classic-debug-headers", CLASSIC, dict(fn, debug_headers="true"),
                    [case("post", rq("POST", "/d", [["X-Custom", "v"]], {"text": "hi"}))]))
    gs.append(group("classic-cgi-false", CLASSIC, {"fprocess": "fn.sh env", "cgi_headers": "false"},
                    [case("get", rq("GET", "/c?x=1", [["X-Custom", "v"]])),
                     case("post", rq("POST", "/c", body={"text": "hi"}))]))
    # empty booleans are their defaults: combine_output and cgi_headers true
    gs.append(group("classic-empty-bools", CLASSIC,
                    {"fprocess": "fn.sh env", "combine_output": "", "cgi_headers": "",
                     "write_debug": ""},
                    [case("get", rq("GET", "/c?x=1", [["X-Custom", "v"]])),
                     case("stderr", rq("POST", "/fn/stderr", body={"text": "x"}))]))
    # the classic watchdog reads only "true" as true: 1 is false
    gs.append(group("classic-bools-one", CLASSIC,
                    {"fprocess": "fn.sh env", "combine_output": "1", "cgi_headers": "1",
                     "write_debug": "1", "marshal_request": "1", "debug_headers": "1",
                     "suppress_lock": "1"},
                    [case("get", rq("GET", "/c?x=1", [["X-Custom", "v"]])),
                     case("post", rq("POST", "/c", [["X-Custom", "v"]], {"text": "hi"}))]))
    gs.append(group("classic-combine-one", CLASSIC, dict(fn, combine_output="1"),
                    [case("stderr", rq("POST", "/fn/stderr", body={"text": "x"}))]))
    gs.append(group("classic-content-type", CLASSIC, dict(fn, content_type="text/plain"),
                    [case("get", rq("GET", "/ct")),
                     case("post-json", rq("POST", "/ct", [["Content-Type", "application/json"]],
                                          {"text": "{}"})),
                     case("exit-after", rq("POST", "/fn/exit-after"))]))
    gs.append(group("classic-maxinflight", CLASSIC, dict(fn, max_inflight="1"),
                    inflight_cases()[:1] + inflight_cases()[2:]))
    gs.append(group("classic-timeouts", CLASSIC,
                    dict(fn, read_timeout="2s", write_timeout="2s", exec_timeout="0"),
                    [case("slow", rq("POST", "/fn/slow"), timeout=10),
                     case("quick", rq("GET", "/quick"))]))
    gs.append(group("classic-read-timeout-0", CLASSIC, dict(fn, read_timeout="0"),
                    [case("post", rq("POST", "/r", body={"text": "zero"}))]))
    # classic takes write_timeout=0 as no write deadline (of-watchdog refuses it)
    gs.append(group("classic-write-timeout-0", CLASSIC, dict(fn, write_timeout="0"),
                    [case("post", rq("POST", "/w", body={"text": "zero"})),
                     case("health", rq("GET", "/_/health"))]))
    gs += duration_groups("classic", CLASSIC, fn, "-1s")
    gs.append(group("classic-suppress-lock", CLASSIC, dict(fn, suppress_lock="true"),
                    [case("health", rq("GET", "/_/health")), case("request", rq("GET", "/x"))]))
    gs.append(startup("classic-startup-no-fprocess", CLASSIC, {}))
    gs.append(startup("classic-startup-bad-duration", CLASSIC, dict(fn, exec_timeout="soon")))
    gs.append(startup("classic-startup-lock-unwritable", CLASSIC, dict(fn, TMPDIR="/dev/null/x")))
    return gs


def all_groups():
    gs = of_groups() + classic_groups()
    ids = set()
    for g in gs:
        for c in g["cases"]:
            assert c["id"] not in ids, c["id"]
            ids.add(c["id"])
    return gs


def groups_for(watchdog):
    return [g for g in all_groups() if g["watchdog"] == watchdog]
