"""mode=static: files under static_path, nothing outside it."""
import email.utils
import hashlib
import os
import socket
import time

import pytest

from harness import HOST, fd_count, parse_responses, raw_exchange, request, wait_until

TEXT = b"hello world, 0123456789 abcdefghijklmnopqrstuvwxyz\n"
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT\n"


@pytest.fixture
def root(tmp_path):
    """tmp/root is served; tmp/secret.txt and tmp/outside/ must never be."""
    r = tmp_path / "root"
    (r / "sub").mkdir(parents=True)
    (r / "list" / "dir").mkdir(parents=True)
    (r / "a.txt").write_bytes(TEXT)
    (r / "sub" / "index.html").write_bytes(b"<h1>sub index</h1>\n")
    (r / "list" / "<b>.txt").write_bytes(b"b\n")
    (r / "list" / "x&y.txt").write_bytes(b"xy\n")
    for name in ["page.html", "style.css", "app.js", "mod.mjs", "data.json", "pic.svg", "pic.png",
                 "pic.jpg", "pic.gif", "pic.webp", "favicon.ico", "prog.wasm", "feed.xml",
                 "doc.pdf", "font.woff", "font.woff2", "clip.mp4", "clip.webm", "app.js.map",
                 "table.csv", "README.md", "blob.unknownext", "noext", "UPPER.HTML", "conf.yaml",
                 "prog.c", "prog.C", "NOTES.TXT"]:
        (r / name).write_bytes(b"x")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", r / "escape.txt")
    os.symlink("../secret.txt", r / "escape-rel.txt")
    os.symlink(tmp_path / "outside", r / "escdir")
    os.symlink("a.txt", r / "link.txt")
    os.symlink("sub", r / "linkdir")
    os.mkfifo(r / "fifo")
    return r


def static(watchdog, root):
    return watchdog({"mode": "static", "static_path": root}, ready="healthy")


@pytest.fixture
def wd(watchdog, root):
    return static(watchdog, root)


def get(wd, path, headers=None, method="GET"):
    return request(wd.port, method, path, headers=headers)


def get_following(wd, path):
    """GET, following the 301s to a clean path that the Go watchdog's
    ServeMux answers first; each Location must be a clean absolute path."""
    for _ in range(3):
        status, h, body = get(wd, path)
        if status != 301:
            return status, h, body
        path = h["Location"]
        assert path.startswith("/") and "/../" not in path and "//" not in path, path
    raise AssertionError("redirect loop at %s" % path)


def test_file(wd):
    status, h, body = get(wd, "/a.txt")
    assert status == 200
    assert body == TEXT
    assert h["Content-Length"] == str(len(TEXT))
    assert h["Content-Type"] == "text/plain; charset=utf-8"
    assert h["Accept-Ranges"] == "bytes"
    assert h["ETag"].startswith('"')
    assert "Etag" in h.names(), h  # spelt as Go's Header().Set writes it
    mtime = os.stat(wd.env["static_path"] + "/a.txt").st_mtime
    assert email.utils.parsedate_to_datetime(h["Last-Modified"]).timestamp() == int(mtime)


def test_missing_is_404(wd):
    status, _, _ = get(wd, "/nope.txt")
    assert status == 404


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/.%2e/secret.txt",
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/..%5csecret.txt",
    "/a.txt%00.html",
    "/%00",
    "/escape.txt",
    "/escape-rel.txt",
    "/escdir/secret.txt",
    "/escdir/",
    "/%252e%252e/secret.txt",
    "/fifo",
    "/%zz",
])
def test_traversal_never_serves_outside(wd, path):
    status, _, body = get_following(wd, path)
    assert status in (400, 403, 404, 500), (path, status)
    assert SECRET not in body


@pytest.mark.parametrize("path", ["//etc/passwd", "/../../../../etc/passwd", "/%2f%2fetc/passwd"])
def test_absolute_paths_stay_in_root(wd, path):
    status, _, body = get_following(wd, path)
    assert status in (400, 403, 404)
    assert b"root:" not in body


def test_request_line_traversal_raw(wd):
    out = raw_exchange(wd.port, b"GET /../../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=30)[0]
    # As Go's ServeMux: a redirect to the clean path, which is inside the root.
    assert out.split(b"\r\n", 1)[0] == b"HTTP/1.1 301 Moved Permanently"
    assert b"\r\nLocation: /secret.txt\r\n" in out
    assert SECRET not in out


def test_symlinks_inside_root_are_followed(wd):
    status, _, body = get(wd, "/link.txt")
    assert status == 200 and body == TEXT
    status, _, body = get(wd, "/linkdir/")
    assert status == 200 and b"sub index" in body


def test_dot_segments_inside_root(wd):
    status, h, _ = get(wd, "/sub/../a.txt")
    assert status == 301 and h["Location"] == "/a.txt"
    status, _, body = get_following(wd, "/sub/../a.txt")
    assert status == 200 and body == TEXT
    status, _, body = get_following(wd, "/./%61.txt")
    assert status == 200 and body == TEXT


@pytest.mark.parametrize("name,ctype", [
    # Go's own table
    ("page.html", "text/html; charset=utf-8"),
    ("UPPER.HTML", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("mod.mjs", "text/javascript; charset=utf-8"),
    ("data.json", "application/json"),
    ("pic.svg", "image/svg+xml"),
    ("pic.png", "image/png"),
    ("pic.jpg", "image/jpeg"),
    ("pic.gif", "image/gif"),
    ("pic.webp", "image/webp"),
    ("prog.wasm", "application/wasm"),
    ("feed.xml", "text/xml; charset=utf-8"),
    ("doc.pdf", "application/pdf"),
    # the system's database, as Go reads it: Debian 12's shared-mime-info
    # (scripts/deps.sh --test installs it)
    ("favicon.ico", "image/vnd.microsoft.icon"),
    ("font.woff", "font/woff"),
    ("font.woff2", "font/woff2"),
    ("clip.mp4", "video/mp4"),
    ("clip.webm", "video/webm"),
    ("table.csv", "text/csv; charset=utf-8"),
    ("README.md", "text/markdown; charset=utf-8"),
    ("conf.yaml", "application/x-yaml"),
    ("prog.c", "text/x-csrc; charset=utf-8"),
    ("prog.C", "text/x-c++src; charset=utf-8"),
    ("NOTES.TXT", "text/plain; charset=utf-8"),
    # no known extension: sniffed from the first bytes, as Go's FileServer
    ("app.js.map", "text/plain; charset=utf-8"),
    ("blob.unknownext", "text/plain; charset=utf-8"),
    ("noext", "text/plain; charset=utf-8"),
])
def test_content_types(wd, name, ctype):
    status, h, _ = get(wd, "/" + name)
    assert status == 200
    assert h["Content-Type"] == ctype


def test_directory_index(wd):
    status, h, body = get(wd, "/sub/")
    assert status == 200
    assert body == b"<h1>sub index</h1>\n"
    assert h["Content-Type"] == "text/html; charset=utf-8"


def test_directory_without_slash_redirects(wd):
    status, h, _ = get(wd, "/sub?x=1")
    assert status == 301
    assert h["Location"] == "sub/?x=1"
    status, h, _ = get(wd, "/list/dir")
    assert status == 301
    assert h["Location"] == "dir/"


def test_file_with_trailing_slash_redirects_to_the_file(wd):
    status, h, body = get(wd, "/a.txt/")
    assert (status, h["Location"], body) == (301, "../a.txt", b"")


def test_index_html_redirects_to_its_directory(wd):
    status, h, body = get(wd, "/sub/index.html?x=1")
    assert (status, h["Location"], body) == (301, "./?x=1", b"")
    assert h["Content-Type"] is None
    status, h, _ = get(wd, "/index.html")
    assert (status, h["Location"]) == (301, "./")


def test_unknown_binary_file_is_sniffed(wd):
    with open(os.path.join(wd.env["static_path"], "img.data"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    with open(os.path.join(wd.env["static_path"], "raw.data"), "wb") as f:
        f.write(b"\x00\x01\x02\x03")
    assert get(wd, "/img.data")[1]["Content-Type"] == "image/png"
    assert get(wd, "/raw.data")[1]["Content-Type"] == "application/octet-stream"


def test_directory_listing_escapes_names(wd):
    status, h, body = get(wd, "/list/")
    assert status == 200
    assert h["Content-Type"] == "text/html; charset=utf-8"
    text = body.decode()
    assert '<a href="%3Cb%3E.txt">&lt;b&gt;.txt</a>' in text
    # Go's URL escaping keeps the reserved characters a path may hold
    assert '<a href="x&y.txt">x&amp;y.txt</a>' in text
    assert '<a href="dir/">dir/</a>' in text
    assert "<b>" not in text
    assert text.index("%3Cb%3E") < text.index("dir/") < text.index("x&y")


ODD_LINKS = [
    # name, is a directory, link as Go's listing writes it
    ("a b", True, "a%20b/"), ("c&d", True, "c&d/"), ("e:f", True, "./e:f/"), ("g%h", True, "g%25h/"),
    ("h?i", True, "h%3Fi/"), ("j#k", True, "j%23k/"), ("l'm", False, "l%27m"), ("n(o)", False, "n%28o%29"),
    ("*", False, "*"), ("star", True, "star/"), ("p+q=r;s,t@u$v", False, "p+q=r;s,t@u$v"),
    ("\u00e9", False, "%C3%A9"), ('"q".txt', False, "%22q%22.txt"), ("x:y.txt", False, "./x:y.txt"),
    ("[b]{c}^|`!", False, "%5Bb%5D%7Bc%7D%5E%7C%60%21"),
]


def test_directory_listing_links_as_go_escapes_them(wd, root):
    odd = root / "odd"
    odd.mkdir()
    for name, is_dir, _ in ODD_LINKS:
        if is_dir:
            (odd / name).mkdir()
        else:
            (odd / name).write_bytes(b"x")
    status, _, body = get(wd, "/odd/")
    assert status == 200
    text = body.decode()
    for name, is_dir, link in ODD_LINKS:
        shown = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
            .replace('"', "&#34;").replace("'", "&#39;") + ("/" if is_dir else "")
        assert '<a href="%s">%s</a>\n' % (link, shown) in text, name


@pytest.mark.parametrize("path,location", [
    # as Go sends them
    ("/odd/c&d", "c&d/"), ("/odd/n(o)", "n(o)/"), ("/odd/p+q=r;s,t@u$v", "p+q=r;s,t@u$v/"),
    ("/odd/x:y.txt/", "../x:y.txt"),
    # where Go's decoded name would lead elsewhere
    ("/odd/a%20b?x=%20y", "a%20b/?x=%20y"), ("/odd/g%25h", "g%25h/"), ("/odd/h%3Fi", "h%3Fi/"),
    ("/odd/j%23k", "j%23k/"), ("/odd/e:f", "./e:f/"), ("/odd/%C3%A9", "%C3%A9/"),
])
def test_redirect_location_escapes_only_what_would_lead_elsewhere(wd, root, path, location):
    for d in ["c&d", "n(o)", "p+q=r;s,t@u$v", "a b", "g%h", "h?i", "j#k", "e:f", "\u00e9"]:
        (root / "odd" / d).mkdir(parents=True)
    (root / "odd" / "x:y.txt").write_bytes(b"x")
    status, h, body = get(wd, path)
    assert (status, h["Location"], body) == (301, location, b"")


def test_root_listing(wd):
    status, _, body = get(wd, "/")
    assert status == 200
    assert b'href="a.txt"' in body
    # Go's FileServer (1.21 and later) heads its listing so
    assert body.startswith(b'<!doctype html>\n<meta name="viewport" content="width=device-width">\n'
                           b'<pre>\n') and body.endswith(b"</pre>\n")


def test_empty_directory_listing(watchdog, tmp_path):
    wd = static(watchdog, listing_of(tmp_path, [], ["empty"]))
    status, h, body = get(wd, "/empty/")
    assert (status, h["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert body == (b'<!doctype html>\n<meta name="viewport" content="width=device-width">\n'
                    b"<pre>\n</pre>\n")


def listing_of(tmp_path, files, dirs):
    d = tmp_path / "root"
    for name in dirs:
        (d / name).mkdir(parents=True)
    for name in files:
        (d / name).write_bytes(b"")
    return d


# A listing is 81 bytes plus 2*len+16 per file and 2*len+18 per directory.
@pytest.mark.parametrize("size,dirlen", [(2047, 22), (2049, 23)])
def test_long_listing_is_chunked_as_go_sends_it(watchdog, tmp_path, size, dirlen):
    # Go's server gives a length only to an answer of at most 2048 bytes
    # (its buffer); past that, chunked, and a HEAD says neither.
    files = ["f%019d" % i for i in range(34)]
    wd = static(watchdog, listing_of(tmp_path, files, ["d" * dirlen]))
    data, _ = raw_exchange(wd.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    get_r, head_r = parse_responses(data, heads=(1,))
    assert get_r.status == 200 and len(get_r.body) == size
    if size <= 2048:
        assert get_r.header("Content-Length") == str(size)
        assert head_r.header("Content-Length") == str(size)
    else:
        assert get_r.header("Content-Length") is None
        assert get_r.header("Transfer-Encoding") == "chunked"
        assert head_r.header("Content-Length") is None
        assert head_r.header("Transfer-Encoding") is None
    assert head_r.status == 200 and head_r.body == b""


@pytest.mark.parametrize("rng,status,expect,crange", [
    ("bytes=0-4", 206, TEXT[0:5], "bytes 0-4/%d" % len(TEXT)),
    ("bytes=-5", 206, TEXT[-5:], "bytes %d-%d/%d" % (len(TEXT) - 5, len(TEXT) - 1, len(TEXT))),
    ("bytes=10-", 206, TEXT[10:], "bytes 10-%d/%d" % (len(TEXT) - 1, len(TEXT))),
    ("bytes=5-100000", 206, TEXT[5:], "bytes 5-%d/%d" % (len(TEXT) - 1, len(TEXT))),
    ("bytes=-100000", 206, TEXT, "bytes 0-%d/%d" % (len(TEXT) - 1, len(TEXT))),
    ("bytes=0-0", 206, TEXT[:1], "bytes 0-0/%d" % len(TEXT)),
    ("bytes= 1 - 3 ", 206, TEXT[1:4], "bytes 1-3/%d" % len(TEXT)),
    ("bytes=+1-+3", 206, TEXT[1:4], "bytes 1-3/%d" % len(TEXT)),
    # an empty range at the end: Go's figures for it
    ("bytes=-0", 206, b"", "bytes %d-%d/%d" % (len(TEXT), len(TEXT) - 1, len(TEXT))),
    # a piece past the end is dropped while another is left
    ("bytes=0-1,1000-2000", 206, TEXT[:2], "bytes 0-1/%d" % len(TEXT)),
    # more bytes than the file: the ranges are ignored
    ("bytes=0-30,20-40", 200, TEXT, None),
    ("bytes=", 200, TEXT, None),
])
def test_ranges(wd, rng, status, expect, crange):
    st, h, body = get(wd, "/a.txt", {"Range": rng})
    assert st == status
    assert body == expect
    assert h["Content-Length"] == str(len(expect))
    assert h.get("Content-Range") == crange


@pytest.mark.parametrize("rng", ["bytes=5-2", "items=0-4", "bytes=abc", "Bytes=0-4", "bytes=0-1,x",
                                 "bytes=--3", "bytes=99999999999999999999-"])
def test_invalid_range(wd, rng):
    """Go's FileServer refuses a Range it cannot read, whole."""
    status, h, body = get(wd, "/a.txt", {"Range": rng})
    assert status == 416
    assert body == b"invalid range\n"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert "Content-Range" not in h


@pytest.mark.parametrize("rng", ["bytes=1000-", "bytes=%d-" % len(TEXT), "bytes=100-200,300-"])
def test_unsatisfiable_range(wd, rng):
    status, h, body = get(wd, "/a.txt", {"Range": rng})
    assert status == 416
    assert h["Content-Range"] == "bytes */%d" % len(TEXT)
    assert body == b"invalid range: failed to overlap\n"


def multipart(h, body):
    """The boundary and the parts (Content-Range, Content-Type, bytes) of a
    multipart/byteranges body, checked against the layout Go's multipart
    writer gives it."""
    ctype = h["Content-Type"]
    prefix = "multipart/byteranges; boundary="
    assert ctype.startswith(prefix), ctype
    boundary = ctype[len(prefix):]
    assert len(boundary) == 60 and all(c in "0123456789abcdef" for c in boundary), boundary
    b = boundary.encode()
    assert body.startswith(b"--" + b + b"\r\n") and body.endswith(b"\r\n--" + b + b"--\r\n")
    parts = []
    for chunk in body[len(b) + 4:-(len(b) + 8)].split(b"\r\n--" + b + b"\r\n"):
        head, _, data = chunk.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"Content-Range: ") and lines[1].startswith(b"Content-Type: ")
        parts.append((lines[0][15:].decode(), lines[1][14:].decode(), data))
    return boundary, parts


def test_several_ranges(wd):
    """Several ranges: 206 with a multipart/byteranges body, each range a
    part with its Content-Range and the file's type, in the order asked."""
    n = len(TEXT)
    status, h, body = get(wd, "/a.txt", {"Range": "bytes=4-5,0-1,-3"})
    assert status == 206
    assert h["Content-Length"] == str(len(body))
    assert "Content-Range" not in h
    boundary, parts = multipart(h, body)
    t = "text/plain; charset=utf-8"
    assert parts == [("bytes 4-5/%d" % n, t, TEXT[4:6]), ("bytes 0-1/%d" % n, t, TEXT[0:2]),
                     ("bytes %d-%d/%d" % (n - 3, n - 1, n), t, TEXT[-3:])]
    # the layout, byte for byte, and a new boundary each time
    part = "--%s\r\nContent-Range: bytes %s/%d\r\nContent-Type: %s\r\n\r\n"
    want = (part % (boundary, "4-5", n, t)).encode() + TEXT[4:6] + b"\r\n" + \
        (part % (boundary, "0-1", n, t)).encode() + TEXT[0:2] + b"\r\n" + \
        (part % (boundary, "%d-%d" % (n - 3, n - 1), n, t)).encode() + TEXT[-3:] + \
        ("\r\n--%s--\r\n" % boundary).encode()
    assert body == want
    _, h2, _ = get(wd, "/a.txt", {"Range": "bytes=4-5,0-1,-3"})
    assert h2["Content-Type"] != h["Content-Type"]


def test_several_ranges_head(wd):
    status, h, body = get(wd, "/a.txt", {"Range": "bytes=0-1,3-4"})
    assert status == 206
    hstatus, hh, hbody = get(wd, "/a.txt", {"Range": "bytes=0-1,3-4"}, method="HEAD")
    assert hstatus == 206 and hbody == b""
    assert hh["Content-Length"] == h["Content-Length"] == str(len(body))
    assert hh["Content-Type"].startswith("multipart/byteranges; boundary=")


def test_several_ranges_of_an_empty_range(wd, root):
    (root / "empty.txt").write_bytes(b"")
    status, h, body = get(wd, "/empty.txt", {"Range": "bytes=-0,-0"})
    assert status == 206
    _, parts = multipart(h, body)
    assert [p[0] for p in parts] == ["bytes 0--1/0", "bytes 0--1/0"]
    assert [p[2] for p in parts] == [b"", b""]


def test_several_large_ranges(wd, root):
    """Parts larger than a slice, and many small ones, on one connection:
    every byte where it belongs, no descriptor kept."""
    data = os.urandom(3 * 1024 * 1024 + 123)
    (root / "big.bin").write_bytes(data)
    fds = fd_count(wd.pid)
    status, h, body = get(wd, "/big.bin", {"Range": "bytes=100-1500099,2000000-"})
    assert status == 206
    _, parts = multipart(h, body)
    assert [p[1] for p in parts] == ["application/octet-stream"] * 2
    assert parts[0][0] == "bytes 100-1500099/%d" % len(data) and parts[0][2] == data[100:1500100]
    assert parts[1][0] == "bytes 2000000-%d/%d" % (len(data) - 1, len(data))
    assert parts[1][2] == data[2000000:]
    spec = ",".join("%d-%d" % (i * 997, i * 997) for i in range(3000))
    status, h, body = get(wd, "/big.bin", {"Range": "bytes=" + spec})
    assert status == 206
    _, parts = multipart(h, body)
    assert [p[2] for p in parts] == [data[i * 997:i * 997 + 1] for i in range(3000)]
    assert wait_until(lambda: fd_count(wd.pid) <= fds, 5)


def test_if_range(wd):
    _, h, _ = get(wd, "/a.txt")
    status, _, body = get(wd, "/a.txt", {"Range": "bytes=0-4", "If-Range": h["ETag"]})
    assert status == 206 and body == TEXT[:5]
    status, _, body = get(wd, "/a.txt", {"Range": "bytes=0-4", "If-Range": '"stale"'})
    assert status == 200 and body == TEXT
    # Go looks at If-Range for GET and HEAD only
    status, _, body = get(wd, "/a.txt", {"Range": "bytes=0-4", "If-Range": '"stale"'}, method="POST")
    assert status == 206 and body == TEXT[:5]


def test_conditional_requests(wd):
    _, h, _ = get(wd, "/a.txt")
    etag, lm = h["ETag"], h["Last-Modified"]
    status, h2, body = get(wd, "/a.txt", {"If-None-Match": etag})
    assert status == 304 and body == b""
    assert h2["ETag"] == etag
    status, _, _ = get(wd, "/a.txt", {"If-None-Match": '"other", W/%s' % etag})
    assert status == 304
    status, _, _ = get(wd, "/a.txt", {"If-None-Match": "*"})
    assert status == 304
    status, _, body = get(wd, "/a.txt", {"If-None-Match": '"other"'})
    assert status == 200 and body == TEXT
    status, _, body = get(wd, "/a.txt", {"If-Modified-Since": lm})
    assert status == 304 and body == b""
    status, _, body = get(wd, "/a.txt", {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
    assert status == 200 and body == TEXT
    # If-None-Match wins over If-Modified-Since.
    status, _, _ = get(wd, "/a.txt", {"If-None-Match": '"other"', "If-Modified-Since": lm})
    assert status == 200


@pytest.mark.parametrize("method,headers,status", [
    # If-Match: "*" or this file's tag; any other list fails
    ("GET", {"If-Match": "*"}, 200),
    ("GET", {"If-Match": "ETAG"}, 200),
    ("GET", {"If-Match": '"x"'}, 412),
    ("GET", {"If-Match": "W/ETAG"}, 412),
    ("GET", {"If-Match": '"x", ETAG'}, 200),
    ("GET", {"If-Match": 'x, ETAG'}, 412),
    ("PUT", {"If-Match": '"x"'}, 412),
    # If-Match decides alone; If-Unmodified-Since only without it
    ("GET", {"If-Match": "*", "If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}, 200),
    ("GET", {"If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}, 412),
    ("DELETE", {"If-Unmodified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}, 412),
    ("GET", {"If-Unmodified-Since": "LM"}, 200),
    ("GET", {"If-Unmodified-Since": "garbage"}, 200),
    # If-None-Match: 304 to GET and HEAD, 412 to the others
    ("HEAD", {"If-None-Match": "*"}, 304),
    ("POST", {"If-None-Match": "*"}, 412),
    ("PUT", {"If-None-Match": "ETAG"}, 412),
    ("POST", {"If-None-Match": '"x"'}, 200),
    # If-Modified-Since: GET and HEAD only
    ("HEAD", {"If-Modified-Since": "LM"}, 304),
    ("POST", {"If-Modified-Since": "LM"}, 200),
    ("OPTIONS", {"If-Modified-Since": "LM"}, 200),
])
def test_conditions_as_go_checks_them(wd, method, headers, status):
    """In the order of Go's checkPreconditions, with this file's ETag and
    Last-Modified standing for ETAG and LM."""
    _, h, _ = get(wd, "/a.txt")
    subst = {k: v.replace("ETAG", h["ETag"]).replace("LM", h["Last-Modified"]) for k, v in headers.items()}
    got, h2, body = get(wd, "/a.txt", subst, method=method)
    assert got == status
    if status == 200:
        assert body == (b"" if method == "HEAD" else TEXT)
    else:
        assert body == b"" and "Content-Type" not in h2
    if status == 412:
        # Go's server: an empty answer says Content-Length: 0, except to HEAD
        assert h2["Content-Length"] == ("0" if method != "HEAD" else None)


def test_head_empty_answers_have_no_length(wd):
    status, h, _ = get(wd, "/a.txt", {"If-Match": '"x"'}, method="HEAD")
    assert status == 412 and h["Content-Length"] is None
    status, h, _ = get(wd, "/sub", method="HEAD")
    assert status == 301 and h["Content-Length"] is None
    status, h, _ = get(wd, "/sub", method="GET")
    assert status == 301 and h["Content-Length"] == "0"


def test_directory_listing_not_modified(wd):
    status, h, _ = get(wd, "/list/")
    assert status == 200
    lm = h["Last-Modified"]
    status, h2, body = get(wd, "/list/", {"If-Modified-Since": lm})
    assert (status, body) == (304, b"")
    status, _, _ = get(wd, "/list/", {"If-Modified-Since": lm}, method="POST")
    assert status == 200
    status, _, _ = get(wd, "/list/", {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})
    assert status == 200


def test_epoch_time_is_unknown(wd, root):
    """Go takes a file time of exactly the epoch (as images built for
    reproducibility carry) for unknown: no Last-Modified, no date check."""
    p = root / "epoch.txt"
    p.write_bytes(b"epoch\n")
    os.utime(p, (0, 0))
    status, h, body = get(wd, "/epoch.txt")
    assert (status, body) == (200, b"epoch\n")
    assert "Last-Modified" not in h
    status, _, _ = get(wd, "/epoch.txt", {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert status == 200
    status, _, _ = get(wd, "/epoch.txt", {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert status == 200


def test_nul_in_path_is_500_as_go(wd):
    status, _, body = get(wd, "/a.txt%00")
    assert (status, body) == (500, b"500 Internal Server Error\n")


def test_head(wd):
    status, h, body = get(wd, "/a.txt", method="HEAD")
    assert status == 200
    assert body == b""
    assert h["Content-Length"] == str(len(TEXT))
    assert h["Content-Type"] == "text/plain; charset=utf-8"
    assert "ETag" in h and "Last-Modified" in h


def test_head_then_get_on_one_connection(wd):
    """HEAD sends no body, so the next response on the connection is intact."""
    out = raw_exchange(wd.port, b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=30)[0]
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert out.endswith(b"\r\n\r\n" + TEXT)


def test_keep_alive_after_file(wd):
    conn = wd.http_conn()
    try:
        for _ in range(3):
            conn.request("GET", "/a.txt")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == TEXT
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "QUERY"])
def test_other_methods_serve_the_file_as_get(wd, method):
    # Go's FileServer does not look at the method
    status, h, body = get(wd, "/a.txt", method=method)
    assert (status, body) == (200, TEXT)


def test_no_fprocess_needed(watchdog, root):
    w = static(watchdog, root)
    assert "fprocess" not in w.env
    assert request(w.port, "GET", "/a.txt")[0] == 200


def test_root_is_found_by_its_name_each_time(watchdog, tmp_path):
    """As Go's FileServer: a static_path that is a link swapped to a new
    release serves the new one at once; a root moved away is 404 until it
    is back."""
    for rel, text in (("rel-a", b"a\n"), ("rel-b", b"b\n")):
        (tmp_path / rel).mkdir()
        (tmp_path / rel / "v.txt").write_bytes(text)
    link = tmp_path / "current"
    os.symlink(tmp_path / "rel-a", link)
    w = watchdog({"mode": "static", "static_path": str(link)}, ready="healthy")
    assert get(w, "/v.txt")[::2] == (200, b"a\n")
    os.symlink(tmp_path / "rel-b", tmp_path / "next")
    os.replace(tmp_path / "next", link)
    assert get(w, "/v.txt")[::2] == (200, b"b\n")
    os.rename(tmp_path / "rel-b", tmp_path / "away")
    assert get(w, "/v.txt")[0] == 404
    os.rename(tmp_path / "away", tmp_path / "rel-b")
    assert get(w, "/v.txt")[::2] == (200, b"b\n")


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_static_path_fails_startup(watchdog, tmp_path, kind):
    path = tmp_path / "public"
    if kind == "file":
        path.write_text("x")
    w = watchdog({"mode": "static", "static_path": path}, ready=None)
    # a setting that cannot work: exit 2, as every invalid setting
    assert w.wait_exit(10) == 2
    assert "static_path" in w.stderr() and str(path) in w.stderr()


def _slow_download(port, path, rate_sleep, watch):
    """Read the whole response in 256 KiB pieces with pauses; returns
    (headers block, sha256, size, peak RSS KiB seen by watch())."""
    s = socket.create_connection((HOST, port), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    h = hashlib.sha256(rest)
    size, peak = len(rest), watch()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        chunk = s.recv(256 * 1024)
        if not chunk:
            break
        h.update(chunk)
        size += len(chunk)
        if rate_sleep:
            time.sleep(rate_sleep)
        peak = max(peak, watch())
    s.close()
    return head, h.hexdigest(), size, peak


def test_large_file_keeps_rss_low(watchdog, root):
    size = 50 * 1024 * 1024
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    with open(root / "big.bin", "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
            digest.update(block)
    w = static(watchdog, root)
    base = w.rss_kib()
    head, got, n, peak = _slow_download(w.port, "/big.bin", 0.002, w.rss_kib)
    assert head.startswith(b"HTTP/1.1 200")
    assert n == size
    assert got == digest.hexdigest()
    # sendfile in slices: the file never passes through the watchdog's memory.
    assert peak - base < 8 * 1024, (base, peak)
    # A range in the middle of the big file, through the same path.
    status, h, body = request(w.port, "GET", "/big.bin",
                              headers={"Range": "bytes=%d-%d" % (size // 2, size // 2 + 9)})
    assert status == 206 and len(body) == 10


def test_client_gone_mid_transfer(watchdog, root):
    with open(root / "big.bin", "wb") as f:
        f.truncate(20 * 1024 * 1024)
    w = static(watchdog, root)
    fds = fd_count(w.pid)
    for _ in range(5):
        s = socket.create_connection((HOST, w.port), timeout=10)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(65536)
        s.close()
    wait_until(lambda: fd_count(w.pid) <= fds, 10, 0.05)
    assert fd_count(w.pid) <= fds
    assert request(w.port, "GET", "/a.txt")[2] == TEXT


def test_pipelined_files_and_answers_keep_their_order(wd):
    """A file goes out from the descriptor, the other answers from memory:
    pipelined one after the other, they still arrive in the order asked."""
    paths = ["/a.txt", "/_/health", "/a.txt", "/missing", "/sub/", "/a.txt", "/_/health"]
    raw = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
    data, _ = raw_exchange(wd.port, raw + b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"
                           b"Connection: close\r\n\r\n", timeout=10)
    rs = parse_responses(data)
    assert [(r.status, r.body) for r in rs] == [
        (200, TEXT), (200, b"OK"), (200, TEXT), (404, b"404 page not found\n"),
        (200, b"<h1>sub index</h1>\n"), (200, TEXT), (200, b"OK"), (200, TEXT)]

