# Shell functions shared by bench/run.sh and bench/ab.sh (sourced, from the
# repository's root).

# build_relay DIR: DIR/relay from bench/relay.c. Its -p links the watchdog's
# parser, from the same sources as the meson build's default (llhttp's
# generated C is not -Wextra clean).
build_relay() {
    llhttp_src=${LLHTTP_SRC:-/usr/share/llhttp}
    llhttp_inc=${LLHTTP_INC:-/usr/share/include/llhttp}
    for f in api http llhttp; do
        cc -O2 -w -I"$llhttp_inc" -c -o "$1/llhttp_$f.o" "$llhttp_src/$f.c"
    done
    cc -O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -I"$llhttp_inc" -o "$1/relay" \
        bench/relay.c "$1/llhttp_api.o" "$1/llhttp_http.o" "$1/llhttp_llhttp.o"
}

# write_nginx_conf DIR PORT [UPSTREAM_PORT]: nginx answering 200 "hello",
# or, with UPSTREAM_PORT, proxying to it over a keep-alive pool.
write_nginx_conf() {
    mkdir -p "$1"
    if [ -n "${3:-}" ]; then
        loc="proxy_pass http://fn; proxy_http_version 1.1; proxy_set_header Connection \"\";"
        up="upstream fn { server 127.0.0.1:$3; keepalive 64; keepalive_requests 1000000; }"
    else
        loc="return 200 \"hello\\n\";"
        up=""
    fi
    cat >"$1/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $1;
    proxy_temp_path $1;
    fastcgi_temp_path $1;
    uwsgi_temp_path $1;
    scgi_temp_path $1;
    keepalive_requests 1000000;
    $up
    server {
        listen 127.0.0.1:$2;
        location / { $loc }
    }
}
EOF
}

# proxy_bench_setup UPSTREAM_PORT: a work directory $WORK with the relay
# built in it and nginx answering on UPSTREAM_PORT. Every pid added to
# $PIDS is killed, and $WORK removed, when the script exits.
proxy_bench_setup() {
    WORK=$(mktemp -d)
    PIDS=""
    trap proxy_bench_cleanup EXIT
    trap 'exit 130' INT TERM
    build_relay "$WORK"
    write_nginx_conf "$WORK/nginx" "$1"
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx.log" &
    PIDS="$PIDS $!"
}

proxy_bench_cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}

# wait_answers PORT...: until each answers GET / (5 s at most each)
wait_answers() {
    for p in "$@"; do
        i=0
        until curl -fs -m 2 -o /dev/null "http://127.0.0.1:$p/"; do
            i=$((i + 1))
            [ $i -lt 500 ] || { echo "$0: nothing answers on $p" >&2; exit 1; }
            sleep 0.01
        done
    done
}

# allowed_cpus: the CPUs this script may run on, one a line.
allowed_cpus() {
    taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' |
        awk -F- '{e = (NF > 1) ? $2 : $1; for (i = $1; i <= e; i++) print i}'
}

# pin_tree CPU PID...: every thread of each PID and of its descendants
# onto CPU.
pin_tree() {
    pt_cpu=$1
    shift
    for pt in "$@"; do
        taskset -a -pc "$pt_cpu" "$pt" >/dev/null || echo "$0: could not pin $pt to CPU $pt_cpu" >&2
        # shellcheck disable=SC2046
        pin_tree "$pt_cpu" $(pgrep -P "$pt" || true)
    done
}
