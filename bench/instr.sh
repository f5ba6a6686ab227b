#!/bin/sh
# Instructions per proxied request in http mode, counted by callgrind: each
# fwatchdog binary given, and the logging relay (bench/relay.c -p -l), in
# front of one nginx. Counting starts after a warm-up and covers only the
# requests of one wrk run, so start-up is not in the figure. Unlike a rate,
# this does not move with the load of a shared machine: it is the
# before-and-after figure for a change on the request path. Loopback only,
# bounded in time; needs valgrind (callgrind_control).
#
#   bench/instr.sh BINARY...
#   CONNS=1 DUR=5 BASE_PORT=21450 bench/instr.sh build-static/fwatchdog
#   KEEP=/tmp/cg bench/instr.sh build/fwatchdog   (keeps the callgrind dumps,
#       for callgrind_annotate; an unstripped binary names its functions)
#   CACHE=1 bench/instr.sh build-static/fwatchdog   (also simulates the caches
#       of one core, 32 KiB of instructions and 48 KiB of data, 8 and 12
#       ways, and prints the lines each request misses in them: what a
#       request's code and the connection state it touches take beyond them.
#       The simulation sees no other process, nor the kernel, so these are
#       the fewest misses; on the machine, nginx and the kernel run between
#       the proxy's passes and evict more. It prints the code a request runs
#       too, in cache lines (bench/footprint.py; with KEEP, run it on the
#       kept dump and an unstripped binary for the lines of each function))
#
# Under callgrind a process runs some 50 times slower, so the requests
# counted are a few thousand; each figure is their mean.
set -eu
[ $# -ge 1 ] || { echo "usage: bench/instr.sh BINARY..." >&2; exit 2; }
for b in "$@"; do
    [ -x "$b" ] || { echo "bench/instr.sh: $b is not an executable" >&2; exit 2; }
done
command -v callgrind_control >/dev/null ||
    { echo "bench/instr.sh: needs valgrind (callgrind_control)" >&2; exit 2; }
CONNS=${CONNS:-32}
DUR=${DUR:-5}
BASE_PORT=${BASE_PORT:-21450}   # below the ephemeral range
UP=$BASE_PORT
THREADS=1
[ "$CONNS" -gt 1 ] && THREADS=2
BINS=""
for b in "$@"; do BINS="$BINS $(realpath "$b")"; done
cd "$(dirname "$0")/.."
. bench/lib.sh
proxy_bench_setup "$UP"

# count NAME PORT OUT CMD...: CMD (which runs the proxy under $VG, writing
# to OUT) on PORT; prints NAME and its instructions per request over one
# wrk run after a warm-up.
count() {
    name=$1 port=$2 out=$3
    shift 3
    "$@" >"$out.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    wait_answers "$port"
    timeout 60 wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    n=$(timeout $((DUR + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$port/" |
        awk '/requests in/ {print $1}')
    callgrind_control -d "$pid" >/dev/null 2>&1
    # The dump is written when the process next runs: wait for it.
    w=0
    until [ -s "$out.1" ] || [ $w -ge 100 ]; do
        sleep 0.1
        w=$((w + 1))
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ -z "${KEEP:-}" ] || { mkdir -p "$KEEP" && cp "$out.1" "$KEEP/$(basename "$out").out"; }
    # The dump asked for after zeroing is part 1.
    ir=$(awk '/^summary:/ {print $2}' "$out.1" 2>/dev/null || true)
    # with the cache simulation: Ir Dr Dw I1mr D1mr D1mw ...
    miss=$(awk -v n="${n:-0}" '/^summary:/ && NF >= 8 && n > 0 {
        printf "  %6.1f I1 and %6.1f D1 lines missed per request", $5 / n, ($6 + $7) / n }' "$out.1" 2>/dev/null || true)
    if [ -z "$n" ] || [ "$n" -eq 0 ] || [ -z "$ir" ]; then
        echo "bench/instr.sh: no count for $name (requests: ${n:-none}, dump: ${ir:-none})" >&2
        tail -n 5 "$out.log" >&2
        exit 1
    fi
    [ -z "${CACHE:-}" ] || miss="$miss
    $(python3 bench/footprint.py "$out.1" "$n")"
    printf '%-40s %8d requests  %8.0f instructions per request%s\n' "$name" "$n" \
        "$(echo "$ir $n" | awk '{print $1 / $2}')" "$miss"
}

echo "$CONNS connection(s), wrk -t$THREADS for ${DUR}s under callgrind"
# The watchdog runs with TMPDIR=$WORK (its lock file), where valgrind would
# put the pipe that callgrind_control looks for under its own TMPDIR.
VG="valgrind --tool=callgrind --vgdb-prefix=${TMPDIR:-/tmp}/vgdb-pipe"
[ -z "${CACHE:-}" ] ||
    VG="$VG --cache-sim=yes --dump-instr=yes --I1=32768,8,64 --D1=49152,12,64 --LL=2097152,16,64"
VG="$VG --callgrind-out-file"
# shellcheck disable=SC2086
count "relay + llhttp + log" $((BASE_PORT + 1)) "$WORK/cg.relay" \
    $VG="$WORK/cg.relay" "$WORK/relay" -p -l $((BASE_PORT + 1)) "$UP"
i=2
for b in $BINS; do
    # shellcheck disable=SC2086
    count "$b" $((BASE_PORT + i)) "$WORK/cg.$i" \
        env -i PATH=/usr/bin:/bin TMPDIR="$WORK" port=$((BASE_PORT + i)) metrics_port=0 \
        mode=http upstream_url="http://127.0.0.1:$UP" fprocess="sleep 100000" \
        $VG="$WORK/cg.$i" "$b"
    i=$((i + 1))
done
