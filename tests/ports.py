"""Free loopback ports for the test harnesses (tests/e2e/harness.py and
tests/compat/harness.py import free_port from here)."""
import os
import random
import socket

# Ports come from below the kernel's ephemeral range (32768-60999 here,
# /proc/sys/net/ipv4/ip_local_port_range), so that no outgoing connection
# can take one between the pick and the bind, and above what the benches
# use (19000-21500). None is handed out twice in one process: a watchdog
# given its own upstream's port would proxy to itself. Suites that run at
# the same time (scripts/test-cross.sh) each get a disjoint part of the
# range through FWATCHDOG_TEST_PORTS=LOW-HIGH.
def _port_range():
    spec = os.environ.get("FWATCHDOG_TEST_PORTS", "23000-32000")
    low, _, high = spec.partition("-")
    return (int(low), int(high))


PORT_RANGE = _port_range()
_ports_given = set()


def free_port():
    """A TCP port nothing holds on 127.0.0.1 right now, never one given
    before in this process."""
    while True:
        port = random.randrange(*PORT_RANGE)
        if port in _ports_given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
