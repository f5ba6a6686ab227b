#!/usr/bin/python3
"""The code a request runs, counted in cache lines, from a callgrind dump
made with --dump-instr=yes (bench/instr.sh with CACHE=1 makes one).

A line counts when one of its instructions ran at least once for every
two requests of the dump: the path every request takes, not start-up or
rare branches. When that path is larger than the first-level instruction
cache (the one the dump simulated, or 32 KiB of 64-byte lines in 8 ways),
each request evicts its own code and fetches most of it again.

    bench/footprint.py DUMP REQUESTS            the line count and KiB
    bench/footprint.py DUMP REQUESTS BINARY     and the lines of each
                                                function (an unstripped
                                                binary names them; nm)
"""
import bisect
import collections
import re
import subprocess
import sys

# "desc: I1 cache: 32768 B, 64 B, 8-way associative", when simulated
I1_DESC = re.compile(r"desc: I1 cache: (\d+) B, (\d+) B, (\d+)-way")


def position(field, last):
    """An instruction address: absolute, or relative to the last (+N, -N, *)."""
    if field == "*":
        return last
    if field[0] == "+":
        return last + int(field[1:], 0)
    if field[0] == "-":
        return last - int(field[1:], 0)
    return int(field, 0)


def executions(path):
    """({address: times run}, (cache bytes, line bytes, ways)) from the self
    cost lines of the dump. A line after calls= is the inclusive cost of
    that call, not the instruction's."""
    runs = collections.Counter()
    cache = (32768, 64, 8)
    npos = 1
    last = 0
    after_call = False
    with open(path) as f:
        for text in f:
            m = I1_DESC.match(text)
            if m:
                cache = tuple(int(g) for g in m.groups())
                continue
            if text.startswith("positions:"):
                kinds = text.split()[1:]
                if "instr" not in kinds:
                    raise SystemExit("footprint: %s was not dumped with --dump-instr=yes" % path)
                npos = len(kinds)
                continue
            if text.startswith("calls="):
                after_call = True
                continue
            if not text or text[0] not in "0123456789+-*":
                continue
            fields = text.split()
            last = position(fields[0], last)
            if after_call:
                after_call = False
                continue
            if len(fields) > npos:
                runs[last] += int(fields[npos])
    return runs, cache


def hot_lines(runs, requests, line_bytes):
    """Cache lines with an instruction run at least once per two requests."""
    best = collections.Counter()
    for addr, n in runs.items():
        line = addr // line_bytes
        best[line] = max(best[line], n)
    return sorted(line for line, n in best.items() if 2 * n >= requests)


def functions(binary):
    out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True,
                         text=True, check=True).stdout
    syms = []
    for row in out.splitlines():
        f = row.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    syms.sort()
    return syms


def by_function(lines, line_bytes, syms):
    starts = [s[0] for s in syms]
    count = collections.Counter()
    for line in lines:
        lo = line * line_bytes
        i = bisect.bisect_right(starts, lo + line_bytes - 1) - 1
        named = i >= 0 and syms[i][0] + syms[i][1] > lo
        count[syms[i][2] if named else "(no symbol)"] += 1
    return count


def main(argv):
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    requests = int(argv[2])
    if requests <= 0:
        raise SystemExit("footprint: REQUESTS must be positive")
    runs, (size, line_bytes, ways) = executions(argv[1])
    lines = hot_lines(runs, requests, line_bytes)
    sets = size // (line_bytes * ways)
    per_set = collections.Counter(line % sets for line in lines)
    over = sum(n for n in per_set.values() if n > ways)
    print("%d code lines run per request (%.1f KiB); %d of them in cache sets that hold "
          "more than %d" % (len(lines), len(lines) * line_bytes / 1024, over, ways))
    if len(argv) == 4:
        for name, n in by_function(lines, line_bytes, functions(argv[3])).most_common():
            print("%5d  %s" % (n, name))


if __name__ == "__main__":
    main(sys.argv)
