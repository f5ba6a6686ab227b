"""The static binary, run the way a FROM scratch image runs it: PID 1 of new
PID and mount namespaces, chrooted into a directory that holds only
/fwatchdog, /tmp and a static busybox as the function.

The binary is built by scripts/build-static.sh, the script the Dockerfile
runs, unless FWATCHDOG_STATIC_BIN names one.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import REPO, Watchdog, children, free_port, proc_status, request, wait_until

# stripped, with JWT auth (mbedTLS, jansson, evdns) in; the Go watchdog is about 9 MB
MAX_SIZE = 1.75 * 1024 * 1024
BUSYBOX = Path("/bin/busybox")
UNSHARE_FLAGS = ["--pid", "--fork", "--mount-proc", "--kill-child"]
# Absolute: the watchdog's environment, like an empty image's, has no PATH.
SYSTEM_TOOLS = "/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def static_bin():
    named = os.environ.get("FWATCHDOG_STATIC_BIN")
    if named:
        path = Path(named)
        assert path.is_file(), "FWATCHDOG_STATIC_BIN=%s does not exist" % named
        return path
    # Always through the script (incremental), so a stale binary is never tested.
    r = subprocess.run([str(REPO / "scripts" / "build-static.sh")], cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "scripts/build-static.sh failed:\n" + out[-4000:]
    # Static glibc warns when NSS or dlopen would be needed at run time.
    assert "requires at runtime the shared libraries" not in out, out[-4000:]
    return REPO / "build-static" / "fwatchdog"


def test_static_binary_needs_nothing(static_bin):
    headers = subprocess.run(["readelf", "-l", str(static_bin)], check=True,
                             stdout=subprocess.PIPE, timeout=30).stdout.decode()
    assert "INTERP" not in headers and "DYNAMIC" not in headers
    ldd = subprocess.run(["ldd", str(static_bin)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=30).stdout.decode()
    assert "not a dynamic executable" in ldd, ldd
    data = static_bin.read_bytes()
    for needle in (b"nsswitch.conf", b"libnss_"):
        assert needle not in data, "glibc NSS is linked in (%s)" % needle.decode()
    assert b".symtab" not in data, "not stripped"
    assert len(data) < MAX_SIZE, "%d bytes, over the 1.75 MiB budget" % len(data)


def scratch_launcher():
    """[unshare ..., chroot]: what starts the watchdog as PID 1 of new PID
    and mount namespaces, chrooted."""
    unshare = shutil.which("unshare", path=SYSTEM_TOOLS)
    chroot = shutil.which("chroot", path=SYSTEM_TOOLS)
    assert unshare and chroot, "needs unshare (util-linux) and chroot (coreutils)"
    r = subprocess.run([unshare] + UNSHARE_FLAGS + [chroot, "/", "/bin/true"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, ("unshare --pid --mount-proc + chroot is not permitted here (run as "
                               "root): " + r.stdout.decode(errors="replace").strip())
    return [unshare] + UNSHARE_FLAGS + [chroot]


def scratch_root(tmp, static_bin):
    """The image: /fwatchdog, /tmp and /bin/busybox, nothing else."""
    assert BUSYBOX.is_file(), "needs a static busybox (Debian busybox-static)"
    root = tmp / "root"
    (root / "bin").mkdir(parents=True)
    (root / "tmp").mkdir(mode=0o1777)
    shutil.copy2(static_bin, root / "fwatchdog")
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    return root


def start_scratch(tmp, static_bin, fprocess):
    """The root and the Watchdog (not yet started) in it."""
    launcher = scratch_launcher()
    root = scratch_root(tmp, static_bin)
    # Only what an image would set; no PATH, no TMPDIR: /tmp/.lock in the root.
    env = {"fprocess": fprocess, "port": str(free_port()), "metrics_port": "0",
           "write_timeout": "5s", "exec_timeout": "5s"}
    return root, Watchdog(env, workdir=tmp / "wd", bare_env=True, launcher=launcher + [str(root)],
                          binary="/fwatchdog", ready=None, ready_timeout=15)


def watchdog_pid(wd):
    """The watchdog's host pid: the child unshare forked, once chroot has
    exec'd /fwatchdog in it."""
    def is_fwatchdog():
        try:
            return os.readlink("/proc/%d/exe" % wd.pid).endswith("/fwatchdog")
        except OSError:
            return False
    assert wait_until(is_fwatchdog, 15), "no fwatchdog under unshare: " + wd.describe()
    return wd.pid


def stop(wd):
    """SIGTERM the watchdog itself (unshare ignores it) and return unshare's
    exit code, which is the watchdog's."""
    rc = wd.terminate(15)
    assert rc is not None, "still running after SIGTERM: " + wd.describe()
    return rc


def test_scratch_serves_and_drains(tmp_path, static_bin):
    root, wd = start_scratch(tmp_path, static_bin, "/bin/busybox cat")
    with wd:
        wd.wait_healthy()
        pid = watchdog_pid(wd)
        assert proc_status(pid)["NSpid"][-1] == "1", "not PID 1 in its namespace"
        assert os.readlink("/proc/%d/root" % pid) == os.path.realpath(root)
        assert (root / "tmp" / ".lock").exists()

        for body in (b"hello from scratch\n", b"x" * 100000):
            status, _, answer = request(wd.port, "POST", "/", body)
            assert (status, answer) == (200, body), wd.describe()

        rc = stop(wd)
        assert rc == 0, "exit %s after SIGTERM: %s" % (rc, wd.describe())
        assert not (root / "tmp" / ".lock").exists(), "lock file left behind"
        assert sorted(os.listdir(root)) == ["bin", "fwatchdog", "tmp"]


def cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        return b""


def test_scratch_reaps_orphaned_grandchild(tmp_path, static_bin):
    # The function daemonizes a sleep the classic way: setsid forks (so the
    # end-of-request kill of the function's process group misses it), its
    # parent exits at once, and the sleep, holding none of the pipes, is
    # orphaned and handed to PID 1, the watchdog, which must reap it. (No
    # `&`: busybox sh would need /dev/null for that, and the root has none.)
    # setsid's child leaves the group only once it runs: on a loaded machine
    # the group kill at the function's exit can come first and end it, which
    # is the daemonizing method's race, not the watchdog's. So the request is
    # repeated until one sleep has left the group: a sleep that made it is a
    # child of PID 1 at once, so each try waits briefly, and there are many
    # (twelve tries with 2 s waits have all lost it on a quiet machine).
    fprocess = ('/bin/busybox sh -c "echo orphaned; exec /bin/busybox setsid '
                '/bin/busybox sleep 3 <&- >&- 2>&-"')
    _, wd = start_scratch(tmp_path, static_bin, fprocess)
    with wd:
        wd.wait_healthy()
        pid = watchdog_pid(wd)
        def sleeps():
            # only the sleep itself: the function process (sh, then setsid)
            # is PID 1's child too until it is reaped
            return [k for k in children(pid) if cmdline(k) == b"/bin/busybox\0sleep\x003\0"]
        for _ in range(60):
            status, _, answer = request(wd.port, "POST", "/", b"")
            assert status == 200 and answer == b"orphaned\n", wd.describe()
            if wait_until(sleeps, 0.3):
                break
        orphans = sleeps()
        assert orphans, "no orphan reached PID 1 in sixty requests"
        assert all(proc_status(k)["PPid"][0] == str(pid) for k in orphans)

        def reaped():
            return not any(os.path.exists("/proc/%d" % k) for k in orphans)
        assert wait_until(reaped, 10), "PID 1 did not reap %s" % orphans
        assert children(pid) == []

        status, _, _ = request(wd.port, "GET", "/_/health")
        assert status == 200
        rc = stop(wd)
        assert rc == 0, "exit %s after SIGTERM: %s" % (rc, wd.describe())
