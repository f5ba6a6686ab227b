"""Every template in templates/: its files and Dockerfile have the required
pieces, and it really serves a request through the freshly built watchdog.

No Docker: the test lays the files out the way the Dockerfile's COPY lines do,
builds the C handler with the system compiler, and starts build/fwatchdog with
the Dockerfile's ENV settings in the directory that stands for its WORKDIR.
"""
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

import harness
import shiputil
from harness import REPO, Watchdog, free_port, request

TEMPLATES = REPO / "templates"
NAMES = ["bash-streaming", "c-stdio", "python3-http", "node-http",
         "static-site", "dockerfile"]
MODES = {"streaming", "serializing", "http", "static"}
WATCHDOG_IMAGE = "ghcr.io/fwatchdog/fwatchdog:latest"

# What a build stage does, run locally: keyed by template, then stage name.
BUILD_STEPS = {"c-stdio": {"build": ["make", "CC=" + os.environ.get("CC", "cc")]}}


def dockerfile_of(name):
    for p in (TEMPLATES / name / "Dockerfile",
              TEMPLATES / name / "function" / "Dockerfile"):
        if p.is_file():
            return p
    raise AssertionError("templates/%s has no Dockerfile" % name)


def read_template_yml(name):
    """Top-level `key: value` pairs of template.yml (no YAML library)."""
    out = {}
    for line in (TEMPLATES / name / "template.yml").read_text().splitlines():
        if not line or line[0] in " #\t":
            continue
        key, sep, value = line.partition(":")
        assert sep, "template.yml line %r" % line
        value = value.strip()
        if value[:1] in "'\"":
            value = shlex.split(value)[0] if value[1:-1] else ""
        out[key.strip()] = value
    return out


# --- files and Dockerfiles ---------------------------------------------------

def test_every_template_is_tested():
    found = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())
    assert found == sorted(NAMES)
    readme = (TEMPLATES / "README.md").read_text()
    for name in NAMES:
        assert "[%s]" % name in readme, "templates/README.md does not list " + name


@pytest.mark.parametrize("name", NAMES)
def test_template_files(name):
    meta = read_template_yml(name)
    assert meta.get("language") == name
    assert "fprocess" in meta
    handler = TEMPLATES / name / "function"
    assert handler.is_dir() and any(handler.iterdir())
    assert (TEMPLATES / name / "README.md").is_file()
    env, _ = shiputil.final_stage_env(dockerfile_of(name))
    assert env.get("fprocess", "") == meta["fprocess"], \
        "template.yml and the Dockerfile disagree on fprocess"


@pytest.mark.parametrize("name", NAMES)
def test_template_dockerfile(name):
    path = dockerfile_of(name)
    global_args, stages = shiputil.dockerfile_stages(path)
    assert ("ARG", "WATCHDOG_IMAGE=" + WATCHDOG_IMAGE) in global_args
    assert stages[0]["from"] == "${WATCHDOG_IMAGE}" and stages[0]["name"] == "watchdog"
    assert stages[0]["body"] == [], "the watchdog stage only names the image"

    final = stages[-1]["body"]
    words = [w for w, _ in final]
    assert ("COPY", "--from=watchdog /fwatchdog /usr/bin/fwatchdog") in final

    users = [a for w, a in final if w == "USER"]
    assert users, "the image must set a USER"
    assert users[-1].split(":")[0] not in ("root", "0"), "runs as root"
    assert words.index("USER") > words.index("WORKDIR")

    checks = [a for w, a in final if w == "HEALTHCHECK"]
    assert len(checks) == 1
    opts, _, cmd = checks[0].partition("CMD")
    assert shiputil.exec_form(cmd.strip()) == ["fwatchdog", "-run-healthcheck"]
    assert [shiputil.exec_form(a) for w, a in final if w == "CMD"] == [["fwatchdog"]]

    env, _ = shiputil.final_stage_env(path)
    assert env.get("mode") in MODES
    for key in ("read_timeout", "write_timeout"):
        assert key in env
    if env["mode"] != "static":
        assert env.get("fprocess"), "fprocess is required in %s mode" % env["mode"]
        assert "exec_timeout" in env
    if env["mode"] == "http":
        assert urlsplit(env["upstream_url"]).hostname == "127.0.0.1"
    if env["mode"] == "static":
        assert env.get("static_path")


# --- laying out and running a template ---------------------------------------

def _copy_tree_or_file(src, dest, into_dir):
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        target = dest / src.name if into_dir else dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _local(image_path, workdir, root):
    rel = os.path.relpath(os.path.normpath(image_path), workdir)
    assert not rel.startswith(".."), \
        "%s is outside WORKDIR %s: not emulated" % (image_path, workdir)
    return root / rel


def lay_out(name, tmp):
    """Each stage but the watchdog's becomes a directory standing for its
    WORKDIR, filled by its COPY lines; build stages run their BUILD_STEPS.
    Returns (app directory, its image WORKDIR)."""
    context = dockerfile_of(name).parent
    _, stages = shiputil.dockerfile_stages(dockerfile_of(name))
    done = {}
    for i, stage in enumerate(stages[1:], 1):
        root = tmp / (stage["name"] or "stage%d" % i)
        root.mkdir()
        workdir = "/"
        for word, args in stage["body"]:
            if word == "WORKDIR":
                workdir = os.path.join(workdir, args)
            if word != "COPY":
                continue
            words = args.split()
            flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
            *srcs, dest = [w for w in words if not w.startswith("--")]
            if flags.get("from") == "watchdog":
                continue  # the watchdog under test stands in for it
            dest_local = _local(os.path.join(workdir, dest), workdir, root)
            into_dir = dest.endswith("/") or dest in (".", "./") or len(srcs) > 1
            for src in srcs:
                if "from" in flags:
                    src_root, src_workdir = done[flags["from"]]
                    src_local = _local(os.path.join(src_workdir, src), src_workdir, src_root)
                else:
                    src_local = context / src
                assert src_local.exists(), "COPY source %s missing" % src_local
                _copy_tree_or_file(src_local, dest_local, into_dir)
        step = BUILD_STEPS.get(name, {}).get(stage["name"])
        if step:
            subprocess.run(step, cwd=root, check=True, timeout=120,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        done[stage["name"]] = (root, workdir)
    return root, workdir


def start_template(name, tmp):
    """A Watchdog (not yet started) for template `name`, with the ENV of its
    Dockerfile, paths under its WORKDIR mapped to the laid-out directory."""
    app, workdir = lay_out(name, tmp)
    env, _ = shiputil.final_stage_env(dockerfile_of(name))
    for key, value in env.items():
        if value == workdir or value.startswith(workdir.rstrip("/") + "/"):
            env[key] = str(_local(value, workdir, app))
    if "upstream_url" in env:  # a free port, so parallel runs do not collide
        url = urlsplit(env["upstream_url"])
        env["upstream_url"] = urlunsplit(url._replace(
            netloc="%s:%d" % (url.hostname, free_port())))
    state = tmp / "state"
    state.mkdir()
    env.update(shiputil.base_env(state, free_port()))
    return Watchdog(env, workdir=tmp / "wd", bare_env=True, cwd=app, ready=None, ready_timeout=15)


def assert_healthcheck_command(wd):
    """The image's HEALTHCHECK: fwatchdog -run-healthcheck, same TMPDIR."""
    r = harness.run_cli(["-run-healthcheck"], wd.env, wd.workdir)
    assert r.returncode == 0, "fwatchdog -run-healthcheck exited %d: %s" % (r.returncode, wd.describe())


def assert_drains(wd):
    rc = wd.terminate()
    assert rc == 0, "exit %s after SIGTERM: %s" % (rc, wd.describe())


def streaming_exchange(port, lines, timeout=15):
    """Sends `lines` as a chunked body one at a time, reading after each until
    the expected answer arrives: proves the answer streams before the request
    body ends. Returns the raw response bytes."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n")
        raw = b""
        for line, expect in lines:
            s.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            while expect not in raw:
                assert time.monotonic() < deadline, \
                    "no %r before the request ended; got %r" % (expect, raw)
                chunk = s.recv(65536)
                assert chunk, "connection closed early; got %r" % raw
                raw += chunk
        s.sendall(b"0\r\n\r\n")
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return raw
            raw += chunk
        raise AssertionError("response did not end; got %r" % raw)


def test_bash_streaming(tmp_path):
    with start_template("bash-streaming", tmp_path) as wd:
        wd.wait_healthy()
        status, _, body = request(wd.port, "POST", "/", b"world\nAda")
        assert (status, body) == (200, b"Hello, world!\nHello, Ada!\n"), wd.describe()
        raw = streaming_exchange(wd.port, [(b"Grace\n", b"Hello, Grace!"),
                                           (b"Linus\n", b"Hello, Linus!")])
        assert raw.startswith(b"HTTP/1.1 200"), raw
        assert_healthcheck_command(wd)
        assert_drains(wd)


def test_c_stdio(tmp_path):
    with start_template("c-stdio", tmp_path) as wd:
        wd.wait_healthy()
        status, headers, body = request(wd.port, "POST", "/", b"Ada\n")
        assert (status, body) == (200, b"Hello, Ada!\n"), wd.describe()
        assert headers["Content-Length"] == str(len(body))
        assert float(headers["X-Duration-Seconds"]) >= 0
        status, _, body = request(wd.port, "GET", "/")
        assert (status, body) == (200, b"Hello, world!\n")
        assert_healthcheck_command(wd)
        assert_drains(wd)


@pytest.mark.parametrize("name", ["python3-http", "node-http"])
def test_http_template(name, tmp_path):
    with start_template(name, tmp_path) as wd:
        wd.wait_healthy()
        status, headers, body = request(wd.port, "GET", "/hello?name=Ada",
                                        headers={"User-Agent": "e2e-test/1"})
        assert status == 200, wd.describe()
        assert headers["Content-Type"].startswith("application/json")
        answer = json.loads(body)
        assert answer["message"] == "Hello, Ada!"
        assert answer["method"] == "GET" and answer["path"] == "/hello"
        assert "e2e-test/1" in answer.values()

        status, _, body = request(wd.port, "POST", "/orders/7", b"a body",
                                  headers={"Content-Type": "text/plain"})
        answer = json.loads(body)
        assert status == 200 and answer["body"] == "a body"
        assert answer["path"] == "/orders/7" and answer["message"] == "Hello, world!"

        status, headers, body = request(wd.port, "DELETE", "/orders/7")
        assert status == 405, wd.describe()
        assert headers["Allow"] == "GET, POST"
        assert body == b"Method not allowed\n"
        assert_healthcheck_command(wd)
        assert_drains(wd)


def test_static_site(tmp_path):
    with start_template("static-site", tmp_path) as wd:
        wd.wait_healthy()
        index = (TEMPLATES / "static-site" / "function" / "index.html").read_bytes()
        status, headers, body = request(wd.port, "GET", "/")
        assert (status, body) == (200, index), wd.describe()
        assert headers["Content-Type"].startswith("text/html")
        status, headers, _ = request(wd.port, "GET", "/style.css")
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        status, _, _ = request(wd.port, "GET", "/no-such-page.html")
        assert status == 404
        assert_healthcheck_command(wd)
        assert_drains(wd)


def test_dockerfile_template(tmp_path):
    with start_template("dockerfile", tmp_path) as wd:
        wd.wait_healthy()
        status, _, body = request(wd.port, "POST", "/", b"hello")
        digest = hashlib.sha512(b"hello").hexdigest()
        assert (status, body) == (200, b"%s  -\n" % digest.encode()), wd.describe()
        assert_healthcheck_command(wd)
        assert_drains(wd)
