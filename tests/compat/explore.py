#!/usr/bin/python3
"""Differential exploration beyond the matrix: random configurations (valid
values of the settings, in every mode) and random requests (built from the
matrix's methods, paths, header sets and bodies), each group run against a
Go watchdog and against fwatchdog, and compared as the replay compares, with
differences.json applied. It prints what is left: each one is either a new
case for matrix.py (record it, then make fwatchdog agree) or a documented
difference that the case id mapping below did not reach.

    python3 tests/compat/explore.py --go /path/to/of-watchdog [--seed N] [--groups N]
    python3 tests/compat/explore.py --go /path/to/classic-watchdog --classic

Needs root for the network namespace, as record.py (the Go watchdogs bind
:8081 and every interface). A tool, not a test: nothing here is run by CI,
and the same seed gives the same groups.
"""
import argparse
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import matrix  # noqa: E402
import record  # noqa: E402
import test_replay  # noqa: E402

DURATIONS = ["1s", "2", "+2", "1500ms", "1m", "0", "0s", "1.5s", "", "3h", "1m30s", "10", "-1s",
             "2500us"]
INTS = ["0", "1", "2", "", "10", "100", "-1", "+1"]
BOOLS = ["true", "false", "1", "0", ""]
CONTENT_TYPES = ["text/plain", "", "application/json; charset=utf-8"]
OF_MODES = ["streaming", "serializing", "http", "http", "static", ""]
UPSTREAM_URLS = ["http://127.0.0.1:{UPSTREAM_PORT}", "http://127.0.0.1:{UPSTREAM_PORT}/",
                 "http://127.0.0.1:{UPSTREAM_PORT}/prefix", "http://127.0.0.1:{UPSTREAM_PORT}/a/b/",
                 "http://localhost:{UPSTREAM_PORT}", "HTTP://127.0.0.1:{UPSTREAM_PORT}"]
EXTRA_PATHS = ["/echo", "/headers", "/status/201", "/status/404", "/chunked", "/empty", "/noct",
               "/_/health", "/_/ready", "/fn/stderr", "/fn/exit-before", "/fn/silent"]


def pick_settings(rng, env, table):
    for name, values in table:
        if rng.random() < 0.25:
            env[name] = rng.choice(values)
    return env


def classic_env(rng):
    env = {"fprocess": rng.choice(["fn.sh a b", "fn.sh env", "cat"])}
    return pick_settings(rng, env, [
        ("exec_timeout", DURATIONS), ("read_timeout", DURATIONS), ("write_timeout", DURATIONS),
        ("max_inflight", INTS), ("suppress_lock", BOOLS), ("combine_output", BOOLS),
        ("write_debug", BOOLS), ("marshal_request", BOOLS), ("debug_headers", BOOLS),
        ("cgi_headers", BOOLS), ("content_type", CONTENT_TYPES)])


def of_env(rng):
    mode = rng.choice(OF_MODES)
    env = {"fprocess": "fn.sh a b", "mode": mode}
    if mode == "http":
        env["fprocess"] = "upstream.py"
        env["upstream_url"] = rng.choice(UPSTREAM_URLS)
    if mode == "static":
        env["static_path"] = "{STATIC}"
    # of-watchdog refuses write_timeout=0 (so does fwatchdog): not explored
    return pick_settings(rng, env, [
        ("exec_timeout", DURATIONS), ("read_timeout", DURATIONS),
        ("write_timeout", [d for d in DURATIONS if d not in ("0", "0s")]),
        ("healthcheck_interval", DURATIONS), ("max_inflight", INTS), ("prefix_logs", BOOLS),
        ("suppress_lock", BOOLS), ("buffer_http", BOOLS), ("http_buffer_req_body", BOOLS),
        ("log_buffer_size", [v for v in INTS if v]), ("content_type", CONTENT_TYPES)])


def request(rng):
    method = rng.choice(matrix.METHODS + ["GET", "POST", "POST"])
    path = rng.choice(EXTRA_PATHS) if rng.random() < 0.3 else rng.choice(matrix.PATHS)[1]
    headers = list(rng.choice(matrix.HEADER_SETS)[1])
    if rng.random() < 0.3:
        headers += rng.choice(matrix.HEADER_SETS)[1]
    body = None
    if method in ("POST", "PUT", "PATCH") or rng.random() < 0.1:
        body = rng.choice(matrix.BODIES[:6])[1]
    return matrix.rq(method, path, headers, body)


def make_group(rng, gid, classic):
    env = classic_env(rng) if classic else of_env(rng)
    cases = []
    for j in range(rng.randint(2, 6)):
        if rng.random() < 0.15:
            cases.append(matrix.case("c%d" % j, kind="sequence",
                                     requests=[request(rng) for _ in range(rng.randint(2, 3))]))
        else:
            cases.append(matrix.case("c%d" % j, request(rng), timeout=10))
    g = matrix.group(gid, matrix.CLASSIC if classic else matrix.OF, env, cases)
    if env.get("mode") == "http":
        g["upstream_wait"] = True
    if env.get("mode") == "static":
        g["static"] = True
    return g


def corpus_base(g, classic):
    """The matrix group of the same mode."""
    if classic:
        return "classic"
    return {"serializing": "of-serializing", "http": "of-http",
            "static": "of-static"}.get(g["env"].get("mode"), "of-streaming")


# Settings whose explored values make the Go watchdog behave as a matrix
# group that records them: (classic, setting, values, the group's case ids).
SETTING_GROUPS = [
    (False, "suppress_lock", ["1"], ["of-suppress-lock-one/x"]),
    (False, "log_buffer_size", ["-1"], ["of-logbuf-unlimited/x"]),
    (False, "log_buffer_size", ["0", "1", "2", "10", "100", "+1"], ["of-logbuf-small/x"]),
    (False, "write_timeout", ["2500us"], ["of-write-timeout/slow"]),
    (True, "write_timeout", ["2500us"], ["classic-timeouts/slow"]),
]

# Paths whose function behaves as a matrix case: path -> case name.
BEHAVIOURS = {"/fn/exit-before": "behaviour/exit-before"}


def requests_of(case):
    return case.get("requests") or ([case["request"]] if case.get("request") else [])


def header_sets(case):
    """The names of matrix.HEADER_SETS a case's requests carry."""
    names = set()
    for r in requests_of(case):
        sent = r.get("headers", [])
        for name, hs in matrix.HEADER_SETS:
            if hs and all(list(h) in sent for h in hs):
                names.add(name)
    return names


def corpus_ids(g, case, classic):
    """The case ids differences.json is matched against: the matrix group of
    the same mode, and the matrix cases that record what this case's
    settings, header sets and paths make the Go watchdog do."""
    base = corpus_base(g, classic)
    suffix = case["id"][len(g["id"]):]
    ids = [base + suffix]
    for of_classic, setting, values, cases in SETTING_GROUPS:
        if of_classic == classic and g["env"].get(setting) in values:
            ids += cases
    if base == "of-serializing" and g["env"].get("exec_timeout") == "2500us":
        ids.append("of-serializing/behaviour/slow")
    if suffix == "/startup":
        return ids
    ids += ["%s/headers/x/%s" % (base, name) for name in sorted(header_sets(case))]
    for r in requests_of(case):
        if r["target"] in BEHAVIOURS:
            ids.append("%s/%s" % (base, BEHAVIOURS[r["target"]]))
    return ids


def unexplained(g, go, fw, classic):
    cases = {c["id"]: c for c in g["cases"]}
    cases[g["id"] + "/startup"] = {"id": g["id"] + "/startup"}
    out = []
    for cid, exp in go.items():
        if cid not in fw:
            out.append("%s: no observation from fwatchdog" % cid)
            continue
        ids = corpus_ids(g, cases.get(cid, {"id": cid}), classic)
        # Several matrix cases describe one explored case, and one answer
        # may differ for two documented reasons at once.
        _, left = test_replay.judge(ids[0], test_replay.compare(exp, fw[cid]), also=ids[1:])
        if left:
            out.append(test_replay.explain(cid, left))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--go", required=True, help="the Go watchdog binary")
    ap.add_argument("--classic", action="store_true", help="--go is the classic watchdog")
    ap.add_argument("--bin", default=os.environ.get("FWATCHDOG_BIN",
                                                    str(HERE.parent.parent / "build" / "fwatchdog")))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--groups", type=int, default=20)
    a = ap.parse_args()
    # Each watchdog runs in its own work directory.
    a.bin = os.path.abspath(a.bin)
    a.go = os.path.abspath(a.go)
    record.enter_netns()
    rng = random.Random(a.seed)
    extra = {"metrics_port": "0"}
    if a.classic:
        extra["mode"] = "classic"
    found = 0
    for i in range(a.groups):
        g = make_group(rng, "x%d-%d" % (a.seed, i), a.classic)
        go = harness.GroupRun(g, a.go).run()
        fw = harness.GroupRun(g, a.bin, extra_env=extra).run()
        out = unexplained(g, go, fw, a.classic)
        if out:
            found += 1
            print("=== %s env=%s" % (g["id"], json.dumps(g["env"])))
            for c in g["cases"]:
                print("    case %s: %s" % (c["id"], json.dumps(c.get("request") or c.get("requests"))))
            print("\n".join(out), flush=True)
    print("%d of %d groups differ" % (found, a.groups), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
