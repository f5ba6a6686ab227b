/* Metrics. Counting costs the request path a table lookup and a few
 * additions: labels are indexes into fixed tables (the method among those
 * promhttp knows, the status code), never strings built per request. A
 * (code, method) series takes memory the first time it is seen and only
 * then appears in the output, as with the Go client.
 *
 * The scrape side is an engine of its own (engine.h) with one handler, as
 * the Go watchdog's metrics server is a ServeMux with one route. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "engine.h"
#include "gzipenc.h"
#include "log.h"

/* promhttp's known methods, sorted as the Go client prints label values. */
static const char *const method_upper[] = {"CONNECT", "DELETE", "GET",   "HEAD", "NOTIFY",
                                           "OPTIONS", "PATCH",  "POST",  "PUT",  "TRACE"};
static const char *const method_lower[] = {"connect", "delete", "get", "head",  "notify", "options",
                                           "patch",   "post",   "put", "trace", "unknown"};
#define N_METHODS 11
#define METHOD_UNKNOWN 10

/* Three-digit status codes by value; slot 0 takes anything else, which the
 * server never sends. */
#define N_CODES 1000

/* prometheus.DefBuckets, and their labels as Go writes them. */
static const double bucket_bounds[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
static const char *const bucket_labels[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                            "0.5",   "1",    "2.5",   "5",    "10"};
#define N_BUCKETS 11

#define N_EXIT_CODES 256

/* The scrape port: a handful of connections, and the Go watchdog's
 * metrics server's timeouts (500 ms to read a request, 500 ms to write). */
#define MAX_SCRAPES 16
#define SCRAPE_READ_MS 500
#define SCRAPE_WRITE_MS 500

static const char content_type_metrics[] = "text/plain; version=0.0.4; charset=utf-8";

struct hist {
    uint64_t count;
    uint64_t in_bucket[N_BUCKETS]; /* per bucket, not cumulative: cumulated when printed */
    double sum;
};

struct series {
    uint16_t method, code;
    struct hist h;
};

struct metrics {
    uint16_t slot[N_METHODS][N_CODES]; /* 1 + index into series; 0: not seen yet */
    struct series *series;
    size_t nseries, cap;
    int64_t in_flight;
    uint64_t function_starts;
    uint64_t function_timeouts;
    uint64_t exits[N_EXIT_CODES];
    double start_time;
    bool queue_on;                 /* max_queue: its two families are shown */
    int64_t queue_depth;
    struct hist queue_wait;
    struct job_observer observer;
    struct engine *scrapes;
    uint64_t scrapes_ok, scrapes_failed; /* answered with 200, with 500 */
};

/* ---- labels and values ---- */

static int method_index(const char *method)
{
    for (int i = 0; i < METHOD_UNKNOWN; i++) {
        if (strcmp(method, method_upper[i]) == 0 || strcmp(method, method_lower[i]) == 0)
            return i;
    }
    return METHOD_UNKNOWN;
}

const char *metrics_method_label(const char *method)
{
    return method_lower[method_index(method)];
}

/* No status written means 200, as in Go's net/http and promhttp. */
static int code_index(int status)
{
    if (status == 0)
        return 200;
    return (status >= 100 && status < N_CODES) ? status : 0;
}

void metrics_format_value(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* Whole numbers as such ("20000", not "2e+04"): memory and fd counts. */
    if (fabs(v) < 1e15 && v == floor(v)) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    /* The fewest digits that read back as the same double, like Go's 'g', -1. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* ---- recording ---- */

static int grow_series(struct metrics *m)
{
    size_t cap = m->cap ? m->cap * 2 : 8;
    struct series *s = realloc(m->series, cap * sizeof(*s));
    if (!s)
        return -1;
    m->series = s;
    m->cap = cap;
    return 0;
}

static struct series *series_for(struct metrics *m, int method, int code)
{
    uint16_t *slot = &m->slot[method][code];
    struct series *s;

    if (*slot)
        return &m->series[*slot - 1];
    if (m->nseries == m->cap && grow_series(m) != 0)
        return NULL;
    s = &m->series[m->nseries++];
    memset(s, 0, sizeof(*s));
    s->method = (uint16_t)method;
    s->code = (uint16_t)code;
    *slot = (uint16_t)m->nseries;
    return s;
}

void metrics_request_begin(struct metrics *m)
{
    m->in_flight++;
}

static void hist_observe(struct hist *h, double seconds)
{
    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    h->count++;
    h->sum += seconds;
    for (int i = 0; i < N_BUCKETS; i++) {
        if (seconds <= bucket_bounds[i]) {
            h->in_bucket[i]++;
            break;
        }
    }
}

void metrics_request_end(struct metrics *m, const char *method, int status, double seconds)
{
    struct series *s;

    m->in_flight--;
    /* Out of memory for a first-seen series: that one request goes uncounted. */
    s = series_for(m, method_index(method ? method : ""), code_index(status));
    if (!s)
        return;
    hist_observe(&s->h, seconds);
}

void metrics_queue_enable(struct metrics *m)
{
    m->queue_on = true;
}

void metrics_queue_depth(struct metrics *m, int depth)
{
    m->queue_depth = depth;
}

void metrics_queue_wait(struct metrics *m, double seconds)
{
    hist_observe(&m->queue_wait, seconds);
}

void metrics_function_started(struct metrics *m)
{
    m->function_starts++;
}

void metrics_function_finished(struct metrics *m, int result)
{
    if (result == JOB_TIMEOUT)
        m->function_timeouts++;
    else if (result >= 0 && result < N_EXIT_CODES)
        m->exits[result]++;
}

static void hook_begin(void *arg)
{
    metrics_request_begin(arg);
}

static void hook_end(void *arg, const char *method, int status, double seconds)
{
    metrics_request_end(arg, method, status, seconds);
}

static void observe_started(void *arg)
{
    metrics_function_started(arg);
}

static void observe_finished(void *arg, int result)
{
    metrics_function_finished(arg, result);
}

static void hook_queue_depth(void *arg, int depth)
{
    metrics_queue_depth(arg, depth);
}

static void hook_queue_wait(void *arg, double seconds)
{
    metrics_queue_wait(arg, seconds);
}

struct front_hooks metrics_front_hooks(struct metrics *m)
{
    return (struct front_hooks){hook_begin, hook_end, hook_queue_depth, hook_queue_wait, m};
}

const struct job_observer *metrics_job_observer(const struct metrics *m)
{
    return &m->observer;
}

/* ---- the process, from /proc/self ---- */

static int read_small_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

struct proc_stat {
    double cpu_seconds;
    double virtual_bytes;
    double resident_bytes;
    double start_ticks; /* clock ticks after boot */
};

static int read_proc_stat(struct proc_stat *st)
{
    char buf[1024];
    unsigned long long utime, stime, start, vsize;
    long long rss;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    const char *p;

    if (read_small_file("/proc/self/stat", buf, sizeof(buf)) != 0)
        return -1;
    /* The command name may hold spaces and parentheses: fields are counted
     * from the last ')'. utime and stime are fields 14-15, starttime 22,
     * vsize 23, rss 24 (pages). */
    p = strrchr(buf, ')');
    if (!p || ticks <= 0 ||
        sscanf(p + 1, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu"
                      " %*s %*s %*s %*s %*s %*s %llu %llu %lld",
               &utime, &stime, &start, &vsize, &rss) != 5)
        return -1;
    st->cpu_seconds = (double)(utime + stime) / ticks;
    st->virtual_bytes = (double)vsize;
    st->resident_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
    st->start_ticks = (double)start / ticks;
    return 0;
}

/* Boot time from /proc/stat; the file can be long (one line per CPU and
 * interrupt), so it is read line by line. */
static int read_boot_time(double *out)
{
    FILE *f = fopen("/proc/stat", "re");
    char *line = NULL;
    size_t cap = 0;
    unsigned long long btime;
    int rc = -1;

    if (!f)
        return -1;
    while (getline(&line, &cap, f) > 0) {
        if (sscanf(line, "btime %llu", &btime) == 1) {
            *out = (double)btime;
            rc = 0;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

/* Read once: it cannot change. Falls back to now when /proc is missing. */
static double process_start_time(void)
{
    struct proc_stat st;
    double boot;
    struct timespec now;

    if (read_proc_stat(&st) == 0 && read_boot_time(&boot) == 0)
        return boot + st.start_ticks;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int count_open_fds(double *out)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    double n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    *out = n;
    return 0;
}

/* ---- the exposition text ---- */

/* Where the text goes; a failed append (out of memory) is remembered so a
 * cut text is never served as if complete. */
struct emit {
    struct evbuffer *buf;
    bool failed;
};

static void emitf(struct emit *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emitf(struct emit *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (evbuffer_add_vprintf(out->buf, fmt, ap) < 0)
        out->failed = true;
    va_end(ap);
}

static void add_family(struct emit *out, const char *name, const char *type, const char *help)
{
    emitf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void add_value(struct emit *out, const char *name, double v)
{
    char val[40];
    metrics_format_value(v, val, sizeof(val));
    emitf(out, "%s %s\n", name, val);
}

static void add_gauge(struct emit *out, const char *name, const char *type, const char *help,
                      double v)
{
    add_family(out, name, type, help);
    add_value(out, name, v);
}

static void code_text(int code, char *buf, size_t len)
{
    if (code == 0)
        snprintf(buf, len, "other");
    else
        snprintf(buf, len, "%d", code);
}

static void add_function_metrics(struct emit *out, const struct metrics *m)
{
    bool any_exit = false;

    for (int c = 0; c < N_EXIT_CODES && !any_exit; c++)
        any_exit = m->exits[c] > 0;
    if (any_exit) {
        add_family(out, "fwatchdog_function_exits_total", "counter",
                   "Function processes that exited, by exit code (128+N: killed by signal N).");
        for (int c = 0; c < N_EXIT_CODES; c++) {
            if (m->exits[c] > 0)
                emitf(out, "fwatchdog_function_exits_total{code=\"%d\"} %llu\n", c,
                                    (unsigned long long)m->exits[c]);
        }
    }
    add_family(out, "fwatchdog_function_starts_total", "counter", "Function processes started.");
    emitf(out, "fwatchdog_function_starts_total %llu\n",
                        (unsigned long long)m->function_starts);
    add_family(out, "fwatchdog_function_timeouts_total", "counter",
               "Function processes killed at exec_timeout.");
    emitf(out, "fwatchdog_function_timeouts_total %llu\n",
                        (unsigned long long)m->function_timeouts);
}

/* One histogram's samples; labels ("" or 'k="v",' pairs) go first. */
static void add_hist(struct emit *out, const char *name, const char *labels, const struct hist *h)
{
    char sum[40];
    uint64_t cumulative = 0;
    size_t n = strlen(labels);
    int bare = (int)(n > 0 ? n - 1 : 0); /* the labels without their last comma */

    for (int i = 0; i < N_BUCKETS; i++) {
        cumulative += h->in_bucket[i];
        emitf(out, "%s_bucket{%sle=\"%s\"} %llu\n", name, labels, bucket_labels[i],
              (unsigned long long)cumulative);
    }
    emitf(out, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)h->count);
    metrics_format_value(h->sum, sum, sizeof(sum));
    if (n > 0) {
        emitf(out, "%s_sum{%.*s} %s\n", name, bare, labels, sum);
        emitf(out, "%s_count{%.*s} %llu\n", name, bare, labels, (unsigned long long)h->count);
    } else {
        emitf(out, "%s_sum %s\n", name, sum);
        emitf(out, "%s_count %llu\n", name, (unsigned long long)h->count);
    }
}

static void add_histogram_series(struct emit *out, const struct series *s)
{
    char code[8], labels[64];
    code_text(s->code, code, sizeof(code));
    snprintf(labels, sizeof(labels), "code=\"%s\",method=\"%s\",", code, method_lower[s->method]);
    add_hist(out, "http_request_duration_seconds", labels, &s->h);
}

static void add_queue_metrics(struct emit *out, const struct metrics *m)
{
    if (!m->queue_on)
        return;
    add_gauge(out, "fwatchdog_queue_depth", "gauge",
              "Requests waiting in the max_queue queue for a slot under max_inflight.",
              (double)m->queue_depth);
    add_family(out, "fwatchdog_queue_wait_seconds", "histogram",
               "Time requests spent in the queue, admitted or not.");
    add_hist(out, "fwatchdog_queue_wait_seconds", "", &m->queue_wait);
}

static void add_counter_series(struct emit *out, const struct series *s)
{
    char code[8];
    code_text(s->code, code, sizeof(code));
    emitf(out, "http_requests_total{code=\"%s\",method=\"%s\"} %llu\n", code,
                        method_lower[s->method], (unsigned long long)s->h.count);
}

/* Every seen series, ordered by code then method as Go sorts them. */
static void each_series(struct emit *out, const struct metrics *m,
                        void (*add)(struct emit *, const struct series *))
{
    for (int code = 0; code < N_CODES; code++) {
        for (int method = 0; method < N_METHODS; method++) {
            uint16_t slot = m->slot[method][code];
            if (slot)
                add(out, &m->series[slot - 1]);
        }
    }
}

static void add_http_metrics(struct emit *out, const struct metrics *m)
{
    if (m->nseries > 0) {
        add_family(out, "http_request_duration_seconds", "histogram",
                   "Seconds spent serving HTTP requests.");
        each_series(out, m, add_histogram_series);
    }
    add_gauge(out, "http_requests_in_flight", "gauge", "total HTTP requests in-flight",
              (double)m->in_flight);
    if (m->nseries > 0) {
        add_family(out, "http_requests_total", "counter", "total HTTP requests processed");
        each_series(out, m, add_counter_series);
    }
}

/* A value that cannot be read right now is left out, not reported as 0. */
static void add_process_metrics(struct emit *out, const struct metrics *m)
{
    struct proc_stat st;
    struct rlimit rl;
    double fds;
    bool have_stat = read_proc_stat(&st) == 0;

    if (have_stat)
        add_gauge(out, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.", st.cpu_seconds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        add_gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                  rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
    if (count_open_fds(&fds) == 0)
        add_gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    if (have_stat)
        add_gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                  st.resident_bytes);
    add_gauge(out, "process_start_time_seconds", "gauge",
              "Start time of the process since unix epoch in seconds.", m->start_time);
    if (have_stat)
        add_gauge(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                  st.virtual_bytes);
    /* Go's collector reads "unlimited" as the largest uint64. */
    if (getrlimit(RLIMIT_AS, &rl) == 0)
        add_gauge(out, "process_virtual_memory_max_bytes", "gauge",
                  "Maximum amount of virtual memory available in bytes.",
                  rl.rlim_cur == RLIM_INFINITY ? (double)UINT64_MAX : (double)rl.rlim_cur);
}

/* promhttp's own: a scrape is counted once answered, so not in its own
 * text; this one is the scrape in flight (they are made one at a time). 503
 * is promhttp's answer to too many at once, which a queue of one never is. */
static void add_scrape_metrics(struct emit *out, const struct metrics *m)
{
    add_gauge(out, "promhttp_metric_handler_requests_in_flight", "gauge",
              "Current number of scrapes being served.", 1);
    add_family(out, "promhttp_metric_handler_requests_total", "counter",
               "Total number of scrapes by HTTP status code.");
    emitf(out, "promhttp_metric_handler_requests_total{code=\"200\"} %" PRIu64 "\n", m->scrapes_ok);
    emitf(out, "promhttp_metric_handler_requests_total{code=\"500\"} %" PRIu64 "\n",
          m->scrapes_failed);
    emitf(out, "promhttp_metric_handler_requests_total{code=\"503\"} 0\n");
}

int metrics_format(const struct metrics *m, struct evbuffer *buf)
{
    struct emit out = {buf, false};
    /* Families in name order, as the Go client writes them. */
    add_function_metrics(&out, m);
    add_queue_metrics(&out, m);
    add_http_metrics(&out, m);
    add_process_metrics(&out, m);
    add_scrape_metrics(&out, m);
    return out.failed ? -1 : 0;
}

/* ---- lifecycle ---- */

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->observer = (struct job_observer){observe_started, observe_finished, m};
    m->start_time = process_start_time();
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    engine_free(m->scrapes);
    free(m->series);
    free(m);
}

/* ---- the scrape port ---- */

/* The scrape as asked: gzip-compressed when the scraper takes gzip (as
 * Prometheus does), as promhttp answers. NULL when memory ran out. */
static struct evbuffer *scrape_body(struct metrics *m, const struct request *r, bool *gz)
{
    struct evbuffer *body = evbuffer_new();
    if (!body || metrics_format(m, body) != 0) {
        if (body)
            evbuffer_free(body);
        return NULL;
    }
    *gz = gzip_accepted(req_header(r, "Accept-Encoding"));
    if (!*gz)
        return body;
    struct evbuffer *packed = gzip_encode(body);
    evbuffer_free(body);
    return packed;
}

/* Any method, as promhttp's handler; elsewhere ServeMux's 404. */
static void on_scrape(void *arg, struct request *r)
{
    struct metrics *m = arg;
    bool gz = false;
    if (strcmp(r->path, "/metrics") != 0) {
        resp_go_error(r, 404, "404 page not found\n");
        return;
    }
    struct evbuffer *body = scrape_body(m, r, &gz);
    if (!body) {
        log_error("metrics: out of memory formatting /metrics");
        resp_empty(r, 500);
        m->scrapes_failed++;
        return;
    }
    m->scrapes_ok++;
    if (gz)
        resp_header(r, "Content-Encoding", "gzip");
    resp_header(r, "Content-Type", content_type_metrics);
    resp_start(r, 200, (int64_t)evbuffer_get_length(body));
    resp_write_buf(r, body);
    resp_end(r);
    evbuffer_free(body);
}

struct engine *metrics_engine(struct metrics *m, struct event_base *base, int port)
{
    if (m->scrapes)
        return m->scrapes;
    struct engine_params p = {
        .port_setting = "metrics_port",
        .port = port,
        .backlog = 64,
        .read_timeout_ms = SCRAPE_READ_MS,
        .write_timeout_ms = SCRAPE_WRITE_MS,
        .max_connections = MAX_SCRAPES,
        .on_request = on_scrape,
        .arg = m,
    };
    m->scrapes = engine_new(base, &p);
    return m->scrapes;
}

int metrics_listen(struct metrics *m, struct event_base *base, int port)
{
    if (!metrics_engine(m, base, port)) {
        log_error("metrics: out of memory");
        return -1;
    }
    return engine_listen(m->scrapes, NULL);
}
