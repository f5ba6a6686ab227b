#!/bin/sh
# Requests/s and latency through fwatchdog in http mode, against the same
# upstream (nginx, started by the watchdog as its fprocess) hit directly.
# Same load tool (wrk), threads, connections and duration for both; the
# runs alternate direct/proxied and the medians are reported.
#
#   bench/http_mode.sh [path/to/fwatchdog]
# Environment: ROUNDS (5), DURATION (5s), CONNS (32), THREADS (2).
# Needs wrk and nginx (Debian: apt-get install wrk nginx-light). Loopback only.
set -eu

BIN=${1:-$(dirname "$0")/../build/fwatchdog}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { echo "wrk not found" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found" >&2; exit 1; }
[ -x "$BIN" ] || { echo "fwatchdog not found at $BIN" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

WORK=$(mktemp -d)
UP_PORT=$(free_port)
WD_PORT=$(free_port)
WD_PID=
cleanup() {
    if [ -n "$WD_PID" ] && kill -0 "$WD_PID" 2>/dev/null; then
        kill -TERM "$WD_PID"
        wait "$WD_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# One worker: the watchdog is single-threaded too, and both share the
# machine with wrk.
cat > "$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$UP_PORT;
        location / { default_type text/plain; return 200 "Hello from the function\n"; }
    }
}
CONF

env -i PATH=/usr/sbin:/usr/bin:/bin TMPDIR="$WORK" mode=http port="$WD_PORT" metrics_port=0 \
    fprocess="$NGINX -p $WORK -c $WORK/nginx.conf" upstream_url="http://127.0.0.1:$UP_PORT" \
    healthcheck_interval=1s "$BIN" 2>"$WORK/watchdog.log" &
WD_PID=$!

i=0
until python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$WD_PORT/_/health', timeout=1)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 250 ] || { echo "watchdog not healthy:" >&2; cat "$WORK/watchdog.log" >&2; exit 1; }
    sleep 0.02
done

# Requests/s of one wrk run.
rps() {
    wrk -t"$1" -c"$2" -d"$DURATION" "$3" | awk '/^Requests\/sec:/ {print $2}'
}

# Median latency (microseconds) of one wrk run.
p50() {
    wrk -t1 -c1 -d"$DURATION" --latency "$1" | awk '
        /^ +50%/ { v = $2
                   if (v ~ /us$/) { sub(/us$/, "", v); print v }
                   else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 }
                   else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000000 } }'
}

median() {
    sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

DIRECT=http://127.0.0.1:$UP_PORT/
PROXIED=http://127.0.0.1:$WD_PORT/
wrk -t"$THREADS" -c"$CONNS" -d2s "$PROXIED" >/dev/null   # warm up the pool

: > "$WORK/rps_direct"; : > "$WORK/rps_proxied"; : > "$WORK/lat_direct"; : > "$WORK/lat_proxied"
r=0
while [ $r -lt "$ROUNDS" ]; do
    rps "$THREADS" "$CONNS" "$DIRECT" >> "$WORK/rps_direct"
    rps "$THREADS" "$CONNS" "$PROXIED" >> "$WORK/rps_proxied"
    p50 "$DIRECT" >> "$WORK/lat_direct"
    p50 "$PROXIED" >> "$WORK/lat_proxied"
    r=$((r + 1))
done

RD=$(median < "$WORK/rps_direct")
RP=$(median < "$WORK/rps_proxied")
LD=$(median < "$WORK/lat_direct")
LP=$(median < "$WORK/lat_proxied")

echo "cpus: $(nproc)  rounds: $ROUNDS x $DURATION  wrk -t$THREADS -c$CONNS"
echo "direct  req/s per round:  $(tr '\n' ' ' < "$WORK/rps_direct")"
echo "proxied req/s per round:  $(tr '\n' ' ' < "$WORK/rps_proxied")"
echo "direct  p50 us per round (-c1): $(tr '\n' ' ' < "$WORK/lat_direct")"
echo "proxied p50 us per round (-c1): $(tr '\n' ' ' < "$WORK/lat_proxied")"
awk -v rd="$RD" -v rp="$RP" -v ld="$LD" -v lp="$LP" 'BEGIN {
    printf "median req/s: direct %.0f, proxied %.0f, ratio %.2f\n", rd, rp, rp / rd
    printf "median latency at 1 connection: direct %.0f us, proxied %.0f us, added %.0f us\n", ld, lp, lp - ld
}'
