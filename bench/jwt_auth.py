#!/usr/bin/python3
"""What jwt_auth adds to a request, per signing algorithm, measured against
the same request with jwt_auth=false in the same run.

Two watchdogs in static mode (no process per request, so the figure is
the token check and little else) serve the same small file: one with
jwt_auth=false, one with jwt_auth=true against a fake issuer on loopback
(tests/e2e/jwtutil.py) that publishes a key per algorithm. wrk runs at one
connection, rounds alternating between the two; medians of ROUNDS runs.

    bench/jwt_auth.py [path/to/fwatchdog]
Environment: ROUNDS (5), DURATION (3s), ALGS (all five, space-separated),
BASE_PORT (the two watchdogs on BASE_PORT and BASE_PORT+1; free ports
otherwise). Needs wrk, python3-jwt, python3-cryptography. Loopback only;
everything started is stopped.
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from jwtutil import NAME, NAMESPACE, Issuer  # noqa: E402

ALGS = os.environ.get("ALGS", "RS256 PS256 ES256 ES384 ES512").split()
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DURATION = os.environ.get("DURATION", "3s")


PORTS = iter(range(int(os.environ["BASE_PORT"]), 65536)) if os.environ.get("BASE_PORT") else None


def free_port():
    if PORTS:
        return next(PORTS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /_/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"watchdog on {port} not ready")


def start(binary, work, name, extra):
    port = free_port()
    tmp = work / name
    tmp.mkdir()
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), "port": str(port), "metrics_port": "0",
           "mode": "static", "static_path": str(work / "public"), "healthcheck_interval": "100ms"}
    env.update(extra)
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "stderr.log", "wb"))
    wait_ready(port)
    return proc, port


def wrk(port, header=None):
    """(requests/s, median latency in microseconds) of one run."""
    cmd = ["wrk", "-t1", "-c1", "-d", DURATION, "--latency", f"http://127.0.0.1:{port}/"]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]
    return rps, float(m.group(1)) * scale


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "build" / "fwatchdog")
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="bench-jwt-"))
    (work / "public").mkdir()
    (work / "public" / "index.html").write_text("hello\n")
    procs = []
    try:
        with Issuer() as iss:
            for alg in ALGS:
                iss.add_key(alg.lower(), alg)
            off = start(binary, work, "off", {})
            on = start(binary, work, "on", {
                "jwt_auth": "true", "jwt_auth_discovery_url": iss.discovery_url,
                "OPENFAAS_NAME": NAME, "OPENFAAS_NAMESPACE": NAMESPACE})
            procs = [off[0], on[0]]
            tokens = {alg: iss.token(alg.lower(), exp=int(time.time()) + 3600) for alg in ALGS}
            runs = {"off": []}
            runs.update({alg: [] for alg in ALGS})
            for _ in range(ROUNDS):
                runs["off"].append(wrk(off[1]))
                for alg in ALGS:
                    runs[alg].append(wrk(on[1], f"Authorization: Bearer {tokens[alg]}"))
        report(binary, runs)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def report(binary, runs):
    med = {k: (statistics.median(r for r, _ in v), statistics.median(l for _, l in v))
           for k, v in runs.items()}
    base_lat = med["off"][1]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, "
          f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"ROUNDS={ROUNDS} DURATION={DURATION}, 1 connection, static mode, medians; "
          f"binary: {binary}\n")
    print("| request | req/s | median latency (us) | added by jwt_auth (us) |")
    print("|---|---|---|---|")
    print(f"| jwt_auth=false | {med['off'][0]:.0f} | {base_lat:.0f} | |")
    for alg in ALGS:
        rps, lat = med[alg]
        print(f"| jwt_auth=true, {alg} token | {rps:.0f} | {lat:.0f} | +{lat - base_lat:.0f} |")


if __name__ == "__main__":
    main()
