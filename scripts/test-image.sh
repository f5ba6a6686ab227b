#!/bin/sh
# Builds the fwatchdog image from the top-level Dockerfile with a real
# container runtime (rootful podman on runc) and runs it:
#   - fwatchdog is PID 1 of the container and echoes a request (function:
#     busybox cat, tests/image/Containerfile.cat; the image has no shell);
#   - `podman stop` drains: a request in flight when it starts is answered
#     whole, and the container exits 0 within the drain window;
#   - `fwatchdog -run-healthcheck` answers through `podman exec` (0 with the
#     lock file, 1 with suppress_lock=true);
#   - hardened (--read-only with a tmpfs /tmp, --user 65534, --cap-drop ALL,
#     no-new-privileges) it serves, is healthy and stops with 0; without
#     the tmpfs it exits 2 saying it cannot write the lock file;
#   - under a 64 MiB memory limit, 1 GiB streams through cat;
#   - each template in templates/ builds with WATCHDOG_IMAGE set to this
#     image and answers a request (its base image stood in where it cannot
#     be pulled: see below);
#   - for each other architecture asked for, the image is cross-built (the
#     build stage runs natively, FROM --platform=$BUILDPLATFORM), and run
#     under qemu-user (binfmt): PID 1, -run-healthcheck, a file served in
#     static mode, a clean stop.
#   scripts/test-image.sh [ARCH...]        (default: the native one; e.g. amd64 arm64 armhf)
#
# No registry is reachable here, so the base images are made locally and
# cached in podman's store (skipped when the name exists, so real images win
# where they were pulled):
#   debian:12-slim              debootstrap --variant=minbase bookworm from
#                               the apt mirror this machine uses, imported
#   python:3.12-slim-bookworm   stand-in: Debian 12 + Debian's python3
#   alpine:3.20                 stand-in: Debian 12 + busybox addgroup/adduser
#                               + an `apk add` that calls apt-get
#   node:20-alpine              stand-in: the alpine stand-in + Debian's nodejs
# (tests/image/standins/). Remove them with `podman rmi` to start afresh.
# All traffic goes to 127.0.0.1; containers use the host's network
# (--network host) on free ports, and are removed at the end.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh --image
NATIVE="$(dpkg --print-architecture)"
ARCHES="${*:-$NATIVE}"
VERSION="$(cat VERSION)"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
IMAGE=ghcr.io/fwatchdog/fwatchdog
WORK="$PWD/build-image"
mkdir -p "$WORK"
# Rootful podman here: crun cannot run with cgroups in hybrid mode, and the
# default rlimits of podman need CAP_SYS_RESOURCE.
PODMAN="podman --runtime runc"
LIMITS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
BUILD="$PODMAN build $LIMITS --network host --pull=never --quiet"
RUN="$PODMAN run $LIMITS --network host -d"
TAG="test-image-$$"
T0=$(date +%s)

say() { echo "test-image: $*"; }
fail() { echo "test-image: FAIL: $*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }
cleanup() {
    for c in $($PODMAN ps -a --filter "name=$TAG" --format '{{.Names}}' 2>/dev/null); do
        $PODMAN rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Polls until a request answers 200 (15 s at most), failing early when the
# container has exited. NAME PORT PATH [curl options...]
wait_200() {
    w_name=$1 w_port=$2 w_path=$3
    shift 3
    i=0
    while [ $i -lt 150 ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "http://127.0.0.1:$w_port$w_path" || true)" = 200 ] && return 0
        [ "$($PODMAN inspect -f '{{.State.Running}}' "$w_name")" = true ] ||
            { $PODMAN logs "$w_name" >&2; fail "$w_name exited before $w_path answered 200"; }
        sleep 0.1
        i=$((i + 1))
    done
    $PODMAN logs "$w_name" >&2
    fail "$w_name: $w_path did not answer 200 on port $w_port within 15 s"
}
wait_healthy() { wait_200 "$1" "$2" /_/health; }  # NAME PORT
# With suppress_lock there is no lock file, so /_/health stays 503 (as under
# the Go watchdogs): wait for the function to answer instead.
wait_serving() { wait_200 "$1" "$2" / -d x; }     # NAME PORT
image_exists() { $PODMAN image exists "$1"; }

# --- base images ---------------------------------------------------------
mirror() {
    m=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        tr ' ' '\n' | grep -v security | grep . | head -n 1 || true)
    [ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
        /etc/apt/sources.list 2>/dev/null | grep -v security | head -n 1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}
DEBIAN=docker.io/library/debian:12-slim
if ! image_exists "$DEBIAN"; then
    say "making $DEBIAN with debootstrap from $(mirror)"
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    tar -C "$WORK/rootfs" -c . | $PODMAN import --quiet - "$DEBIAN" >/dev/null
    rm -rf "$WORK/rootfs"
fi
standin() {  # NAME CONTAINERFILE
    image_exists "$1" && return 0
    say "making a stand-in for $1 ($2)"
    $BUILD -t "$1" -f "tests/image/standins/$2" tests/image/standins >/dev/null
}
standin docker.io/library/python:3.12-slim-bookworm python.Containerfile
standin docker.io/library/alpine:3.20 alpine.Containerfile
standin docker.io/library/node:20-alpine node-alpine.Containerfile
say "base images ready ($(elapsed))"

# --- the fwatchdog image -------------------------------------------------
platform() { if [ "$1" = armhf ]; then echo linux/arm/v7; else echo "linux/$1"; fi; }
build_image() {  # ARCH -> tag $IMAGE:$VERSION-ARCH
    # podman 4.3 sets TARGETARCH but not BUILDPLATFORM (docker buildx sets both).
    $BUILD --platform "$(platform "$1")" --build-arg BUILDPLATFORM="$(platform "$NATIVE")" \
        --build-arg VERSION="$VERSION" --build-arg FWATCHDOG_COMMIT="$COMMIT" \
        -t "$IMAGE:$VERSION-$1" . >/dev/null
}
build_image "$NATIVE"
$PODMAN tag "$IMAGE:$VERSION-$NATIVE" "$IMAGE:$VERSION"
say "built $IMAGE:$VERSION ($NATIVE) ($(elapsed))"
v=$($PODMAN run --rm $LIMITS "$IMAGE:$VERSION" -version 2>&1)
echo "$v" | grep -q "Version: $VERSION" || fail "-version says: $v"

cp /bin/busybox "$WORK/busybox"
cp tests/image/Containerfile.cat "$WORK/Containerfile.cat"
$BUILD --build-arg WATCHDOG_IMAGE="$IMAGE:$VERSION" -t "localhost/fwatchdog-cat:$VERSION" \
    -f "$WORK/Containerfile.cat" "$WORK" >/dev/null
CAT="localhost/fwatchdog-cat:$VERSION"

# PID 1 and echo.
port=$(free_port)
c="$TAG-echo"
$RUN --name "$c" -e port="$port" -e metrics_port=0 -e healthcheck_interval=3s "$CAT" >/dev/null
wait_healthy "$c" "$port"
pid=$($PODMAN inspect -f '{{.State.Pid}}' "$c")
nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$pid/status" | awk '{print $NF}')
comm=$(cat "/proc/$pid/comm")
[ "$nspid" = 1 ] && [ "$comm" = fwatchdog ] || fail "PID 1 of the container is $comm (pid $nspid in it)"
out=$(curl -sS --max-time 10 -d 'hello' "http://127.0.0.1:$port/")
[ "$out" = hello ] || fail "echo answered '$out'"
say "PID 1 and echo: ok"

# -run-healthcheck through podman exec.
$PODMAN exec "$c" /fwatchdog -run-healthcheck || fail "-run-healthcheck exited $? with the lock file"
port2=$(free_port)
$RUN --name "$TAG-nolock" -e port="$port2" -e metrics_port=0 -e suppress_lock=true "$CAT" >/dev/null
wait_serving "$TAG-nolock" "$port2"
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port2/_/health")" = 503 ] ||
    fail "/_/health without a lock file did not answer 503"
rc=0; $PODMAN exec "$TAG-nolock" /fwatchdog -run-healthcheck || rc=$?
[ "$rc" = 1 ] || fail "-run-healthcheck exited $rc without a lock file (want 1)"
$PODMAN rm -f -t 0 "$TAG-nolock" >/dev/null
say "-run-healthcheck through podman exec: ok (0 with the lock, 1 without)"

# podman stop while a request is in flight: it is answered whole, the
# container exits 0 before the drain window (3 s) and the stop timeout.
( { echo one; sleep 2; echo two; } |
    curl -sS --max-time 20 -T - -X POST "http://127.0.0.1:$port/" >"$WORK/inflight.out" 2>&1 ) &
cpid=$!
sleep 0.5
s0=$(date +%s%N)
$PODMAN stop -t 20 "$c" >/dev/null
s1=$(date +%s%N)
wait $cpid || fail "the in-flight request failed: $(cat "$WORK/inflight.out")"
[ "$(cat "$WORK/inflight.out")" = "one
two" ] || fail "in-flight request got: $(cat "$WORK/inflight.out")"
code=$($PODMAN inspect -f '{{.State.ExitCode}}' "$c")
ms=$(( (s1 - s0) / 1000000 ))
[ "$code" = 0 ] || { $PODMAN logs "$c" >&2; fail "exit code $code after podman stop"; }
[ "$ms" -lt 3500 ] || fail "podman stop took ${ms} ms, over the 3 s drain window"
say "podman stop: in-flight request answered, exit 0 in ${ms} ms"
$PODMAN rm -f "$c" >/dev/null

# Hardened as functions are often run: read-only root file system with a
# tmpfs on /tmp, a non-root user, every capability dropped, no new
# privileges. It serves, is healthy, and stops with 0.
SECURE="--read-only --read-only-tmpfs=false --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges"
port=$(free_port)
c="$TAG-secure"
# shellcheck disable=SC2086
$RUN --name "$c" $SECURE --tmpfs /tmp -e port="$port" -e metrics_port=0 "$CAT" >/dev/null
wait_healthy "$c" "$port"
out=$(curl -sS --max-time 10 -d 'locked down' "http://127.0.0.1:$port/")
[ "$out" = "locked down" ] || fail "hardened container echoed '$out'"
$PODMAN exec "$c" /fwatchdog -run-healthcheck || fail "hardened container: -run-healthcheck"
$PODMAN stop -t 10 "$c" >/dev/null
code=$($PODMAN inspect -f '{{.State.ExitCode}}' "$c")
[ "$code" = 0 ] || { $PODMAN logs "$c" >&2; fail "hardened container exited $code after podman stop"; }
$PODMAN rm -f "$c" >/dev/null
# Without a writable /tmp the lock file cannot be written: as the Go
# watchdogs, it says so and exits 2 instead of running never healthy.
c="$TAG-rofs"
# shellcheck disable=SC2086
$RUN --name "$c" $SECURE -e port="$(free_port)" -e metrics_port=0 "$CAT" >/dev/null
i=0
while [ "$($PODMAN inspect -f '{{.State.Running}}' "$c")" = true ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
code=$($PODMAN inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$c")
[ "$code" = "false 2" ] || fail "read-only /tmp: running/exit code = $code (want false 2)"
$PODMAN logs "$c" 2>&1 | grep -q "Cannot write /tmp/.lock. To disable lock-file set env suppress_lock=true." ||
    fail "read-only /tmp: the log does not say why: $($PODMAN logs "$c" 2>&1 | tail -n 3)"
$PODMAN rm -f "$c" >/dev/null
say "read-only root, user 65534, no capabilities: serves with a tmpfs /tmp, exits 2 saying why without one"

# 1 GiB through cat under a 64 MiB memory limit.
port=$(free_port)
c="$TAG-mem"
$RUN --name "$c" --memory 64m -e port="$port" -e metrics_port=0 "$CAT" >/dev/null
wait_healthy "$c" "$port"
res=$(head -c 1073741824 /dev/zero |
    curl -sS --max-time 300 -T - -X POST -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/")
[ "$res" = "200 1073741824" ] || fail "1 GiB through cat under 64 MiB: $res"
state=$($PODMAN inspect -f '{{.State.Running}} {{.State.OOMKilled}}' "$c")
[ "$state" = "true false" ] || fail "after 1 GiB: running/oomkilled = $state"
say "1 GiB through cat under --memory 64m: ok ($(elapsed))"
$PODMAN rm -f -t 0 "$c" >/dev/null

# --- templates -----------------------------------------------------------
check_template() {  # NAME METHOD PATH BODY EXPECT(grep -F)
    name=$1
    dir="templates/$name"
    file="$dir/Dockerfile"
    [ -f "$file" ] || file="$dir/function/Dockerfile"
    ctx="$dir"
    [ "$file" = "$dir/function/Dockerfile" ] && ctx="$dir/function"
    # --log-level=error: podman's OCI format keeps no HEALTHCHECK and says so
    # for each stage; the check is run through podman exec below instead.
    $BUILD --log-level=error --build-arg WATCHDOG_IMAGE="$IMAGE:$VERSION" \
        -t "localhost/template-$name:test" -f "$file" "$ctx" >/dev/null ||
        fail "template $name does not build"
    port=$(free_port)
    c="$TAG-$name"
    $RUN --name "$c" -e port="$port" -e metrics_port=0 "localhost/template-$name:test" >/dev/null
    wait_healthy "$c" "$port"
    if [ "$2" = GET ]; then
        out=$(curl -sS --max-time 10 "http://127.0.0.1:$port$3")
    else
        out=$(printf '%s' "$4" | curl -sS --max-time 10 --data-binary @- "http://127.0.0.1:$port$3")
    fi
    echo "$out" | grep -qF -- "$5" || { $PODMAN logs "$c" >&2; fail "template $name answered: $out"; }
    $PODMAN exec "$c" fwatchdog -run-healthcheck || fail "template $name: -run-healthcheck"
    $PODMAN stop -t 10 "$c" >/dev/null
    code=$($PODMAN inspect -f '{{.State.ExitCode}}' "$c")
    [ "$code" = 0 ] || fail "template $name exited $code after podman stop"
    $PODMAN rm -f "$c" >/dev/null
    say "template $name: builds, answers, stops with 0 ($(elapsed))"
}
check_template bash-streaming POST / "$(printf 'world\nAda')" "Hello, Ada!"
check_template c-stdio POST / "Ada" "Hello, Ada!"
check_template python3-http GET "/hello?name=Ada" "" '"Hello, Ada!"'
check_template node-http GET "/hello?name=Ada" "" '"Hello, Ada!"'
check_template static-site GET / "" "</html>"
check_template dockerfile POST / "hello" \
    "$(printf hello | sha512sum | cut -d' ' -f1)"

# --- other architectures -------------------------------------------------
for a in $ARCHES; do
    [ "$a" = arm ] && a=armhf
    [ "$a" = "$NATIVE" ] && continue
    ./scripts/binfmt.sh "$a" || fail "cannot run $a programs here (binfmt_misc)"
    build_image "$a"
    say "built $IMAGE:$VERSION-$a ($(elapsed))"
    port=$(free_port)
    c="$TAG-$a"
    $RUN --name "$c" -e port="$port" -e metrics_port=0 -e mode=static -e static_path=/ \
        -e healthcheck_interval=2s "$IMAGE:$VERSION-$a" >/dev/null
    wait_healthy "$c" "$port"
    pid=$($PODMAN inspect -f '{{.State.Pid}}' "$c")
    nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$pid/status" | awk '{print $NF}')
    [ "$nspid" = 1 ] || fail "$a: the watchdog is pid $nspid in its container"
    curl -sS --max-time 30 -o "$WORK/served-$a" "http://127.0.0.1:$port/fwatchdog"
    machine=$(readelf -h "$WORK/served-$a" | sed -n 's/^ *Machine: *//p')
    case "$a:$machine" in arm64:AArch64|armhf:ARM) ;; *) fail "$a image serves a binary for '$machine'" ;; esac
    $PODMAN exec "$c" /fwatchdog -run-healthcheck || fail "$a: -run-healthcheck"
    $PODMAN stop -t 10 "$c" >/dev/null
    code=$($PODMAN inspect -f '{{.State.ExitCode}}' "$c")
    [ "$code" = 0 ] || fail "$a: exit $code after podman stop"
    $PODMAN rm -f "$c" >/dev/null
    say "$a image: PID 1 under qemu-user, serves its own $machine binary, -run-healthcheck, stop 0 ($(elapsed))"
done
say "all passed in $(elapsed)"
