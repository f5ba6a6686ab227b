#!/bin/sh
# Every benchmark, each next to the limit it is measured against, in one run.
# Prints a markdown table and writes it to bench/results.md; raw outputs go
# to bench/results/. Loopback only; every step is bounded in time.
#
#   bench/run.sh                      all rows, REPEAT=3 runs of DUR=5 seconds
#   REPEAT=5 DUR=10 bench/run.sh      longer
#   ONLY="fork body" bench/run.sh     a subset: fork http body idle
#
# The machine is shared: figures move from run to run, ratios much less, so
# every limit runs beside its watchdog figure, interleaved, and each cell is
# the median of REPEAT runs.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REPEAT=${REPEAT:-3}
DUR=${DUR:-5}
BODY_SIZE=${BODY_SIZE:-1024}
BIG=${BIG:-1073741824}
ONLY=${ONLY:-"fork http body idle"}
OUT=$ROOT/bench/results
BASE_PORT=${BASE_PORT:-21310}   # below the ephemeral range
export BODY_SIZE

mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ulimit -n 20000 2>/dev/null || true

log() { echo "bench: $*" >&2; }

# ---- build ----
# scripts/build.sh sets the directory up when it does not exist yet.
scripts/build.sh build >"$OUT/build.log" 2>&1 || { log "build failed: see $OUT/build.log"; exit 1; }
STATIC_NOTE=""
if scripts/build-static.sh build-static >"$OUT/build-static.log" 2>&1; then
    WD=$ROOT/build-static/fwatchdog
else
    WD=$ROOT/build/fwatchdog
    STATIC_NOTE="static build failed (see bench/results/build-static.log)"
fi
CFLAGS="-O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE"
cc $CFLAGS -pthread -o "$OUT/spawn_limit" bench/spawn_limit.c
cc $CFLAGS -o "$OUT/wdclient" bench/wdclient.c
cc $CFLAGS -o "$OUT/relay" bench/relay.c
SPAWN=$OUT/spawn_limit
CLIENT=$OUT/wdclient
RELAY=$OUT/relay

# ---- helpers ----
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a/b}'; }
# wrk latency "1.23ms" / "456.78us" / "1.2s" -> microseconds
to_us() { awk -v v="$1" 'BEGIN {n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1e6; else print "nan"}'; }

# The watchdog's environment: nothing inherited but PATH, its own TMPDIR.
SAFE_PATH=/usr/sbin:/usr/bin:/sbin:/bin
wd_env() { env -i PATH="$SAFE_PATH" TMPDIR="$WORK" metrics_port=0 "$@"; }

# start_wd NAME PORT VAR=VALUE...: start and wait for 200 on /_/health.
# Sets WD_PID; returns 2 when the watchdog rejects its configuration.
start_wd() {
    name=$1 port=$2
    shift 2
    # A simple command, not a function, so $! is the watchdog itself.
    env -i PATH="$SAFE_PATH" TMPDIR="$WORK" metrics_port=0 port="$port" "$@" "$WD" \
        >"$OUT/$name.log" 2>&1 &
    WD_PID=$!
    PIDS="$PIDS $WD_PID"
    i=0
    while [ $i -lt 500 ]; do
        if ! kill -0 "$WD_PID" 2>/dev/null; then
            wait "$WD_PID" && rc=0 || rc=$?
            [ "$rc" -eq 2 ] || log "$name exited $rc: $(tail -n 1 "$OUT/$name.log")"
            return "$rc"
        fi
        if curl -fs -o /dev/null "http://127.0.0.1:$port/_/health"; then
            return 0
        fi
        sleep 0.01
        i=$((i + 1))
    done
    log "$name did not become healthy"
    return 1
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wrk_run FILE CONNS URL [POST]: requests/s; FILE keeps the whole output.
wrk_run() {
    file=$1 conns=$2 url=$3
    threads=1
    [ "$conns" -gt 1 ] && threads=2
    if [ "${4:-}" = post ]; then
        wrk -t$threads -c"$conns" -d"${DUR}s" --latency -s bench/post.lua "$url" >"$file" 2>&1 || true
    else
        wrk -t$threads -c"$conns" -d"${DUR}s" --latency "$url" >"$file" 2>&1 || true
    fi
    if grep -q 'Non-2xx\|Socket errors' "$file"; then
        log "$(basename "$file"): $(grep 'Non-2xx\|Socket errors' "$file" | tr '\n' ' ')"
    fi
    awk '/^Requests\/sec/ {print $2}' "$file"
}
wrk_pct() { to_us "$(awk -v p="$2%" '$1 == p {print $2}' "$1")"; }

ROWS=""
row() { ROWS="$ROWS| $1 | $2 | $3 | $4 | $5 |
"; }

# Microseconds per request that rate a adds to rate b (req/s), signed.
added_us() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0 == 0 || b+0 == 0) print "nan"; else printf "%+.0f", 1e6/a - 1e6/b}'; }

# ---- fork modes: requests/s against the spawn limit ----
bench_fork() {
    start_wd streaming $((BASE_PORT + 1)) mode=streaming fprocess=cat
    S_PID=$WD_PID
    start_wd serializing $((BASE_PORT + 2)) mode=serializing fprocess=cat
    Z_PID=$WD_PID
    # cgi_response: the same function with and without it, so that the
    # ratio is what reading the header block costs and nothing else.
    cat >"$WORK/cgicat" <<'EOF'
#!/bin/sh
printf 'Status: 200 OK\r\nContent-Type: text/plain\r\nX-Bench: 1\r\n\r\n'
exec cat
EOF
    chmod +x "$WORK/cgicat"
    start_wd cgi_on $((BASE_PORT + 10)) mode=streaming fprocess="$WORK/cgicat" cgi_response=true
    C_PID=$WD_PID
    start_wd cgi_off $((BASE_PORT + 11)) mode=streaming fprocess="$WORK/cgicat"
    O_PID=$WD_PID
    for c in 1 32; do
        for r in $(seq "$REPEAT"); do
            log "fork c=$c run $r"
            wd_env "$SPAWN" -c "$c" -d "$DUR" -b "$BODY_SIZE" | awk '{print $1}' >>"$WORK/limit.$c"
            wrk_run "$OUT/wrk.streaming.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 1))/" post >>"$WORK/stream.$c"
            wrk_run "$OUT/wrk.serializing.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 2))/" post >>"$WORK/serial.$c"
            [ "$c" = 1 ] && wrk_run "$OUT/wrk.health.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 1))/_/health" >>"$WORK/health.$c"
            wrk_run "$OUT/wrk.cgi_on.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 10))/" post >>"$WORK/cgion.$c"
            wrk_run "$OUT/wrk.cgi_off.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 11))/" post >>"$WORK/cgioff.$c"
        done
        lim=$(median <"$WORK/limit.$c")
        st=$(median <"$WORK/stream.$c")
        se=$(median <"$WORK/serial.$c")
        row "streaming, cat, ${BODY_SIZE} B POST, $c conn (req/s)" "$st" "$lim" "$(ratio "$st" "$lim")" ">= 0.9"
        row "serializing, cat, ${BODY_SIZE} B POST, $c conn (req/s)" "$se" "$lim" "$(ratio "$se" "$lim")" ">= 0.9"
        if [ "$c" = 1 ]; then
            # At one connection a forked request costs the spawn and one
            # HTTP exchange in turn; the spawn limit has no HTTP at all.
            # This row times the exchange alone, and the limit column adds
            # it to the limit's time per request, for reference.
            h=$(median <"$WORK/health.$c")
            both=$(awk -v a="$lim" -v b="$h" 'BEGIN {if (a+0 == 0 || b+0 == 0) print "nan"; else printf "%.1f", 1 / (1/a + 1/b)}')
            row "HTTP alone: GET /_/health, 1 conn (req/s; limit = spawn limit plus this exchange)" "$h" "$both" "$(ratio "$st" "$both") streaming, $(ratio "$se" "$both") serializing" ""
        fi
        on=$(median <"$WORK/cgion.$c")
        off=$(median <"$WORK/cgioff.$c")
        row "streaming, cgi_response=true, sh printing a header block then cat, ${BODY_SIZE} B POST, $c conn (req/s, us added per request; limit = the same with cgi_response=false)" "$on ($(added_us "$on" "$off") us)" "$off" "$(ratio "$on" "$off")" ">= 0.95"
    done
    stop_pid "$S_PID"
    stop_pid "$Z_PID"
    stop_pid "$C_PID"
    stop_pid "$O_PID"
}

# ---- http mode: nginx as the fprocess, hit through the watchdog and directly ----
write_nginx_conf() {
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$1;
        location / { return 200 "hello\n"; }
    }
}
EOF
}

HTTP_NA=""
start_http_wd() {
    UP=$((BASE_PORT + 3))
    write_nginx_conf "$UP"
    if start_wd http $((BASE_PORT + 4)) mode=http upstream_url="http://127.0.0.1:$UP" \
        fprocess="nginx -p $WORK/nginx -c $WORK/nginx/nginx.conf"; then
        return 0
    else
        rc=$?
    fi
    if [ "$rc" -eq 2 ]; then
        HTTP_NA="n/a (mode http unavailable)"
    else
        HTTP_NA="n/a (watchdog failed, exit $rc; see bench/results/http.log)"
    fi
    return 1
}

bench_http() {
    if ! start_http_wd; then
        for c in 1 32; do row "http mode, nginx upstream, GET, $c conn (req/s)" "$HTTP_NA" "" "" ">= 0.5 at 32"; done
        row "http mode, 1 conn, median latency (us)" "$HTTP_NA" "" "" "+50 us"
        row "http mode, 1 conn, p99 latency (us)" "$HTTP_NA" "" "" ""
        return 0
    fi
    H_PID=$WD_PID
    # The floor of one more hop: bench/relay.c copies bytes between each
    # client and the same nginx, with no HTTP at all.
    "$RELAY" $((BASE_PORT + 8)) "$UP" 2>"$OUT/relay.log" &
    R_PID=$!
    PIDS="$PIDS $R_PID"
    for c in 1 32; do
        for r in $(seq "$REPEAT"); do
            log "http c=$c run $r"
            wrk_run "$OUT/wrk.direct.$c.$r" "$c" "http://127.0.0.1:$UP/" >>"$WORK/direct.$c"
            wrk_run "$OUT/wrk.http.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 4))/" >>"$WORK/http.$c"
            wrk_run "$OUT/wrk.relay.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 8))/" >>"$WORK/relay.$c"
            if [ "$c" = 1 ]; then
                for p in 50 99; do
                    for k in direct http relay; do
                        wrk_pct "$OUT/wrk.$k.$c.$r" $p >>"$WORK/$k.p$p"
                    done
                done
            fi
        done
        d=$(median <"$WORK/direct.$c")
        h=$(median <"$WORK/http.$c")
        rl=$(median <"$WORK/relay.$c")
        row "http mode, nginx upstream, GET, $c conn (req/s)" "$h" "$d" "$(ratio "$h" "$d")" "$([ "$c" = 32 ] && echo '>= 0.5')"
        row "byte relay, no HTTP (bench/relay.c), $c conn (req/s)" "$rl" "$d" "$(ratio "$rl" "$d")" ""
    done
    for p in 50 99; do
        d=$(median <"$WORK/direct.p$p")
        for k in http relay; do
            h=$(median <"$WORK/$k.p$p")
            added=$(awk -v a="$h" -v b="$d" 'BEGIN {printf "%.0f", a-b}')
            label="http mode"
            [ "$k" = relay ] && label="byte relay"
            row "$label, 1 conn, p$p latency (us; limit = direct)" "$h (+$added)" "$d" "$(ratio "$h" "$d")" "$([ $p = 50 ] && [ $k = http ] && echo '< +50 us')"
        done
    done
    stop_pid "$R_PID"
    stop_pid "$H_PID"
}

# ---- body throughput: 1 GiB through cat, and through http mode ----
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

bench_body() {
    for r in $(seq "$REPEAT"); do
        log "body streaming run $r"
        "$SPAWN" -n 1 -b "$BIG" | awk '{print $2}' >>"$WORK/biglimit"
        start_wd big $((BASE_PORT + 5)) mode=streaming fprocess=cat
        "$CLIENT" body $((BASE_PORT + 5)) "$BIG" >>"$WORK/bigstream" || echo nan >>"$WORK/bigstream"
        hwm_kib "$WD_PID" >>"$WORK/bigrss"
        stop_pid "$WD_PID"
    done
    l=$(median <"$WORK/biglimit")
    s=$(median <"$WORK/bigstream")
    row "streaming, 1 GiB through cat (MB/s; limit = same through pipes, no HTTP)" "$s" "$l" "$(ratio "$s" "$l")" ">= 600 MB/s"
    row "streaming, 1 GiB: watchdog peak RSS (KiB)" "$(median <"$WORK/bigrss")" "" "" "< 4096"

    # The upstream reads every body to its end before it answers (nginx's
    # "return 204" answers first and drops the body afterwards, which would
    # leave the watchdog only the body's tail to drop, not to carry).
    SINK=$((BASE_PORT + 9))
    for r in $(seq "$REPEAT"); do
        log "body http run $r"
        if ! start_wd bighttp $((BASE_PORT + 4)) mode=http upstream_url="http://127.0.0.1:$SINK" \
            fprocess="$CLIENT sink $SINK"; then
            echo nan >>"$WORK/bighttp"
            continue
        fi
        "$CLIENT" body "$SINK" "$BIG" >>"$WORK/bigdirect" || echo nan >>"$WORK/bigdirect"
        "$CLIENT" body $((BASE_PORT + 4)) "$BIG" >>"$WORK/bighttp" || echo nan >>"$WORK/bighttp"
        hwm_kib "$WD_PID" >>"$WORK/bighttprss"
        stop_pid "$WD_PID"
    done
    d=$(median <"$WORK/bigdirect")
    h=$(median <"$WORK/bighttp")
    row "http mode, 1 GiB POST to an upstream that reads it all (MB/s; limit = direct)" "$h" "$d" "$(ratio "$h" "$d")" ""
    row "http mode, 1 GiB: watchdog peak RSS (KiB)" "$(median <"$WORK/bighttprss")" "" "" ""
}

# ---- footprint: idle RSS, startup, binary size, 10,000 idle connections ----
bench_idle() {
    start_wd idle $((BASE_PORT + 6)) mode=streaming fprocess=cat
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$WD_PID/status")
    row "idle RSS after one /_/health (KiB)" "$rss" "" "" "< 1536"
    conns=$("$CLIENT" idle $((BASE_PORT + 6)) 10000 "$WD_PID" || echo nan)
    row "RSS with 10,000 idle keep-alive connections (KiB)" "$conns" "" "" ""
    stop_pid "$WD_PID"

    for r in $(seq $((REPEAT * 5))); do
        wd_env port=$((BASE_PORT + 7)) mode=streaming fprocess=cat \
            "$CLIENT" startup $((BASE_PORT + 7)) "$WD" 2>/dev/null >>"$WORK/startup" || echo nan >>"$WORK/startup"
        "$CLIENT" exec "$WD" --version 2>/dev/null | tail -n 1 >>"$WORK/execfloor"
    done
    s=$(median <"$WORK/startup")
    f=$(median <"$WORK/execfloor")
    row "startup to 200 on /_/health (ms; limit = fork, exec and exit of fwatchdog --version)" "$s" "$f" "$(ratio "$s" "$f")" "< 5 ms"

    if [ -z "$STATIC_NOTE" ]; then
        # scripts/build-static.sh strips it, as the image ships it.
        row "static binary size (bytes, stripped)" "$(stat -c %s "$WD")" "" "" ""
    else
        row "static binary size" "n/a ($STATIC_NOTE)" "" "" ""
    fi
}

for b in $ONLY; do
    case $b in
    fork) bench_fork ;;
    http) bench_http ;;
    body) bench_body ;;
    idle) bench_idle ;;
    *) log "unknown benchmark $b"; exit 2 ;;
    esac
done

{
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) CPUs,"
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end; REPEAT=$REPEAT DUR=${DUR}s, medians; binary: ${WD#"$ROOT"/}."
    echo
    echo "| benchmark | fwatchdog | limit | ratio | target |"
    echo "|---|---|---|---|---|"
    printf '%s' "$ROWS"
} >bench/results.md
cat bench/results.md
