"""The top-level Dockerfile stays the thin wrapper around the build scripts
that the README and the tests use, and ships nothing but the binary."""
import re

import shiputil
from harness import REPO

DOCKERFILE = REPO / "Dockerfile"
FINAL_ALLOWED = {"ARG", "LABEL", "COPY", "ENTRYPOINT"}
OCI_LABELS = ("title", "description", "source", "licenses", "version")


def stages():
    return shiputil.dockerfile_stages(DOCKERFILE)


def run_commands(stage):
    return [a for w, a in stage["body"] if w == "RUN"]


def test_two_stages_build_then_scratch():
    global_args, st = stages()
    assert [s["name"] for s in st] == ["build", None]
    args = dict(a.split("=", 1) for w, a in global_args if w == "ARG" and "=" in a)
    base = st[0]["from"]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    assert re.fullmatch(r"debian:12(-slim)?|debian:bookworm(-slim)?", base), base
    assert st[1]["from"] == "scratch"


def test_build_stage_runs_the_scripts():
    _, st = stages()
    runs = " && ".join(run_commands(st[0]))
    assert re.search(r"(^|&& )scripts/deps\.sh( |$)", runs), runs
    assert re.search(r"(^|&& )scripts/build-static\.sh /out( |$)", runs), runs
    # The build itself lives in the scripts, where the tests exercise it.
    for tool in ("meson", "ninja", "gcc", "cc ", "strip", "apt-get install"):
        assert tool not in runs, "the Dockerfile runs %r itself" % tool


def test_build_stage_cross_compiles_for_the_target():
    """The build stage runs on the build machine's architecture and
    cross-compiles for the image's, so no stage runs under emulation."""
    froms = [a for w, a in shiputil.dockerfile_instructions(DOCKERFILE) if w == "FROM"]
    assert froms[0].split()[0] == "--platform=$BUILDPLATFORM", froms[0]
    _, st = stages()
    assert "TARGETARCH" in [a for w, a in st[0]["body"] if w == "ARG"]
    runs = " && ".join(run_commands(st[0]))
    assert re.search(r'scripts/deps\.sh --cross "\$TARGETARCH"', runs), runs
    assert re.search(r'scripts/build-static\.sh /out --arch "\$TARGETARCH"', runs), runs
    static = (REPO / "scripts" / "build-static.sh").read_text()
    assert "--arch" in static and "cross/$ARCH.ini" in static


def test_scripts_build_static():
    deps = (REPO / "scripts" / "deps.sh").read_text()
    static = (REPO / "scripts" / "build-static.sh").read_text()
    assert "apt-get" in deps
    assert re.search(r"scripts/build\.sh \"\$DIR\" -Dstatic=true", static)
    assert "strip" in static


def test_final_stage_is_only_the_binary():
    _, st = stages()
    body = st[1]["body"]
    words = {w for w, _ in body}
    assert words <= FINAL_ALLOWED, "unexpected in the scratch stage: %s" % (words - FINAL_ALLOWED)
    copies = [a for w, a in body if w == "COPY"]
    assert copies == ["--from=build /out/fwatchdog /fwatchdog"]
    entry = [shiputil.exec_form(a) for w, a in body if w == "ENTRYPOINT"]
    assert entry == [["/fwatchdog"]]


def test_oci_labels():
    _, st = stages()
    labels = " ".join(a for w, a in st[1]["body"] if w == "LABEL")
    for key in OCI_LABELS:
        assert "org.opencontainers.image.%s=" % key in labels, key


def test_dockerignore_keeps_host_builds_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "build*/" in ignored


def test_docs_show_the_same_build():
    doc = (REPO / "docs" / "image.md").read_text()
    assert "scripts/deps.sh" in doc and "scripts/build-static.sh" in doc
