#!/usr/bin/env python3
"""The http-mode function of the compatibility corpus (standard library only).

Listens on 127.0.0.1:$UPSTREAM_PORT. Every request is noted on stdout
("upstream: METHOD TARGET"), which the watchdog logs.

Endpoints (by path prefix):
    /status/<code>  that status with a short body
    /slow/<ms>      answers the echo after <ms> milliseconds
    /noct           a body without Content-Type
    /chunked        a chunked body in three pieces
    /close          a body delimited by closing the connection
    /headers        custom and repeated response headers
    /redirect       302 with a Location (not to be followed)
    /empty          204 without a body
    /big            1 MiB with Content-Length
    /sse            three server-sent events, chunked
    /ready          200 "upstream ready"
    /gzip...        Content-Encoding: gzip answers (see gzip_answer), whatever
                    the request's Accept-Encoding; the echo when it has none
    /raw/<name>     a head written as is (see RAW): repeated Content-Length,
                    an invalid status line, a close before any answer
    anything else   JSON echo: method, target, sorted headers, body
"""
import gzip
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    GZ_TEXT = b"compressed line of the function\n" * 40

    def gzip_answer(self, p):
        """The gzip cases, each with the request's Accept-Encoding in X-Seen-AE."""
        seen = [("X-Seen-AE", self.headers.get("Accept-Encoding", "(none)"))]
        gz = gzip.compress(self.GZ_TEXT, mtime=0)
        if p.startswith("/gzip/plain"):   # no gzip at all
            return self.send(200, self.GZ_TEXT, extra=seen)
        if p.startswith("/gzip/noct"):    # the type is sniffed from what is inflated
            return self.send(200, gzip.compress(b"<html><body>zipped</body></html>\n", mtime=0),
                             ctype=None, extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/upper"):
            return self.send(200, gz, extra=[("Content-Encoding", "GZIP")] + seen)
        if p.startswith("/gzip/other"):   # an encoding Go does not inflate
            return self.send(200, gz, extra=[("Content-Encoding", "gzip, identity")] + seen)
        if p.startswith("/gzip/empty"):   # Content-Length: 0: nothing to inflate
            return self.send(200, b"", extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/twice"):   # two members, one body
            return self.send(200, gz + gzip.compress(b"second member\n", mtime=0),
                             extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/big"):     # 1 MiB inflated
            big = gzip.compress(b"0123456789abcdef" * 65536, mtime=0)
            return self.send(200, big, extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/bad"):     # not gzip
            return self.send(200, b"this is not gzip data\n",
                             extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/cut"):     # the stream stops half-way
            return self.send(200, gz[:len(gz) // 2], extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/status"):  # 404 with a gzip body
            return self.send(404, gz, extra=[("Content-Encoding", "gzip")] + seen)
        if p.startswith("/gzip/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Transfer-Encoding", "chunked")
            for k, v in seen:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                for i in range(0, len(gz), 100):
                    piece = gz[i:i + 100]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            return
        return self.send(200, gz, extra=[("Content-Encoding", "gzip")] + seen)

    RAW = {
        "cl-same": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                   b"Content-Length: 6\r\n\r\nhello\n",
        "cl-differ": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                     b"Content-Length: 5\r\n\r\nhello\n",
        "cl-list": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6, 6\r\n\r\n"
                   b"hello\n",
        "cl-zero": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                   b"Content-Length: 06\r\n\r\nhello\n",
        "cl-three": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                    b"X-Between: 1\r\nContent-Length: 6\r\ncontent-length: 6\r\n\r\nhello\n",
        "no-reason": b"HTTP/1.1 200\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n",
        "empty-reason": b"HTTP/1.1 200 \r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n",
        "own-reason": b"HTTP/1.1 299 Quite Fine\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"
                      b"hello\n",
        "http10-te-cl": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                        b"Content-Length: 6\r\n\r\nhello\n",
        "space-name": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nBad Name: v\r\nName : v\r\n"
                      b"X-Ok: 1\r\nContent-Length: 6\r\n\r\nhello\n",
        "empty-name": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n: v\r\nX-Ok: 1\r\n"
                      b"Content-Length: 6\r\n\r\nhello\n",
        "nul-value": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Nul: a\x00b\r\n"
                     b"Content-Length: 6\r\n\r\nhello\n",
        "ctl-value": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Ctl: a\x01b\x7fc\r\n"
                     b"Content-Length: 6\r\n\r\nhello\n",
        "bare-lf": b"HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Ok: 1\nContent-Length: 6\n\nhello\n",
        "te-gzip": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\n"
                   b"hello\n",
        "te-identity": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: identity\r\n"
                       b"Content-Length: 6\r\n\r\nhello\n",
        "te-twice": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n",
        "te-upper": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding:  Chunked \r\n\r\n"
                    b"6\r\nhello\n\r\n0\r\n\r\n",
        "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n",
        "hop-by-hop": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Private\r\n"
                      b"X-Private: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nX-Ok: 1\r\n"
                      b"Content-Length: 6\r\n\r\nhello\n",
        "name-case": b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nETag: \"e\"\r\n"
                     b"x-lower-case: 1\r\nWWW-authenticate: Basic\r\nX-API-KEY: k\r\nx_under: u\r\n"
                     b"content-length: 6\r\n\r\nhello\n",
        "name-bytes": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Paren(: 1\r\nX@At: 2\r\n"
                      b"X/Slash: 3\r\nX-Ok: 1\r\nContent-Length: 6\r\n\r\nhello\n",
        "name-bytes-first": b"HTTP/1.1 200 OK\r\n{x}: 1\r\nContent-Length: 6\r\nX-Ok: 1\r\n\r\n"
                            b"hello\n",
        "name-bytes-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX[1]: v\r\n"
                              b"X-Ok: 1\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n",
        "value-bare-cr": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Cr: a\rb\r\n"
                         b"X-Cr2: x \r\ry\r\r\nX-Ok: 1\r\nContent-Length: 6\r\n\r\nhello\n",
        "line-cr": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: a\r\n\rc\r\nX-Ok: 1\r\n"
                   b"Content-Length: 6\r\n\r\nhello\n",
        "value-lead-cr": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Cr: \rb\r\n"
                         b"X-Cr2: \r c d\r\nX-Cr3:\r\r\nX-Ok: 1\r\nContent-Length: 6\r\n\r\nhello\n",
        "obs-fold": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Fold: a \r\n  b\r\n\tc\r\n"
                    b"X-E:\r\n e\r\nX-Ok: 1\r\nContent-Length: 6\r\n\r\nhello\n",
        "chunk-bad-size": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                          b"\r\nzz\r\nhello\n\r\n0\r\n\r\n",
        "chunk-size-cr": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                         b"\r\n6\rchello\n\r\n0\r\n\r\n",
        "chunk-data-cr": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                         b"\r\n6\r\nhello\n\rc0\r\n\r\n",
        "chunk-data-bytes": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                            b"\r\n6\r\nhello\nXY0\r\n\r\n",
        "chunk-later-bad": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                           b"\r\n6\r\nhello\n\r\n3\rcabc\r\n0\r\n\r\n",
        "garbage": b"this is not http\r\n\r\n",
        "nothing": b"",
    }

    def raw_answer(self, name):
        self.wfile.write(self.RAW[name])
        self.wfile.flush()
        self.close_connection = True

    def handle_any(self):
        sys.stdout.write("upstream: %s %s\n" % (self.command, self.path))
        sys.stdout.flush()
        body = self.read_body()
        p = self.path
        if p.startswith("/status/"):
            code = int(p.split("/")[2][:3])
            return self.send(code, b"status %d\n" % code if code not in (204, 304) else b"",
                             extra=[("X-Upstream", "status")])
        if p.startswith("/slow/"):
            time.sleep(int(p.split("/")[2]) / 1000.0)
        if p.startswith("/noct"):
            return self.send(200, b"<html><body>no content type</body></html>\n", ctype=None)
        if p.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"one\n", b"two\n", b"three\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if p.startswith("/close"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"delimited by close\n")
            self.close_connection = True
            return
        if p.startswith("/headers"):
            return self.send(200, b"headers\n", extra=[
                ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Custom", "custom value"),
                ("Cache-Control", "no-store")])
        if p.startswith("/redirect"):
            return self.send(302, b"moved\n", extra=[("Location", "/elsewhere")])
        if p.startswith("/empty"):
            self.send_response(204)
            self.end_headers()
            return
        if p.startswith("/big"):
            return self.send(200, b"z" * 1048576, ctype="application/octet-stream")
        if p.startswith("/sse"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                ev = b"data: event %d\n\n" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if p.startswith("/ready"):
            return self.send(200, b"upstream ready\n")
        if p.startswith("/gzip"):
            return self.gzip_answer(p)
        if p.startswith("/raw/"):
            return self.raw_answer(p[5:])
        seen = {
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            # names as they came: Go's client writes them in canonical case
            "headers": sorted("%s: %s" % (k, v) for k, v in self.headers.items()),
            "body_length": len(body),
        }
        if len(body) <= 512:
            seen["body"] = body.decode("latin-1")
        else:
            seen["body_sha256"] = hashlib.sha256(body).hexdigest()
        out = (json.dumps(seen, indent=1, sort_keys=True) + "\n").encode()
        return self.send(200, out, ctype="application/json")

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client (the watchdog) that goes away mid-answer is not news;
        # printing a traceback would put timing-dependent lines in the log
        pass


def main():
    port = int(os.environ["UPSTREAM_PORT"])
    srv = Server(("127.0.0.1", port), Handler)
    print("upstream listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
