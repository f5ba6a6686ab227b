"""jwt_auth: OpenFaaS IAM function tokens, against a fake issuer
(jwtutil.Issuer) on 127.0.0.1: discovery, key set, the checks on each
token, the function claim, key rotation, an issuer that is down at
startup, every mode, and host names resolved without NSS."""
import json
import os
import re
import time

import pytest

import harness
from harness import free_port, http_env, port_free, wait_until
from jwtutil import (NAME, NAMESPACE, Issuer, DNSServer, b64url, bearer, hs256_with_public_key,
                     tamper_payload, unsigned_token)

DENY_LOG = r"^\S+ \S+ {method} {path} - {status} ACCESS DENIED - \((0s|\d+ms|\d+(\.\d+)?s)\)$"


@pytest.fixture
def issuer():
    with Issuer() as iss:
        iss.add_key("rsa-1", "RS256")
        iss.add_key("ec-1", "ES256")
        yield iss


def jwt_env(iss, **extra):
    env = {"fprocess": "env", "jwt_auth": "true", "jwt_auth_discovery_url": iss.discovery_url,
           "OPENFAAS_NAME": NAME, "OPENFAAS_NAMESPACE": NAMESPACE}
    env.update(extra)
    return env


@pytest.fixture
def jwt_wd(watchdog, issuer):
    """Factory: a watchdog with jwt_auth against `issuer`, ready (lock written)."""
    def start(**extra):
        wd = watchdog(jwt_env(issuer, **extra))
        wd.wait_lock(10)
        return wd
    return start


def env_of(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


def assert_401(r, reason):
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == "Bearer realm=IAM function invoke"
    assert r.header("X-OpenFaaS-Internal") == "faas-middleware"
    # spelt as Go's Header().Set writes them
    assert {"Www-Authenticate", "X-Openfaas-Internal"} <= set(r.headers.names()), r.headers
    text = r.body.decode()
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert reason in text, text


# -- accepted ------------------------------------------------------------------

@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_valid_token_reaches_function_with_auth_seconds(jwt_wd, issuer, kid):
    wd = jwt_wd()
    # A client's own X-Auth-Seconds is replaced, never passed on.
    r = wd.request("GET", "/hello?x=1", headers={**bearer(issuer.token(kid)), "X-Auth-Seconds": "999"})
    assert r.status == 200, r
    env = env_of(r.body)
    assert re.fullmatch(r"\d+\.\d{6}", env["Http_X_Auth_Seconds"]), env["Http_X_Auth_Seconds"]
    assert env["Http_X_Auth_Seconds"] != "999"
    assert env["Http_Path"] == "/hello" and env["Http_Query"] == "x=1"
    wd.wait_log(r"GET /hello\?x=1 - 200 - ContentLength")


def test_jwt_auth_line_before_listening(jwt_wd):
    # of-watchdog prints it after the timeouts, before the port.
    wd = jwt_wd()
    msgs = [re.sub(r"^\S+ \S+ ", "", line) for line in wd.stderr_lines()]
    auth = msgs.index("JWT Auth: true")
    assert msgs[auth - 1].startswith("Timeouts: ")
    assert msgs[auth + 1].startswith("Listening on port: ")


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                 "ES256", "ES384", "ES512"])
def test_every_asymmetric_algorithm(watchdog, alg):
    with Issuer() as iss:
        iss.add_key("k-" + alg, alg)
        wd = watchdog(jwt_env(iss))
        wd.wait_lock(10)
        assert wd.request("GET", "/", headers=bearer(iss.token())).status == 200


def test_private_endpoints_need_no_token(jwt_wd):
    wd = jwt_wd()
    assert wd.request("GET", "/_/health").status == 200
    assert wd.request("GET", "/_/ready").status == 200


def test_nbf_within_the_leeway_is_accepted(jwt_wd, issuer):
    wd = jwt_wd()
    r = wd.request("GET", "/", headers=bearer(issuer.token(nbf=int(time.time()) + 1)))
    assert r.status == 200, r


# -- refused: 401 ------------------------------------------------------------------

def test_missing_token_is_401_logged_the_go_way(jwt_wd):
    wd = jwt_wd()
    r = wd.request("GET", "/secret")
    assert_401(r, "Bearer must be present in Authorization header")
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    wd.wait_log(DENY_LOG.format(method="GET", path="/secret", status=401))
    assert "/secret - 401 - ContentLength" not in wd.stderr()
    assert_401(wd.request("GET", "/", headers={"Authorization": ""}), "Bearer must be present")
    # "Bearer " is "Bearer" once the value's whitespace is trimmed, as Go's
    # textproto does: a token of one segment, not a missing one.
    assert_401(wd.request("GET", "/", headers={"Authorization": "Bearer "}),
               "token contains an invalid number of segments")


def bad_tokens(iss):
    now = int(time.time())
    good = iss.token("rsa-1")
    head, body, sig = good.split(".")
    return {
        "expired": (iss.token(exp=now - 10), "token has invalid claims: token is expired"),
        "nbf_future": (iss.token(nbf=now + 60), "token has invalid claims: token is not valid yet"),
        "wrong_issuer": (iss.token(iss="http://evil.example"), "token has invalid issuer"),
        "no_issuer": (iss.token(iss=None), "iss claim is required"),
        "wrong_audience": (iss.token(aud=["http://evil.example"]), "token has invalid audience"),
        "no_audience": (iss.token(aud=None), "aud claim is required"),
        "unknown_kid": (_with_kid(iss, "nope"), "invalid kid: nope"),
        "alg_none": (unsigned_token(iss.claims(), "rsa-1"),
                     "token signature is invalid: token is unverifiable: "
                     "'none' signature type is not allowed"),
        "hs256_public_key": (hs256_with_public_key(iss, "rsa-1", iss.claims()),
                             "token signature is invalid: key is of invalid type: "
                             "HMAC verify expects []byte"),
        "garbage": ("abc.def.ghi", "token is malformed: could not JSON decode header: "
                                   "invalid character 'i' looking for beginning of value"),
        # encoding/json's words for a byte past the first one
        "header_missing_colon": (b64url(b'{"alg" "RS256"}') + f".{body}.{sig}",
                                 "could not JSON decode header: invalid character '\"' after "
                                 "object key"),
        "claims_trailing": (f"{head}." + b64url(b'{"sub":"x"} }') + f".{sig}",
                            "could not JSON decode claim: invalid character '}' after top-level "
                            "value"),
        "claims_short_literal": (f"{head}." + b64url(b'{"sub":nul}') + f".{sig}",
                                 "could not JSON decode claim: invalid character '}' in literal "
                                 "null (expecting 'l')"),
        "tampered": (tamper_payload(good, function={"permissions": ["*"]}),
                     "token signature is invalid"),
        "signature_of_other_key": (f"{head}.{body}.{iss.token('ec-1').split('.')[2]}",
                                   "token signature is invalid"),
        "bad_base64": (f"{head}.{body[:-3]}$$$.{sig}", "could not base64 decode claim"),
        "two_segments": (f"{head}.{body}", "token contains an invalid number of segments"),
        "not_json": (f"{head}.aGVsbG8.{sig}", "could not JSON decode claim"),
        "basic_auth": (None, "token is malformed"),
    }


def _with_kid(iss, kid):
    import jwt
    return jwt.encode(iss.claims(), iss.keys["rsa-1"][1], algorithm="RS256", headers={"kid": kid})


BAD = ["expired", "nbf_future", "wrong_issuer", "no_issuer", "wrong_audience", "no_audience",
       "unknown_kid", "alg_none", "hs256_public_key", "tampered", "signature_of_other_key",
       "bad_base64", "two_segments", "not_json", "garbage", "header_missing_colon",
       "claims_trailing", "claims_short_literal", "basic_auth"]


@pytest.mark.parametrize("case", BAD)
def test_bad_token_is_401(jwt_wd, issuer, case):
    wd = jwt_wd()
    token, reason = bad_tokens(issuer)[case]
    headers = {"Authorization": "Basic dXNlcjpwYXNz"} if token is None else bearer(token)
    r = wd.request("POST", "/f", body=b"payload", headers=headers)
    assert_401(r, reason)
    assert r.body.startswith(b"failed to parse JWT token: ")
    wd.wait_log(DENY_LOG.format(method="POST", path="/f", status=401))


def test_claim_numbers_are_decoded_as_go_decodes_them(jwt_wd, issuer):
    wd = jwt_wd()
    # A double, as in Go: an integer past 64 bits in a claim nobody reads
    # is no reason to refuse the token.
    r = wd.request("GET", "/", headers=bearer(issuer.token(extra=10**30)))
    assert r.status == 200, r
    # exp past int64 seconds: Go's conversion makes it a time long past.
    assert_401(wd.request("GET", "/", headers=bearer(issuer.token(exp=10**30))),
               "token has invalid claims: token is expired")
    r = wd.request("GET", "/", headers=bearer(issuer.token(nbf=10**30)))
    assert r.status == 200, r


def test_one_mib_tokens(jwt_wd, issuer):
    wd = jwt_wd()
    head = issuer.token().split(".")[0]
    big = f"{head}.{'A' * (1000 * 1024)}.AAAA"
    r = wd.request("GET", "/", headers=bearer(big), timeout=20)
    assert_401(r, "token is malformed")
    # Over the 1 MiB head limit: refused before any token work.
    r = wd.request("GET", "/", headers=bearer("A" * (1024 * 1024 + 10)), timeout=20)
    assert r.status == 431
    assert wd.request("GET", "/", headers=bearer(issuer.token())).status == 200


def test_denied_request_keeps_the_connection_usable(jwt_wd, issuer):
    wd = jwt_wd()
    with wd.conn() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 401
        tok = issuer.token()
        c.send(f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
        assert c.read_response().status == 200
    # A body nobody will read: the answer still arrives whole.
    with wd.conn() as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        r = c.read_response()
        assert r.status == 401 and r.body.startswith(b"Bearer must be present")


# -- the function claim: 403 ---------------------------------------------------------

@pytest.mark.parametrize("permissions,audience,status", [
    (["dev:fn"], None, 200),
    (["*"], None, 200),
    (["dev:*"], None, 200),
    (["*:fn"], None, 200),
    (["d*:f*"], None, 200),
    (["staging:*", "dev:fn"], None, 200),
    (["dev:fn"], [], 200),
    (["dev:fn"], ["dev:*"], 200),
    (["dev:fn"], ["*"], 200),
    ([], None, 403),
    (["dev:other"], None, 403),
    (["staging:*"], None, 403),
    (["dev:f"], None, 403),
    (["ev:fn"], None, 403),
    (["dev:fn"], ["dev:other"], 403),
    (["*"], ["staging:*"], 403),
])
def test_function_claim(jwt_wd, issuer, permissions, audience, status):
    wd = jwt_wd()
    r = wd.request("GET", "/", headers=bearer(issuer.token(permissions=permissions, audience=audience)))
    assert r.status == status, r
    if status == 403:
        assert r.body == b"insufficient permissions\n"
        assert r.header("X-OpenFaaS-Internal") == "faas-middleware"
        assert r.header("WWW-Authenticate") is None
        wd.wait_log(DENY_LOG.format(method="GET", path="/", status=403))


def test_missing_function_claim_is_403(jwt_wd, issuer):
    wd = jwt_wd()
    assert wd.request("GET", "/", headers=bearer(issuer.token(function=None))).status == 403


@pytest.mark.parametrize("namespace,name", [("dev", "fn2"), ("staging-dev", "fn"), ("dev", "xfn")])
def test_pattern_matches_the_whole_reference(watchdog, issuer, namespace, name):
    """Go's unanchored match lets a token for dev:fn call dev:fn2 and
    staging-dev:fn; here the whole reference must match."""
    wd = watchdog(jwt_env(issuer, OPENFAAS_NAMESPACE=namespace, OPENFAAS_NAME=name))
    wd.wait_lock(10)
    assert wd.request("GET", "/", headers=bearer(issuer.token(permissions=["dev:fn"]))).status == 403
    ok = issuer.token(permissions=[f"{namespace}:{name}"])
    assert wd.request("GET", "/", headers=bearer(ok)).status == 200


# -- keys: rotation, an issuer that is down ---------------------------------------------

def test_rotated_key_is_fetched_on_unknown_kid(jwt_wd, issuer):
    wd = jwt_wd()
    old = issuer.token("rsa-1")
    for _ in range(2):  # the second time, its signature was already checked
        assert wd.request("GET", "/", headers=bearer(old)).status == 200
    fetches = issuer.jwks_fetches()
    issuer.add_key("rsa-2", "RS256", index=1)
    issuer.published = ["rsa-2"]           # rsa-1 retired
    tok = issuer.token("rsa-2")
    first = wd.request("GET", "/", headers=bearer(tok))
    assert_401(first, "invalid kid: rsa-2")
    assert wait_until(lambda: wd.request("GET", "/", headers=bearer(tok)).status == 200, 8, 0.2)
    assert issuer.jwks_fetches() > fetches
    # the very token that passed before: its key is gone with the old key set
    assert_401(wd.request("GET", "/", headers=bearer(old)), "invalid kid: rsa-1")


def test_unknown_kids_do_not_flood_the_issuer(jwt_wd, issuer):
    wd = jwt_wd()
    before = issuer.jwks_fetches()
    t0 = time.monotonic()
    for i in range(30):
        wd.request("GET", "/", headers=bearer(_with_kid(issuer, f"x{i}")))
    elapsed = time.monotonic() - t0
    time.sleep(0.3)
    # At most one fetch per 2 s (plus the one at the start of the window).
    assert issuer.jwks_fetches() - before <= 2 + int(elapsed / 2), issuer.hits


def test_issuer_down_at_startup_then_up(watchdog):
    port = free_port()
    iss = Issuer(port=port, start=False)
    iss.add_key("rsa-1", "RS256")
    try:
        wd = watchdog(jwt_env(iss))
        wd.wait_log(r"jwt_auth: cannot load the issuer's keys: GET http://127\.0\.0\.1:%d\S*: .*retrying in" % port)
        assert wd.alive()
        assert wd.request("GET", "/_/health").status == 503
        assert wd.request("GET", "/_/ready").status == 503
        assert not wd.lock_path.exists()
        r = wd.request("GET", "/", headers=bearer(iss.token()))
        assert r.status == 503 and r.header("X-OpenFaaS-Internal") == "faas-middleware"
        iss.start()
        wd.wait_lock(10)
        assert wd.request("GET", "/_/health").status == 200
        assert wd.request("GET", "/", headers=bearer(iss.token())).status == 200
        failures = len(re.findall(r"cannot load the issuer's keys", wd.stderr()))
        assert 1 <= failures <= 6, wd.stderr()
    finally:
        iss.close()


def test_issuer_error_status_is_retried(watchdog, issuer):
    issuer.fail_status = 500
    wd = watchdog(jwt_env(issuer))
    wd.wait_log(r"cannot load the issuer's keys: GET \S+: status 500")
    assert wd.request("GET", "/_/health").status == 503
    issuer.fail_status = 0
    wd.wait_lock(10)
    assert wd.request("GET", "/", headers=bearer(issuer.token())).status == 200


def test_jwt_auth_local_uses_port_8000(watchdog):
    assert port_free(8000), "127.0.0.1:8000 is taken: jwt_auth_local needs the issuer there"
    with Issuer(port=8000) as iss:
        iss.add_key("rsa-1", "RS256")
        env = jwt_env(iss, jwt_auth_local="true")
        env.pop("jwt_auth_discovery_url")
        wd = watchdog(env)
        wd.wait_lock(10)
        assert wd.request("GET", "/", headers=bearer(iss.token())).status == 200


def test_debug_logs_issuer_keys_and_claims(jwt_wd, issuer):
    wd = jwt_wd(jwt_auth_debug="true")
    wd.wait_log(r"\[JWT Auth\] Issuer: %s\tJWKS URI: " % re.escape(issuer.url))
    wd.wait_log(r"\[JWT Auth\] Key: rsa-1")
    wd.request("GET", "/", headers=bearer(issuer.token(sub="someone")))
    wd.wait_log(r"\[JWT Auth\] Token: kid: rsa-1\tclaims: \{.*\"sub\":\"someone\"")


SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def test_missing_namespace_exits_2(tmp_path):
    assert not os.path.exists(SERVICE_ACCOUNT_NAMESPACE), \
        "the watchdog would take the namespace from %s: run this on a machine without one" \
        % SERVICE_ACCOUNT_NAMESPACE
    env = {"PATH": "/usr/bin:/bin", "fprocess": "cat", "port": str(free_port()), "metrics_port": "0",
           "TMPDIR": str(tmp_path), "jwt_auth": "true", "OPENFAAS_NAME": "fn"}
    r = harness.run_cli([], env, tmp_path, timeout=10)
    assert r.returncode == 2
    lines = r.stderr().strip().splitlines()
    assert len(lines) == 1 and "OPENFAAS_NAMESPACE" in lines[0], lines


# -- every mode ---------------------------------------------------------------------

def mode_env(mode, tmp_path):
    if mode == "static":
        root = tmp_path / "public"
        root.mkdir()
        (root / "index.html").write_text("static page\n")
        return {"mode": "static", "fprocess": None, "static_path": str(root)}, "/"
    return {"mode": mode, "fprocess": "env"}, "/"


def auth_seconds_seen(mode, body):
    """X-Auth-Seconds as the function saw it (static mode has no function)."""
    if mode == "http":
        headers = {k.lower(): v for k, v in json.loads(body)["headers"]}
        return headers.get("x-auth-seconds")
    return env_of(body).get("Http_X_Auth_Seconds")


def check_mode(wd, issuer, mode, path):
    ok = wd.request("GET", path, headers=bearer(issuer.token()))
    assert ok.status == 200, ok
    if mode == "static":
        assert ok.body == b"static page\n"
    else:
        seen = auth_seconds_seen(mode, ok.body)
        assert re.fullmatch(r"\d+\.\d{6}", seen or ""), (mode, ok.body[:500])
    assert_401(wd.request("GET", path), "Bearer must be present")
    assert_401(wd.request("GET", path, headers=bearer(issuer.token(exp=int(time.time()) - 60))),
               "token is expired")
    forbidden = wd.request("GET", path, headers=bearer(issuer.token(permissions=["dev:other"])))
    assert forbidden.status == 403, forbidden


@pytest.mark.parametrize("mode", ["streaming", "serializing", "classic", "static"])
def test_every_mode(watchdog, issuer, tmp_path, mode):
    extra, path = mode_env(mode, tmp_path)
    wd = watchdog(jwt_env(issuer, **extra))
    wd.wait_lock(15)
    check_mode(wd, issuer, mode, path)


def test_http_mode(watchdog, issuer):
    env = jwt_env(issuer)
    env.pop("fprocess")
    wd = watchdog(http_env(**env), ready="healthy")
    check_mode(wd, issuer, "http", "/echo")


# -- names without NSS ------------------------------------------------------------------

def test_issuer_name_from_dns_with_search_list_and_ndots(watchdog, issuer, tmp_path):
    """A pod's resolv.conf: search domains and ndots:5. "issuer" is tried
    with each search domain before it is asked as it is."""
    with DNSServer({"issuer.openfaas.svc.cluster.local": "127.0.0.1"}) as dns:
        (tmp_path / "resolv.conf").write_text(
            f"nameserver 127.0.0.1:{dns.port}\n"
            "search openfaas.svc.cluster.local svc.cluster.local cluster.local\n"
            "options ndots:5 timeout:1 attempts:2\n")
        (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
        url = f"http://issuer:{issuer.port}/.well-known/openid-configuration"
        wd = watchdog(jwt_env(issuer, jwt_auth_discovery_url=url,
                              resolv_conf=str(tmp_path / "resolv.conf"),
                              hosts_file=str(tmp_path / "hosts")))
        wd.wait_lock(10)
        assert ("issuer.openfaas.svc.cluster.local", 1) in dns.queries, dns.queries
        assert wd.request("GET", "/", headers=bearer(issuer.token())).status == 200


def test_issuer_name_from_hosts_file(watchdog, issuer, tmp_path):
    (tmp_path / "hosts").write_text("# test\n127.0.0.1   iam-issuer.example  iam\n")
    # A nameserver that never answers: the hosts file must be enough.
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1:9\noptions timeout:1 attempts:1\n")
    url = f"http://iam-issuer.example:{issuer.port}/.well-known/openid-configuration"
    wd = watchdog(jwt_env(issuer, jwt_auth_discovery_url=url,
                          resolv_conf=str(tmp_path / "resolv.conf"), hosts_file=str(tmp_path / "hosts")))
    wd.wait_lock(10)
    assert wd.request("GET", "/", headers=bearer(issuer.token())).status == 200


def test_unknown_name_is_logged_and_retried(watchdog, issuer, tmp_path):
    with DNSServer({}) as dns:
        (tmp_path / "resolv.conf").write_text(f"nameserver 127.0.0.1:{dns.port}\noptions ndots:1\n")
        (tmp_path / "hosts").write_text("")
        url = f"http://no-such-issuer.example:{issuer.port}/.well-known/openid-configuration"
        wd = watchdog(jwt_env(issuer, jwt_auth_discovery_url=url,
                              resolv_conf=str(tmp_path / "resolv.conf"),
                              hosts_file=str(tmp_path / "hosts")))
        wd.wait_log(r"cannot load the issuer's keys: GET http://no-such-issuer\.example\S*: "
                    r"cannot resolve the host: .*retrying")
        assert wd.alive() and wd.request("GET", "/_/health").status == 503
