#!/bin/sh
# Before and after a change on the http-mode request path: two fwatchdog
# binaries and the logging relay (bench/relay.c -p -l) in front of one nginx,
# interleaved round by round, each round a wrk run per proxy. Prints, per
# proxy, the median over the rounds of req/s, of the CPU time per request the
# scheduler counted (/proc/PID/schedstat, exact), of its split into user
# and system time (/proc/PID/stat, sampled at clock ticks, so a rough
# split), and of the times per request the proxy was put on a CPU (the
# schedstat's third figure: each wait in epoll that slept costs one); and
# nginx's CPU time per request in the same runs, which a proxy sharing its
# CPU (PIN=1) moves too. Loopback only, bounded in time.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY
#   CONNS=32 ROUNDS=10 DUR=3 BASE_PORT=21400 bench/ab.sh old new
#   THREADS=2 CONNS=32 bench/ab.sh old new   (wrk's threads, as bench/run.sh
#                                             runs it at 32 connections)
#   PIN=1 CONNS=32 bench/ab.sh old new       (placement fixed as in the pinned
#       rows of bench/run.sh: wrk on the first CPU this script may use, nginx
#       and the proxies on the second; needs two)
#   GO_FIELDS=1 bench/ab.sh old new          (the relay's requests carry the
#       two fields the watchdog adds to each request it forwards, as Go's
#       client does: User-Agent and Accept-Encoding; so nginx reads the
#       same request from every proxy)
#
# Last, the new binary's req/s over the old one's in the same round: the
# median and spread of that ratio, which the machine's changes of speed
# between rounds move less than the two medians above.
#
# The machine is shared: a difference smaller than the spread between rounds
# (printed as min-max) says nothing.
set -eu
[ $# -eq 2 ] || { echo "usage: bench/ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
for b in "$1" "$2"; do
    [ -x "$b" ] || { echo "bench/ab.sh: $b is not an executable" >&2; exit 2; }
done
OLD=$(realpath "$1")
NEW=$(realpath "$2")
cd "$(dirname "$0")/.."
CONNS=${CONNS:-1}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-10}
DUR=${DUR:-3}
BASE_PORT=${BASE_PORT:-21400}   # below the ephemeral range
UP=$BASE_PORT
CLK_TCK=$(getconf CLK_TCK)
. bench/lib.sh

proxy_bench_setup "$UP"
NGINX_PID=$!
"$WORK/relay" -p -l $((BASE_PORT + 1)) "$UP" 2>"$WORK/relay.log" &
PIDS="$PIDS $!"
RELAY_PID=$!
start_wd() {
    env -i PATH=/usr/bin:/bin TMPDIR="$WORK" port="$1" metrics_port=0 mode=http \
        upstream_url="http://127.0.0.1:$UP" fprocess="sleep 100000" "$2" >"$WORK/wd.$1.log" 2>&1 &
    PIDS="$PIDS $!"
    WD_PID=$!
}
start_wd $((BASE_PORT + 2)) "$OLD"
OLD_PID=$WD_PID
start_wd $((BASE_PORT + 3)) "$NEW"
NEW_PID=$WD_PID

# Every proxy answers before the rounds start.
wait_answers $((BASE_PORT + 1)) $((BASE_PORT + 2)) $((BASE_PORT + 3))
# nginx runs one worker (write_nginx_conf), the master's only child.
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -n 1)
[ -n "$NGINX_WORKER" ] || { echo "bench/ab.sh: no nginx worker" >&2; exit 1; }

WRK="wrk"
if [ -n "${PIN:-}" ]; then
    # shellcheck disable=SC2046  # one word per CPU
    set -- "$@" $(allowed_cpus | head -n 2)
    [ $# -ge 4 ] || { echo "bench/ab.sh: PIN needs two CPUs" >&2; exit 2; }
    # shellcheck disable=SC2086
    pin_tree "$4" $PIDS
    WRK="taskset -c $3 wrk"
    echo "pinned: wrk on CPU $3; nginx and the proxies on CPU $4"
fi

ticks() {
    awk '{printf "%s %s ", $14 + 0, $15 + 0}' "/proc/$1/stat"
    awk '{print int($1 / 1000), $3}' "/proc/$1/schedstat"
}
# round NAME PORT PID [WRK_ARGS...]: one wrk run, appending
# "req/s run_us user_us sys_us slices nginx_run_us"
round() {
    name=$1 port=$2 pid=$3
    shift 3
    ticks "$pid" >"$WORK/ticks"
    read -r u0 s0 r0 w0 <"$WORK/ticks"
    g0=$(awk '{print int($1 / 1000)}' "/proc/$NGINX_WORKER/schedstat")
    # shellcheck disable=SC2086  # WRK is a command and its arguments
    n=$(timeout $((DUR + 30)) $WRK "$@" -t"$THREADS" -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$port/" |
        awk '/requests in/ {print $1}')
    if [ -z "$n" ] || [ "$n" -eq 0 ]; then
        echo "bench/ab.sh: wrk got no answers on port $port" >&2
        exit 1
    fi
    ticks "$pid" >"$WORK/ticks"
    read -r u1 s1 r1 w1 <"$WORK/ticks"
    g1=$(awk '{print int($1 / 1000)}' "/proc/$NGINX_WORKER/schedstat")
    awk -v n="$n" -v d="$DUR" -v t="$CLK_TCK" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v r=$((r1 - r0)) \
        -v w=$((w1 - w0)) -v g=$((g1 - g0)) \
        'BEGIN { printf "%.0f %.2f %.2f %.2f %.3f %.2f\n", n / d, r / n, u * 1e6 / t / n, s * 1e6 / t / n, w / n, g / n }' >>"$WORK/rounds.$name"
}
r=0
while [ $r -lt "$ROUNDS" ]; do
    if [ -n "${GO_FIELDS:-}" ]; then
        round relay $((BASE_PORT + 1)) "$RELAY_PID" -H "User-Agent: Go-http-client/1.1" \
            -H "Accept-Encoding: gzip"
    else
        round relay $((BASE_PORT + 1)) "$RELAY_PID"
    fi
    round old $((BASE_PORT + 2)) "$OLD_PID"
    round new $((BASE_PORT + 3)) "$NEW_PID"
    r=$((r + 1))
done

echo "$CONNS connection(s), wrk -t$THREADS, $ROUNDS rounds of ${DUR}s, medians (min-max)"
printf '%-36s %s\n' proxy "req/s, CPU us per request: run (schedstat), user and system (ticks); times on a CPU per request; nginx's CPU us per request"
for k in relay old new; do
    case $k in
    relay) name="relay + llhttp + log${GO_FIELDS:+, Go fields}" ;;
    old) name="old: $OLD" ;;
    new) name="new: $NEW" ;;
    esac
    awk -v name="$name" '
        { for (i = 1; i <= 6; i++) v[i, NR] = $i }
        function med(c,   a, i, j, t, n) {
            n = NR
            for (i = 1; i <= n; i++) a[i] = v[c, i]
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            lo = a[1]; hi = a[n]
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END {
            m1 = med(1); l1 = lo; h1 = hi
            m2 = med(2); l2 = lo; h2 = hi
            m3 = med(3); l3 = lo; h3 = hi
            m4 = med(4); l4 = lo; h4 = hi
            m5 = med(5); l5 = lo; h5 = hi
            m6 = med(6); l6 = lo; h6 = hi
            printf "%-36.36s %7.0f (%.0f-%.0f) %5.2f (%.2f-%.2f) %5.2f (%.2f-%.2f) %5.2f (%.2f-%.2f) %5.3f (%.3f-%.3f) %5.2f (%.2f-%.2f)\n", name, m1, l1, h1, m2, l2, h2, m3, l3, h3, m4, l4, h4, m5, l5, h5, m6, l6, h6
        }' "$WORK/rounds.$k"
done
paste -d' ' "$WORK/rounds.old" "$WORK/rounds.new" | awk '
    { r[NR] = $7 / $1 }
    END {
        n = NR
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        m = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
        printf "new over old, paired by round: %.3f (%.3f-%.3f)\n", m, r[1], r[n]
    }'
