#!/usr/bin/env python3
"""Records the compatibility transcripts: runs the matrix (matrix.py) against
a reference watchdog binary and writes transcripts/<watchdog>.json.

    record.py --watchdog of-watchdog --bin /path/to/of-watchdog
    record.py --watchdog classic-watchdog --bin /path/to/classic-watchdog
    record.py ... --group of-http --out /tmp/x.json   (some groups only)
    record.py ... --check        (record, and fail if the file would change)

The reference binaries are built from the upstream sources outside this
repository (see README.md in this directory); they are never committed.

The Go watchdogs listen on all addresses and always bind the metrics port
8081, so as root the recorder runs itself in a private network namespace
(unshare -n, loopback only): nothing is reachable from outside and 8081
cannot clash with anything else on the machine. Groups run one after the
other. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import matrix  # noqa: E402

REFERENCES = {"of-watchdog": "of-watchdog@77e0a2e", "classic-watchdog": "classic-watchdog@d2e0504"}


def enter_netns():
    """Re-run this command in a new network namespace with loopback up."""
    if os.environ.get("COMPAT_NETNS") or os.geteuid() != 0:
        return
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        return
    script = 'ip link set lo up && exec "$@"'
    env = dict(os.environ, COMPAT_NETNS="1")
    os.execvpe("unshare", ["unshare", "-n", "sh", "-c", script, "sh",
                           sys.executable] + sys.argv, env)


def case_entry(case, reference):
    e = {"id": case["id"], "reference": reference, "kind": case.get("kind", "request")}
    for k in ("request", "requests"):
        if k in case:
            e[k] = case[k]
    return e


def transcript(watchdog, groups, results, reference):
    out = {"reference": reference, "watchdog": watchdog,
           "note": "Recorded by tests/compat/record.py; normalised (see harness.py).",
           "groups": []}
    for g in groups:
        gd = {"id": g["id"], "env": g["env"]}
        for k in ("static", "startup_only"):
            if g.get(k):
                gd[k] = g[k]
        sid = g["id"] + "/startup"
        cases = [{"id": sid, "reference": reference, "kind": "startup", "expect": results[sid]}]
        for c in g["cases"]:
            e = case_entry(c, reference)
            e["expect"] = results[c["id"]]
            cases.append(e)
        gd["cases"] = cases
        out["groups"].append(gd)
    return out


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--watchdog", required=True, choices=sorted(REFERENCES))
    ap.add_argument("--bin", required=True)
    ap.add_argument("--reference")
    ap.add_argument("--group", action="append")
    ap.add_argument("--out")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--no-netns", action="store_true")
    a = ap.parse_args()
    if not a.no_netns:
        enter_netns()
    reference = a.reference or REFERENCES[a.watchdog]
    groups = matrix.groups_for(a.watchdog)
    if a.group:
        groups = [g for g in groups if g["id"] in a.group]
    results = {}
    t0 = time.monotonic()
    for g in groups:
        t = time.monotonic()
        results.update(harness.GroupRun(g, a.bin).run())
        print("%-36s %3d cases %6.1fs" % (g["id"], len(g["cases"]), time.monotonic() - t),
              file=sys.stderr, flush=True)
    ncases = sum(len(g["cases"]) for g in groups)
    print("%d cases in %d groups, %.1fs" % (ncases, len(groups), time.monotonic() - t0),
          file=sys.stderr)
    text = dump(transcript(a.watchdog, groups, results, reference))
    out = Path(a.out) if a.out else HERE / "transcripts" / (a.watchdog + ".json")
    if a.check:
        old = out.read_text() if out.exists() else ""
        if old != text:
            new = out.with_suffix(".new.json")
            new.write_text(text)
            print("differs from %s; the new recording is in %s" % (out, new), file=sys.stderr)
            return 1
        print("same as %s" % out, file=sys.stderr)
        return 0
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
