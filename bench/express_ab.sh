#!/bin/sh
# The Express function (bench/express) at one connection, five ways in the
# same rounds: hit directly; directly with the two fields Go's client adds
# to every request the watchdog forwards (User-Agent, Accept-Encoding);
# through the byte relay; through the logging relay (bench/relay.c -p -l);
# through fwatchdog in http mode. Prints each one's median req/s and p50
# latency, and its req/s over direct's paired by round: what parsing and
# logging alone cost this function, against what fwatchdog costs it.
# Loopback only, bounded in time; needs node with bench/express's modules
# (npm ci, as bench/run.sh does) and wrk.
#
#   bench/express_ab.sh BINARY
#   ROUNDS=6 DUR=3 BASE_PORT=22019 bench/express_ab.sh build-static/fwatchdog
#   PLACE=client bench/express_ab.sh BINARY   (placement fixed: wrk on the
#       first CPU this script may use, node on the second, and the proxies
#       on wrk's CPU; PLACE=app puts them on node's. Left free, as in
#       bench/run.sh's Express rows, the scheduler places each anew)
set -eu
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: bench/express_ab.sh BINARY" >&2
    exit 2
fi
WD=$(realpath "$1")
ROUNDS=${ROUNDS:-6}
DUR=${DUR:-3}
BASE_PORT=${BASE_PORT:-22019}   # below the ephemeral range
UP=$BASE_PORT RELAY_PORT=$((BASE_PORT + 1)) LOG_PORT=$((BASE_PORT + 2)) WD_PORT=$((BASE_PORT + 3))
cd "$(dirname "$0")/.."
. bench/lib.sh
[ -d bench/express/node_modules/express ] ||
    { echo "bench/express_ab.sh: run npm ci in bench/express first" >&2; exit 2; }
WORK=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
build_relay "$WORK"
node bench/express/app.js "$UP" &
NODE_PID=$!
PIDS="$PIDS $!"
wait_answers "$UP"
"$WORK/relay" "$RELAY_PORT" "$UP" >/dev/null 2>&1 &
PIDS="$PIDS $!"
"$WORK/relay" -p -l "$LOG_PORT" "$UP" >/dev/null 2>&1 &
PIDS="$PIDS $!"
# The function is started apart, so all five reach the same process; the
# watchdog's own fprocess only has to stay up.
env mode=http upstream_url="http://127.0.0.1:$UP" fprocess="sleep 3600" port="$WD_PORT" \
    metrics_port=0 suppress_lock=true "$WD" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_answers "$RELAY_PORT" "$LOG_PORT" "$WD_PORT"

WRK=wrk
if [ -n "${PLACE:-}" ]; then
    # shellcheck disable=SC2046  # one word per CPU
    set -- $(allowed_cpus | head -n 2)
    [ $# -eq 2 ] || { echo "bench/express_ab.sh: PLACE needs two CPUs" >&2; exit 2; }
    case $PLACE in
    client) proxies=$1 ;;
    app) proxies=$2 ;;
    *) echo "bench/express_ab.sh: PLACE is client or app" >&2; exit 2 ;;
    esac
    pin_tree "$2" "$NODE_PID"
    # shellcheck disable=SC2046,SC2086  # the pids other than node's
    pin_tree "$proxies" $(echo $PIDS | tr ' ' '\n' | grep -vx "$NODE_PID")
    WRK="taskset -c $1 wrk"
    echo "placed: wrk on CPU $1, node on CPU $2, the proxies on CPU $proxies"
fi

# one NAME URL [WRK_ARGS...]: a line "NAME req/s p50_us" into $WORK/all.
one() {
    name=$1 url=$2
    shift 2
    # shellcheck disable=SC2086  # WRK is a command and its arguments
    timeout $((DUR + 30)) $WRK -t1 -c1 -d"${DUR}s" --latency "$@" "$url" |
        awk -v n="$name" '/Requests\/sec/ {r = $2}
            $1 == "50%" {p = $2; sub(/us$/, "", p); if (p ~ /ms$/) {sub(/ms$/, "", p); p *= 1000}}
            END {print n, r, p}' >>"$WORK/all"
}
for _ in $(seq "$ROUNDS"); do
    one direct "http://127.0.0.1:$UP/"
    one direct+go "http://127.0.0.1:$UP/" -H "User-Agent: Go-http-client/1.1" \
        -H "Accept-Encoding: gzip"
    one relay "http://127.0.0.1:$RELAY_PORT/"
    one logrelay "http://127.0.0.1:$LOG_PORT/"
    one fwatchdog "http://127.0.0.1:$WD_PORT/"
done
echo "1 connection, wrk -t1, $ROUNDS rounds of ${DUR}s, medians; last column: over direct, paired by round"
awk -v rounds="$ROUNDS" '
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) {t = a[j]; a[j] = a[j-1]; a[j-1] = t}
        return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    {k = ++seen[$1]; rps[$1, k] = $2; p50[$1, k] = $3; if (k == 1) order[++names] = $1}
    END {
        for (i = 1; i <= names; i++) {
            n = order[i]
            for (k = 1; k <= rounds; k++) {a[k] = rps[n, k]; b[k] = p50[n, k]; c[k] = rps[n, k] / rps["direct", k]}
            printf "%-10s %9.0f req/s  p50 %5.1f us  %.3f\n", n, median(a, rounds), median(b, rounds), median(c, rounds)
        }
    }' "$WORK/all"
