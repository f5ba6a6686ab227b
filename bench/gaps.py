#!/usr/bin/python3
"""Reads `perf script -F time,event,trace --ns` of raw_syscalls:sys_enter
and sys_exit for one proxy (bench/gaps.sh) and prints the medians of its
steady-state cycle: user-space time from each call's return to the next
call's entry, and time inside each call. File descriptors are named by
role: the one whose write is followed by the log line (fd 2) is the
client's, the other socket the upstream's."""
import collections
import re
import statistics
import sys

NAMES = {0: "read", 1: "write", 19: "readv", 20: "writev", 232: "epoll_wait", 281: "epoll_pwait"}
LINE = re.compile(r"\s*([\d.]+):\s+raw_syscalls:(sys_enter|sys_exit):\s+NR (\d+)\s*(?:\((\w+))?")
MIN_SHARE = 0.5  # steps seen in at least half the cycles


def calls(lines):
    """(entry us, exit us, name, fd) per completed call."""
    entered = None
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        t, ev, nr = float(m.group(1)) * 1e6, m.group(2), int(m.group(3))
        if ev == "sys_enter":
            entered = (t, NAMES.get(nr, "nr%d" % nr), int(m.group(4), 16) if m.group(4) else -1)
        elif entered:
            yield entered[0], t, entered[1], entered[2]
            entered = None


def client_fd(seq):
    votes = collections.Counter(a[3] for a, b in zip(seq, seq[1:])
                                if a[2] in ("write", "writev") and b[2] == "write" and b[3] == 2)
    return votes.most_common(1)[0][0] if votes else None


def label(call, client):
    name, fd = call[2], call[3]
    if name.startswith("epoll"):
        return name
    if fd == 2:
        return name + "(log)"
    return "%s(%s)" % (name, "client" if fd == client else "upstream")


def main():
    seq = list(calls(sys.stdin))
    if len(seq) < 100:
        print("too few system calls recorded (%d)" % len(seq))
        return 1
    client = client_fd(seq)
    gaps, inside = collections.defaultdict(list), collections.defaultdict(list)
    for a, b in zip(seq, seq[1:]):
        gaps[(label(a, client), label(b, client))].append(b[0] - a[1])
    for c in seq:
        inside[label(c, client)].append(c[1] - c[0])
    cycles = max(len(v) for v in inside.values() if v) / 2
    print("%-44s %8s %10s" % ("user space between", "count", "median us"))
    for (a, b), v in sorted(gaps.items(), key=lambda kv: -len(kv[1])):
        if len(v) >= MIN_SHARE * cycles:
            print("%-44s %8d %10.2f" % ("%s -> %s" % (a, b), len(v), statistics.median(v)))
    print("%-44s %8s %10s" % ("inside the call", "count", "median us"))
    for k, v in sorted(inside.items(), key=lambda kv: -len(kv[1])):
        if len(v) >= MIN_SHARE * cycles:
            print("%-44s %8d %10.2f" % (k, len(v), statistics.median(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
