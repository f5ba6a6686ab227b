"""The CGI environment of a function in the fork modes: Http_* variables
for the method, path, query and headers (cgi_headers), and the watchdog's
own environment passed on. (Classic mode's own set: test_classic.py.)"""


def env_of(body):
    out = {}
    for line in body.decode().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k] = v
    return out


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


def test_cgi_variables_serializing(watchdog):
    wd = watchdog({"mode": "serializing", "fprocess": "env"})
    r = wd.request("POST", "/p?q=1", b"abc", headers={"X-Call-Id": "s1"})
    lines = r.body.decode().splitlines()
    for want in ["Http_X_Call_Id=s1", "Http_Method=POST", "Http_Path=/p",
                 "Http_Query=q=1", "Http_Content_Length=3"]:
        assert want in lines
