"""A fake OpenFaaS IAM issuer for the jwt_auth tests: the OpenID discovery
document and the JSON Web Key Set on 127.0.0.1, tokens signed with
python3-jwt / python3-cryptography, and a tiny DNS server for the resolver
tests. Every server binds 127.0.0.1 only, runs in a daemon thread and is
closed by its owner (the tests use them as context managers)."""
import base64
import hashlib
import hmac
import json
import socket
import socketserver
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

HOST = "127.0.0.1"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
NAMESPACE = "dev"
NAME = "fn"

_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
_KEY_CACHE = {}


def private_key(alg, index=0):
    """A private key for alg, made once per test session and index."""
    family = "RSA" if alg[:2] in ("RS", "PS") else alg
    k = (family, index)
    if k not in _KEY_CACHE:
        if family == "RSA":
            _KEY_CACHE[k] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            _KEY_CACHE[k] = ec.generate_private_key(_CURVES[alg]())
    return _KEY_CACHE[k]


def public_jwk(key, kid, alg=None):
    pub = key.public_key()
    text = RSAAlgorithm.to_jwk(pub) if isinstance(pub, rsa.RSAPublicKey) else ECAlgorithm.to_jwk(pub)
    d = json.loads(text)
    d["kid"] = kid
    d["use"] = "sig"
    if alg:
        d["alg"] = alg
    return d


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """The issuer: keys by kid, the ones published, tokens."""

    def __init__(self, port=0, start=True):
        self.port = port
        self.keys = {}          # kid -> (alg, private key)
        self.published = []     # kids in the JWKS, in order
        self.hits = []          # paths requested
        self.fail_status = 0    # when set, every answer has this status
        self.server = None
        self.thread = None
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                issuer.hits.append(self.path)
                status, body = issuer.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((HOST, self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def close(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- what it serves ----------------------------------------------------
    @property
    def url(self):
        return f"http://{HOST}:{self.port}"

    @property
    def discovery_url(self):
        return self.url + DISCOVERY_PATH

    def answer(self, path):
        if self.fail_status:
            return self.fail_status, {"error": "down"}
        if path == DISCOVERY_PATH:
            return 200, {"issuer": self.url, "jwks_uri": self.url + JWKS_PATH}
        if path == JWKS_PATH:
            return 200, {"keys": [public_jwk(self.keys[k][1], k) for k in self.published]}
        return 404, {"error": "not found"}

    def add_key(self, kid, alg="RS256", index=0, publish=True):
        self.keys[kid] = (alg, private_key(alg, index))
        if publish and kid not in self.published:
            self.published.append(kid)
        return kid

    def jwks_fetches(self):
        return self.hits.count(JWKS_PATH)

    # -- tokens ------------------------------------------------------------
    def claims(self, permissions=(f"{NAMESPACE}:{NAME}",), audience=None, **extra):
        now = int(time.time())
        c = {"iss": self.url, "aud": [self.url], "sub": "user", "iat": now,
             "exp": now + 300, "nbf": now - 5,
             "function": {"permissions": list(permissions)}}
        if audience is not None:
            c["function"]["audience"] = list(audience)
        for k, v in extra.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def token(self, kid=None, claims=None, alg=None, **claim_kw):
        """A token signed by kid's key (the first key by default)."""
        kid = kid or next(iter(self.keys))
        key_alg, key = self.keys[kid]
        return jwt.encode(claims if claims is not None else self.claims(**claim_kw), key,
                          algorithm=alg or key_alg, headers={"kid": kid})


def unsigned_token(claims, kid):
    """alg none: header and claims, empty signature."""
    head = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}))
    return f"{head}.{b64url(json.dumps(claims))}."


def hs256_with_public_key(issuer, kid, claims):
    """The algorithm-confusion forgery: HS256 keyed with the issuer's
    public key as published (PEM), which the attacker can read."""
    from cryptography.hazmat.primitives import serialization
    pub = issuer.keys[kid][1].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}))
    body = b64url(json.dumps(claims))
    sig = hmac.new(pub, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def tamper_payload(token, **changes):
    """The same signature over changed claims."""
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{b64url(json.dumps(claims))}.{sig}"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class DNSServer:
    """Answers A queries for the names in `names` (name -> IPv4) on UDP
    127.0.0.1; every other query gets NXDOMAIN. `queries` records the
    names asked, in order."""

    def __init__(self, names):
        self.names = {k.lower().rstrip("."): v for k, v in names.items()}
        self.queries = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                reply = outer.reply(data)
                if reply:
                    sock.sendto(reply, self.client_address)

        class Server(socketserver.ThreadingUDPServer):
            daemon_threads = True

        self.server = Server((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def reply(self, data):
        if len(data) < 12:
            return None
        qid, _flags, qd = struct.unpack(">HHH", data[:6])
        pos, labels = 12, []
        while pos < len(data) and data[pos]:
            n = data[pos]
            labels.append(data[pos + 1:pos + 1 + n].decode(errors="replace"))
            pos += 1 + n
        pos += 1
        qtype = struct.unpack(">H", data[pos:pos + 2])[0]
        question = data[12:pos + 4]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        addr = self.names.get(name)
        if addr is None:
            return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        if qtype != 1:  # only A records: NOERROR, no answer
            return struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton(addr)
        return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
