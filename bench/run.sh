#!/bin/sh
# Every benchmark, each next to the limit it is measured against, in one run.
# Prints a markdown table and writes it to bench/results.md; raw outputs go
# to bench/results/. Loopback only; every step is bounded in time.
#
#   bench/run.sh                      all rows, REPEAT=3 runs of DUR=5 seconds
#   REPEAT=5 DUR=10 bench/run.sh      longer
#   ONLY="fork body" bench/run.sh     a subset of: fork http body idle cold
#                                     rss express features
#   REF_WD=/path/to/of-watchdog bench/run.sh
#                                     the Go watchdog in a column of its own,
#                                     run beside fwatchdog in the same rounds
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
ONLY=${ONLY:-"fork http body idle cold rss express features"}
OUT=$ROOT/bench/results
BASE_PORT=${BASE_PORT:-21310}   # below the ephemeral range
REF_WD=${REF_WD:-}
export BODY_SIZE

mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=""
REF_PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    # unshare ignores SIGTERM; its SIGKILL takes its namespace down with it.
    for p in $REF_PIDS; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 20000 2>/dev/null || true

log() { echo "bench: $*" >&2; }
. bench/lib.sh

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
build_relay "$OUT"
SPAWN=$OUT/spawn_limit
CLIENT=$OUT/wdclient
RELAY=$OUT/relay
CLK_TCK=$(getconf CLK_TCK)

# ---- the Go watchdog (REF_WD) ----
# It serves its metrics on :8081 whatever it is told and listens on every
# interface, so each one runs alone in a network and PID namespace of its
# own (unshare, as root): no port of it is seen outside, any number of them
# can run at once, and killing the unshare process takes the watchdog and
# its function down with the namespace. Its clients join the namespace
# with nsenter.
REF_NOTE=""
if [ -z "$REF_WD" ]; then
    REF_NOTE="REF_WD not set"
elif [ ! -x "$REF_WD" ]; then
    REF_NOTE="REF_WD=$REF_WD is not executable"
elif ! timeout 10 unshare -n -p -f --kill-child sh -c 'ip link set lo up' >/dev/null 2>&1; then
    REF_NOTE="needs unshare and ip, as root, for its own network namespace"
else
    REF_WD=$(realpath "$REF_WD")
fi
has_ref() { [ -z "$REF_NOTE" ]; }

# ---- helpers ----
# Median of the numbers on stdin, one a line ("nan" lines and empty ones
# are runs that failed, left out); nan when there is none.
median() { grep -E '^-?[0-9.]+$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}' || true; }
# The median of FILE, nan when it does not exist (its runs never ran).
med() { if [ -s "$1" ]; then median <"$1"; else echo nan; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0 || a == "nan" || b == "nan" || a == "") print "n/a"; else printf "%.2f", a/b}'; }
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
    mkdir -p "$WORK/tmp.$name"
    # A simple command, not a function, so $! is the watchdog itself.
    env -i PATH="$SAFE_PATH" TMPDIR="$WORK/tmp.$name" metrics_port=0 port="$port" "$@" "$WD" \
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
        if curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port/_/health"; then
            return 0
        fi
        sleep 0.01
        i=$((i + 1))
    done
    log "$name did not become healthy"
    return 1
}

# start_ref NAME PORT VAR=VALUE...: the Go watchdog, configured by the same
# variables, in its own namespaces (see above). Sets REF_PID (unshare's,
# whose network namespace is the watchdog's) and REF_WDPID (the watchdog).
start_ref() {
    name=$1 port=$2
    shift 2
    mkdir -p "$WORK/ref.$name"
    # Go's TMPDIR is where it writes its /_/health lock file.
    unshare -n -p -f --kill-child sh -c 'ip link set lo up && exec "$@"' sh \
        env -i PATH="$SAFE_PATH" TMPDIR="$WORK/ref.$name" port="$port" healthcheck_interval=100ms "$@" "$REF_WD" \
        >"$OUT/ref.$name.log" 2>&1 &
    REF_PID=$!
    REF_PIDS="$REF_PIDS $REF_PID"
    REF_WDPID=""
    self=$(readlink /proc/self/ns/net)
    i=0
    while [ $i -lt 500 ]; do
        if ! kill -0 "$REF_PID" 2>/dev/null; then
            log "Go $name exited: $(tail -n 1 "$OUT/ref.$name.log")"
            return 1
        fi
        # Only once unshare is in its own namespace.
        ns=$(readlink "/proc/$REF_PID/ns/net" 2>/dev/null || echo "$self")
        if [ "$ns" != "$self" ] &&
            nsenter --net="/proc/$REF_PID/ns/net" curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port/_/health"; then
            REF_WDPID=$(ps -o pid= --ppid "$REF_PID" | awk 'NR == 1 {print $1}')
            return 0
        fi
        sleep 0.01
        i=$((i + 1))
    done
    log "Go $name did not become healthy"
    return 1
}
in_ns() { pid=$1; shift; nsenter --net="/proc/$pid/ns/net" "$@"; }

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
stop_ref() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wrk_run FILE CONNS URL [post|get|gofields [NSPID]]: requests/s; FILE keeps
# the whole output. post sends bench/post.lua's body, gofields the fields of
# bench/gofields.lua. With NSPID, wrk runs in that process's network
# namespace.
# WRK_PIN, when set, is a command wrk runs under (taskset, see pin_tree).
wrk_run() {
    file=$1 conns=$2 url=$3
    threads=1
    [ "$conns" -gt 1 ] && threads=2
    pre=""
    [ -n "${5:-}" ] && pre="nsenter --net=/proc/$5/ns/net"
    script=""
    [ "${4:-}" = post ] && script="-s bench/post.lua"
    [ "${4:-}" = gofields ] && script="-s bench/gofields.lua"
    # shellcheck disable=SC2086
    timeout $((DUR + 30)) $pre ${WRK_PIN:-} wrk -t$threads -c"$conns" -d"${DUR}s" --latency $script "$url" >"$file" 2>&1 || true
    if grep -q 'Non-2xx\|Socket errors' "$file"; then
        log "$(basename "$file"): $(grep 'Non-2xx\|Socket errors' "$file" | tr '\n' ' ')"
    fi
    # A run with no rate (the server is gone, wrk failed) counts as nan.
    grep -q '^Requests/sec' "$file" || log "$(basename "$file"): no rate: $(head -n 1 "$file")"
    awk 'BEGIN {r = "nan"} /^Requests\/sec/ {r = $2} END {print r}' "$file"
}
wrk_pct() { to_us "$(awk -v p="$2%" '$1 == p {print $2}' "$1")"; }
# Answers with a 2xx status per second of a wrk output.
wrk_ok_rate() {
    awk '/requests in/ {n = $1; d = $4; sub(/,$/, "", d)}
         /Non-2xx or 3xx responses:/ {bad = $5}
         END {
             s = d + 0; if (d ~ /ms$/) s /= 1000; else if (d ~ /m$/) s *= 60
             if (s <= 0) print "nan"; else printf "%.2f\n", (n - bad) / s
         }' "$1"
}

ROWS=""
# row LABEL FWATCHDOG GO LIMIT RATIO GO_RATIO TARGET
row() { ROWS="$ROWS| $1 | $2 | $3 | $4 | $5 | $6 | $7 |
"; }
# The Go column of a row it runs: the figure, or why there is none.
refv() { if has_ref; then echo "$1"; else echo ""; fi; }
refr() { if has_ref; then ratio "$1" "$2"; else echo ""; fi; }
# The Go column of a row it cannot run, with the reason.
refna() { if has_ref; then echo "n/a ($1)"; else echo ""; fi; }

# Microseconds per request that rate a adds to rate b (req/s), signed.
added_us() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0 == 0 || b+0 == 0) print "nan"; else printf "%+.0f", 1e6/a - 1e6/b}'; }
# latency_row LABEL FILE GO_FILE DIRECT_FILE [TARGET]: the medians of three
# files of latencies (us), each cell with what it adds to DIRECT_FILE's; an
# empty GO_FILE leaves the Go columns empty (a row without a watchdog).
latency_row() {
    d=$(med "$4")
    v=$(med "$2")
    gcell="" gr=""
    if [ -n "$3" ] && has_ref; then
        g=$(med "$3")
        gcell="$g ($(minus "$g" "$d"))"
        gr=$(ratio "$g" "$d")
    fi
    row "$1" "$v ($(minus "$v" "$d"))" "$gcell" "$d" "$(ratio "$v" "$d")" "$gr" "${5:-}"
}
minus() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "nan" || b == "nan" || a == "" || b == "") print "nan"; else printf "%+.0f", a-b}'; }

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
    GS="" GZ=""
    if has_ref; then
        start_ref streaming $((BASE_PORT + 1)) mode=streaming fprocess=cat && GS=$REF_PID
        start_ref serializing $((BASE_PORT + 2)) mode=serializing fprocess=cat && GZ=$REF_PID
    fi
    for c in 1 32; do
        for r in $(seq "$REPEAT"); do
            log "fork c=$c run $r"
            wd_env timeout $((DUR + 30)) "$SPAWN" -c "$c" -d "$DUR" -b "$BODY_SIZE" | awk '{print $1}' >>"$WORK/limit.$c"
            wrk_run "$OUT/wrk.streaming.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 1))/" post >>"$WORK/stream.$c"
            [ -n "$GS" ] && wrk_run "$OUT/wrk.go.streaming.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 1))/" post "$GS" >>"$WORK/gstream.$c"
            wrk_run "$OUT/wrk.serializing.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 2))/" post >>"$WORK/serial.$c"
            [ -n "$GZ" ] && wrk_run "$OUT/wrk.go.serializing.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 2))/" post "$GZ" >>"$WORK/gserial.$c"
            if [ "$c" = 1 ]; then
                wrk_run "$OUT/wrk.health.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 1))/_/health" >>"$WORK/health.$c"
                [ -n "$GS" ] && wrk_run "$OUT/wrk.go.health.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 1))/_/health" get "$GS" >>"$WORK/ghealth.$c"
            fi
            wrk_run "$OUT/wrk.cgi_on.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 10))/" post >>"$WORK/cgion.$c"
            wrk_run "$OUT/wrk.cgi_off.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 11))/" post >>"$WORK/cgioff.$c"
        done
        lim=$(med "$WORK/limit.$c")
        st=$(med "$WORK/stream.$c")
        se=$(med "$WORK/serial.$c")
        gst=$(med "$WORK/gstream.$c")
        gse=$(med "$WORK/gserial.$c")
        row "streaming, cat, ${BODY_SIZE} B POST, $c conn (req/s)" "$st" "$(refv "$gst")" "$lim" "$(ratio "$st" "$lim")" "$(refr "$gst" "$lim")" ">= 0.9"
        row "serializing, cat, ${BODY_SIZE} B POST, $c conn (req/s)" "$se" "$(refv "$gse")" "$lim" "$(ratio "$se" "$lim")" "$(refr "$gse" "$lim")" ">= 0.9"
        if [ "$c" = 1 ]; then
            # At one connection a forked request costs the spawn and one
            # HTTP exchange in turn; the spawn limit has no HTTP at all.
            # This row times the exchange alone, and the limit column adds
            # it to the limit's time per request, for reference (the Go
            # ratio against the spawn limit plus its own exchange).
            h=$(med "$WORK/health.$c")
            gh=$(med "$WORK/ghealth.$c")
            both=$(awk -v a="$lim" -v b="$h" 'BEGIN {if (a+0 == 0 || b+0 == 0) print "nan"; else printf "%.1f", 1 / (1/a + 1/b)}')
            gboth=$(awk -v a="$lim" -v b="$gh" 'BEGIN {if (a+0 == 0 || b+0 == 0) print "nan"; else printf "%.1f", 1 / (1/a + 1/b)}')
            gr=""
            has_ref && gr="$(ratio "$gst" "$gboth") streaming, $(ratio "$gse" "$gboth") serializing"
            row "HTTP alone: GET /_/health, 1 conn (req/s; limit = spawn limit plus this exchange)" "$h" "$(refv "$gh")" "$both" "$(ratio "$st" "$both") streaming, $(ratio "$se" "$both") serializing" "$gr" ""
        fi
        on=$(med "$WORK/cgion.$c")
        off=$(med "$WORK/cgioff.$c")
        row "streaming, cgi_response=true, sh printing a header block then cat, ${BODY_SIZE} B POST, $c conn (req/s, us added per request; limit = the same with cgi_response=false)" "$on ($(added_us "$on" "$off") us)" "$(refna "no cgi_response")" "$off" "$(ratio "$on" "$off")" "" ">= 0.95"
    done
    stop_pid "$S_PID"
    stop_pid "$Z_PID"
    stop_pid "$C_PID"
    stop_pid "$O_PID"
    [ -n "$GS" ] && stop_ref "$GS"
    [ -n "$GZ" ] && stop_ref "$GZ"
    return 0
}

# ---- http mode: nginx as the fprocess, hit through the watchdog and directly ----
# haproxy, one thread: a tcp-mode and an http-mode front, both to PORT.
write_haproxy_conf() {
    cat >"$1" <<EOF
global
    nbthread 1
    maxconn 8192
    pidfile $WORK/haproxy.pid
defaults
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen tcp
    mode tcp
    bind 127.0.0.1:$2
    server fn 127.0.0.1:$4
listen http
    mode http
    option http-keep-alive
    http-reuse always
    bind 127.0.0.1:$3
    server fn 127.0.0.1:$4
EOF
}

HTTP_NA=""
start_http_wd() {
    UP=$((BASE_PORT + 3))
    write_nginx_conf "$WORK/nginx" "$UP"
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
        for c in 1 32; do row "http mode, nginx upstream, GET, $c conn (req/s)" "$HTTP_NA" "" "" "" "" ">= 0.5 at 32"; done
        row "http mode, 1 conn, median latency (us)" "$HTTP_NA" "" "" "" "" "+50 us"
        row "http mode, 1 conn, p99 latency (us)" "$HTTP_NA" "" "" "" "" ""
        return 0
    fi
    H_PID=$WD_PID
    # The Go watchdog in front of the same nginx (its own process with the
    # same conf, in its namespace).
    GH="" GHW=""
    if has_ref; then
        write_nginx_conf "$WORK/nginx-go" "$UP"
        start_ref http $((BASE_PORT + 4)) mode=http upstream_url="http://127.0.0.1:$UP" \
            fprocess="nginx -p $WORK/nginx-go -c $WORK/nginx-go/nginx.conf" && GH=$REF_PID GHW=$REF_WDPID
    fi
    # The floor of one more hop: bench/relay.c copies bytes between each
    # client and the same nginx, with no HTTP at all; then the same with
    # llhttp over both directions, and with an access-log line per answer
    # as well: the least any HTTP proxy that logs like the watchdog does.
    "$RELAY" $((BASE_PORT + 8)) "$UP" 2>"$OUT/relay.log" &
    R_PID=$!
    "$RELAY" -p $((BASE_PORT + 25)) "$UP" 2>"$OUT/relay-parse.log" &
    RP_PID=$!
    "$RELAY" -p -l $((BASE_PORT + 26)) "$UP" 2>"$OUT/relay-log.log" &
    RL_PID=$!
    PIDS="$PIDS $R_PID $RP_PID $RL_PID"
    # Proxies in front of the same nginx: haproxy (tcp and http modes) and
    # nginx's proxy_pass with an upstream keep-alive pool.
    HA=""
    if command -v haproxy >/dev/null; then
        write_haproxy_conf "$WORK/haproxy.cfg" $((BASE_PORT + 12)) $((BASE_PORT + 13)) "$UP"
        haproxy -db -f "$WORK/haproxy.cfg" >"$OUT/haproxy.log" 2>&1 &
        HA=$!
        PIDS="$PIDS $HA"
    fi
    write_nginx_conf "$WORK/nginx-proxy" $((BASE_PORT + 14)) "$UP"
    nginx -p "$WORK/nginx-proxy" -c "$WORK/nginx-proxy/nginx.conf" >"$OUT/nginx-proxy.log" 2>&1 &
    NP=$!
    PIDS="$PIDS $NP"
    sleep 0.3
    PROXIES="relay relayparse relaylog relaylogfields nginxproxy"
    if [ -n "$HA" ] && kill -0 "$HA" 2>/dev/null; then
        PROXIES="relay relayparse relaylog relaylogfields haproxytcp haproxyhttp nginxproxy"
    else
        log "haproxy: $( [ -n "$HA" ] && tail -n 1 "$OUT/haproxy.log" || echo not installed)"
    fi
    for c in 1 32; do
        for r in $(seq "$REPEAT"); do
            log "http c=$c run $r"
            # The proxies right after fwatchdog, the byte relay first.
            wrk_three ng "$c" "$r" "$UP" $((BASE_PORT + 4)) "$GH" "$H_PID" "$GHW" http_proxies_round
        done
        http_rate_rows "$c" ng "" "" "" "$([ "$c" = 32 ] && echo '>= 0.5')"
    done
    # Where each request's time goes: CPU of the proxy process alone
    # (utime and stime from /proc), per request, medians of the same runs.
    for c in 1 32; do
        for t in user sys; do
            case $t in
            user) lim=relaylog what="user (us; limit = relay + llhttp + log)" ;;
            sys) lim=relay what="system (us; limit = byte relay)" ;;
            esac
            v=$(med "$WORK/cpu.wd.$c.$t")
            g=$(med "$WORK/cpu.go.$c.$t")
            l=$(med "$WORK/cpu.$lim.$c.$t")
            row "CPU per request, http mode, $c conn, $what" "$v" "$(refv "$g")" "$l" "$(ratio "$v" "$l")" "$(refr "$g" "$l")" ""
        done
        for k in relay relayparse relaylog; do
            row "CPU per request, $(cpu_label "$k"), $c conn, user / system (us)" \
                "$(med "$WORK/cpu.$k.$c.user") / $(med "$WORK/cpu.$k.$c.sys")" "" "" "" "" ""
        done
    done
    http_latency_rows "50 99" ng "" "" '< +50 us'
    http_pinned "$H_PID" "$GH"
    stop_pid "$R_PID"
    stop_pid "$RP_PID"
    stop_pid "$RL_PID"
    stop_pid "$NP"
    [ -n "$HA" ] && stop_pid "$HA"
    stop_pid "$H_PID"
    [ -n "$GH" ] && stop_ref "$GH"
    return 0
}
# http_proxies_round C R [PFX]: one turn of each proxy in front of nginx (see
# bench_http; PROXIES and the relays' PIDs are set there). PFX goes in
# front of every file name and CPU key, to keep other rounds apart.
http_proxies_round() {
    for k in $PROXIES; do
        f=${3:-}$k
        cpid="" how=""
        case $k in
        relay) p=$((BASE_PORT + 8)) cpid=$R_PID ;;
        relayparse) p=$((BASE_PORT + 25)) cpid=$RP_PID ;;
        relaylog) p=$((BASE_PORT + 26)) cpid=$RL_PID ;;
        relaylogfields) p=$((BASE_PORT + 26)) cpid=$RL_PID how=gofields ;;
        haproxytcp) p=$((BASE_PORT + 12)) ;;
        haproxyhttp) p=$((BASE_PORT + 13)) ;;
        nginxproxy) p=$((BASE_PORT + 14)) ;;
        esac
        cpu_wrk "$f" "$cpid" "$OUT/wrk.$f.$1.$2" "$1" "http://127.0.0.1:$p/" "$how" >>"$WORK/$f.$1"
    done
    if [ "$1" = 1 ]; then
        for p in 50 99; do
            for k in $PROXIES; do
                wrk_pct "$OUT/wrk.${3:-}$k.$1.$2" $p >>"$WORK/${3:-}$k.p$p"
            done
        done
    fi
}
http_proxies_pinned() { http_proxies_round "$1" "$2" pin.; }

# At one connection each request crosses from the client to the proxy to
# nginx and back, and its latency is set mostly by where the scheduler puts
# the three processes: on this machine nginx alone answers in 24 us with
# wrk on its CPU and 33-40 us with wrk on the other one. Left free, the
# placement changes between runs and within one, so two servers measured
# one after the other can land on different levels. These rounds fix it
# for every server alike: the client on one CPU, the proxy with its
# function (nginx) on another, as in a function's container given one CPU
# and called from outside it. At 32 connections the same placement makes
# the rate what the proxy and nginx cost in CPU together, with no spare
# core for either to spill onto.

# http_pinned WD_PID GO_NSPID: the rounds of bench_http again, with the
# placement fixed (above); rows labelled "pinned".
http_pinned() {
    # shellcheck disable=SC2046  # one word per CPU
    set -- "$1" "$2" $(allowed_cpus | head -n 2)
    if [ $# -lt 4 ]; then
        row "pinned: http mode, nginx upstream, GET, 1 conn (req/s)" "n/a (needs two CPUs)" "" "" "" "" ""
        return 0
    fi
    client=$3 server=$4
    pin_tree "$server" "$1" $R_PID $RP_PID $RL_PID $NP ${HA:-} ${2:-}
    where="client on CPU $client; proxy and nginx on CPU $server"
    for c in 1 32; do
        for r in $(seq "$REPEAT"); do
            log "http pinned c=$c run $r"
            WRK_PIN="taskset -c $client" wrk_three pin "$c" "$r" "$UP" $((BASE_PORT + 4)) "$2" "" "" http_proxies_pinned
        done
        http_rate_rows "$c" pin pin. "pinned ($where): " "pinned: " ""
    done
    http_latency_rows 50 pin pin. "pinned: " ""
}
# http_rate_rows C WPFX KPFX HEAD LPFX TARGET: the req/s rows of bench_http
# at C connections, from the files of wrk_three (prefix WPFX) and of
# http_proxies_round (prefix KPFX). fwatchdog's label starts with HEAD, the
# others' with LPFX; TARGET is fwatchdog's.
http_rate_rows() {
    d=$(med "$WORK/$2.direct.$1")
    h=$(med "$WORK/$2.wd.$1")
    g=$(med "$WORK/$2.go.$1")
    row "${4}http mode, nginx upstream, GET, $1 conn (req/s)" "$h" "$(refv "$g")" "$d" "$(ratio "$h" "$d")" "$(refr "$g" "$d")" "$6"
    for k in $PROXIES; do
        v=$(med "$WORK/$3$k.$1")
        row "$5$(proxy_label "$k"), $1 conn (req/s)" "$v" "" "$d" "$(ratio "$v" "$d")" "" ""
    done
    paired_ratios "$WORK/$2.wd.$1" "$WORK/${3}relay.$1" >"$WORK/$2.pair.$1"
    row "${5}http mode, $1 conn, against the byte relay in the same round (fwatchdog's req/s over the relay's; median of the rounds)" \
        "$(med "$WORK/$2.pair.$1")" "" "" "" "" ""
    # What parsing both ways and logging cost is the logging relay's too:
    # the distance left beyond it is fwatchdog's own.
    paired_ratios "$WORK/$2.wd.$1" "$WORK/${3}relaylog.$1" >"$WORK/$2.pairlog.$1"
    row "${5}http mode, $1 conn, against the logging relay in the same round (fwatchdog's req/s over relay + llhttp + log's; median of the rounds)" \
        "$(med "$WORK/$2.pairlog.$1")" "" "" "" "" ""
    # The upstream reads two fields more from fwatchdog than from wrk
    # (Go's client adds them): the logging relay sent them too.
    paired_ratios "$WORK/$2.wd.$1" "$WORK/${3}relaylogfields.$1" >"$WORK/$2.pairfields.$1"
    row "${5}http mode, $1 conn, against the logging relay sent Go's fields in the same round (fwatchdog's req/s over its; median of the rounds)" \
        "$(med "$WORK/$2.pairfields.$1")" "" "" "" "" ""
}
# http_latency_rows PERCENTILES WPFX KPFX LPFX P50_TARGET: the latency rows
# of bench_http at one connection (files as for http_rate_rows, every label
# starting with LPFX), and fwatchdog's p50 against the relay's.
http_latency_rows() {
    for p in $1; do
        latency_row "${4}http mode, 1 conn, p$p latency (us, added; limit = direct)" "$WORK/$2.wd.p$p" "$WORK/$2.go.p$p" \
            "$WORK/$2.direct.p$p" "$([ "$p" = 50 ] && echo "$5")"
        for k in $PROXIES; do
            latency_row "$4$(proxy_label "$k"), 1 conn, p$p latency (us, added; limit = direct)" "$WORK/$3$k.p$p" "" "$WORK/$2.direct.p$p"
        done
    done
    paired_diffs "$WORK/$2.wd.p50" "$WORK/${3}relay.p50" >"$WORK/$2.pair.p50"
    row "${4}http mode, 1 conn, p50 latency against the byte relay's in the same round (us, added; median of the rounds)" \
        "$(minus "$(med "$WORK/$2.pair.p50")" 0)" "" "" "" "" "< +10 us"
}
# paired_ratios A B / paired_diffs A B: line by line (one line a round),
# A over B / A minus B; nan where either is missing.
paired_ratios() {
    paste -d' ' "$1" "$2" | awk 'NF != 2 || $1 == "nan" || $2 == "nan" || $2 + 0 == 0 {print "nan"; next}
                                 {printf "%.2f\n", $1 / $2}'
}
paired_diffs() {
    paste -d' ' "$1" "$2" | awk 'NF != 2 || $1 == "nan" || $2 == "nan" {print "nan"; next}
                                 {printf "%.0f\n", $1 - $2}'
}
# wrk_three PFX C R DIRECT_PORT PORT GO_NSPID [WD_PID GO_PID [BESIDE]]: one
# round, the same GET straight to the function, through fwatchdog on PORT
# and through the Go watchdog (in GO_NSPID's namespace, when set); req/s
# into $WORK/PFX.direct.C, PFX.wd.C and PFX.go.C, and at one connection p50
# and p99 beside them. With the watchdogs' PIDs, their CPU per request too
# (cpu_record, keys wd and go). BESIDE, a function, runs right after
# fwatchdog's turn (with C and R): what is compared with fwatchdog round by
# round goes there, before the Go watchdog's turn, as the machine's speed
# can change within a round.
wrk_three() {
    pfx=$1 c=$2 r=$3
    wrk_run "$OUT/wrk.$pfx.direct.$c.$r" "$c" "http://127.0.0.1:$4/" >>"$WORK/$pfx.direct.$c"
    cpu_wrk wd "${7:-}" "$OUT/wrk.$pfx.wd.$c.$r" "$c" "http://127.0.0.1:$5/" >>"$WORK/$pfx.wd.$c"
    [ -z "${9:-}" ] || "$9" "$c" "$r"
    if [ -n "$6" ]; then
        cpu_wrk go "${8:-}" "$OUT/wrk.$pfx.go.$c.$r" "$c" "http://127.0.0.1:$5/" get "$6" >>"$WORK/$pfx.go.$c"
    fi
    if [ "$c" = 1 ]; then
        for p in 50 99; do
            for k in direct wd $([ -n "$6" ] && echo go); do
                wrk_pct "$OUT/wrk.$pfx.$k.$c.$r" $p >>"$WORK/$pfx.$k.p$p"
            done
        done
    fi
}
# cpu_ticks PID: "utime stime" of PID in clock ticks (nothing for no PID).
# The fields are counted after the command name, which may hold spaces.
cpu_ticks() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 0
    sed 's/.*) //' "/proc/$1/stat" | awk '{print $12, $13}'
}
# cpu_record KEY C WRK_FILE "U0 S0" "U1 S1": the user and system CPU time
# between the two readings per request of that wrk run, in microseconds,
# appended to $WORK/cpu.KEY.C.user and .sys.
cpu_record() {
    cpu_n=$(awk '/requests in/ {print $1}' "$3")
    awk -v n="${cpu_n:-0}" -v a="$4" -v b="$5" -v hz="$CLK_TCK" -v f="$WORK/cpu.$1.$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        if (n + 0 == 0 || x[1] == "" || y[1] == "") exit
        printf "%.2f\n", (y[1] - x[1]) * 1e6 / hz / n >>(f ".user")
        printf "%.2f\n", (y[2] - x[2]) * 1e6 / hz / n >>(f ".sys")
    }'
}
# cpu_wrk KEY PID FILE CONNS URL [post|get|gofields [NSPID]]: wrk_run, and with a
# PID that process's CPU per request over the run (cpu_record, under KEY).
cpu_wrk() {
    cw_key=$1 cw_pid=$2
    shift 2
    cw_from=$(cpu_ticks "$cw_pid")
    wrk_run "$@"
    if [ -n "$cw_pid" ]; then
        cpu_record "$cw_key" "$2" "$1" "$cw_from" "$(cpu_ticks "$cw_pid")"
    fi
}
cpu_label() {
    case $1 in
    relay) echo "byte relay" ;;
    relayparse) echo "relay + llhttp" ;;
    relaylog) echo "relay + llhttp + log" ;;
    relaylogfields) echo "relay + llhttp + log, Go's fields" ;;
    esac
}
proxy_label() {
    case $1 in
    relay) echo "reference: byte relay, no HTTP (bench/relay.c)" ;;
    relayparse) echo "reference: relay + llhttp on both directions (bench/relay.c -p)" ;;
    relaylog) echo "reference: relay + llhttp + an access-log line per answer (bench/relay.c -p -l)" ;;
    relaylogfields) echo "reference: the logging relay sent the two fields fwatchdog adds as Go's client does (User-Agent, Accept-Encoding; bench/gofields.lua)" ;;
    haproxytcp) echo "reference: haproxy mode tcp, 1 thread" ;;
    haproxyhttp) echo "reference: haproxy mode http, 1 thread, http-reuse always" ;;
    nginxproxy) echo "reference: nginx proxy_pass, 1 worker, upstream keepalive" ;;
    esac
}

# ---- body throughput: 1 GiB through cat, and through http mode ----
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

bench_body() {
    bigl=$(awk -v b="$BIG" 'BEGIN {if (b >= 1073741824) printf "%g GiB", b / 1073741824; else printf "%g MiB", b / 1048576}')
    for r in $(seq "$REPEAT"); do
        log "body streaming run $r"
        timeout 300 "$SPAWN" -n 1 -b "$BIG" | awk '{print $2}' >>"$WORK/biglimit"
        start_wd big $((BASE_PORT + 5)) mode=streaming fprocess=cat
        timeout 300 "$CLIENT" body $((BASE_PORT + 5)) "$BIG" >>"$WORK/bigstream" || echo nan >>"$WORK/bigstream"
        hwm_kib "$WD_PID" >>"$WORK/bigrss"
        stop_pid "$WD_PID"
        if has_ref && start_ref big $((BASE_PORT + 5)) mode=streaming fprocess=cat; then
            in_ns "$REF_PID" timeout 300 "$CLIENT" body $((BASE_PORT + 5)) "$BIG" >>"$WORK/gbigstream" || echo nan >>"$WORK/gbigstream"
            hwm_kib "$REF_WDPID" >>"$WORK/gbigrss"
            stop_ref "$REF_PID"
        fi
    done
    l=$(med "$WORK/biglimit")
    s=$(med "$WORK/bigstream")
    g=$(med "$WORK/gbigstream")
    row "streaming, $bigl through cat (MB/s; limit = same through pipes, no HTTP)" "$s" "$(refv "$g")" "$l" "$(ratio "$s" "$l")" "$(refr "$g" "$l")" ">= 600 MB/s"
    row "streaming, $bigl: watchdog peak RSS (KiB)" "$(med "$WORK/bigrss")" "$(refv "$(med "$WORK/gbigrss")")" "" "" "" "< 4096"

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
        timeout 300 "$CLIENT" body "$SINK" "$BIG" >>"$WORK/bigdirect" || echo nan >>"$WORK/bigdirect"
        timeout 300 "$CLIENT" body $((BASE_PORT + 4)) "$BIG" >>"$WORK/bighttp" || echo nan >>"$WORK/bighttp"
        hwm_kib "$WD_PID" >>"$WORK/bighttprss"
        stop_pid "$WD_PID"
        if has_ref && start_ref bighttp $((BASE_PORT + 4)) mode=http upstream_url="http://127.0.0.1:$SINK" \
            fprocess="$CLIENT sink $SINK"; then
            in_ns "$REF_PID" timeout 300 "$CLIENT" body $((BASE_PORT + 4)) "$BIG" >>"$WORK/gbighttp" || echo nan >>"$WORK/gbighttp"
            hwm_kib "$REF_WDPID" >>"$WORK/gbighttprss"
            stop_ref "$REF_PID"
        fi
    done
    d=$(med "$WORK/bigdirect")
    h=$(med "$WORK/bighttp")
    g=$(med "$WORK/gbighttp")
    row "http mode, $bigl POST to an upstream that reads it all (MB/s; limit = direct)" "$h" "$(refv "$g")" "$d" "$(ratio "$h" "$d")" "$(refr "$g" "$d")" ""
    row "http mode, $bigl: watchdog peak RSS (KiB)" "$(med "$WORK/bighttprss")" "$(refv "$(med "$WORK/gbighttprss")")" "" "" "" ""
}

# ---- footprint: idle RSS, startup, binary size, 10,000 idle connections ----
bench_idle() {
    start_wd idle $((BASE_PORT + 6)) mode=streaming fprocess=cat
    rss=$(rss_kib "$WD_PID")
    conns=$(timeout 120 "$CLIENT" idle $((BASE_PORT + 6)) 10000 "$WD_PID" || echo nan)
    stop_pid "$WD_PID"
    grss="" gconns=""
    if has_ref && start_ref idle $((BASE_PORT + 6)) mode=streaming fprocess=cat; then
        grss=$(rss_kib "$REF_WDPID")
        gconns=$(in_ns "$REF_PID" timeout 120 "$CLIENT" idle $((BASE_PORT + 6)) 10000 "$REF_WDPID" || echo nan)
        stop_ref "$REF_PID"
    fi
    row "idle RSS after one /_/health (KiB)" "$rss" "$grss" "" "" "" "< 1536"
    row "RSS with 10,000 idle keep-alive connections (KiB)" "$conns" "$gconns" "" "" "" ""

    for r in $(seq $((REPEAT * 5))); do
        wd_env port=$((BASE_PORT + 7)) mode=streaming fprocess=cat \
            timeout 30 "$CLIENT" startup $((BASE_PORT + 7)) "$WD" 2>/dev/null >>"$WORK/startup" || echo nan >>"$WORK/startup"
        if has_ref; then
            # The client is PID 1 of the namespace: everything in it dies with it.
            timeout 30 unshare -n -p -f --kill-child sh -c 'ip link set lo up && exec "$@"' sh \
                env -i PATH="$SAFE_PATH" TMPDIR="$WORK" port=$((BASE_PORT + 7)) mode=streaming fprocess=cat \
                "$CLIENT" startup $((BASE_PORT + 7)) "$REF_WD" 2>/dev/null >>"$WORK/gstartup" || echo nan >>"$WORK/gstartup"
        fi
        timeout 30 "$CLIENT" exec "$WD" --version 2>/dev/null | tail -n 1 >>"$WORK/execfloor"
    done
    s=$(med "$WORK/startup")
    f=$(med "$WORK/execfloor")
    g=$(med "$WORK/gstartup")
    row "startup to 200 on /_/health (ms; limit = fork, exec and exit of fwatchdog --version)" "$s" "$(refv "$g")" "$f" "$(ratio "$s" "$f")" "$(refr "$g" "$f")" "< 5 ms"

    gsize=""
    has_ref && gsize="$(stat -c %s "$REF_WD") (as built)"
    if [ -z "$STATIC_NOTE" ]; then
        # scripts/build-static.sh strips it, as the image ships it.
        row "static binary size (bytes, stripped)" "$(stat -c %s "$WD")" "$gsize" "" "" "" ""
    else
        row "static binary size" "n/a ($STATIC_NOTE)" "$gsize" "" "" "" ""
    fi
}

# ---- cold start in http mode: the function's listen() to 200 on /_/health ----
# The function is `wdclient sink` told to sleep COLD_MS first and to write
# the monotonic time of its listen(); `wdclient cold` polls /_/health every
# 0.1 ms from the watchdog's exec and prints the difference.
COLD_MS=${COLD_MS:-50}
bench_cold() {
    P=$((BASE_PORT + 15))
    UPC=$((BASE_PORT + 16))
    for r in $(seq "$REPEAT"); do
        log "cold run $r"
        mkdir -p "$WORK/cold.$r" "$WORK/gcold.$r"
        env -i PATH="$SAFE_PATH" TMPDIR="$WORK/cold.$r" metrics_port=0 port=$P mode=http healthcheck_interval=100ms \
            upstream_url="http://127.0.0.1:$UPC" fprocess="$CLIENT sink $UPC $COLD_MS $WORK/cold.$r/stamp" \
            timeout 30 "$CLIENT" cold $P "$WORK/cold.$r/stamp" "$WD" 2>>"$OUT/cold.log" >>"$WORK/cold" || echo nan >>"$WORK/cold"
        if has_ref; then
            timeout 30 unshare -n -p -f --kill-child sh -c 'ip link set lo up && exec "$@"' sh \
                env -i PATH="$SAFE_PATH" TMPDIR="$WORK/gcold.$r" port=$P mode=http healthcheck_interval=100ms \
                upstream_url="http://127.0.0.1:$UPC" fprocess="$CLIENT sink $UPC $COLD_MS $WORK/gcold.$r/stamp" \
                "$CLIENT" cold $P "$WORK/gcold.$r/stamp" "$REF_WD" 2>>"$OUT/ref.cold.log" >>"$WORK/gcold" || echo nan >>"$WORK/gcold"
        fi
    done
    c=$(med "$WORK/cold")
    g=""
    if has_ref; then
        g=$(med "$WORK/gcold")
        # Go writes its lock file at start, whether the function listens or not.
        awk -v v="$g" 'BEGIN {exit !(v + 0 < 0)}' && g="$g (200 before the function listens)"
    fi
    row "http mode cold start: function's listen() to 200 on /_/health, function up after ${COLD_MS} ms (ms)" "$c" "$g" "" "" "" ""
}

# ---- RSS after 10,000 requests in each mode, against the idle RSS ----
# Read right after the last request (the burst's mark) and 2 s later, when
# both watchdogs have given back what they free (fwatchdog trims its heap a
# second after the last request; Go's runtime returns memory in the
# background).
# load N PORT post|get [NSPID]: N requests at 16 connections (bench/load.py);
# prints how many got a 2xx.
load_n() {
    pre=""
    [ -n "${4:-}" ] && pre="nsenter --net=/proc/$4/ns/net"
    body=""
    [ "$3" = post ] && body=$BODY_SIZE
    # shellcheck disable=SC2086
    timeout 300 $pre python3 bench/load.py "$2" "$1" 16 $body || echo nan
}
# rss_cell LABEL PID PORT post|get [NSPID]: PID's VmRSS 2 s after 10,000
# requests, "(growth over its idle VmRSS; VmRSS right after the last)",
# then what a second 10,000 add to it. The first requests fault in code
# and reach high-water marks set by the concurrency, not by the count
# (the upstream pool, the event arrays): the second 10,000 show whether
# the count itself costs memory.
rss_cell() {
    idle=$(rss_kib "$2")
    ok=$(load_n 10000 "$3" "$4" "${5:-}")
    [ "$ok" = 10000 ] || log "$1: $ok of 10000 answered 2xx"
    after=$(rss_kib "$2")
    sleep 2
    settled=$(rss_kib "$2")
    ok=$(load_n 10000 "$3" "$4" "${5:-}")
    [ "$ok" = 10000 ] || log "$1: $ok of the second 10000 answered 2xx"
    sleep 2
    second=$(rss_kib "$2")
    echo "$settled ($(minus "$settled" "$idle"); $after right after); $second after 10,000 more ($(minus "$second" "$settled"))"
}
# burst_cell PID PORT [NSPID]: PID's VmRSS 6 s after 2 s of 500 connections
# at once (wrk): past the upstream pool's 4 s of rest and the trim that
# follows, what a burst leaves behind ("(growth over the VmRSS before it)").
burst_cell() {
    before=$(rss_kib "$1")
    pre=""
    [ -n "${3:-}" ] && pre="nsenter --net=/proc/$3/ns/net"
    # shellcheck disable=SC2086
    $pre timeout 60 wrk -t1 -c500 -d2s "http://127.0.0.1:$2/" >/dev/null 2>&1 || true
    sleep 6
    after=$(rss_kib "$1")
    echo "$after ($(minus "$after" "$before"))"
}
bench_rss() {
    mkdir -p "$WORK/public"
    head -c 1024 /dev/zero | tr '\0' x >"$WORK/public/index.html"
    write_nginx_conf "$WORK/nginx-rss" $((BASE_PORT + 18))
    write_nginx_conf "$WORK/nginx-rss-go" $((BASE_PORT + 18))
    P=$((BASE_PORT + 17))
    for m in streaming serializing http static; do
        log "rss $m"
        set -- mode="$m" fprocess=cat
        req=post
        case $m in
        http) set -- mode=http upstream_url="http://127.0.0.1:$((BASE_PORT + 18))"
            req=get ;;
        static) set -- mode=static static_path="$WORK/public"
            req=get ;;
        esac
        cell="" gcell="" bcell="" gbcell=""
        if [ "$m" = http ]; then
            start_wd "rss.$m" $P "$@" fprocess="nginx -p $WORK/nginx-rss -c $WORK/nginx-rss/nginx.conf" || true
        else
            start_wd "rss.$m" $P "$@" || true
        fi
        if kill -0 "$WD_PID" 2>/dev/null; then
            cell=$(rss_cell "rss $m" "$WD_PID" $P $req)
            bcell=$(burst_cell "$WD_PID" $P)
            stop_pid "$WD_PID"
        fi
        if has_ref; then
            if [ "$m" = http ]; then
                start_ref "rss.$m" $P "$@" fprocess="nginx -p $WORK/nginx-rss-go -c $WORK/nginx-rss-go/nginx.conf" || true
            else
                start_ref "rss.$m" $P "$@" || true
            fi
            if [ -n "$REF_WDPID" ]; then
                gcell=$(rss_cell "Go rss $m" "$REF_WDPID" $P $req "$REF_PID")
                gbcell=$(burst_cell "$REF_WDPID" $P "$REF_PID")
            fi
            stop_ref "$REF_PID"
        fi
        row "$m: RSS 2 s after 10,000 requests at 16 conn (KiB, growth over idle; right after the last); 2 s after 10,000 more (growth)" "$cell" "$gcell" "" "" "" ""
        row "$m: RSS 6 s after 2 s of 500 connections at once (KiB, growth over the RSS before)" "$bcell" "$gbcell" "" "" "" ""
    done
}

# ---- a real function: a small Express app in http mode ----
bench_express() {
    EX=$ROOT/bench/express
    # npm ci installs exactly the committed lock, once.
    if [ ! -d "$EX/node_modules/express" ]; then
        if ! command -v npm >/dev/null || ! (cd "$EX" && timeout 300 npm ci --no-audit --no-fund >"$OUT/npm.log" 2>&1); then
            for c in 1 16; do row "Express app, http mode, GET, $c conn (req/s)" "n/a (npm ci failed: see bench/results/npm.log)" "" "" "" "" ""; done
            return 0
        fi
    fi
    UPE=$((BASE_PORT + 19))
    if ! start_wd express $((BASE_PORT + 20)) mode=http upstream_url="http://127.0.0.1:$UPE" \
        fprocess="node $EX/app.js $UPE"; then
        for c in 1 16; do row "Express app, http mode, GET, $c conn (req/s)" "n/a (see bench/results/express.log)" "" "" "" "" ""; done
        return 0
    fi
    E_PID=$WD_PID
    GE=""
    if has_ref; then
        start_ref express $((BASE_PORT + 20)) mode=http upstream_url="http://127.0.0.1:$UPE" \
            fprocess="node $EX/app.js $UPE" && GE=$REF_PID
        # Go answers 200 on /_/health before the function listens: wait for it.
        i=0
        while [ -n "$GE" ] && [ $i -lt 500 ] &&
            ! in_ns "$GE" curl -fs -m 2 -o /dev/null "http://127.0.0.1:$UPE/"; do
            sleep 0.01
            i=$((i + 1))
        done
    fi
    # The byte relay in front of the same app: what the extra hop alone
    # costs it, as in the http rows.
    "$RELAY" $((BASE_PORT + 24)) "$UPE" 2>"$OUT/relay-express.log" &
    ER_PID=$!
    PIDS="$PIDS $ER_PID"
    for c in 1 16; do
        for r in $(seq "$REPEAT"); do
            log "express c=$c run $r"
            wrk_three ex "$c" "$r" "$UPE" $((BASE_PORT + 20)) "$GE"
            wrk_run "$OUT/wrk.ex.relay.$c.$r" "$c" "http://127.0.0.1:$((BASE_PORT + 24))/" >>"$WORK/ex.relay.$c"
            [ "$c" = 1 ] && wrk_pct "$OUT/wrk.ex.relay.$c.$r" 50 >>"$WORK/ex.relay.p50"
        done
        d=$(med "$WORK/ex.direct.$c")
        e=$(med "$WORK/ex.wd.$c")
        g=$(med "$WORK/ex.go.$c")
        row "Express app (bench/express), http mode, GET, $c conn (req/s; limit = the app direct)" "$e" "$(refv "$g")" "$d" "$(ratio "$e" "$d")" "$(refr "$g" "$d")" ">= 0.95"
        v=$(med "$WORK/ex.relay.$c")
        row "reference: byte relay (bench/relay.c) in front of the Express app, $c conn (req/s)" "$v" "" "$d" "$(ratio "$v" "$d")" "" ""
    done
    latency_row "Express app, http mode, 1 conn, p50 latency (us, added; limit = the app direct)" \
        "$WORK/ex.wd.p50" "$WORK/ex.go.p50" "$WORK/ex.direct.p50"
    latency_row "reference: byte relay in front of the Express app, 1 conn, p50 latency (us, added; limit = the app direct)" \
        "$WORK/ex.relay.p50" "" "$WORK/ex.direct.p50"
    stop_pid "$ER_PID"
    stop_pid "$E_PID"
    [ -n "$GE" ] && stop_ref "$GE"
    return 0
}

# ---- what the features beyond Go cost, each next to its baseline ----
bench_features() {
    # max_queue: max_inflight=1 at 32 connections, with a queue of 64 and
    # without one (the excess gets 429 at once, as under Go).
    start_wd queue $((BASE_PORT + 21)) mode=streaming fprocess=cat max_inflight=1 max_queue=64
    Q_PID=$WD_PID
    start_wd noqueue $((BASE_PORT + 22)) mode=streaming fprocess=cat max_inflight=1
    N_PID=$WD_PID
    GN=""
    if has_ref; then
        start_ref noqueue $((BASE_PORT + 22)) mode=streaming fprocess=cat max_inflight=1 && GN=$REF_PID
    fi
    for r in $(seq "$REPEAT"); do
        log "features max_queue run $r"
        wrk_run "$OUT/wrk.queue.$r" 32 "http://127.0.0.1:$((BASE_PORT + 21))/" post >/dev/null
        wrk_ok_rate "$OUT/wrk.queue.$r" >>"$WORK/queue"
        wrk_pct "$OUT/wrk.queue.$r" 50 >>"$WORK/queue.p50"
        wrk_run "$OUT/wrk.noqueue.$r" 32 "http://127.0.0.1:$((BASE_PORT + 22))/" post >/dev/null
        wrk_ok_rate "$OUT/wrk.noqueue.$r" >>"$WORK/noqueue"
        if [ -n "$GN" ]; then
            wrk_run "$OUT/wrk.go.noqueue.$r" 32 "http://127.0.0.1:$((BASE_PORT + 22))/" post "$GN" >/dev/null
            wrk_ok_rate "$OUT/wrk.go.noqueue.$r" >>"$WORK/gnoqueue"
        fi
    done
    q=$(med "$WORK/queue")
    n=$(med "$WORK/noqueue")
    g=$(med "$WORK/gnoqueue")
    row "max_inflight=1, no queue: the excess gets 429, streaming cat, ${BODY_SIZE} B POST, 32 conn (200s/s)" "$n" "$(refv "$g")" "" "" "" ""
    row "max_inflight=1 max_queue=64, streaming cat, ${BODY_SIZE} B POST, 32 conn (200s/s, p50 latency of the queued; limit = no queue)" "$q ($(med "$WORK/queue.p50") us)" "$(refna "no max_queue")" "$n" "$(ratio "$q" "$n")" "" ""
    stop_pid "$Q_PID"
    stop_pid "$N_PID"
    [ -n "$GN" ] && stop_ref "$GN"

    # jwt_auth: bench/jwt_auth.py, RS256 and ES256 tokens, one connection.
    if /usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null; then
        log "features jwt_auth"
        if BASE_PORT=$((BASE_PORT + 23)) ALGS="RS256 ES256" ROUNDS=$REPEAT DURATION="${DUR}s" \
            timeout $((REPEAT * 3 * (DUR + 10) + 120)) /usr/bin/python3 bench/jwt_auth.py "$WD" >"$OUT/jwt_auth.md" 2>&1; then
            off=$(awk -F'|' '$2 ~ /jwt_auth=false/ {gsub(/ /, "", $3); print $3}' "$OUT/jwt_auth.md")
            for alg in RS256 ES256; do
                v=$(awk -F'|' -v a="$alg token" '$2 ~ a {gsub(/ /, "", $3); print $3}' "$OUT/jwt_auth.md")
                added=$(awk -F'|' -v a="$alg token" '$2 ~ a {gsub(/ /, "", $5); print $5}' "$OUT/jwt_auth.md")
                row "jwt_auth=true, $alg token, static mode, 1 conn (req/s, us added at p50; limit = jwt_auth=false)" "$v ($added us)" "$(refna "no jwt_auth in this build")" "$off" "$(ratio "$v" "$off")" "" ""
            done
        else
            row "jwt_auth (bench/jwt_auth.py)" "n/a (failed: see bench/results/jwt_auth.md)" "" "" "" "" ""
        fi
    else
        row "jwt_auth (bench/jwt_auth.py)" "n/a (needs /usr/bin/python3 with python3-jwt and python3-cryptography)" "" "" "" "" ""
    fi
}

for b in $ONLY; do
    case $b in
    fork) bench_fork ;;
    http) bench_http ;;
    body) bench_body ;;
    idle) bench_idle ;;
    cold) bench_cold ;;
    rss) bench_rss ;;
    express) bench_express ;;
    features) bench_features ;;
    *) log "unknown benchmark $b"; exit 2 ;;
    esac
done

{
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) CPUs,"
    echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end; REPEAT=$REPEAT DUR=${DUR}s, medians; binary: ${WD#"$ROOT"/}."
    if has_ref; then
        echo "Go column: $REF_WD ($("$REF_WD" --version 2>&1 | awk -F'Version: ' 'NF > 1 {gsub(/\t/, " ", $2); print "version " $2; exit}'))."
    else
        echo "Go column: empty ($REF_NOTE)."
    fi
    echo
    echo "| benchmark | fwatchdog | Go of-watchdog | limit | ratio | Go ratio | target |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s' "$ROWS"
} >bench/results.md
cat bench/results.md
