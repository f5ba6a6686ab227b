"""Replays the compatibility matrix against fwatchdog and compares every
observation with the transcripts recorded from the Go watchdogs
(transcripts/of-watchdog.json, transcripts/classic-watchdog.json) and the
hand-written ones (transcripts/handmade.json).

A difference passes only when an entry of differences.json covers it (case
id pattern and field). The binary is $FWATCHDOG_BIN, else build/fwatchdog.
Groups run in parallel ($COMPAT_JOBS, default 3); each watchdog gets
metrics_port=0 (and mode=classic for the classic watchdog's groups).

    /usr/bin/python3 -m pytest -q tests/compat
"""
import concurrent.futures
import fnmatch
import json
import os
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import matrix  # noqa: E402

TRANSCRIPTS = HERE / "transcripts"
DIFFERENCES = HERE / "differences.json"


def binary():
    env = os.environ.get("FWATCHDOG_BIN")
    return str(Path(env).resolve()) if env else str(REPO / "build" / "fwatchdog")


def load_transcripts():
    """case id -> transcript entry, and the handmade groups."""
    cases = {}
    for name in ("of-watchdog.json", "classic-watchdog.json"):
        data = json.loads((TRANSCRIPTS / name).read_text())
        for g in data["groups"]:
            for c in g["cases"]:
                cases[c["id"]] = c
    handmade = json.loads((TRANSCRIPTS / "handmade.json").read_text())
    for g in handmade["groups"]:
        for c in g["cases"]:
            cases[c["id"]] = c
    return cases, handmade["groups"]


def handmade_group(g):
    """A handmade transcript group as a matrix group."""
    out = {"id": g["id"], "watchdog": g["watchdog"], "env": g["env"],
           "cases": [c for c in g["cases"] if c.get("kind") != "startup"]}
    for k in ("static", "upstream_wait", "startup_only", "lock_wait"):
        if k in g:
            out[k] = g[k]
    return out


EXPECTED, HANDMADE = load_transcripts()
GROUPS = matrix.all_groups() + [handmade_group(g) for g in HANDMADE]
ALL_IDS = []
for _g in GROUPS:
    if _g["id"] + "/startup" in EXPECTED:
        ALL_IDS.append(_g["id"] + "/startup")
    ALL_IDS += [c["id"] for c in _g["cases"]]
ALLOW = json.loads(DIFFERENCES.read_text())["differences"]


# --------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------

def header_map(headers):
    out = {}
    for k, v in headers:
        out.setdefault(k, []).append(v)
    return out


def compare_response(prefix, exp, act, subset):
    diffs = _Diffs(exp, act)
    if "error" in exp or "error" in act:
        if exp.get("error") != act.get("error"):
            diffs.append((prefix + "error", exp.get("error"), act.get("error")))
        if "status" not in exp or "status" not in act:
            if exp.get("status") != act.get("status"):
                diffs.append((prefix + "status", exp.get("status"), act.get("status")))
            return diffs
    for k in ("status", "reason", "version", "framing", "body", "interim"):
        if subset and k not in exp:
            continue
        if exp.get(k) != act.get(k):
            diffs.append((prefix + k, exp.get(k), act.get(k)))
    if subset and "headers" not in exp:
        return diffs
    eh, ah = header_map(exp.get("headers", [])), header_map(act.get("headers", []))
    names = sorted(set(eh) | (set() if subset else set(ah)))
    for n in names:
        if eh.get(n) != ah.get(n):
            diffs.append((prefix + "header:" + n, eh.get(n), ah.get(n)))
    if "order" in exp and "order" in act:
        eo, ao = shared_order(exp["order"], act["order"])
        if eo != ao:
            diffs.append((prefix + "order", eo, ao))
    return diffs


def shared_order(a, b):
    """The order of the names two heads both have, each name once where its
    run of lines starts: the fields one head has and the other has not
    (framing, documented extras) are compared as headers, not here."""
    both = set(a) & set(b)

    def runs(names):
        out = []
        for n in names:
            if n in both and (not out or out[-1] != n):
                out.append(n)
        return out
    return runs(a), runs(b)


class _Diffs(list):
    """A list of (field, go value, fwatchdog value) that remembers, for each
    field, the observations it was found in (for "when" conditions)."""

    def __init__(self, exp, act):
        super().__init__()
        self.ctx = {}
        self.exp, self.act = exp, act

    def append(self, item):
        super().append(item)
        self.ctx[item[0]] = (self.exp, self.act)

    def __iadd__(self, other):
        for item in other:
            super().append(item)
            self.ctx[item[0]] = other.ctx.get(item[0], (self.exp, self.act))
        return self


def field_value(obs, name):
    """The value of a compared field in one response or observation."""
    if name.startswith("header:"):
        return header_map(obs.get("headers", [])).get(name[7:])
    return obs.get(name)


def compare(exp, act, subset=False):
    """[(field, expected, actual)] for one case (a _Diffs)."""
    diffs = _Diffs(exp, act)
    if "responses" in exp or "responses" in act:
        er, ar = exp.get("responses", []), act.get("responses", [])
        if len(er) != len(ar):
            diffs.append(("responses", len(er), len(ar)))
        for i, (e, a) in enumerate(zip(er, ar)):
            prefix = "" if len(er) == 1 else "r%d." % (i + 1)
            diffs += compare_response(prefix, e, a, subset)
    for k in ("log", "seen", "listening", "exit_code", "running"):
        if subset and k not in exp:
            continue
        if k in exp or k in act:
            if exp.get(k) != act.get(k):
                diffs.append((k, exp.get(k), act.get(k)))
    return diffs


def log_diff(exp, act):
    """(lines only in exp, lines only in act) of two line lists."""
    exp, act = list(exp or []), list(act or [])
    missing = []
    for line in exp:
        if line in act:
            act.remove(line)
        else:
            missing.append(line)
    return missing, act


def as_lines(v):
    if v is None:
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, str):
        return v.splitlines()
    return None


def applies(entry, case_ids, field):
    """case_ids: the ids one case is known by (the replay's one, or the
    several matrix cases an explored case stands for)."""
    return any(fnmatch.fnmatchcase(c, p) for c in case_ids for p in entry["cases"]) and \
        any(fnmatch.fnmatchcase(field, f) for f in entry["fields"])


def line_field(field):
    return field.split(".")[-1] in ("log", "body")


def when_holds(entry, ctx):
    """An entry's "when": {"go": {field: value}, "fwatchdog": {...}} against
    the response (or observation) the difference was found in."""
    w = entry.get("when")
    if not w:
        return True
    exp, act = ctx
    return all(field_value(exp, k) == v for k, v in w.get("go", {}).items()) and \
        all(field_value(act, k) == v for k, v in w.get("fwatchdog", {}).items())


def covered_by(case_ids, field, exp, act, ctx=None):
    """(ids of the differences.json entries used, what is left uncovered).

    An entry applies to the case ids matching one of its "cases" patterns
    and the fields matching one of its "fields" patterns, when its "when"
    conditions hold. For a log or a body, an entry with "lines_missing" /
    "lines_extra" (regexes) covers the lines missing from fwatchdog's or
    extra in it that match one (several entries may share one field; what
    is left is (missing lines, extra lines)); "fwatchdog": {field: value}
    limits an entry to that value of fwatchdog's; otherwise an entry covers
    the whole field. Left is None when nothing is."""
    entries = [e for e in ALLOW if applies(e, case_ids, field)
               and (ctx is None or when_holds(e, ctx))]
    linewise = []
    for e in entries:
        if line_field(field) and ("lines_missing" in e or "lines_extra" in e):
            linewise.append(e)
            continue
        if "fwatchdog" in e and field in e["fwatchdog"] and e["fwatchdog"][field] != act:
            continue
        return [e["id"]], None
    el, al = as_lines(exp), as_lines(act)
    # an order is a sequence, never a set of lines
    if el is None or al is None or field.split(".")[-1] == "order":
        return [], (exp, act)
    missing, extra = log_diff(el, al)
    used = []
    for e in linewise:
        pats_m = [re.compile(p) for p in e.get("lines_missing", [])]
        pats_e = [re.compile(p) for p in e.get("lines_extra", [])]
        m2 = [x for x in missing if not any(p.search(x) for p in pats_m)]
        x2 = [x for x in extra if not any(p.search(x) for p in pats_e)]
        if len(m2) != len(missing) or len(x2) != len(extra):
            used.append(e["id"])
        missing, extra = m2, x2
    if missing or extra:
        return used, (missing, extra)
    return used, None


# Lengths that follow a body: the Content-Length of the answer, and the
# sizes in the request log lines ("ContentLength: 12B", "Wrote 12 Bytes").
SIZE = re.compile(r"(ContentLength: )-?[0-9.]+[kMG]?B|(Wrote )\d+( Bytes)")


def mask_sizes(line):
    return SIZE.sub(lambda m: (m.group(1) or m.group(2)) + "<size>" + (m.group(3) or "B"), line)


def sizes_follow_body(unexplained, body_ids):
    """A body difference that an entry accepts brings its sizes along: the
    Content-Length and the sizes in log lines then differ too, and count as
    part of that same difference."""
    if not body_ids:
        return unexplained
    left = []
    for field, e, a, rest in unexplained:
        name = field.split(".")[-1]
        if name == "header:Content-Length":
            continue
        if name == "log" and isinstance(rest, tuple):
            missing = [mask_sizes(x) for x in rest[0]]
            extra = [mask_sizes(x) for x in rest[1]]
            m2, x2 = log_diff(missing, extra)
            if not m2 and not x2:
                continue
            rest = (m2, x2)
        left.append((field, e, a, rest))
    return left


def judge(case_id, diffs, also=()):
    """(ids of the differences.json entries used, what they leave
    unexplained) for the diffs of one case, as compare gives them; an entry
    of any of the case ids in also applies too."""
    hits, unexplained, body_ids = [], [], []
    for field, e, a in diffs:
        hit, left = covered_by((case_id, *also), field, e, a, diffs.ctx.get(field))
        hits += hit
        if left is not None:
            unexplained.append((field, e, a, left))
        elif field.split(".")[-1] == "body":
            body_ids += hit
    return hits, sizes_follow_body(unexplained, body_ids)


def explain(case_id, unexplained):
    lines = ["%s: %d difference(s) from the Go watchdog not in differences.json"
             % (case_id, len(unexplained))]
    for field, e, a, left in unexplained:
        if line_field(field) and as_lines(e) is not None and as_lines(a) is not None:
            missing, extra = left
            lines.append("  %s:" % field)
            lines += ["    - (Go only)   %s" % x for x in missing]
            lines += ["    + (fwatchdog) %s" % x for x in extra]
        else:
            lines.append("  %s:\n    go:        %s\n    fwatchdog: %s"
                         % (field, json.dumps(e, ensure_ascii=False)[:600],
                            json.dumps(a, ensure_ascii=False)[:600]))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------

def run_group(g, binary_path):
    extra = {"metrics_port": "0"}
    if g["watchdog"] == matrix.CLASSIC:
        extra["mode"] = "classic"
    expected = {cid: EXPECTED[cid]["expect"] for cid in
                [g["id"] + "/startup"] + [c["id"] for c in g["cases"]] if cid in EXPECTED}
    return harness.GroupRun(g, binary_path, extra_env=extra, replay=True,
                            expected=expected).run()


@pytest.fixture(scope="session")
def outcomes():
    """Runs every group once; case id -> (actual, diffs, unexplained)."""
    path = binary()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("fwatchdog binary not found at %s (scripts/build.sh or FWATCHDOG_BIN)" % path,
                    pytrace=False)
    jobs = int(os.environ.get("COMPAT_JOBS", "3"))
    order = sorted(GROUPS, key=lambda g: -len(g["cases"]))
    actual = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for res in ex.map(lambda g: run_group(g, path), order):
            actual.update(res)
    out = {}
    used = {e["id"]: [] for e in ALLOW}
    for cid in ALL_IDS:
        entry = EXPECTED.get(cid)
        if entry is None or cid not in actual:
            out[cid] = (actual.get(cid), None, None)
            continue
        diffs = compare(entry["expect"], actual[cid], subset=entry.get("handmade", False))
        hits, unexplained = judge(cid, diffs)
        for h in hits:
            used[h].append(cid)
        out[cid] = (actual[cid], diffs, unexplained)
    out["__used__"] = used
    if os.environ.get("COMPAT_ACTUAL_OUT"):
        Path(os.environ["COMPAT_ACTUAL_OUT"]).write_text(json.dumps(
            {k: v[0] for k, v in out.items() if k != "__used__"}, indent=1, ensure_ascii=False))
    return out


def test_transcripts_match_matrix():
    """Every matrix case has a recorded transcript with the same request, and
    every recorded case is still in the matrix."""
    problems = []
    matrix_ids = set()
    for g in matrix.all_groups():
        matrix_ids.add(g["id"] + "/startup")
        for c in [{"id": g["id"] + "/startup"}] + g["cases"]:
            matrix_ids.add(c["id"])
            e = EXPECTED.get(c["id"])
            if e is None:
                problems.append("not recorded: " + c["id"])
                continue
            for k in ("request", "requests"):
                if c.get(k) != e.get(k):
                    problems.append("request changed since recording: " + c["id"])
    for cid, e in EXPECTED.items():
        if not e.get("handmade") and cid not in matrix_ids:
            problems.append("recorded but no longer in the matrix: " + cid)
    assert not problems, "re-record (tests/compat/README.md):\n" + "\n".join(problems[:50])


@pytest.mark.parametrize("case_id", ALL_IDS)
def test_case(outcomes, case_id):
    actual, diffs, unexplained = outcomes[case_id]
    assert diffs is not None, "%s: no transcript or no observation" % case_id
    assert not unexplained, explain(case_id, unexplained)


def test_no_stale_differences(outcomes):
    """Every entry of differences.json is used by at least one case."""
    used = outcomes["__used__"]
    stale = [k for k, v in used.items() if not v]
    assert not stale, "differences.json entries no case needs: %s" % ", ".join(stale)


def test_differences_well_formed():
    ids = [e["id"] for e in ALLOW]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for e in ALLOW:
        for k in ("id", "cases", "fields", "go", "fwatchdog_does", "reason"):
            assert k in e, "%s: missing %s" % (e.get("id"), k)


def test_readme_lists_differences():
    """README.md's Differences section is made from exactly these entries
    (tests/compat/differences_md.py --write)."""
    import differences_md
    readme = (REPO / "README.md").read_text()
    held = differences_md.readme_block(readme)
    assert held is not None, "README.md has no generated list of differences"
    assert held == differences_md.block(ALLOW), \
        "README.md's list of differences is stale: python3 tests/compat/differences_md.py --write"
