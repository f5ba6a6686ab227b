"""Serves function/handler.py to fwatchdog in http mode.

The watchdog starts this once and proxies every request to upstream_url; the
server listens on that URL's address and port (127.0.0.1:5000 by default), so
upstream_url is the only setting to change. Standard library only.
"""
import json
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from function import handler


class Event:
    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class Context:
    def __init__(self):
        self.hostname = os.environ.get("HOSTNAME", "localhost")


class FunctionHandler(BaseHTTPRequestHandler):
    # Keep-alive: the watchdog reuses its connections to us.
    protocol_version = "HTTP/1.1"

    def serve(self):
        url = urlsplit(self.path)
        event = Event(self.command, url.path, dict(parse_qsl(url.query)),
                      self.headers, self.read_body())
        try:
            result = handler.handle(event, Context())
        except Exception:
            traceback.print_exc()
            result = {"statusCode": 500, "body": "Internal server error\n"}
        self.respond(result)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def read_body(self):
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def respond(self, result):
        if not isinstance(result, dict):
            result = {"body": result}
        headers = dict(result.get("headers") or {})
        body = result.get("body", b"")
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(result.get("statusCode", 200))
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # the watchdog logs every request already


def listen_address():
    url = urlsplit(os.environ.get("http_upstream_url")
                   or os.environ.get("upstream_url")
                   or "http://127.0.0.1:5000")
    return url.hostname or "127.0.0.1", url.port or 5000


if __name__ == "__main__":
    server = ThreadingHTTPServer(listen_address(), FunctionHandler)
    server.daemon_threads = True
    print("python3-http listening on %s:%d" % server.server_address[:2],
          file=sys.stderr, flush=True)
    server.serve_forever()
