#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "mode.h"
#include "settings.h"
#include "upstream.h"

#define ENV(...) ((char *const[]){__VA_ARGS__, NULL})

static char err[256];

static int load(char *const *envp, struct config *cfg)
{
    return config_load(cfg, envp, err, sizeof(err));
}

/* Loading fails and the message starts with the variable's name. */
static void check_error(char *const *envp, const char *var)
{
    struct config cfg;
    size_t n = strlen(var);
    int rc = load(envp, &cfg);

    CHECK(rc == -1);
    CHECK(strncmp(err, var, n) == 0 && err[n] == ':');
    CHECK(strchr(err, '\n') == NULL);
    if (rc == 0)
        config_free(&cfg);
    else if (strncmp(err, var, n) != 0)
        fprintf(stderr, "  wanted %s, got: %s\n", var, err);
}

/* The duration in milliseconds as the timers take it; -1 when refused. */
static int64_t dur(const char *s)
{
    int64_t ns = -42;
    if (config_parse_duration(s, &ns) < 0)
        return -1;
    return config_ms(ns);
}

/* The duration in nanoseconds; INT64_MIN when refused. */
static int64_t dur_ns(const char *s)
{
    int64_t ns = -42;
    if (config_parse_duration(s, &ns) < 0)
        return INT64_MIN;
    return ns;
}

static void test_durations(void)
{
    CHECK(dur("10") == 10000);
    CHECK(dur("0") == 0);
    CHECK(dur("10s") == 10000);
    CHECK(dur("500ms") == 500);
    CHECK(dur("1m30s") == 90000);
    CHECK(dur("2h") == 7200000);
    CHECK(dur("1.5h") == 5400000);
    CHECK(dur("1h30m") == 5400000);
    CHECK(dur(".5s") == 500);
    CHECK(dur("1.s") == 1000);
    CHECK(dur("+5s") == 5000);
    CHECK(dur("+5") == 5000); /* strconv.Atoi takes the '+' */
    CHECK(dur("+") == -1);
    CHECK(dur("++5") == -1);
    CHECK(dur("-0") == 0);
    CHECK(dur("0s") == 0);
    CHECK(dur("500us") == 1);      /* sub-ms rounds up for the timers */
    CHECK(dur("1\xc2\xb5s") == 1); /* micro sign */
    CHECK(dur("1\xce\xbcs") == 1); /* Greek mu */
    CHECK(dur("1ns") == 1);
    CHECK(dur("1000000ns") == 1);
    CHECK(dur("1000001ns") == 2);
    CHECK(dur("1.0005s") == 1001);
    CHECK(dur("2562047h") == INT64_C(2562047) * 3600 * 1000);
    CHECK(dur("9223372036") == INT64_C(9223372036000));

    /* the value itself is kept to the nanosecond, sign included */
    CHECK(dur_ns("500us") == 500000);
    CHECK(dur_ns("1.5ms") == 1500000);
    CHECK(dur_ns("1ns") == 1);
    CHECK(dur_ns("10") == INT64_C(10000000000));
    CHECK(dur_ns("-1s") == -INT64_C(1000000000));
    CHECK(dur_ns("-1m30s") == -INT64_C(90000000000));
    CHECK(dur_ns("-0") == 0);
    CHECK(dur_ns("-0s") == 0);
    /* a negative duration is no limit, as in the Go watchdogs */
    CHECK(dur("-5s") == 0);
    CHECK(dur("-1ns") == 0);

    CHECK(dur("") == -1);
    CHECK(dur("abc") == -1);
    CHECK(dur("10x") == -1);
    CHECK(dur("s") == -1);
    CHECK(dur(".s") == -1);
    CHECK(dur("1") == 1000);
    CHECK(dur("1.5") == -1); /* decimals need a unit, as in Go */
    CHECK(dur("5s ") == -1);
    CHECK(dur(" 5s") == -1);
    CHECK(dur("-5") == -1);  /* neither seconds (negative) nor a Go duration */
    CHECK(dur("--5s") == -1);
    CHECK(dur("-") == -1);
    CHECK(dur("5sm") == -1);
    CHECK(dur("9223372037") == -1);             /* seconds past a Go duration */
    CHECK(dur("2562048h") == -1);               /* overflow */
    CHECK(dur("-2562048h") == -1);
    CHECK(dur("99999999999999999999s") == -1);  /* overflow while parsing */
    CHECK(dur("99999999999999999999") == -1);
    CHECK(dur("2562047h48m") == -1);            /* sum overflows */
}

static void test_bools(void)
{
    bool b = false;

    CHECK(config_parse_bool("true", BOOL_PLAIN, &b) == 0 && b);
    CHECK(config_parse_bool("1", BOOL_PLAIN, &b) == 0 && b);
    CHECK(config_parse_bool("false", BOOL_PLAIN, &b) == 0 && !b);
    CHECK(config_parse_bool("0", BOOL_PLAIN, &b) == 0 && !b);
    CHECK(config_parse_bool("", BOOL_PLAIN, &b) == 0 && !b);
    /* of-watchdog reads TRUE as false: refused rather than guessed */
    CHECK(config_parse_bool("TRUE", BOOL_PLAIN, &b) == -1);
    CHECK(config_parse_bool("True", BOOL_PLAIN, &b) == -1);
    CHECK(config_parse_bool("t", BOOL_PLAIN, &b) == -1);
    CHECK(config_parse_bool("yes", BOOL_PLAIN, &b) == -1);
    CHECK(config_parse_bool("2", BOOL_PLAIN, &b) == -1);
    CHECK(config_parse_bool("true ", BOOL_PLAIN, &b) == -1);
    CHECK(config_parse_bool(NULL, BOOL_PLAIN, &b) == -1);

    /* strconv.ParseBool's spellings, and none other */
    CHECK(config_parse_bool("T", BOOL_PARSEBOOL, &b) == 0 && b);
    CHECK(config_parse_bool("True", BOOL_PARSEBOOL, &b) == 0 && b);
    CHECK(config_parse_bool("TRUE", BOOL_PARSEBOOL, &b) == 0 && b);
    CHECK(config_parse_bool("1", BOOL_PARSEBOOL, &b) == 0 && b);
    CHECK(config_parse_bool("f", BOOL_PARSEBOOL, &b) == 0 && !b);
    CHECK(config_parse_bool("False", BOOL_PARSEBOOL, &b) == 0 && !b);
    CHECK(config_parse_bool("FALSE", BOOL_PARSEBOOL, &b) == 0 && !b);
    CHECK(config_parse_bool("tRUE", BOOL_PARSEBOOL, &b) == -1);
    CHECK(config_parse_bool("yes", BOOL_PARSEBOOL, &b) == -1);

    /* the classic watchdog: only "true" is true */
    CHECK(config_parse_bool("true", BOOL_TRUE_ONLY, &b) == 0 && b);
    b = true;
    CHECK(config_parse_bool("1", BOOL_TRUE_ONLY, &b) == 0 && !b);
    CHECK(config_parse_bool("0", BOOL_TRUE_ONLY, &b) == 0 && !b);
    CHECK(config_parse_bool("false", BOOL_TRUE_ONLY, &b) == 0 && !b);
    CHECK(config_parse_bool("True", BOOL_TRUE_ONLY, &b) == -1);
    CHECK(config_parse_bool("yes", BOOL_TRUE_ONLY, &b) == -1);
}

/* Each boolean is read with its Go watchdog's spellings. */
static void test_bool_settings(void)
{
    struct config c;

    /* the classic watchdog reads 1 as false */
    CHECK(load(ENV("fprocess=cat", "mode=classic", "marshal_request=1", "cgi_headers=1",
                   "combine_output=1", "write_debug=1", "debug_headers=1", "suppress_lock=1"),
               &c) == 0);
    CHECK(!c.marshal_request && !c.cgi_headers && !c.combine_output && !c.write_debug &&
          !c.debug_headers && !c.suppress_lock);
    config_free(&c);
    /* ... but jwt_auth=1 switches checking on there too: off would leave
     * the function open */
    CHECK(load(ENV("fprocess=cat", "mode=classic", "jwt_auth=1", "OPENFAAS_NAME=fn",
                   "OPENFAAS_NAMESPACE=ns"), &c) == 0);
    CHECK(c.jwt_auth);
    config_free(&c);
    /* of-watchdog reads 1 as true */
    CHECK(load(ENV("fprocess=cat", "suppress_lock=1", "cgi_headers=1"), &c) == 0);
    CHECK(c.suppress_lock && c.cgi_headers);
    config_free(&c);
    /* prefix_logs and log_callid go through strconv.ParseBool */
    CHECK(load(ENV("fprocess=cat", "prefix_logs=F", "log_callid=T"), &c) == 0);
    CHECK(!c.prefix_logs && c.log_callid);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "prefix_logs=yes"), &c) == -1);
    /* a spelling Go reads as false without saying so is refused */
    CHECK(load(ENV("fprocess=cat", "suppress_lock=TRUE"), &c) == -1);
    CHECK(load(ENV("fprocess=cat", "mode=classic", "marshal_request=True"), &c) == -1);
}

static void test_defaults(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat"), &c) == 0);
    CHECK_STR(c.fprocess, "cat");
    CHECK_STR(c.argv[0], "cat");
    CHECK(c.argv[1] == NULL);
    CHECK_STR(c.mode->name, "streaming");
    CHECK(c.port == 8080);
    CHECK(c.metrics_port == 8081);
    CHECK(config_ms(c.read_timeout_ns) == 30000);
    CHECK(config_ms(c.write_timeout_ns) == 30000);
    CHECK(config_ms(c.exec_timeout_ns) == 30000);
    CHECK(config_ms(c.healthcheck_interval_ns) == 30000);
    CHECK(c.upstream_url == NULL);
    CHECK(!c.buffer_req_body);
    CHECK_STR(c.content_type, "application/octet-stream");
    CHECK_STR(c.static_path, "/home/app/public");
    CHECK(c.max_inflight == 0);
    CHECK(!c.suppress_lock);
    CHECK(c.prefix_logs);
    CHECK(c.log_buffer_size == 65536);
    CHECK(!c.log_callid);
    CHECK(c.ready_path == NULL);
    CHECK(c.cgi_headers);
    CHECK(c.combine_output);
    CHECK(!c.write_debug);
    CHECK(!c.marshal_request);
    CHECK(c.log_format == LOG_FORMAT_TEXT);
    CHECK(c.max_request_body == 0);
    CHECK(c.max_connections == 10000);
    CHECK_STR(c.lock_path, "/tmp/.lock");
    CHECK(c.max_queue == 0);
    CHECK(config_ms(c.queue_timeout_ns) == 10000);
    CHECK(!c.cgi_response);
    CHECK(config_ms(c.function_grace_ns) == 5000);
    CHECK(!c.forward_sigterm);
    CHECK(c.upstream == NULL);
    CHECK_STR(c.resolv_conf, "/etc/resolv.conf");
    CHECK_STR(c.hosts_file, "/etc/hosts");
    config_free(&c);
    CHECK(c.fprocess == NULL && c.argv == NULL); /* safe to free twice */
    config_free(&c);
}

static void test_values(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=node index.js", "mode=serializing", "port=3000",
                   "metrics_port=0", "read_timeout=5", "write_timeout=1m",
                   "exec_timeout=0", "content_type=text/plain", "static_path=/srv",
                   "max_inflight=4", "suppress_lock=true", "prefix_logs=false",
                   "log_buffer_size=1024", "log_callid=1", "ready_path=/ready",
                   "cgi_headers=0", "log_format=json", "max_request_body=1k",
                   "max_connections=5", "TMPDIR=/var/tmp/"),
               &c) == 0);
    CHECK_STR(c.mode->name, "serializing");
    CHECK_STR(c.argv[0], "node");
    CHECK_STR(c.argv[1], "index.js");
    CHECK(c.port == 3000);
    CHECK(c.metrics_port == 0);
    CHECK(config_ms(c.read_timeout_ns) == 5000);
    CHECK(config_ms(c.write_timeout_ns) == 60000);
    CHECK(config_ms(c.healthcheck_interval_ns) == 60000); /* follows write_timeout */
    CHECK(config_ms(c.exec_timeout_ns) == 0);
    CHECK_STR(c.content_type, "text/plain");
    CHECK_STR(c.static_path, "/srv");
    CHECK(c.max_inflight == 4);
    CHECK(c.suppress_lock);
    CHECK(!c.prefix_logs);
    CHECK(c.log_buffer_size == 1024);
    CHECK(c.log_callid);
    CHECK_STR(c.ready_path, "/ready");
    CHECK(!c.cgi_headers);
    CHECK(c.log_format == LOG_FORMAT_JSON);
    CHECK(c.max_request_body == 1024);
    CHECK(c.max_connections == 5);
    CHECK_STR(c.lock_path, "/var/tmp/.lock");
    config_free(&c);

    /* Empty means unset, for booleans too (their defaults, true or false),
     * except content_type. */
    CHECK(load(ENV("fprocess=cat", "ready_path=", "content_type=", "prefix_logs=",
                   "suppress_lock=", "healthcheck_interval=2s", "TMPDIR="),
               &c) == 0);
    CHECK(c.ready_path == NULL);
    CHECK_STR(c.content_type, ""); /* set and empty: an empty Content-Type, as from Go */
    CHECK(c.prefix_logs);
    CHECK(!c.suppress_lock);
    CHECK(config_ms(c.healthcheck_interval_ns) == 2000);
    CHECK_STR(c.lock_path, "/tmp/.lock");
    config_free(&c);
}

static void test_modes(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat", "mode=classic"), &c) == 0);
    CHECK(config_ms(c.exec_timeout_ns) == 0);
    /* the newest classic watchdog's defaults, as the other modes' */
    CHECK(config_ms(c.read_timeout_ns) == 30000 && config_ms(c.write_timeout_ns) == 30000);
    CHECK(config_ms(c.healthcheck_interval_ns) == 30000);
    CHECK(c.content_type == NULL); /* the request's */
    CHECK(c.max_request_body == INT64_C(64) * 1024 * 1024);
    config_free(&c);

    CHECK(load(ENV("fprocess=cat", "mode=classic", "exec_timeout=3s",
                   "combine_output=false", "write_debug=true", "marshal_request=true"),
               &c) == 0);
    CHECK(config_ms(c.exec_timeout_ns) == 3000);
    CHECK(!c.combine_output && c.write_debug && c.marshal_request);
    config_free(&c);

    CHECK(load(ENV("fprocess=cat", "mode=serializing"), &c) == 0);
    CHECK(config_ms(c.exec_timeout_ns) == 30000);
    CHECK(c.max_request_body == INT64_C(64) * 1024 * 1024);
    config_free(&c);

    CHECK(load(ENV("fprocess=cat", "mode=serializing", "max_request_body=0"), &c) == 0);
    CHECK(c.max_request_body == 0);
    config_free(&c);

    CHECK(load(ENV("mode=static"), &c) == 0); /* no fprocess needed */
    CHECK(c.fprocess == NULL && c.argv == NULL);
    CHECK(c.max_request_body == 0);
    config_free(&c);

    CHECK(load(ENV("fprocess=python app.py", "mode=http",
                   "upstream_url=http://127.0.0.1:5000"), &c) == 0);
    CHECK_STR(c.upstream_url, "http://127.0.0.1:5000");
    CHECK(c.upstream != NULL && strcmp(c.upstream->authority, "127.0.0.1:5000") == 0);
    config_free(&c);

    /* upstream_url is not checked outside http mode. */
    CHECK(load(ENV("fprocess=cat", "upstream_url=ftp://x"), &c) == 0);
    config_free(&c);

    check_error(ENV("fprocess=cat", "mode=fast"), "mode");
    CHECK_STR(err, "mode: unknown mode \"fast\" (use streaming, serializing, http, static or classic)");
    CHECK(strstr(err, "streaming, serializing, http, static or classic") != NULL);
    check_error(ENV("fprocess=cat", "mode=http"), "upstream_url");
    check_error(ENV("fprocess=cat", "mode=http", "upstream_url=127.0.0.1:5000"),
                "upstream_url");
    check_error(ENV("fprocess=cat", "mode=http", "http_upstream_url=https://x"),
                "http_upstream_url");
    /* Parsed whole at load: the http mode gets an address that works. */
    check_error(ENV("fprocess=cat", "mode=http", "upstream_url=http://127.0.0.1"),
                "upstream_url");
    CHECK(strstr(err, "no port") != NULL);
    check_error(ENV("fprocess=cat", "mode=http", "http_upstream_url=http://no-such-host.invalid:1"),
                "http_upstream_url");
    check_error(ENV("mode=http", "upstream_url=http://127.0.0.1:1"), "fprocess");
}

static void test_second_wins(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat", "function_process=wc -l"), &c) == 0);
    CHECK_STR(c.fprocess, "wc -l");
    CHECK_STR(c.argv[1], "-l");
    config_free(&c);

    CHECK(load(ENV("function_process=wc", "fprocess=cat"), &c) == 0);
    CHECK_STR(c.fprocess, "wc"); /* order in the environment does not matter */
    config_free(&c);

    CHECK(load(ENV("fprocess=cat", "mode=http", "upstream_url=http://127.0.0.1:1",
                   "http_upstream_url=http://127.0.0.2:2"), &c) == 0);
    CHECK_STR(c.upstream_url, "http://127.0.0.2:2");
    config_free(&c);

    CHECK(load(ENV("fprocess=cat", "buffer_http=true"), &c) == 0);
    CHECK(c.buffer_req_body);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "http_buffer_req_body=1", "buffer_http=false"), &c) == 0);
    CHECK(c.buffer_req_body);
    config_free(&c);
    check_error(ENV("fprocess=cat", "buffer_http=maybe"), "buffer_http");
    check_error(ENV("fprocess=cat", "http_buffer_req_body=on"), "http_buffer_req_body");
}

static void test_ports(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat", "PORT=9000"), &c) == 0);
    CHECK(c.port == 9000);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "PORT=9000", "port=7000"), &c) == 0);
    CHECK(c.port == 7000);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "port=", "PORT=9000"), &c) == 0);
    CHECK(c.port == 9000);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "port=65535", "metrics_port=1"), &c) == 0);
    CHECK(c.port == 65535 && c.metrics_port == 1);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "port=8081", "metrics_port=0"), &c) == 0);
    config_free(&c);

    check_error(ENV("fprocess=cat", "port=0"), "port");
    check_error(ENV("fprocess=cat", "port=65536"), "port");
    check_error(ENV("fprocess=cat", "port=-1"), "port");
    check_error(ENV("fprocess=cat", "port=80a"), "port");
    check_error(ENV("fprocess=cat", "port=99999999999999999999999"), "port");
    check_error(ENV("fprocess=cat", "PORT=http"), "PORT");
    check_error(ENV("fprocess=cat", "metrics_port=65536"), "metrics_port");
    check_error(ENV("fprocess=cat", "metrics_port=-1"), "metrics_port");
    check_error(ENV("fprocess=cat", "port=9000", "metrics_port=9000"), "metrics_port");
    check_error(ENV("fprocess=cat", "metrics_port=8080"), "metrics_port");
    CHECK_STR(err, "metrics_port: 8080 is already used by PORT (choose another, or 0 to disable)");
    check_error(ENV("fprocess=cat", "PORT=8081"), "metrics_port");
}

static void test_errors(void)
{
    struct config c;

    check_error(ENV("mode=streaming"), "fprocess");
    CHECK(strstr(err, "not set") != NULL);
    check_error(ENV("fprocess="), "fprocess");
    check_error(ENV("fprocess=   "), "fprocess");
    check_error(ENV("fprocess=sh -c 'echo"), "fprocess");
    check_error(ENV("function_process=sh -c \"echo"), "function_process");

    check_error(ENV("fprocess=cat", "read_timeout=abc"), "read_timeout");
    CHECK(strcmp(err, "read_timeout: invalid duration \"abc\" (use e.g. 10s, 500ms, 1m30s)") == 0);
    /* read_timeout=0 is no limit, as in the Go watchdogs; so is a negative
     * duration, which is kept as given for the startup line */
    CHECK(load(ENV("fprocess=cat", "read_timeout=0"), &c) == 0);
    CHECK(config_ms(c.read_timeout_ns) == 0);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "read_timeout=-1s", "exec_timeout=-2s",
                   "healthcheck_interval=-3s"), &c) == 0);
    CHECK(c.read_timeout_ns == -INT64_C(1000000000) && config_ms(c.read_timeout_ns) == 0);
    CHECK(c.exec_timeout_ns == -INT64_C(2000000000) && config_ms(c.exec_timeout_ns) == 0);
    CHECK(config_ms(c.healthcheck_interval_ns) == 0);
    config_free(&c);
    check_error(ENV("fprocess=cat", "read_timeout=-1"), "read_timeout");
    check_error(ENV("fprocess=cat", "write_timeout=0s"), "write_timeout");
    /* the classic watchdog takes it as no write deadline; health follows it */
    CHECK(load(ENV("fprocess=cat", "mode=classic", "write_timeout=0"), &c) == 0);
    CHECK(config_ms(c.write_timeout_ns) == 0 && config_ms(c.healthcheck_interval_ns) == 0);
    config_free(&c);
    /* of-watchdog refuses only 0: a negative one is no write deadline */
    CHECK(load(ENV("fprocess=cat", "write_timeout=-1s"), &c) == 0);
    CHECK(config_ms(c.write_timeout_ns) == 0 && c.healthcheck_interval_ns == c.write_timeout_ns);
    config_free(&c);
    check_error(ENV("fprocess=cat", "exec_timeout=10 s"), "exec_timeout");
    check_error(ENV("fprocess=cat", "healthcheck_interval=1d"), "healthcheck_interval");

    check_error(ENV("fprocess=cat", "suppress_lock=yes"), "suppress_lock");
    check_error(ENV("fprocess=cat", "prefix_logs=no"), "prefix_logs");
    check_error(ENV("fprocess=cat", "log_callid=2"), "log_callid");
    check_error(ENV("fprocess=cat", "cgi_headers=on"), "cgi_headers");
    check_error(ENV("fprocess=cat", "combine_output=x"), "combine_output");
    check_error(ENV("fprocess=cat", "write_debug=x"), "write_debug");
    check_error(ENV("fprocess=cat", "marshal_request=x"), "marshal_request");

    /* As Go: below 1 is no limit, and a leading '+' is an integer's sign. */
    CHECK(load(ENV("fprocess=cat", "max_inflight=-1"), &c) == 0 && c.max_inflight == -1);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "max_inflight=+2"), &c) == 0 && c.max_inflight == 2);
    config_free(&c);
    check_error(ENV("fprocess=cat", "max_inflight=+-2"), "max_inflight");
    check_error(ENV("fprocess=cat", "max_inflight=+"), "max_inflight");
    check_error(ENV("fprocess=cat", "max_inflight=1.5"), "max_inflight");
    check_error(ENV("fprocess=cat", "max_inflight=3000000000"), "max_inflight");
    check_error(ENV("fprocess=cat", "log_buffer_size=abc"), "log_buffer_size");
    check_error(ENV("fprocess=cat", "log_buffer_size=64k"), "log_buffer_size");
    check_error(ENV("fprocess=cat", "max_connections=0"), "max_connections");
    check_error(ENV("fprocess=cat", "max_request_body=-1"), "max_request_body");
    check_error(ENV("fprocess=cat", "max_request_body=10T"), "max_request_body");
    check_error(ENV("fprocess=cat", "max_request_body=1kk"), "max_request_body");
    check_error(ENV("fprocess=cat", "max_request_body=99999999999G"), "max_request_body");
    check_error(ENV("fprocess=cat", "log_format=xml"), "log_format");

    /* Control bytes in a value never break the one-line message. */
    check_error(ENV("fprocess=cat", "read_timeout=1\n2"), "read_timeout");
}

static void test_sizes(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat", "max_request_body=64M"), &c) == 0);
    CHECK(c.max_request_body == INT64_C(64) * 1024 * 1024);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "max_request_body=2G"), &c) == 0);
    CHECK(c.max_request_body == INT64_C(2) * 1024 * 1024 * 1024);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "max_request_body=12345"), &c) == 0);
    CHECK(c.max_request_body == 12345);
    config_free(&c);
}

static void test_prespawn(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat"), &c) == 0);
    CHECK(c.prespawn == 0);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "prespawn=3", "cgi_headers=false"), &c) == 0);
    CHECK(c.prespawn == 3);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "mode=classic", "prespawn=64", "cgi_headers=0"), &c) == 0);
    CHECK(c.prespawn == 64);
    config_free(&c);
    /* 0 is "off", whatever the mode and cgi_headers. */
    CHECK(load(ENV("mode=static", "prespawn=0"), &c) == 0);
    config_free(&c);
    check_error(ENV("fprocess=cat", "prespawn=2"), "prespawn");
    CHECK(strstr(err, "cgi_headers=false") != NULL);
    check_error(ENV("fprocess=cat", "prespawn=65", "cgi_headers=false"), "prespawn");
    check_error(ENV("fprocess=cat", "prespawn=-1", "cgi_headers=false"), "prespawn");
    check_error(ENV("fprocess=cat", "prespawn=1x", "cgi_headers=false"), "prespawn");
    check_error(ENV("mode=static", "prespawn=1", "cgi_headers=false"), "prespawn");
    CHECK_STR(err, "prespawn: only for the fork modes (streaming, serializing, classic)");
    check_error(ENV("fprocess=cat", "mode=http", "upstream_url=http://127.0.0.1:1",
                    "prespawn=1", "cgi_headers=false"), "prespawn");
}

static void check_split(const char *cmd, const char *const *want)
{
    char e[128];
    char **argv = config_split_command(cmd, e, sizeof(e));
    size_t i = 0;

    CHECK(argv != NULL);
    if (!argv) {
        fprintf(stderr, "  split failed for [%s]: %s\n", cmd, e);
        return;
    }
    for (; want[i]; i++)
        CHECK_STR(argv[i], want[i]);
    CHECK(argv[i] == NULL);
    config_free_argv(argv);
}

static void test_split(void)
{
    char e[128];

    check_split("cat", (const char *[]){"cat", NULL});
    check_split("  node\t index.js  ", (const char *[]){"node", "index.js", NULL});
    check_split("sh -c 'echo hi; exit 3'", (const char *[]){"sh", "-c", "echo hi; exit 3", NULL});
    check_split("echo \"a b\" c", (const char *[]){"echo", "a b", "c", NULL});
    check_split("echo \"say \\\"hi\\\" \\\\ \\n\"",
                (const char *[]){"echo", "say \"hi\" \\ \\n", NULL});
    check_split("echo 'it\\'", (const char *[]){"echo", "it\\", NULL});
    check_split("a\"b c\"d", (const char *[]){"ab cd", NULL});
    check_split("x '' \"\"", (const char *[]){"x", "", "", NULL});
    check_split("'\"' \"'\"", (const char *[]){"\"", "'", NULL});

    CHECK(config_split_command("", e, sizeof(e)) == NULL);
    CHECK(strstr(e, "empty") != NULL);
    CHECK(config_split_command(" \t ", e, sizeof(e)) == NULL);
    CHECK(config_split_command("sh -c 'x", e, sizeof(e)) == NULL);
    CHECK(strstr(e, "single") != NULL);
    CHECK(config_split_command("echo \"x", e, sizeof(e)) == NULL);
    CHECK(strstr(e, "double") != NULL);
    CHECK(config_split_command("echo \"x\\\"", e, sizeof(e)) == NULL);
}

static void test_lock_path(void)
{
    char *p;

    p = config_lock_path(ENV("A=b"));
    CHECK_STR(p, "/tmp/.lock");
    free(p);
    p = config_lock_path(ENV("TMPDIR=/run/fn"));
    CHECK_STR(p, "/run/fn/.lock");
    free(p);
    p = config_lock_path(ENV("TMPDIR=/"));
    CHECK_STR(p, "/.lock");
    free(p);
}

static void test_help(void)
{
    static const char *const vars[] = {
        "fprocess", "function_process", "mode", "port", "PORT", "metrics_port",
        "read_timeout", "write_timeout", "exec_timeout", "healthcheck_interval",
        "upstream_url", "http_upstream_url", "http_buffer_req_body", "buffer_http",
        "content_type", "static_path", "max_inflight", "suppress_lock", "prefix_logs",
        "log_buffer_size", "log_callid", "log_format", "ready_path", "cgi_headers",
        "combine_output", "write_debug", "marshal_request", "max_request_body",
        "max_connections", "prespawn", "TMPDIR", "max_queue", "queue_timeout",
        "cgi_response", "function_grace", "forward_sigterm", "-version", "--version", "-run-healthcheck",
        "--help", NULL,
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    config_print_help(f);
    fclose(f);
    for (size_t i = 0; vars[i]; i++) {
        bool found = false;
        char word[64];
        snprintf(word, sizeof(word), " %s", vars[i]);
        /* The whole word: "port" must not be satisfied by "metrics_port". */
        for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
            char next = p[strlen(word)];
            found = found || next == ' ' || next == ',';
        }
        CHECK(found);
        if (!found)
            fprintf(stderr, "  help lacks %s\n", vars[i]);
    }
    free(text);
}

static void test_new_settings(void)
{
    struct config c;

    CHECK(load(ENV("fprocess=cat", "max_queue=100", "queue_timeout=1m", "cgi_response=true",
                   "function_grace=500ms", "forward_sigterm=1"),
               &c) == 0);
    CHECK(c.max_queue == 100);
    CHECK(config_ms(c.queue_timeout_ns) == 60000);
    CHECK(c.cgi_response);
    CHECK(config_ms(c.function_grace_ns) == 500);
    CHECK(c.forward_sigterm);
    config_free(&c);
    CHECK(load(ENV("fprocess=cat", "function_grace=0", "queue_timeout=3"), &c) == 0);
    CHECK(config_ms(c.function_grace_ns) == 0 && config_ms(c.queue_timeout_ns) == 3000);
    config_free(&c);

    check_error(ENV("fprocess=cat", "max_queue=-1"), "max_queue");
    CHECK_STR(err, "max_queue: invalid number \"-1\" (use an integer >= 0)");
    check_error(ENV("fprocess=cat", "log_buffer_size=1.5"), "log_buffer_size");
    CHECK_STR(err, "log_buffer_size: invalid number \"1.5\" (use an integer)");
    /* set and empty: the Go watchdog refuses it too */
    check_error(ENV("fprocess=cat", "log_buffer_size="), "log_buffer_size");
    CHECK_STR(err, "log_buffer_size: invalid number \"\" (use an integer)");
    check_error(ENV("fprocess=cat", "queue_timeout=0"), "queue_timeout");
    CHECK_STR(err, "queue_timeout: must be greater than 0 (use e.g. 10s, 500ms, 1m30s)");
    check_error(ENV("fprocess=cat", "queue_timeout=soon"), "queue_timeout");
    check_error(ENV("fprocess=cat", "cgi_response=yes"), "cgi_response");
    CHECK_STR(err, "cgi_response: invalid boolean \"yes\" (use true or false)");
    check_error(ENV("fprocess=cat", "function_grace=5 s"), "function_grace");
    /* settings the Go watchdogs do not have take no negative duration */
    check_error(ENV("fprocess=cat", "function_grace=-1s"), "function_grace");
    CHECK_STR(err, "function_grace: must not be negative (use e.g. 10s, 500ms, 1m30s)");
    check_error(ENV("fprocess=cat", "queue_timeout=-1s"), "queue_timeout");
    check_error(ENV("fprocess=cat", "forward_sigterm=2"), "forward_sigterm");
}

/* ---- the settings table ---- */

static bool same_field(const struct setting *s, const struct config *a, const struct config *b)
{
    const char *fa = (const char *)a + s->offset, *fb = (const char *)b + s->offset;

    if (s->type == SETTING_STRING) {
        const char *x = *(char *const *)fa, *y = *(char *const *)fb;
        return !x || !y ? x == y : strcmp(x, y) == 0;
    }
    return memcmp(fa, fb, s->size) == 0;
}

/* Loads first, then the base environment of a mode (first entry wins). */
static int load_with(const char *mode, const char *first, struct config *c)
{
    static char mode_var[64];
    char *env[] = {(char *)first, mode_var, "fprocess=cat", "upstream_url=http://127.0.0.1:5000",
                   NULL};

    snprintf(mode_var, sizeof(mode_var), "mode=%s", mode);
    return load(first ? env : env + 1, c);
}

static size_t field_size(enum setting_type type, int64_t max)
{
    switch (type) {
    case SETTING_BOOL: return sizeof(bool);
    case SETTING_INT: return max > INT32_MAX ? sizeof(int64_t) : sizeof(int);
    case SETTING_DURATION:
    case SETTING_SIZE: return sizeof(int64_t);
    case SETTING_STRING: return sizeof(char *);
    case SETTING_ENUM: return sizeof(int);
    case SETTING_MODE: return sizeof(const struct mode *);
    }
    return 0;
}

/* Every row is whole: one name each, a field its type can fill, and what
 * its rules need. */
static void test_table_rows(void)
{
    const struct setting *s;

    CHECK(setting_at(0) && setting_at(0)->type == SETTING_MODE);
    for (size_t i = 0; (s = setting_at(i)) != NULL; i++) {
        CHECK(setting_find(s->name) == s);
        for (size_t a = 0; a < SETTING_ALIASES && s->aliases[a]; a++)
            CHECK(setting_find(s->aliases[a]) == s);
        CHECK(s->size == field_size(s->type, s->max));
        CHECK(s->help || s->type == SETTING_ENUM || s->type == SETTING_MODE);
        CHECK(!s->either || (s->type == SETTING_BOOL && s->aliases[0]));
        CHECK(!s->required || (s->type == SETTING_STRING && s->unset_hint));
        CHECK(!s->only || (s->modes && s->type == SETTING_INT));
        CHECK(s->type != SETTING_ENUM || s->choices);
        CHECK(s->type != SETTING_INT || (s->what && s->min <= s->max));
        if (s->follows) {
            const struct setting *f = setting_find(s->follows);
            CHECK(f && f < s && f->type == s->type && !s->def);
        }
        if (s->size != field_size(s->type, s->max))
            fprintf(stderr, "  row %s: field size %zu\n", s->name, s->size);
    }
}

/* In every mode, a setting left unset has the value its default gives when
 * written out. */
static void test_table_defaults(void)
{
    const struct mode *m;
    const struct setting *s;
    char var[128];
    struct config base, set;

    for (size_t i = 0; (m = mode_at(i)) != NULL; i++) {
        CHECK(load_with(m->name, NULL, &base) == 0);
        for (size_t j = 1; (s = setting_at(j)) != NULL; j++) {
            const char *def = (s->def_modes & mode_bit(m)) ? s->mode_def : s->def;
            if (!def) {
                if (s->follows)
                    continue;
                CHECK(load_with(m->name, s->name, &set) == 0); /* "NAME" alone: not set */
            } else {
                snprintf(var, sizeof(var), "%s=%s", s->name, def);
                CHECK(load_with(m->name, var, &set) == 0);
            }
            CHECK(same_field(s, &base, &set));
            if (!same_field(s, &base, &set))
                fprintf(stderr, "  %s mode: %s differs from its default\n", m->name, s->name);
            config_free(&set);
        }
        config_free(&base);
    }
}

/* A value of the type that is not the usual default, and a malformed one. */
static const char *good_value(enum setting_type type)
{
    static const char *const good[] = {
        [SETTING_BOOL] = "true", [SETTING_INT] = "7", [SETTING_DURATION] = "7s",
        [SETTING_SIZE] = "7k", [SETTING_STRING] = "http://127.0.0.1:7", [SETTING_ENUM] = "json",
        [SETTING_MODE] = "http",
    };
    return good[type];
}

static const char *bad_value(enum setting_type type, const char **says)
{
    static const char *const bad[] = {
        [SETTING_BOOL] = "maybe", [SETTING_INT] = "7x", [SETTING_DURATION] = "soon",
        [SETTING_SIZE] = "7T", [SETTING_STRING] = NULL, [SETTING_ENUM] = "bogus",
        [SETTING_MODE] = "bogus",
    };
    static const char *const message[] = {
        [SETTING_BOOL] = "invalid boolean \"maybe\" (use true or false)",
        [SETTING_INT] = "invalid ", [SETTING_DURATION] = "invalid duration \"soon\" "
                                                          "(use e.g. 10s, 500ms, 1m30s)",
        [SETTING_SIZE] = "invalid size \"7T\" (use bytes, or e.g. 512k, 64M, 1G)",
        [SETTING_ENUM] = "unknown ", [SETTING_MODE] = "unknown mode \"bogus\"",
    };
    *says = message[type];
    return bad[type];
}

/* An alias gives the same value as the name it stands for. */
static void test_table_aliases(void)
{
    const struct setting *s;
    char var[128];
    struct config by_name, by_alias;

    for (size_t i = 0; (s = setting_at(i)) != NULL; i++) {
        for (size_t a = 0; a < SETTING_ALIASES && s->aliases[a]; a++) {
            snprintf(var, sizeof(var), "%s=%s", s->name, good_value(s->type));
            CHECK(load_with("http", var, &by_name) == 0);
            snprintf(var, sizeof(var), "%s=%s", s->aliases[a], good_value(s->type));
            CHECK(load_with("http", var, &by_alias) == 0);
            CHECK(same_field(s, &by_name, &by_alias));
            config_free(&by_name);
            config_free(&by_alias);
        }
    }
}

/* A malformed value under any name of a row stops loading with its type's
 * message, naming that variable. */
static void test_table_bad_values(void)
{
    const struct setting *s;
    char var[128], want[160];

    for (size_t i = 0; (s = setting_at(i)) != NULL; i++) {
        const char *names[1 + SETTING_ALIASES] = {s->name, s->aliases[0], s->aliases[1]};
        const char *says;
        const char *bad = bad_value(s->type, &says);
        if (!bad)
            continue;
        for (size_t n = 0; n < 1 + SETTING_ALIASES && names[n]; n++) {
            struct config c;
            snprintf(var, sizeof(var), "%s=%s", names[n], bad);
            snprintf(want, sizeof(want), "%s: %s", names[n], says);
            CHECK(load_with("streaming", var, &c) == -1);
            CHECK(strncmp(err, want, strlen(want)) == 0);
            if (strncmp(err, want, strlen(want)) != 0)
                fprintf(stderr, "  %s: got \"%s\"\n", var, err);
        }
    }
}

int main(void)
{
    test_durations();
    test_bools();
    test_bool_settings();
    test_defaults();
    test_values();
    test_modes();
    test_second_wins();
    test_ports();
    test_errors();
    test_sizes();
    test_prespawn();
    test_split();
    test_lock_path();
    test_help();
    test_new_settings();
    test_table_rows();
    test_table_defaults();
    test_table_aliases();
    test_table_bad_values();
    return check_done("test_config");
}
