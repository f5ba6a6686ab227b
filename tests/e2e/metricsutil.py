"""The Prometheus text exposition format 0.0.4, parsed strictly, for the
metrics tests; scrape() reads a watchdog's /metrics through it."""
import math
import re

from harness import request


def scrape(wd, timeout=5):
    """GET /metrics on the watchdog's metrics port: (Response, families)."""
    r = request(wd.metrics_port, path="/metrics", timeout=timeout)
    assert r.status == 200, r
    return r, parse_exposition(r.body.decode("utf-8"))


# --------------------------------------------------------------------------
# Prometheus text format 0.0.4, parsed strictly
# --------------------------------------------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?Inf|NaN|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
SAMPLE_RE = re.compile(
    rf"^(?P<name>{METRIC_NAME})"
    rf"(?:\{{(?P<labels>(?:{LABEL_NAME}={LABEL_VALUE}(?:,{LABEL_NAME}={LABEL_VALUE})*,?)?)\}})?"
    rf" (?P<value>{VALUE})(?: (?P<ts>-?\d+))?$")
LABEL_RE = re.compile(rf"({LABEL_NAME})=({LABEL_VALUE})")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []  # (sample name, labels dict, value)

    def value(self, **labels):
        """The value of the sample named like the family with these labels;
        0 when that series does not exist (yet)."""
        for n, l, v in self.samples:
            if n == self.name and l == labels:
                return v
        return 0.0

    def __repr__(self):
        return f"<Family {self.name} {self.type} {len(self.samples)} samples>"


def _unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v[1:-1])


def _family_of(sample_name, families, current):
    """The family a sample belongs to: its own name, or a histogram/summary
    with the _bucket/_sum/_count suffix stripped."""
    if current is not None:
        if sample_name == current.name:
            return current
        for suffix in ("_bucket", "_sum", "_count"):
            if sample_name == current.name + suffix and current.type in ("histogram", "summary"):
                return current
    return None


def parse_exposition(text):
    """name -> Family. Raises AssertionError on anything the 0.0.4 text
    format does not allow, and on broken histograms."""
    assert text.endswith("\n"), "text must end with a newline"
    families = {}
    current = None
    seen_series = set()
    for i, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {i}: {line!r}"
        assert line != "", f"{where}: empty line"
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({METRIC_NAME}) (.*)$", line)
            if not m:
                assert not re.match(r"^#\s*(HELP|TYPE)\b", line), f"{where}: malformed {line[:6]}"
                continue  # a plain comment
            kind, name, rest = m.groups()
            fam = families.get(name)
            if fam is None:
                fam = families[name] = Family(name)
            else:
                assert fam is current and not fam.samples, \
                    f"{where}: {name} described again or after its samples"
            current = fam
            if kind == "HELP":
                assert fam.help is None, f"{where}: second HELP"
                assert re.fullmatch(r"(?:[^\\\n]|\\[\\n])*", rest), f"{where}: bad escape in HELP"
                fam.help = rest
            else:
                assert fam.type is None, f"{where}: second TYPE"
                assert rest in TYPES, f"{where}: unknown type"
                fam.type = rest
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"{where}: not a well-formed sample"
        name = m.group("name")
        labels = {}
        for ln, lv in LABEL_RE.findall(m.group("labels") or ""):
            assert ln not in labels, f"{where}: label {ln} twice"
            labels[ln] = _unescape(lv)
        fam = _family_of(name, families, current)
        if fam is None:
            assert name not in families, f"{where}: samples of {name} not grouped together"
            fam = current = families[name] = Family(name)  # untyped, no HELP
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen_series, f"{where}: duplicate series"
        seen_series.add(key)
        fam.samples.append((name, labels, float(m.group("value"))))
    for fam in families.values():
        check_family(fam)
    return families


def check_family(fam):
    assert fam.samples, f"{fam.name}: described but has no samples"
    if fam.type == "counter":
        for n, l, v in fam.samples:
            assert n == fam.name and v >= 0, f"{fam.name}: bad counter sample {n} {l} {v}"
    elif fam.type == "gauge":
        for n, _, _ in fam.samples:
            assert n == fam.name, f"{fam.name}: bad gauge sample {n}"
    elif fam.type == "histogram":
        check_histogram(fam)


def check_histogram(fam):
    """Per label set: buckets in increasing le, cumulative, the last +Inf,
    _count equal to the +Inf bucket, _sum present."""
    groups = {}
    for n, labels, v in fam.samples:
        base = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(base, {"buckets": [], "sum": None, "count": None})
        if n == fam.name + "_bucket":
            assert "le" in labels, f"{fam.name}: bucket without le"
            g["buckets"].append((float(labels["le"]), v))
        elif n == fam.name + "_sum":
            assert "le" not in labels and g["sum"] is None
            g["sum"] = v
        elif n == fam.name + "_count":
            assert "le" not in labels and g["count"] is None
            g["count"] = v
        else:
            raise AssertionError(f"{fam.name}: unexpected sample {n}")
    for base, g in groups.items():
        b = g["buckets"]
        assert b, f"{fam.name}{base}: no buckets"
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), f"{fam.name}{base}: le order {les}"
        assert math.isinf(les[-1]) and les[-1] > 0, f"{fam.name}{base}: last bucket is not +Inf"
        counts = [c for _, c in b]
        assert all(x <= y for x, y in zip(counts, counts[1:])), \
            f"{fam.name}{base}: buckets not cumulative {counts}"
        assert g["sum"] is not None, f"{fam.name}{base}: no _sum"
        assert g["count"] == counts[-1], f"{fam.name}{base}: _count {g['count']} != +Inf {counts[-1]}"


def total(fam):
    """Sum of a counter family over all its series (0 when absent)."""
    if fam is None:
        return 0.0
    return sum(v for n, _, v in fam.samples if n == fam.name)
