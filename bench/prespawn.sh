#!/bin/sh
# Request latency of a Python function with prespawn=0 and prespawn=2, one
# connection, requests spaced so the pool refills between them.
#
#   bench/prespawn.sh [path/to/fwatchdog]
#   N=30 GAP=0.3 ROUNDS=2 MODES="streaming serializing" bench/prespawn.sh
#
# Each round runs every mode with prespawn=0 then prespawn=2 (interleaved,
# so machine load hits both alike); each cell pools the N timed requests of
# every round. Loopback only, port PORT (default 21330). Prints a markdown
# table: median, p90 and min latency in ms, and the median gain.
set -eu
cd "$(dirname "$0")/.."
BIN=${1:-build/fwatchdog}
[ -x "$BIN" ] || { echo "no watchdog binary at $BIN (build it first)" >&2; exit 1; }
export BIN N="${N:-30}" GAP="${GAP:-0.3}" ROUNDS="${ROUNDS:-2}" PORT="${PORT:-21330}"
export MODES="${MODES:-streaming serializing}"
export FN="${FN:-python3 -c 'import sys; sys.stdout.write(sys.stdin.read())'}"

exec /usr/bin/python3 - <<'EOF'
import http.client, os, signal, statistics, subprocess, sys, tempfile, time

BIN, FN, PORT = os.environ["BIN"], os.environ["FN"], int(os.environ["PORT"])
N, GAP, ROUNDS = int(os.environ["N"]), float(os.environ["GAP"]), int(os.environ["ROUNDS"])
MODES = os.environ["MODES"].split()


def wait_healthy(proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"fwatchdog exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            c.request("GET", "/_/health")
            if c.getresponse().status == 200:
                c.close()
                return
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit("fwatchdog not healthy in time")


def run(mode, prespawn, tmp):
    env = {"PATH": os.environ["PATH"], "TMPDIR": tmp, "port": str(PORT), "metrics_port": "0",
           "mode": mode, "fprocess": FN, "prespawn": str(prespawn), "cgi_headers": "false",
           "healthcheck_interval": "0"}
    proc = subprocess.Popen([BIN], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = []
    try:
        wait_healthy(proc)
        time.sleep(1.0)  # let the pool fill (and the page cache warm) before timing
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        for i in range(N + 1):
            body = b"hello %d" % i
            t0 = time.perf_counter()
            conn.request("POST", "/", body)
            resp = conn.getresponse()
            got = resp.read()
            dt = time.perf_counter() - t0
            if resp.status != 200 or got != body:
                sys.exit(f"bad answer {resp.status} {got!r}")
            if i > 0:  # the first one warms the client and the connection
                samples.append(dt * 1000)
            time.sleep(GAP)
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    return samples


def p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


res = {}
with tempfile.TemporaryDirectory() as tmp:
    for _ in range(ROUNDS):
        for mode in MODES:
            for n in (0, 2):
                res.setdefault((mode, n), []).extend(run(mode, n, tmp))

load = open("/proc/loadavg").read().split()[:3]
print(f"fprocess: {FN}")
print(f"{N} requests x {ROUNDS} rounds per cell, {GAP}s apart, 1 connection; "
      f"load {' '.join(load)} at the end\n")
print("| mode | prespawn | median ms | p90 ms | min ms | median gain |")
print("|---|---|---|---|---|---|")
for mode in MODES:
    base = statistics.median(res[(mode, 0)])
    for n in (0, 2):
        xs = res[(mode, n)]
        med = statistics.median(xs)
        gain = "" if n == 0 else f"{base - med:.1f} ms ({base / med:.1f}x)"
        print(f"| {mode} | {n} | {med:.1f} | {p(xs, 0.9):.1f} | {min(xs):.1f} | {gain} |")
EOF
