"""Runs the compatibility matrix (matrix.py) against one watchdog binary and
returns normalised observations. Used by record.py (against the Go
watchdogs) and test_replay.py (against fwatchdog). Standard library only.

Every process started here runs in its own session, is bounded in time and
is killed with its whole session at the end of its group. Clients talk to
127.0.0.1 only; the function servers (functions/upstream.py) bind
127.0.0.1 only.
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ports import free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
FUNCTIONS = HERE / "functions"

# A body longer than this is kept as length + sha256 in a transcript.
BODY_INLINE_MAX = 4096
# A log line longer than this is kept as length + sha256.
LOG_LINE_MAX = 300
# Fixed modification time of the static files (2021-01-01T00:00:00Z).
STATIC_MTIME = 1609459200


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

def session_pids(sid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            data = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        rest = data.rpartition(b")")[2].split()
        try:
            if int(rest[3]) == sid and rest[0] != b"Z":
                out.append(int(name))
        except (IndexError, ValueError):
            continue
    return out


def kill_session(sid):
    """SIGKILL every process of session sid (the watchdog, its functions in
    their own process groups, their children)."""
    for _ in range(50):
        pids = session_pids(sid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


class Watchdog:
    """One watchdog process with its temp dir and its log file (stdout and
    stderr together, as a container runtime would collect them)."""

    def __init__(self, binary, env, workdir):
        self.binary = binary
        self.env = env
        self.workdir = Path(workdir)
        self.log_path = self.workdir / "watchdog.log"
        self.proc = None
        self.log_offset = 0
        self.log_rest = b""

    def start(self):
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.binary], env=self.env, cwd=str(self.workdir),
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         start_new_session=True)
        finally:
            logf.close()

    def exited(self):
        return self.proc.poll() is not None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                pass
        kill_session(self.proc.pid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def take_log_lines(self):
        """Complete lines written since the last call."""
        size = self.log_size()
        if size <= self.log_offset:
            return []
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            data = f.read(size - self.log_offset)
        self.log_offset += len(data)
        data = self.log_rest + data
        lines = data.split(b"\n")
        self.log_rest = lines.pop()
        return lines

    def wait_log_quiet(self, quiet, limit):
        """Wait until the log has not grown for `quiet` seconds (at most
        `limit` seconds)."""
        end = time.monotonic() + limit
        last = self.log_size()
        since = time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.01)
            size = self.log_size()
            if size != last:
                last, since = size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return


def wait_port(port, limit, proc=None):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


# --------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------

BODY_PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"


def body_bytes(spec):
    """The bytes of a body spec: None, {"text": s}, {"size": n},
    {"binary": n} (bytes 0..255 repeated), {"chunks": [s, ...]}."""
    if spec is None:
        return b""
    if "text" in spec:
        return spec["text"].encode("utf-8")
    if "size" in spec:
        n = spec["size"]
        reps = n // len(BODY_PATTERN) + 1
        return (BODY_PATTERN * reps)[:n]
    if "binary" in spec:
        n = spec["binary"]
        return (bytes(range(256)) * (n // 256 + 1))[:n]
    if "chunks" in spec:
        return b"".join(c.encode("utf-8") for c in spec["chunks"])
    raise ValueError(spec)


def wire(req):
    enc = encode_request(req)
    return enc if isinstance(enc, bytes) else enc[0] + enc[1]


def encode_request(req):
    """The bytes of a request dict (see matrix.py)."""
    if "raw" in req:
        return req["raw"].encode("latin-1")
    method = req.get("method", "GET")
    target = req.get("target", "/")
    version = req.get("version", "HTTP/1.1")
    headers = [list(h) for h in req.get("headers", [])]
    names = {h[0].lower() for h in headers}
    if "host" not in names and not req.get("no_host"):
        headers.insert(0, ["Host", "example.com"])
    spec = req.get("body")
    body = body_bytes(spec)
    chunked = spec is not None and "chunks" in spec
    if spec is not None and not chunked and "content-length" not in names \
            and "transfer-encoding" not in names:
        headers.append(["Content-Length", str(len(body))])
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    if chunked:
        wire = b"".join(b"%x\r\n%s\r\n" % (len(c.encode()), c.encode()) for c in spec["chunks"])
        wire += b"0\r\n\r\n"
    else:
        wire = body
    return head.encode("latin-1"), wire


class Reader:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.buf = b""
        self.deadline = deadline
        self.eof = False

    def fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError
        except ConnectionResetError:
            data = b""
            self.reset = True
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def until(self, sep, limit=4 << 20):
        while sep not in self.buf:
            if len(self.buf) > limit or not self.fill():
                return None
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            if not self.fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        while self.fill():
            pass
        out, self.buf = self.buf, b""
        return out


def canonical(name):
    """Go's CanonicalMIMEHeaderKey for names made of token characters."""
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
        return name
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def read_response(rd, method):
    """One response (after any 1xx). Returns a dict with the raw parts."""
    interim = []
    while True:
        head = rd.until(b"\r\n\r\n")
        if head is None:
            if rd.buf:
                return {"error": "incomplete response head", "partial": rd.buf[:200]}
            return {"error": "connection closed without a response"}
        lines = head.decode("latin-1").split("\r\n")[:-2]
        parts = lines[0].split(" ", 2)
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append([k, v.strip()])
        if 100 <= status < 200 and status != 101:
            interim.append({"status": status, "reason": reason})
            continue
        break
    hmap = {}
    for k, v in headers:
        hmap.setdefault(k.lower(), []).append(v)
    te = ",".join(hmap.get("transfer-encoding", [])).lower()
    body = b""
    if method == "HEAD" or status in (204, 304) or status < 200:
        framing = "none"
    elif "chunked" in te:
        framing = "chunked"
        while True:
            line = rd.until(b"\r\n")
            if line is None:
                return dict(version=version, status=status, reason=reason, headers=headers,
                            body=body, framing=framing, interim=interim,
                            error="chunked body cut short")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    t = rd.until(b"\r\n")
                    if t is None or t == b"\r\n":
                        break
                break
            piece = rd.exact(size + 2)
            if piece is None:
                return dict(version=version, status=status, reason=reason, headers=headers,
                            body=body, framing=framing, interim=interim,
                            error="chunked body cut short")
            body += piece[:-2]
    elif "content-length" in hmap:
        framing = "length"
        n = int(hmap["content-length"][0])
        piece = rd.exact(n)
        if piece is None:
            body = rd.buf
            rd.buf = b""
            return dict(version=version, status=status, reason=reason, headers=headers,
                        body=body, framing=framing, interim=interim,
                        error="body shorter than Content-Length")
        body = piece
    else:
        framing = "close"
        body = rd.rest()
    return dict(version=version, status=status, reason=reason, headers=headers, body=body,
                framing=framing, interim=interim)


def send_all(sock, data):
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def exchange(port, reqs, timeout, pipeline=False):
    """Send reqs on one connection (one after another, or all at once when
    pipeline) and read one response each. Returns raw response dicts."""
    deadline = time.monotonic() + timeout
    out = []
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as e:
        return [{"error": "connect failed: %s" % e.__class__.__name__}]
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rd = Reader(sock, deadline)
        if pipeline:
            send_all(sock, b"".join(wire(r) for r in reqs))
        for i, req in enumerate(reqs):
            if not pipeline:
                enc = encode_request(req)
                if isinstance(enc, bytes):
                    send_all(sock, enc)
                else:
                    head, body = enc
                    if req.get("expect100"):
                        send_all(sock, head)
                        # wait (at most 1 s) for an interim or final answer
                        sock.settimeout(1.0)
                        try:
                            data = sock.recv(65536)
                            rd.buf += data
                            if not data:
                                rd.eof = True
                        except socket.timeout:
                            pass
                        if not rd.buf.startswith(b"HTTP/1.1 100") and rd.buf:
                            body = None
                        if body:
                            send_all(sock, body)
                    else:
                        # the head first, then the body, as a client would
                        send_all(sock, head)
                        if body:
                            send_all(sock, body)
            try:
                resp = read_response(rd, req.get("method", "GET") if "raw" not in req
                                     else req["raw"].split(" ", 1)[0])
            except TimeoutError:
                resp = {"error": "timeout"}
            out.append(resp)
            if "error" in resp and resp.get("status") is None:
                break
    finally:
        sock.close()
    return out


# --------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------

# Log lines that are left out of every observation: the Go watchdog writes
# them or not depending on goroutine scheduling (cmd.Wait closes the pipes
# while the logging goroutine may still read them).
UNSTABLE_LOG = [
    re.compile(r"^<time> Error scanning (stdout|stderr): read \|0: file already closed$"),
]

LOG_TIME = rb"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)? "
TIME_PREFIX = re.compile(rb"^" + LOG_TIME)
# A log line's time after output that did not end its line (write_debug
# prints what the function wrote, then the next line's time follows it).
TIME_AFTER_OUTPUT = re.compile(rb"(?<=\S)" + LOG_TIME + rb"(?=Duration: )")
DURATION = re.compile(r"\d+\.\d+(s|ms|µs|us)\b")


class Masker:
    def __init__(self):
        self.subs = []

    def add(self, text, repl):
        if text:
            self.subs.append((text, repl))
            self.subs.sort(key=lambda s: -len(s[0]))

    def __call__(self, s):
        for a, b in self.subs:
            s = s.replace(a, b)
        return s


def norm_body(body, mask):
    if len(body) > BODY_INLINE_MAX:
        return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    try:
        return mask(body.decode("utf-8"))
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}


def norm_response(raw, mask):
    if raw.get("status") is None:
        return {"error": raw["error"]}
    headers = []
    body = raw["body"]
    for name, v in raw["headers"]:
        # Names are kept as written: a client may look one up by its exact
        # spelling, and Go writes them in canonical case.
        known = canonical(name)
        m = re.search(r"boundary=([0-9A-Za-z'()+_,./:=?-]+)", v) if known == "Content-Type" else None
        if m:
            body = body.replace(m.group(1).encode(), b"<boundary>")
            v = v.replace(m.group(1), "<boundary>")
        if known == "Date":
            v = "<date>"
        elif known == "X-Duration-Seconds":
            v = "<duration>"
        headers.append([name, mask(v)])
    # the fields' order as written (compared apart, see test_replay.py)
    order = [canonical(n) for n, _ in headers]
    headers.sort(key=lambda h: canonical(h[0]))
    out = {
        "status": raw["status"],
        "reason": raw["reason"],
        "version": raw["version"],
        "headers": headers,
        "order": order,
        "framing": raw["framing"],
        "body": norm_body(body, mask),
    }
    if raw.get("interim"):
        out["interim"] = raw["interim"]
    if raw.get("error"):
        out["error"] = raw["error"]
    return out


# Lines of a Go stack trace (after "http: panic serving ..." or "panic: ..."):
# goroutine numbers and addresses change from run to run; only the panic
# line itself is kept.
GO_TRACE = re.compile(r"^(\t|goroutine \d+ |created by |panic\(|[A-Za-z0-9_./*()\[\]{}-]+\(.*\)$|$)")


def norm_log(lines, mask):
    out = []
    for x in lines:
        s = norm_log_line(x, mask)
        if any(r.match(s) for r in UNSTABLE_LOG):
            continue
        if GO_TRACE.match(s) and not s.startswith("<time>") and s != "":
            continue
        s = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<client-port>", s)
        out.append(s)
    return out


def norm_log_line(line, mask):
    line = TIME_PREFIX.sub(b"<time> ", line)
    line = TIME_AFTER_OUTPUT.sub(b"<time> ", line)
    s = line.decode("utf-8", errors="replace")
    s = mask(s)
    s = DURATION.sub(lambda m: "<dur>" + m.group(1), s)
    s = re.sub(r"X-Duration-Seconds=\[[0-9.]+\]", "X-Duration-Seconds=[<duration>]", s)
    s = re.sub(r"(?<=<time> )goroutine \d+", "goroutine <n>", s)
    if len(s) > LOG_LINE_MAX:
        s = "<line length=%d sha256=%s>" % (len(s), hashlib.sha256(s.encode()).hexdigest())
    return s


# --------------------------------------------------------------------------
# groups
# --------------------------------------------------------------------------

def make_static_tree(root):
    files = {
        "index.html": b"<html><body>index</body></html>\n",
        "hello.txt": b"hello static\n",
        "data.json": b'{"a": 1}\n',
        "style.css": b"body { color: red; }\n",
        "app.js": b"console.log(1);\n",
        "noext": b"no extension\n",
        "unknown.xyz": b"unknown extension\n",
        "a b.txt": b"space in name\n",
        "big.bin": body_bytes({"binary": 1048576}),
        "sub/index.html": b"<html><body>sub index</body></html>\n",
        "sub/page.html": b"<html><body>page</body></html>\n",
        "list/one.txt": b"one\n",
        "list/two.txt": b"two\n",
        ".hidden": b"hidden file\n",
        # types from the system's database, as Go's mime package reads it
        "types/icon.ico": b"\x00\x00\x01\x00",
        "types/notes.md": b"# notes\n",
        "types/conf.yaml": b"a: 1\n",
        "types/prog.C": b"int main() {}\n",
        "types/prog.c": b"int main() {}\n",
        "types/NOTES.TXT": b"upper case\n",
        "types/app.js.map": b"{}\n",
    }
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    # names that Go's listing links and redirects escape in their own ways
    for d in ("odd/a b", "odd/c&d", "odd/e:f", "odd/g%h"):
        (root / d).mkdir(parents=True)
    (root / "odd" / "x:y.txt").write_bytes(b"colon\n")
    (root / "odd" / "l'm.txt").write_bytes(b"quote\n")
    (root.parent / "secret.txt").write_bytes(b"outside the root\n")
    os.symlink("../secret.txt", root / "escape.txt")
    os.symlink("hello.txt", root / "link.txt")
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), (STATIC_MTIME, STATIC_MTIME), follow_symlinks=False)
    os.utime(root, (STATIC_MTIME, STATIC_MTIME))
    os.utime(root.parent / "secret.txt", (STATIC_MTIME, STATIC_MTIME))


class GroupRun:
    """Runs one group of matrix.py against a binary; yields observations."""

    def __init__(self, group, binary, extra_env=None, replay=False, expected=None):
        self.group = group
        self.binary = binary
        self.extra_env = extra_env or {}
        self.replay = replay
        self.expected = expected or {}

    def env_for(self, tmp, work, port, uport):
        subst = {"UPSTREAM_PORT": str(uport), "STATIC": str(work / "public"),
                 "TMP": str(tmp)}
        env = {
            "PATH": "%s:/usr/local/bin:/usr/bin:/bin" % FUNCTIONS,
            "TMPDIR": str(tmp),
            "COMPAT_SEEN": str(work / "seen.log"),
            "COMPAT_VAR": "compat-value",
            "UPSTREAM_PORT": str(uport),
        }
        if port is not None:
            env["port"] = str(port)
        for k, v in self.group.get("env", {}).items():
            env[k] = v.format(**subst)
        env.update(self.extra_env)
        return env

    def run(self):
        """Returns {case_id: observation}."""
        g = self.group
        results = {}
        work = Path(tempfile.mkdtemp(prefix="compat-"))
        tmp = work / "tmp"
        tmp.mkdir()
        wd = None
        try:
            port = free_port()
            uport = free_port()
            if g.get("static"):
                (work / "public").mkdir()
                make_static_tree(work / "public")
            env = self.env_for(tmp, work, port, uport)
            mask = Masker()
            mask.add(str(work), "<work>")
            mask.add(str(FUNCTIONS), "<functions>")
            mask.add("127.0.0.1:%d" % port, "127.0.0.1:<port>")
            mask.add("127.0.0.1:%d" % uport, "127.0.0.1:<upstream-port>")
            mask.add("localhost:%d" % uport, "localhost:<upstream-port>")
            mask.add("port: %d" % port, "port: <port>")
            mask.add("port %d" % port, "port <port>")
            mask.add(":%d" % port, ":<port>")
            self.mask = mask
            self.seen_path = work / "seen.log"
            wd = Watchdog(self.binary, env, work)
            wd.start()
            self.wd = wd
            if g.get("startup_only"):
                results.update(self.run_startup_only(wd, g))
                return results
            ok = wait_port(port, 10, wd.proc)
            if ok and not g.get("env", {}).get("suppress_lock"):
                end = time.monotonic() + g.get("lock_wait", 5)
                while time.monotonic() < end and not (tmp / ".lock").exists() \
                        and wd.proc.poll() is None:
                    time.sleep(0.02)
            if ok and g.get("upstream_wait"):
                wait_port(uport, 10)
            wd.wait_log_quiet(0.3 if not self.replay else 0.1, 3)
            sid = g["id"] + "/startup"
            lines = sorted(norm_log(wd.take_log_lines(), mask))
            results[sid] = {"log": lines, "listening": ok}
            for case in g["cases"]:
                results[case["id"]] = self.run_case(case)
        finally:
            if wd is not None:
                wd.stop()
            shutil.rmtree(work, ignore_errors=True)
        return results

    def run_startup_only(self, wd, g):
        try:
            code = wd.proc.wait(timeout=g.get("startup_wait", 2))
        except subprocess.TimeoutExpired:
            code = None
        wd.wait_log_quiet(0.1, 1)
        raw = wd.take_log_lines()
        if wd.log_rest:
            raw.append(wd.log_rest)
        lines = norm_log(raw, self.mask)
        # a Go panic's stack trace is not compared, only its first lines
        keep = []
        for line in lines:
            if line.startswith("goroutine ") or line.startswith("\t") or line == "":
                break
            keep.append(line)
        obs = {"exit_code": code, "log": keep} if code is not None else \
            {"exit_code": None, "running": True}
        return {g["id"] + "/startup": obs}

    def take_seen(self):
        try:
            data = self.seen_path.read_bytes()
        except FileNotFoundError:
            return []
        self.seen_path.write_bytes(b"")
        return sorted(self.mask(x) for x in data.decode("utf-8", "replace").splitlines())

    def run_case(self, case):
        port = int(self.wd.env["port"])
        kind = case.get("kind", "request")
        timeout = case.get("timeout", 10)
        raws = []
        if kind == "request":
            raws = exchange(port, [case["request"]], timeout)
        elif kind in ("sequence", "pipeline"):
            raws = exchange(port, case["requests"], timeout, pipeline=(kind == "pipeline"))
        elif kind == "concurrent":
            raws = [None] * len(case["requests"])
            start = time.monotonic()

            def one(i, item):
                delay = item.get("at", 0) - (time.monotonic() - start)
                if delay > 0:
                    time.sleep(delay)
                raws[i] = exchange(port, [item["request"]], timeout)[0]
            threads = [threading.Thread(target=one, args=(i, it), daemon=True)
                       for i, it in enumerate(case["requests"])]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout + 5)
            raws = [r if r is not None else {"error": "timeout"} for r in raws]
        else:
            raise ValueError(kind)
        obs = {"responses": [norm_response(r, self.mask) for r in raws]}
        # log lines of this case
        exp = self.expected.get(case["id"])
        if self.replay and exp is not None:
            # until the recorded number of lines is there, or the log has
            # been quiet for a while (at most log_wait seconds)
            want = len(exp.get("log", []))
            end = time.monotonic() + case.get("log_wait", 1.0)
            lines = []
            last = time.monotonic()
            while True:
                got = self.wd.take_log_lines()
                if got:
                    lines += got
                    last = time.monotonic()
                now = time.monotonic()
                if len(lines) >= want or now > end or now - last > 0.15:
                    break
                time.sleep(0.01)
            self.wd.wait_log_quiet(0.05, 0.5)
            lines += self.wd.take_log_lines()
        else:
            self.wd.wait_log_quiet(case.get("log_quiet", 0.15), 3)
            lines = self.wd.take_log_lines()
        obs["log"] = sorted(norm_log(lines, self.mask))
        obs["seen"] = self.take_seen()
        return obs
