#!/usr/bin/python3
"""Draws bench/results.md as bench/chart.svg: fwatchdog beside the Go
watchdog, as fractions of each row's limit, added latency, memory and start
times, with the proxies of the http group for reading the http rows.

    bench/chart.py [results.md [chart.svg]]

Needs matplotlib (Debian python3-matplotlib). Rows missing from the results
(an ONLY= subset, no REF_WD) are left out of the chart.
"""
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
COLORS = {
    "fwatchdog": "#1f77b4",
    "Go of-watchdog": "#d62728",
    "byte relay": "#b0b0b0",
    "relay + llhttp + log": "#c9b38c",
    "the same, sent Go's fields": "#8c6d31",
    "haproxy tcp": "#8c8c8c",
    "haproxy http": "#5f5f5f",
    "nginx proxy_pass": "#2f2f2f",
}
PROXIES = [("byte relay", "reference: byte relay, no HTTP"),
           ("relay + llhttp + log", "reference: relay + llhttp + an access-log line"),
           ("the same, sent Go's fields", "reference: the logging relay sent"),
           ("haproxy tcp", "reference: haproxy mode tcp"),
           ("haproxy http", "reference: haproxy mode http"), ("nginx proxy_pass", "reference: nginx proxy_pass")]


def read(path):
    """The header lines and {label: [cells]} of a results.md."""
    head, rows = [], {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| benchmark"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
        elif line and not line.startswith("|"):
            head.append(line.replace("\t", " "))
    return head, rows


def num(cell):
    m = re.match(r"-?[\d.]+", cell or "")
    return float(m.group(0)) if m else None


def added(cell):
    m = re.search(r"\(([+-]\d+)\)", cell or "")
    return float(m.group(1)) if m else None


def find(rows, prefix, conns=None, contains=""):
    """The cells of the first row whose label starts with prefix and has
    contains in it (and, with conns, that many connections)."""
    for label, cells in rows.items():
        if label.startswith(prefix) and contains in label and (conns is None or f", {conns} conn" in label):
            return cells
    return None


def value_text(value):
    """A bar's figure: whole numbers (microseconds) as they are, fractions
    to two places, and anything from 10 up to the unit."""
    if abs(value) >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}"


def panel(ax, groups, title, xlabel, log=False, line=None):
    """groups: [(name, [(series, value)])], drawn as grouped horizontal bars;
    returns the height it needs, in bars."""
    groups = [(n, [(s, v) for s, v in bars if v is not None]) for n, bars in groups]
    groups = [(n, bars) for n, bars in groups if bars]
    bar, gap = 1.0, 0.8
    y, ticks, names = 0.0, [], []
    for name, bars in groups:
        for i, (series, value) in enumerate(bars):
            ax.barh(y + i * bar, value, height=bar * 0.9, color=COLORS[series])
            ax.text(value, y + i * bar, " " + value_text(value), va="center", fontsize=7)
        ticks.append(y + (len(bars) - 1) * bar / 2)
        names.append(name)
        y += len(bars) * bar + gap
    ax.set_yticks(ticks, names, fontsize=8)
    ax.set_ylim(y - gap + 0.1, -0.6)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    if log:
        ax.set_xscale("log")
    if line is not None:
        ax.axvline(line, color="black", linewidth=0.6, linestyle=":")
    ax.margins(x=0.12)
    return y


def body_size(rows):
    """The body size of the body rows ("1 GiB" unless BIG= said otherwise)."""
    for label in rows:
        m = re.match(r"streaming, (.+?) through cat", label)
        if m:
            return m.group(1)
    return "1 GiB"


def ratios(rows):
    def pair(cells):
        return [("fwatchdog", num(cells[3])), ("Go of-watchdog", num(cells[4]))] if cells else []

    groups = []
    for mode in ("streaming", "serializing"):
        for c in (1, 32):
            groups.append((f"{mode}, cat, {c} conn\n(limit: spawn loop)", pair(find(rows, f"{mode}, cat", c))))
    for c in (1, 32):
        bars = pair(find(rows, "http mode, nginx upstream", c))
        for series, prefix in PROXIES:
            cells = find(rows, prefix, c)
            bars.append((series, num(cells[3]) if cells else None))
        groups.append((f"http mode, nginx, {c} conn\n(limit: nginx direct)", bars))
    for c in (1, 32):
        bars = pair(find(rows, "pinned (", c))
        for series, prefix in PROXIES:
            cells = find(rows, "pinned: " + prefix, c)
            bars.append((series, num(cells[3]) if cells else None))
        groups.append((f"http mode, nginx, {c} conn, pinned\n(client, proxy + nginx: one CPU each)", bars))
    for c in (1, 16):
        bars = pair(find(rows, "Express app (bench/express)", c))
        cells = find(rows, "reference: byte relay (bench/relay.c) in front of the Express app", c)
        bars.append(("byte relay", num(cells[3]) if cells else None))
        groups.append((f"Express app, {c} conn\n(limit: the app direct)", bars))
    big = body_size(rows)
    groups.append((f"streaming, {big} through cat\n(limit: pipes, no HTTP)",
                   pair(find(rows, "streaming, ", contains=" through cat (MB/s"))))
    groups.append((f"http mode, {big} to a sink\n(limit: sink direct)",
                   pair(find(rows, "http mode, ", contains=" POST to an upstream that reads it all"))))
    return groups


def latencies(rows):
    groups = []
    for p in (50,):
        cells = find(rows, f"http mode, 1 conn, p{p} latency")
        bars = [("fwatchdog", added(cells[0])), ("Go of-watchdog", added(cells[1]))] if cells else []
        for series, prefix in PROXIES:
            c = find(rows, prefix, contains=f"p{p} latency")
            bars.append((series, added(c[0]) if c else None))
        groups.append((f"http mode, nginx, p{p}", bars))
        cells = find(rows, f"pinned: http mode, 1 conn, p{p} latency")
        bars = [("fwatchdog", added(cells[0])), ("Go of-watchdog", added(cells[1]))] if cells else []
        for series, prefix in PROXIES:
            c = find(rows, "pinned: " + prefix, contains=f"p{p} latency")
            bars.append((series, added(c[0]) if c else None))
        groups.append((f"http mode, nginx, p{p}, pinned", bars))
    cells = find(rows, "Express app, http mode, 1 conn, p50")
    if cells:
        relay = find(rows, "reference: byte relay in front of the Express app, 1 conn, p50")
        groups.append(("Express app, p50", [("fwatchdog", added(cells[0])), ("Go of-watchdog", added(cells[1])),
                                            ("byte relay", added(relay[0]) if relay else None)]))
    return groups


def cpu(rows):
    """User and system CPU per proxied request in http mode, with the two
    relays that bound them."""
    groups = []
    for c in (1, 32):
        for kind, i in (("user", 0), ("system", 1)):
            label = "user (us;" if kind == "user" else "system (us;"
            cells = find(rows, "CPU per request, http mode", c, label)
            bars = [("fwatchdog", num(cells[0])), ("Go of-watchdog", num(cells[1]))] if cells else []
            for series, name in (("byte relay", "byte relay"), ("relay + llhttp + log", "relay + llhttp + log")):
                cells = find(rows, f"CPU per request, {name}, ", c)
                parts = cells[0].split("/") if cells else []
                bars.append((series, num(parts[i].strip()) if len(parts) == 2 else None))
            groups.append((f"http mode, {c} conn: {kind}", bars))
    return groups


def memory(rows):
    def mib(cells):
        if not cells:
            return []
        return [(s, num(v) / 1024 if num(v) is not None else None)
                for s, v in (("fwatchdog", cells[0]), ("Go of-watchdog", cells[1]))]

    groups = [("idle, after one /_/health", mib(find(rows, "idle RSS")))]
    for m in ("streaming", "serializing", "http", "static"):
        groups.append((f"{m}, 2 s after 10,000 requests", mib(find(rows, f"{m}: RSS 2 s after"))))
    groups.append(("10,000 idle keep-alive connections", mib(find(rows, "RSS with 10,000 idle"))))
    big = body_size(rows)
    groups.append((f"streaming, {big} body: peak", mib(find(rows, "streaming, ", contains=": watchdog peak RSS"))))
    groups.append((f"http mode, {big} body: peak", mib(find(rows, "http mode, ", contains=": watchdog peak RSS"))))
    return groups


def times(rows):
    cells = find(rows, "startup to 200")
    groups = []
    if cells:
        groups.append(("exec to 200 on /_/health", [("fwatchdog", num(cells[0])), ("Go of-watchdog", num(cells[1]))]))
    cells = find(rows, "http mode cold start")
    if cells:
        # Go answers 200 before the function listens: a negative figure, not drawn.
        go = num(cells[1])
        groups.append(("http mode: function's listen()\nto 200 on /_/health",
                       [("fwatchdog", num(cells[0])), ("Go of-watchdog", go if go is not None and go >= 0 else None)]))
    return groups


def main():
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.md"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "chart.svg"
    head, rows = read(src)
    plt.rcParams["svg.hashsalt"] = "fwatchdog-bench"
    plt.rcParams["svg.fonttype"] = "none"
    sections = [
        (ratios(rows), "Throughput as a fraction of its limit, measured in the same run (higher is better)",
         "ratio to the limit", False, 1.0),
        (latencies(rows), "Median latency added at 1 connection over the function hit directly (lower is better)",
         "microseconds added", False, None),
        (cpu(rows), "CPU time of the proxy process per request, http mode (lower is better)",
         "microseconds per request (log scale)", True, None),
        (memory(rows), "Watchdog memory (lower is better)", "MiB resident (log scale)", True, None),
        (times(rows), "Start (lower is better); the Go watchdog's /_/health answers 200 before its function listens",
         "milliseconds", False, None),
    ]
    sections = [s for s in sections if any(v is not None for _, bars in s[0] for _, v in bars)]
    sizes = [sum(len([v for _, v in bars if v is not None]) + 1 for _, bars in s[0]) + 2 for s in sections]
    height = 0.2 * sum(sizes) + 2.0
    fig, axes = plt.subplots(len(sections), 1, figsize=(9, height),
                             gridspec_kw={"height_ratios": sizes}, squeeze=False)
    for ax, (groups, title, xlabel, log, line) in zip(axes[:, 0], sections):
        panel(ax, groups, title, xlabel, log, line)
    # Title, then the run's header lines, then the legend, in the top 1.3 in.
    fig.text(0.5, 1 - 0.12 / height, "fwatchdog and the Go of-watchdog (bench/run.sh, bench/results.md)",
             ha="center", va="top", fontsize=11)
    fig.text(0.5, 1 - 0.4 / height, "\n".join(head[:3]), ha="center", va="top", fontsize=7)
    handles = [matplotlib.patches.Patch(color=c, label=n) for n, c in COLORS.items()]
    fig.legend(handles=handles, loc="upper center", ncol=6, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.95 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.3 / height))
    fig.savefig(out, metadata={"Date": None})
    print(out)


if __name__ == "__main__":
    main()
