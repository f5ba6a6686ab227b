#!/usr/bin/env python3
"""The addresses a traced run touched, turned into a linker script that
places the input sections holding them together.

    scripts/hot-text.py collect TRACE OUT     lackey's --trace-mem log -> addresses
    scripts/hot-text.py script MAP ADDRS...   -> the linker script, on stdout

The kernel maps a file-backed page fault's neighbours with it (fault-around,
64 KiB), so code that runs scattered over the whole .text leaves nearly all
of it resident; grouped, only the group is. The script names sections, not
addresses: archive members by name (with a glibc string function's EVEX
variant beside the AVX2 one traced, as the one chosen at run time depends
on the CPU), and this project's functions and variables by symbol (LTO
suffixes dropped), so it stays valid as the code changes and applies to the
cross builds too, and a section it misses only costs residency.
"""
import bisect
import re
import sys

# The native (x86-64) static binary is linked at 0x400000 and is well
# under 12 MiB.
LOW, HIGH = 0x400000, 0x1000000
# What runs natively but not under valgrind, which has a CPU and a start of
# its own: glibc's lock elision (each request), its cache-size tables and
# the static binary's link map, which reads /proc/self/exe (at start; the
# kernel reads that name, so no trace shows it).
NATIVE_TEXT = tuple("*libc.a:%s.o(.text)" % m
                    for m in ("pthread_mutex_lock", "pthread_mutex_unlock", "lowlevellock",
                              "dl-object", "dl-origin", "dl-setup_hash", "dl-lookup"))
NATIVE_RODATA = ("*libc.a:cacheinfo.o(.rodata)", "*libc.a:dl-origin.o(.rodata.str1.1)")


def collect(trace, out):
    """Each address once, in the order first touched."""
    seen = {}
    with open(trace, errors="replace") as f:
        for line in f:
            kind = line[:2].strip()
            if kind not in ("I", "L", "S", "M"):
                continue
            try:
                addr = int(line[3:].split(",", 1)[0], 16)
            except ValueError:
                continue
            if LOW <= addr < HIGH:
                seen.setdefault(addr, None)
    with open(out, "w") as f:
        f.write("\n".join("%x" % a for a in seen))


def read_map(path):
    """Input sections of .text* and .rodata* as (addr, size, section, file)."""
    entries = []
    lines = open(path).read().split("\n")
    body = lines.index("Linker script and memory map") if "Linker script and memory map" in lines else 0
    head = re.compile(r"^ (\.(?:text|rodata)\S*)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?$")
    cont = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$")
    for i in range(body, len(lines)):
        m = head.match(lines[i])
        if not m:
            continue
        if m.group(2):
            addr, size, f = int(m.group(2), 16), int(m.group(3), 16), m.group(4)
        else:
            c = cont.match(lines[i + 1]) if i + 1 < len(lines) else None
            if not c:
                continue
            addr, size, f = int(c.group(1), 16), int(c.group(2), 16), c.group(3)
        if size:
            entries.append((addr, size, m.group(1), f))
    entries.sort()
    return entries


def pattern(section, path):
    m = re.match(r".*/([^/(]+\.a)\(([^)]+)\)$", path)
    if m:
        archive, member = m.groups()
        p = "*%s:%s(%s)" % (archive, member, section)
        # valgrind's CPU has AVX2 (strlen-avx2.o, memmove-avx-unaligned-erms.o,
        # strstr-sse2-unaligned.o) but not AVX-512, whose CPUs run the EVEX
        # variant instead, or for some functions the AVX-512 one
        # (memmove-avx512-unaligned-erms.o, strstr-avx512.o). Code only: a
        # variant's constants have sections of names not known here.
        if archive == "libc.a" and section.startswith(".text"):
            for variant, sect in (("-evex", ".text.evex"), ("-avx512", ".text.evex512")):
                other = re.sub(r"-avx2?(?=[-.])", variant, member)
                if other != member:
                    p += " *%s:%s(%s)" % (archive, other, sect)
            if "-sse2-unaligned." in member:
                p += " *%s:%s(.text)" % (archive, member.replace("-sse2-unaligned", "-avx512"))
        return p
    # The C runtime's start files (_start in crt1.o, crtbeginT.o's helpers),
    # neither archive members nor this project's objects.
    if section == ".text" and re.search(r"/crt[^/]*\.o$", path):
        return "*%s(.text)" % path.rsplit("/", 1)[1]
    if "ltrans" not in path and not path.endswith(".o"):
        return None
    kind, _, name = section[1:].partition(".")
    # .rodata.str1.1, .rodata.cst16: this project's literals (every input
    # has sections of these names)
    if name.startswith(("str1", "cst")):
        return "*.ltrans.o(%s)" % section if "ltrans" in path else None
    if not name:
        return None
    name = re.split(r"\.(?:isra|constprop|lto_priv|part|cold)\b", name)[0]
    # The profile-guided build names a function's section by how it ran in
    # the training (.text.hot.NAME, .text.startup.NAME), and that can change
    # from one training to the next: every placement but the cold one
    # (.text.unlikely.NAME, the parts that did not run) is named.
    prefix, _, rest = name.partition(".")
    if kind == "text" and prefix in ("hot", "startup", "unlikely") and rest:
        if prefix == "unlikely":
            return "*(%s)" % section
        name = rest
    if kind != "text":
        return "*(.%s.%s .%s.%s.*)" % (kind, name, kind, name)
    return " ".join("*(.text%s.%s .text%s.%s.*)" % (p, name, p, name)
                    for p in ("", ".hot", ".startup"))


def script(map_path, addr_files):
    entries = read_map(map_path)
    starts = [e[0] for e in entries]
    # What every mode touches comes first, then what fewer modes touch, so
    # that one mode's start-up (static mode reading its content types) does
    # not sit between the sections all the others run. Within that, each
    # section at the earliest it was touched in any run: what starting and
    # idling touch comes first, so that an idle watchdog has the fewest
    # pages resident, then each request's path. What only runs natively
    # runs in every mode, at start: it leads.
    first, runs = {}, {}
    for path in addr_files:
        seen = set()
        for rank, line in enumerate(open(path)):
            addr = int(line, 16)
            k = bisect.bisect_right(starts, addr) - 1
            if k >= 0 and addr < entries[k][0] + entries[k][1]:
                first[k] = min(first.get(k, rank), rank)
                seen.add(k)
        for k in seen:
            runs[k] = runs.get(k, 0) + 1
    groups = {"text": list(NATIVE_TEXT), "rodata": list(NATIVE_RODATA)}
    for k in sorted(first, key=lambda k: (-runs[k], first[k])):
        _, _, section, path = entries[k]
        p = pattern(section, path)
        group = groups["text" if section.startswith(".text") else "rodata"]
        if p and p not in group:
            group.append(p)
    print("/* Generated by scripts/hot-text.sh: the sections the watchdog runs")
    print("   and reads at start and per request, together. */")
    print("SECTIONS\n{")
    print("  .text.hot :\n  {\n" + "".join("    %s\n" % p for p in groups["text"]) + "  }")
    print("}\nINSERT BEFORE .text;\n")
    print("SECTIONS\n{")
    print("  .rodata.hot :\n  {\n" + "".join("    %s\n" % p for p in groups["rodata"]) + "  }")
    # After .rodata rather than before it: the read-only segment starts at
    # .rodata, and what comes before it is in the executable one.
    print("}\nINSERT AFTER .rodata;")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "script":
        script(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
