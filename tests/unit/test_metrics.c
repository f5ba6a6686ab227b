/* metrics.c: labels, value text, histogram arithmetic and the exposition
 * text, checked line by line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check.h"
#include "metrics.h"

/* The formatted text of m as a NUL-terminated string (caller frees). */
static char *format(const struct metrics *m)
{
    struct evbuffer *b = evbuffer_new();
    char *text = NULL;

    if (b && metrics_format(m, b) == 0) {
        size_t n = evbuffer_get_length(b);
        text = malloc(n + 1);
        if (text) {
            evbuffer_copyout(b, text, n);
            text[n] = '\0';
        }
    }
    if (b)
        evbuffer_free(b);
    return text;
}

/* True when line (without its newline) is one of the lines of text. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

static void test_method_label(void)
{
    CHECK_STR(metrics_method_label("GET"), "get");
    CHECK_STR(metrics_method_label("get"), "get");
    CHECK_STR(metrics_method_label("POST"), "post");
    CHECK_STR(metrics_method_label("PATCH"), "patch");
    CHECK_STR(metrics_method_label("TRACE"), "trace");
    CHECK_STR(metrics_method_label("NOTIFY"), "notify");
    CHECK_STR(metrics_method_label("CONNECT"), "connect");
    /* promhttp: only all upper or all lower case is known. */
    CHECK_STR(metrics_method_label("Get"), "unknown");
    CHECK_STR(metrics_method_label("PROPFIND"), "unknown");
    CHECK_STR(metrics_method_label(""), "unknown");
}

static void test_format_value(void)
{
    char buf[40];
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},        {1, "1"},         {20000, "20000"},     {0.005, "0.005"},
        {0.1, "0.1"},    {2.5, "2.5"},     {-3, "-3"},           {1e20, "1e+20"},
        {1.5e-7, "1.5e-07"}, {0.001526213, "0.001526213"}, {1795689742.88, "1795689742.88"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        metrics_format_value(cases[i].v, buf, sizeof(buf));
        CHECK_STR(buf, cases[i].want);
    }
    metrics_format_value(INFINITY, buf, sizeof(buf));
    CHECK_STR(buf, "+Inf");
    metrics_format_value(-INFINITY, buf, sizeof(buf));
    CHECK_STR(buf, "-Inf");
    metrics_format_value(NAN, buf, sizeof(buf));
    CHECK_STR(buf, "NaN");
    /* Read back exactly, whatever the digits. */
    metrics_format_value(0.1 + 0.2, buf, sizeof(buf));
    CHECK(strtod(buf, NULL) == 0.1 + 0.2);
}

static void test_empty(void)
{
    struct metrics *m = metrics_new();
    char *t = format(m);

    CHECK(t != NULL);
    /* No request yet: the labelled families are absent, as in Go. */
    CHECK(t && strstr(t, "http_requests_total") == NULL);
    CHECK(t && strstr(t, "http_request_duration_seconds") == NULL);
    CHECK(t && strstr(t, "fwatchdog_function_exits_total") == NULL);
    CHECK(t && has_line(t, "# TYPE http_requests_in_flight gauge"));
    CHECK(t && has_line(t, "http_requests_in_flight 0"));
    CHECK(t && has_line(t, "fwatchdog_function_starts_total 0"));
    CHECK(t && has_line(t, "fwatchdog_function_timeouts_total 0"));
    CHECK(t && has_line(t, "# TYPE process_start_time_seconds gauge"));
    CHECK(t && has_line(t, "# TYPE process_cpu_seconds_total counter"));
    CHECK(t && strstr(t, "\nprocess_open_fds ") != NULL);
    CHECK(t && strstr(t, "\nprocess_max_fds ") != NULL);
    CHECK(t && strstr(t, "\nprocess_resident_memory_bytes ") != NULL);
    CHECK(t && strstr(t, "\nprocess_virtual_memory_bytes ") != NULL);
    CHECK(t && has_line(t, "# TYPE process_virtual_memory_max_bytes gauge"));
    /* promhttp's own families come last, in name order. */
    CHECK(t && has_line(t, "promhttp_metric_handler_requests_in_flight 1"));
    CHECK(t && has_line(t, "# TYPE promhttp_metric_handler_requests_total counter"));
    CHECK(t && has_line(t, "promhttp_metric_handler_requests_total{code=\"200\"} 0"));
    CHECK(t && has_line(t, "promhttp_metric_handler_requests_total{code=\"500\"} 0"));
    CHECK(t && has_line(t, "promhttp_metric_handler_requests_total{code=\"503\"} 0"));
    CHECK(t && strstr(t, "process_virtual_memory_max_bytes") <
                   strstr(t, "promhttp_metric_handler_requests_in_flight"));
    free(t);
    metrics_free(m);
}

static void test_histogram(void)
{
    struct metrics *m = metrics_new();
    static const double durations[] = {0.003, 0.005, 0.02, 0.3, 20};
    char *t;

    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        metrics_request_begin(m);
        metrics_request_end(m, "GET", 200, durations[i]);
    }
    t = format(m);
    CHECK(t != NULL);
    /* le is "less or equal": 0.005 falls in the first bucket. Cumulative. */
    const char *want[] = {
        "# HELP http_request_duration_seconds Seconds spent serving HTTP requests.",
        "# TYPE http_request_duration_seconds histogram",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"0.005\"} 2",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"0.01\"} 2",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"0.025\"} 3",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"0.25\"} 3",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"0.5\"} 4",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"10\"} 4",
        "http_request_duration_seconds_bucket{code=\"200\",method=\"get\",le=\"+Inf\"} 5",
        "http_request_duration_seconds_sum{code=\"200\",method=\"get\"} 20.328",
        "http_request_duration_seconds_count{code=\"200\",method=\"get\"} 5",
        "# TYPE http_requests_total counter",
        "http_requests_total{code=\"200\",method=\"get\"} 5",
        "http_requests_in_flight 0",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK(t && has_line(t, want[i]));
        if (t && !has_line(t, want[i]))
            fprintf(stderr, "missing: %s\n", want[i]);
    }
    free(t);
    metrics_free(m);
}

static void test_labels_and_order(void)
{
    struct metrics *m = metrics_new();
    char *t;

    metrics_request_begin(m);
    metrics_request_begin(m);
    metrics_request_begin(m);
    metrics_request_end(m, "POST", 500, 0.01);
    metrics_request_end(m, "PROPFIND", 0, 0.01); /* nothing written: 200 */
    metrics_request_begin(m);
    metrics_request_end(m, "get", 404, NAN);     /* a bad duration counts as 0 */
    t = format(m);
    CHECK(t && has_line(t, "http_requests_in_flight 1"));
    CHECK(t && has_line(t, "http_requests_total{code=\"200\",method=\"unknown\"} 1"));
    CHECK(t && has_line(t, "http_requests_total{code=\"404\",method=\"get\"} 1"));
    CHECK(t && has_line(t, "http_requests_total{code=\"500\",method=\"post\"} 1"));
    CHECK(t && has_line(t, "http_request_duration_seconds_sum{code=\"404\",method=\"get\"} 0"));
    /* Series ordered by code, then method. */
    const char *a = t ? strstr(t, "http_requests_total{code=\"200\"") : NULL;
    const char *b = t ? strstr(t, "http_requests_total{code=\"404\"") : NULL;
    const char *c = t ? strstr(t, "http_requests_total{code=\"500\"") : NULL;
    CHECK(a && b && c && a < b && b < c);
    /* Unseen pairs do not exist. */
    CHECK(t && strstr(t, "code=\"500\",method=\"get\"") == NULL);
    free(t);
    metrics_free(m);
}

static void test_functions(void)
{
    struct metrics *m = metrics_new();
    const struct job_observer *o = metrics_job_observer(m);
    char *t;

    for (int i = 0; i < 4; i++)
        o->started(o->arg);
    o->finished(o->arg, 0);
    o->finished(o->arg, 0);
    o->finished(o->arg, 137);
    o->finished(o->arg, JOB_TIMEOUT);
    t = format(m);
    CHECK(t && has_line(t, "fwatchdog_function_starts_total 4"));
    CHECK(t && has_line(t, "fwatchdog_function_timeouts_total 1"));
    CHECK(t && has_line(t, "# TYPE fwatchdog_function_exits_total counter"));
    CHECK(t && has_line(t, "fwatchdog_function_exits_total{code=\"0\"} 2"));
    CHECK(t && has_line(t, "fwatchdog_function_exits_total{code=\"137\"} 1"));
    CHECK(t && strstr(t, "fwatchdog_function_exits_total{code=\"1\"}") == NULL);
    free(t);
    metrics_free(m);
}

static void test_hooks(void)
{
    struct metrics *m = metrics_new();
    struct front_hooks h = metrics_front_hooks(m);
    char *t;

    h.request_begin(h.arg);
    h.request_end(h.arg, "DELETE", 204, 0.2);
    t = format(m);
    CHECK(t && has_line(t, "http_requests_total{code=\"204\",method=\"delete\"} 1"));
    free(t);
    metrics_free(m);
}

int main(void)
{
    test_method_label();
    test_format_value();
    test_empty();
    test_histogram();
    test_labels_and_order();
    test_functions();
    test_hooks();
    metrics_free(NULL);
    return check_done("metrics");
}
