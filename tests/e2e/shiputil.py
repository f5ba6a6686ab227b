"""Helpers for the image, template and static-binary tests: the environment
an image gives the watchdog, and Dockerfiles read as data (stdlib only)."""
import json
import os
import shlex
from pathlib import Path

from harness import DRAIN, SYSTEM_PATH


def base_env(tmpdir, port):
    """The environment every template's watchdog starts from."""
    return {
        "PATH": SYSTEM_PATH,
        "LANG": "C.UTF-8",
        "HOME": str(tmpdir),
        "TMPDIR": str(tmpdir),
        "port": str(port),
        "metrics_port": "0",
        "healthcheck_interval": DRAIN,
    }


# --- Dockerfiles -----------------------------------------------------------

def dockerfile_instructions(path):
    """[(INSTRUCTION, args)] with comments dropped and continuations joined."""
    out, pending = [], ""
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            word, _, args = line.partition(" ")
            out.append((word.upper(), args.strip()))
    assert not pending, "%s ends inside a continued line" % path
    return out


def dockerfile_stages(path):
    """(global ARGs, [stages]); a stage is {"from", "name", "body": [...]}"""
    global_args, stages = [], []
    for word, args in dockerfile_instructions(path):
        if word == "FROM":
            parts = args.split()
            parts = [p for p in parts if not p.startswith("--platform")]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append({"from": parts[0], "name": name, "body": []})
        elif not stages:
            global_args.append((word, args))
        else:
            stages[-1]["body"].append((word, args))
    return global_args, stages


def parse_env_args(args):
    """ENV's arguments: key=value pairs (quotes as in a shell) or `key value`."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: args.split(None, 1)[1].strip() if len(words) > 1 else ""}
    env = {}
    for w in words:
        key, sep, value = w.partition("=")
        assert sep, "ENV %r: expected key=value" % args
        env[key] = value
    return env


def final_stage_env(path):
    """The ENV settings and WORKDIR of a Dockerfile's last stage."""
    _, stages = dockerfile_stages(path)
    env, workdir = {}, "/"
    for word, args in stages[-1]["body"]:
        if word == "ENV":
            env.update(parse_env_args(args))
        elif word == "WORKDIR":
            workdir = os.path.join(workdir, args.strip())
    return env, workdir


def exec_form(args):
    """A JSON exec-form argument list, or None for the shell form."""
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) else None
