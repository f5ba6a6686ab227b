"""The listeners: every address, IPv4 and IPv6, whatever the network
namespace's net.ipv6.bindv6only says (as Go's listeners, which clear
IPV6_V6ONLY themselves); those cases run the watchdog in a network
namespace of its own (unshare -n, root), so the sysctl touches nothing
else. And TCP keep-alive on accepted connections, as Go's."""
import json
import shutil
import subprocess
import sys

import pytest

import harness

SYSTEM_TOOLS = "/usr/bin:/bin:/usr/sbin:/sbin"

# Run inside the namespace: set the sysctl, start the watchdog on 8080 and
# 8081, and print which of the four (family, port) pairs answer 200.
INSIDE = r'''
import json, os, socket, subprocess, sys, time
binary, tmpdir, v6only = sys.argv[1], sys.argv[2], sys.argv[3]
with open("/proc/sys/net/ipv6/bindv6only", "w") as f:
    f.write(v6only)
env = {"PATH": "/usr/bin:/bin", "port": "8080", "metrics_port": "8081", "fprocess": "cat",
       "TMPDIR": tmpdir}
wd = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
def status(host, port, path):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.settimeout(2)
            s.connect((host, port))
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return int(s.recv(64).split(b" ")[1])
    except OSError as e:
        return str(e)
try:
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(tmpdir, ".lock")) and time.monotonic() < deadline:
        time.sleep(0.02)
    print(json.dumps({"%s %d" % (h, p): status(h, p, path)
                      for h in ("127.0.0.1", "::1")
                      for p, path in ((8080, b"/_/health"), (8081, b"/metrics"))}))
finally:
    wd.terminate()
    try:
        wd.wait(10)
    except subprocess.TimeoutExpired:
        wd.kill()
        wd.wait()
'''


def run_in_netns(tmp_path, v6only):
    unshare = shutil.which("unshare", path=SYSTEM_TOOLS)
    busybox = shutil.which("busybox", path=SYSTEM_TOOLS)
    assert unshare and busybox, "needs unshare (util-linux) and busybox (busybox-static)"
    r = subprocess.run([unshare, "-n", "sh", "-c", '"$0" ip link set lo up && exec "$@"', busybox,
                        sys.executable, "-c", INSIDE, harness.require_bin(), str(tmp_path),
                        str(v6only)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.mark.parametrize("v6only", [0, 1])
def test_both_ports_answer_on_ipv4_and_ipv6(tmp_path, v6only):
    got = run_in_netns(tmp_path, v6only)
    assert got == {"127.0.0.1 8080": 200, "127.0.0.1 8081": 200,
                   "::1 8080": 200, "::1 8081": 200}, got


def server_timer(port, client_port):
    """The timer field (tr) of the watchdog's side of one connection, from
    /proc/net/tcp6 and tcp (2: keep-alive)."""
    for table in ("/proc/net/tcp6", "/proc/net/tcp"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, remote, state = fields[1], fields[2], fields[3]
                if (int(local.rsplit(":", 1)[1], 16) == port and
                        int(remote.rsplit(":", 1)[1], 16) == client_port and state == "01"):
                    return int(fields[5].split(":")[0], 16)
    return None


def test_accepted_connections_have_tcp_keepalive(watchdog):
    # As from Go's listeners: a client that vanished without a FIN (a node
    # gone) is found by keep-alive probes, not held for ever.
    wd = watchdog({"fprocess": "cat"})
    with harness.connect(wd.port) as s:
        client_port = s.getsockname()[1]
        timer = harness.wait_until(lambda: server_timer(wd.port, client_port), 5)
        assert timer == 2, "timer %r on the watchdog's side, want 2 (keep-alive)" % timer
