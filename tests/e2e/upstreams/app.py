"""A function server for http-mode tests, standard library only.

Started by the watchdog as its fprocess:
    app.py --port N [--delay SECONDS] [--idle-timeout SECONDS]

Endpoints:
    /echo            method, path, headers and body (as JSON)
    /status/<code>   that status, with X-Custom: yes
    /slow?ms=N       reads the body, answers after N ms
    /early?ms=N      reads nothing of the body: answers after N ms, then
                     holds the connection open for N ms more
    /sse?n=N&ms=M    N server-sent events M ms apart (chunked)
    /big?n=BYTES     BYTES of body with Content-Length, written in 64 kB blocks
    /upload          reads the body as it streams (chunked or Content-Length),
                     answers its size and sha256
    /ws              Upgrade: 101, then echoes bytes upper-cased until EOF
    /close           body delimited by closing the connection
    /reset           closes the connection without answering
    /dupcl?v=A,B     "hello\n" with a Content-Length header per value given
    /garbage         a line that is not an HTTP status line, then a close
    /odd?kind=K      "hello\n" under an odd head (ODD_HEADS), then a close
                     (&split=N: its first N bytes 100 ms before the rest)
    /headbody?ms=N   "hello\n" with its Content-Length to any method, HEAD too:
                     with the head, or N ms after it; the connection stays
    /extra           "hello\n" under Content-Length: 6, then "junk" at once
    /oneread?kind=K  a whole answer in one write, the connection kept (close:
                     delimited by the close): chunked, length (a body of
                     n bytes, default 6) or close
    /truncate        a chunked body cut off after its first chunk
    /badchunk?kind=K "hello\n" in one chunk, then a chunk whose framing Go's
                     client refuses (BAD_CHUNKS); the connection stays
                     (&split=N: its first N bytes 100 ms before the rest)
    /exit?code=N     the process exits with N
    /unlisten        stop accepting connections (process stays up)
    /notype?kind=K   a body without Content-Type: html, text, empty or bin
                     (&code=N for another status; &hold=MS: its first five
                     bytes, the rest MS later)
    /print?msg=M     writes M to stdout, answers 200
    /gzip?n=BYTES    BYTES of BLOCK, gzip-compressed and sent chunked in
                     16 kB pieces with Content-Encoding: gzip (&bad=1: bytes
                     that are not gzip), and X-Seen-AE: the request's
                     Accept-Encoding

    --daemon         fork: the process the watchdog started exits 0 at once
                     while its child serves (as nginx or php-fpm -D)
"""
import argparse
import gzip
import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK = b"0123456789abcdef" * 4096  # 64 KiB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("request: " + (fmt % args) + "\n")

    # ---- helpers ----

    def body_chunks(self):
        """The request body, piece by piece, chunked or Content-Length."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, 65536))
                    if not piece:
                        return
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                piece = self.rfile.read(min(left, 65536))
                if not piece:
                    return
                left -= len(piece)
                yield piece

    def answer(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # ---- routing ----

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        parts = path.strip("/").split("/")
        name = parts[-1] if parts else ""
        if len(parts) >= 2 and parts[-2] == "status":
            name = "status"
        handler = getattr(self, "r_" + name, None) if name.isidentifier() else None
        if handler is None:
            handler = self.r_echo
        handler(q, parts)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = route

    def r_echo(self, q, parts):
        body = b"".join(self.body_chunks())
        out = {
            "method": self.command,
            "path": self.path,
            # as sent: http.server reduces a leading "//" of path to "/"
            "target": self.requestline.split(" ")[1] if " " in self.requestline else "",
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
        }
        self.answer(200, json.dumps(out).encode())

    def r_status(self, q, parts):
        for _ in self.body_chunks():
            pass
        code = int(parts[-1])
        body = b"" if code in (204, 304) else b"status %d\n" % code
        self.send_response(code)
        self.send_header("X-Custom", "yes")
        if code not in (204, 304):
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def r_ready(self, q, parts):
        self.answer(200, b"ready-ok\n", "text/plain")

    def r_slow(self, q, parts):
        for _ in self.body_chunks():
            pass
        time.sleep(int(q.get("ms", "1000")) / 1000)
        self.answer(200, b"slow done\n", "text/plain")

    def r_early(self, q, parts):
        pause = int(q.get("ms", "1000")) / 1000
        time.sleep(pause)
        self.answer(200, b"early\n", "text/plain")
        self.wfile.flush()
        time.sleep(pause)
        self.close_connection = True

    def r_sse(self, q, parts):
        n, ms = int(q.get("n", "5")), int(q.get("ms", "300"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for i in range(n):
            if i:
                time.sleep(ms / 1000)
            self.chunk(b"data: event %d t=%f\n\n" % (i, time.time()))
        self.wfile.write(b"0\r\n\r\n")

    def r_big(self, q, parts):
        n = int(q.get("n", str(1 << 20)))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        while n:
            piece = BLOCK[: min(n, len(BLOCK))]
            self.wfile.write(piece)
            n -= len(piece)

    def r_gzip(self, q, parts):
        n = int(q.get("n", str(1 << 20)))
        data = b"not gzip at all\n" * 8 if q.get("bad") else gzip.compress(
            (BLOCK * (n // len(BLOCK) + 1))[:n], mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Seen-AE", self.headers.get("Accept-Encoding", "(none)"))
        self.end_headers()
        for i in range(0, len(data), 16384):
            self.chunk(data[i:i + 16384])
        self.wfile.write(b"0\r\n\r\n")

    def r_upload(self, q, parts):
        h, n = hashlib.sha256(), 0
        for piece in self.body_chunks():
            h.update(piece)
            n += len(piece)
        out = {"size": n, "sha256": h.hexdigest(),
               "transfer_encoding": self.headers.get("Transfer-Encoding"),
               "content_length": self.headers.get("Content-Length")}
        self.answer(200, json.dumps(out).encode())

    def r_ws(self, q, parts):
        self.send_response(101)
        self.send_header("Upgrade", self.headers.get("Upgrade", "test"))
        self.send_header("Connection", "Upgrade")
        self.end_headers()
        self.wfile.flush()
        sock = self.connection
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sock.sendall(data.upper())
        self.close_connection = True

    def r_close(self, q, parts):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"until the close\n" * 100)
        self.close_connection = True

    def r_reset(self, q, parts):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True

    def r_dupcl(self, q, parts):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        for v in q.get("v", "6").split(","):
            head += b"Content-Length: %s\r\n" % v.encode()
        self.wfile.write(head + b"\r\nhello\n")

    ODD_HEADS = {
        "names": b"Bad Name: v\r\nName : v\r\n: v\r\nX-Ok: 1\r\nContent-Length: 6\r\n",
        "ctl": b"X-Ctl: a\x01b\r\nContent-Length: 6\r\n",
        "nul": b"X-Nul: a\x00b\r\nContent-Length: 6\r\n",
        "te-gzip": b"Transfer-Encoding: gzip\r\n",
        "te-twice": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "cl-and-te": b"Content-Length: 100\r\nTransfer-Encoding: chunked\r\n",
        "hop": b"Connection: X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\n"
               b"Upgrade: h2c\r\nX-Ok: 1\r\nContent-Length: 6\r\n",
        "case": b"ETag: \"e\"\r\nx-lower-case: 1\r\nWWW-authenticate: Basic\r\nx_under: u\r\n"
                b"content-length: 6\r\n",
        "name-bytes": b"X-Paren(: 1\r\nX-Ok: 1\r\n{x}: 2\r\nX@At: 3\r\nContent-Length: 6\r\n",
        "bare-cr": b"X-Cr: a\rb\r\nX-Cr2: x \r\ry\r\r\nX-Ok: 1\r\nContent-Length: 6\r\n",
        "name-no-colon": b"X-Ok: 1\r\nX(no colon\r\nContent-Length: 6\r\n",
        "cl-bare-cr": b"Content-Length: 6\r7\r\n",
        "line-cr": b"X-A: a\r\n\rc\r\nX-Ok: 1\r\nContent-Length: 6\r\n",
        "lead-cr": b"X-A: \rc\r\nX-B: \r d\r\nX-C:\r\te f\r\nX-Ok: 1\r\nContent-Length: 6\r\n",
        "fold": b"X-Fold: a \r\n  b\r\n\tc\r\nX-E:\r\n e\r\nX-Ok: 1\r\nContent-Length: 6\r\n",
    }

    def r_headbody(self, q, parts):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"
        ms = int(q.get("ms", "0"))
        if ms:
            self.wfile.write(head)
            self.wfile.flush()
            time.sleep(ms / 1000.0)
            self.wfile.write(b"hello\n")
        else:
            self.wfile.write(head + b"hello\n")

    def r_extra(self, q, parts):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n"
                         b"hello\njunk")

    def r_oneread(self, q, parts):
        kind = q.get("kind", "chunked")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        if kind == "chunked":
            out = head + b"Transfer-Encoding: chunked\r\n\r\n4\r\none\n\r\n4\r\ntwo\n\r\n" \
                b"6\r\nthree\n\r\n0\r\n\r\n"
        elif kind == "length":
            n = int(q.get("n", "6"))
            body = (BLOCK * (n // len(BLOCK) + 1))[:n]
            out = head + b"Content-Length: %d\r\n\r\n" % n + body
        else:
            out = head + b"Connection: close\r\n\r\nuntil the close\n"
            self.close_connection = True
        self.wfile.write(out)

    def r_odd(self, q, parts):
        kind = q.get("kind", "")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + self.ODD_HEADS[kind] + b"\r\n"
        chunked = b"chunked" in self.ODD_HEADS[kind]
        self.write_split(head + (b"6\r\nhello\n\r\n0\r\n\r\n" if chunked else b"hello\n"), q)
        self.close_connection = True

    def write_split(self, answer, q):
        """&split=N: the first N bytes, then the rest 100 ms later."""
        split = int(q.get("split", "0"))
        if split:
            self.wfile.write(answer[:split])
            self.wfile.flush()
            time.sleep(0.1)
            answer = answer[split:]
        self.wfile.write(answer)

    BAD_CHUNKS = {
        "size": b"zz\r\nabc\r\n0\r\n\r\n",
        "size-cr": b"3\rcabc\r\n0\r\n\r\n",
        "data-cr": b"3\r\nabc\rc0\r\n\r\n",
        "data-bytes": b"3\r\nabcXY0\r\n\r\n",
        "last-cr": b"0\rc\r\n\r\n",
    }

    def r_badchunk(self, q, parts):
        self.write_split(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"6\r\nhello\n\r\n" + self.BAD_CHUNKS[q.get("kind", "")], q)

    def r_garbage(self, q, parts):
        self.wfile.write(b"this is not http\r\n\r\n")
        self.close_connection = True

    def r_truncate(self, q, parts):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk(b"first part\n")
        time.sleep(0.2)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True

    def r_exit(self, q, parts):
        sys.stderr.write("exiting on request\n")
        sys.stderr.flush()
        os._exit(int(q.get("code", "3")))

    def r_notype(self, q, parts):
        body = {"html": b"<html><body>hi</body></html>", "text": b"plain words\n",
                "empty": b"", "bin": b"\x00\x01\x02binary"}[q.get("kind", "text")]
        self.send_response(int(q.get("code", "200")))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        # hold=MS: the first five bytes, then the rest after MS
        hold = int(q.get("hold", "0"))
        if hold:
            self.wfile.write(body[:5])
            self.wfile.flush()
            time.sleep(hold / 1000)
            body = body[5:]
        self.wfile.write(body)

    def r_print(self, q, parts):
        print(q.get("msg", ""), flush=True)
        self.answer(200, b"printed\n", "text/plain")

    def r_unlisten(self, q, parts):
        self.server.socket.close()
        self.answer(200, b"not listening\n", "text/plain", [("Connection", "close")])
        self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--idle-timeout", type=float, default=None)
    ap.add_argument("--daemon", action="store_true")
    args = ap.parse_args()
    if args.daemon:
        # As daemons do: the child leaves the process group in a session of
        # its own before the parent exits.
        rd, wr = os.pipe()
        if os.fork() > 0:
            os.read(rd, 1)
            os._exit(0)
        os.setsid()
        os.write(wr, b"x")
    if args.delay:
        time.sleep(args.delay)
    if args.idle_timeout:
        # StreamRequestHandler applies it to the socket: an idle keep-alive
        # connection is closed by the server after this long.
        Handler.timeout = args.idle_timeout
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    # socketserver's backlog of 5 drops the connections of a burst, which
    # then wait for the kernel's SYN retries
    ThreadingHTTPServer.request_queue_size = 256
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening on %d" % args.port, flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
