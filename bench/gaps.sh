#!/bin/sh
# Where a proxied request's time goes between system calls: the logging
# relay (bench/relay.c -p -l) and each fwatchdog binary given, in front of
# one nginx, one connection. perf records every system call's entry and exit
# while wrk runs; bench/gaps.py prints, for each step of the steady-state
# cycle, the median time spent in user space between one call's return and
# the next call's entry, and the median time inside each call. The tracing
# itself adds about a microsecond to every user-space step, the same for
# every proxy: compare steps, not totals. Needs root (perf tracepoints).
#
#   bench/gaps.sh BINARY [BINARY...]
#   DUR=2 BASE_PORT=21500 bench/gaps.sh build-static/fwatchdog
set -eu
[ $# -ge 1 ] || { echo "usage: bench/gaps.sh BINARY [BINARY...]" >&2; exit 2; }
for b in "$@"; do
    [ -x "$b" ] || { echo "bench/gaps.sh: $b is not an executable" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "bench/gaps.sh: needs perf (linux-perf)" >&2; exit 2; }
cd "$(dirname "$0")/.."
DUR=${DUR:-2}
BASE_PORT=${BASE_PORT:-21500}   # below the ephemeral range
UP=$BASE_PORT
. bench/lib.sh

proxy_bench_setup "$UP"

# trace NAME PORT PID: warm up, then record the proxy's system calls
trace() {
    wait_answers "$2"
    timeout 30 wrk -t1 -c1 -d1s "http://127.0.0.1:$2/" >/dev/null
    perf record -q -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit -o "$WORK/perf.data" \
        -p "$3" -- sleep "$DUR" 2>/dev/null &
    rec=$!
    timeout $((DUR + 30)) wrk -t1 -c1 -d"${DUR}s" "http://127.0.0.1:$2/" >/dev/null
    wait $rec
    echo "== $1"
    perf script -i "$WORK/perf.data" -F time,event,trace --ns 2>/dev/null | python3 bench/gaps.py
    kill "$3"
}

port=$((BASE_PORT + 1))
"$WORK/relay" -p -l "$port" "$UP" 2>/dev/null &
PIDS="$PIDS $!"
trace "relay + llhttp + log" "$port" $!
for b in "$@"; do
    port=$((port + 1))
    env -i PATH=/usr/bin:/bin TMPDIR="$WORK" port="$port" metrics_port=0 mode=http \
        upstream_url="http://127.0.0.1:$UP" fprocess="sleep 100000" "$b" >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    trace "$b" "$port" $!
done
