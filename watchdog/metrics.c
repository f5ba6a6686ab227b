/* Metrics. Counting costs the request path a table lookup and a few
 * additions: labels are indexes into fixed tables (the method among those
 * promhttp knows, the status code), never strings built per request. A
 * (code, method) series takes memory the first time it is seen and only
 * then appears in the output, as with the Go client.
 *
 * The scrape side is a small HTTP/1.1 responder of its own: it reads a
 * request head strictly, answers GET/HEAD /metrics, 404 elsewhere, 405 for
 * other methods, and keeps the connection when the client wants it. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
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
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

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

/* The scrape listener: a handful of connections, small heads, and limits
 * that let a stuck client hold nothing for long. */
#define MAX_SCRAPES 16
#define MAX_HEAD 8192
#define SCRAPE_IDLE_S 30
#define SCRAPE_WRITE_S 10

static const char content_type_metrics[] = "text/plain; version=0.0.4; charset=utf-8";
static const char content_type_text[] = "text/plain; charset=utf-8";

struct series {
    uint16_t method, code;
    uint64_t count;
    uint64_t in_bucket[N_BUCKETS]; /* per bucket, not cumulative: cumulated when printed */
    double sum;
};

struct scrape {
    struct metrics *m;
    struct bufferevent *bev;
    struct scrape *prev, *next;
    bool closing; /* close once the queued answer is written */
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
    struct job_observer observer;
    struct evconnlistener *listener;
    struct scrape *scrapes;
    int nscrapes;
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

void metrics_request_end(struct metrics *m, const char *method, int status, double seconds)
{
    struct series *s;

    m->in_flight--;
    /* Out of memory for a first-seen series: that one request goes uncounted. */
    s = series_for(m, method_index(method ? method : ""), code_index(status));
    if (!s)
        return;
    if (!isfinite(seconds) || seconds < 0)
        seconds = 0;
    s->count++;
    s->sum += seconds;
    for (int i = 0; i < N_BUCKETS; i++) {
        if (seconds <= bucket_bounds[i]) {
            s->in_bucket[i]++;
            break;
        }
    }
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

struct server_hooks metrics_server_hooks(struct metrics *m)
{
    return (struct server_hooks){hook_begin, hook_end, m};
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

static void add_histogram_series(struct emit *out, const struct series *s)
{
    const char *name = "http_request_duration_seconds";
    const char *method = method_lower[s->method];
    char code[8], sum[40];
    uint64_t cumulative = 0;

    code_text(s->code, code, sizeof(code));
    for (int i = 0; i < N_BUCKETS; i++) {
        cumulative += s->in_bucket[i];
        emitf(out, "%s_bucket{code=\"%s\",method=\"%s\",le=\"%s\"} %llu\n", name,
                            code, method, bucket_labels[i], (unsigned long long)cumulative);
    }
    emitf(out, "%s_bucket{code=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n", name, code,
                        method, (unsigned long long)s->count);
    metrics_format_value(s->sum, sum, sizeof(sum));
    emitf(out, "%s_sum{code=\"%s\",method=\"%s\"} %s\n", name, code, method, sum);
    emitf(out, "%s_count{code=\"%s\",method=\"%s\"} %llu\n", name, code, method,
                        (unsigned long long)s->count);
}

static void add_counter_series(struct emit *out, const struct series *s)
{
    char code[8];
    code_text(s->code, code, sizeof(code));
    emitf(out, "http_requests_total{code=\"%s\",method=\"%s\"} %llu\n", code,
                        method_lower[s->method], (unsigned long long)s->count);
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
}

int metrics_format(const struct metrics *m, struct evbuffer *buf)
{
    struct emit out = {buf, false};
    /* Families in name order, as the Go client writes them. */
    add_function_metrics(&out, m);
    add_http_metrics(&out, m);
    add_process_metrics(&out, m);
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

static void scrape_free(struct scrape *sc)
{
    struct metrics *m = sc->m;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        m->scrapes = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    m->nscrapes--;
    bufferevent_free(sc->bev);
    free(sc);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    while (m->scrapes)
        scrape_free(m->scrapes);
    if (m->listener)
        evconnlistener_free(m->listener);
    free(m->series);
    free(m);
}

/* ---- the scrape listener ---- */

/* What a request head asks for. */
struct scrape_req {
    bool get, head;     /* method GET / HEAD */
    bool metrics_path;  /* target is /metrics, with or without a query */
    bool keep_alive;
};

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t token_len(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && is_tchar((unsigned char)p[n]))
        n++;
    return n;
}

/* "close" / "keep-alive" among the comma-separated tokens of a Connection value. */
static bool has_conn_token(const char *v, size_t len, const char *token)
{
    size_t tlen = strlen(token);
    size_t i = 0;

    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - start == tlen && strncasecmp(v + start, token, tlen) == 0)
            return true;
    }
    return false;
}

/* A Content-Length of zero, white space around it allowed. */
static bool is_zero(const char *v, size_t len)
{
    size_t i = 0, zeros = 0;

    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (i < len && v[i] == '0') {
        i++;
        zeros++;
    }
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    return zeros > 0 && i == len;
}

static bool header_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* "METHOD SP target SP HTTP/1.x". Returns the end of the line or NULL. */
static const char *parse_request_line(const char *p, const char *end, struct scrape_req *rq,
                                      bool *http11)
{
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    size_t mlen = token_len(p, eol ? eol : end);
    const char *target, *t_end;

    if (!eol || eol + 1 >= end || eol[1] != '\n' || mlen == 0 || p[mlen] != ' ')
        return NULL;
    rq->get = mlen == 3 && memcmp(p, "GET", 3) == 0;
    rq->head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;
    target = p + mlen + 1;
    t_end = target;
    while (t_end < eol && (unsigned char)*t_end > ' ' && *t_end != 0x7f)
        t_end++;
    if (t_end == target || t_end >= eol || *t_end != ' ')
        return NULL;
    if ((size_t)(eol - t_end - 1) != 8 || memcmp(t_end + 1, "HTTP/1.", 7) != 0 ||
        (t_end[8] != '0' && t_end[8] != '1'))
        return NULL;
    *http11 = t_end[8] == '1';
    size_t tlen = (size_t)(t_end - target);
    rq->metrics_path = (tlen == 8 && memcmp(target, "/metrics", 8) == 0) ||
                       (tlen > 8 && memcmp(target, "/metrics?", 9) == 0);
    return eol + 2;
}

/* The whole head, ending in an empty line. 0, or -1 when malformed. */
static int parse_head(const char *p, size_t len, struct scrape_req *rq)
{
    const char *end = p + len;
    bool http11, close = false, keep = false, body = false;

    memset(rq, 0, sizeof(*rq));
    p = parse_request_line(p, end, rq, &http11);
    if (!p)
        return -1;
    while (p + 2 <= end && !(p[0] == '\r' && p[1] == '\n')) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        size_t nlen = token_len(p, eol ? eol : end);
        if (!eol || eol + 1 >= end || eol[1] != '\n' || nlen == 0 || p[nlen] != ':')
            return -1; /* also folded lines, which start with white space */
        const char *v = p + nlen + 1;
        for (const char *c = v; c < eol; c++) {
            if ((unsigned char)*c < ' ' && *c != '\t')
                return -1;
        }
        size_t vlen = (size_t)(eol - v);
        if (header_is(p, nlen, "Connection")) {
            close = close || has_conn_token(v, vlen, "close");
            keep = keep || has_conn_token(v, vlen, "keep-alive");
        } else if (header_is(p, nlen, "Transfer-Encoding")) {
            body = true;
        } else if (header_is(p, nlen, "Content-Length")) {
            body = body || !is_zero(v, vlen);
        }
        p = eol + 2;
    }
    /* A body is never read here: answer, then close rather than parse it. */
    rq->keep_alive = !body && (http11 ? !close : keep);
    return 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
    }
}

struct answer {
    int status;
    const char *type;
    const char *extra; /* more header lines, each ending in CRLF */
    bool send_body;    /* false for HEAD */
    bool keep_alive;
};

/* Queue the status line, headers and body (moved out of body). */
static void scrape_send(struct scrape *sc, const struct answer *a, struct evbuffer *body)
{
    struct evbuffer *out = bufferevent_get_output(sc->bev);

    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                        "Connection: %s\r\n\r\n",
                        a->status, reason(a->status), a->type, evbuffer_get_length(body),
                        a->extra ? a->extra : "", a->keep_alive ? "keep-alive" : "close");
    if (a->send_body)
        evbuffer_add_buffer(out, body);
    if (!a->keep_alive) {
        sc->closing = true;
        bufferevent_disable(sc->bev, EV_READ);
    }
}

/* Out of memory for an answer: close without one. */
static void scrape_fail(struct scrape *sc)
{
    sc->closing = true;
    bufferevent_disable(sc->bev, EV_READ);
}

static void scrape_text(struct scrape *sc, int status, const char *text, const char *extra,
                        bool keep_alive)
{
    struct evbuffer *body = evbuffer_new();
    struct answer a = {status, content_type_text, extra, true, keep_alive};

    if (!body || evbuffer_add(body, text, strlen(text)) != 0)
        scrape_fail(sc);
    else
        scrape_send(sc, &a, body);
    if (body)
        evbuffer_free(body);
}

static void scrape_metrics(struct scrape *sc, const struct scrape_req *rq)
{
    struct evbuffer *body = evbuffer_new();
    struct answer a = {200, content_type_metrics, NULL, !rq->head, rq->keep_alive};

    if (!body) {
        scrape_fail(sc);
        return;
    }
    if (metrics_format(sc->m, body) == 0) {
        scrape_send(sc, &a, body);
    } else {
        log_error("metrics: out of memory formatting /metrics");
        scrape_text(sc, 500, "Internal Server Error\n", NULL, false);
    }
    evbuffer_free(body);
}

static void scrape_answer(struct scrape *sc, const struct scrape_req *rq)
{
    if (!rq->metrics_path)
        scrape_text(sc, 404, "404 page not found\n", NULL, rq->keep_alive);
    else if (!rq->get && !rq->head)
        scrape_text(sc, 405, "Method Not Allowed\n", "Allow: GET, HEAD\r\n", rq->keep_alive);
    else
        scrape_metrics(sc, rq);
}

/* Answer complete heads one at a time: the next is read only once the
 * previous answer was written, so a pipelining client cannot make us
 * queue answers without bound. May free sc: callers return right after. */
static void scrape_input(struct scrape *sc)
{
    struct evbuffer *in = bufferevent_get_input(sc->bev);
    struct evbuffer *out = bufferevent_get_output(sc->bev);

    while (!sc->closing && evbuffer_get_length(out) == 0) {
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        struct scrape_req rq;
        size_t len = end.pos < 0 ? evbuffer_get_length(in) : (size_t)end.pos + 4;
        if (len > MAX_HEAD || (end.pos < 0 && len == MAX_HEAD)) {
            scrape_text(sc, 431, "Request Header Fields Too Large\n", NULL, false);
            break;
        }
        if (end.pos < 0)
            break;
        int rc = parse_head((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, &rq);
        evbuffer_drain(in, len);
        if (rc != 0)
            scrape_text(sc, 400, "Bad Request\n", NULL, false);
        else
            scrape_answer(sc, &rq);
    }
    /* Closing with nothing left to write (no answer could be queued). */
    if (sc->closing && evbuffer_get_length(out) == 0)
        scrape_free(sc);
}

static void on_scrape_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    scrape_input(arg);
}

static void on_scrape_written(struct bufferevent *bev, void *arg)
{
    struct scrape *sc = arg;
    (void)bev;
    if (sc->closing)
        scrape_free(sc);
    else
        scrape_input(sc);
}

static void on_scrape_event(struct bufferevent *bev, short what, void *arg)
{
    struct scrape *sc = arg;
    /* A client that half-closes after its request still gets the answer. */
    if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        sc->closing = true;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    scrape_free(sc);
}

static void on_scrape_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                             int socklen, void *arg)
{
    struct metrics *m = arg;
    struct timeval idle = {SCRAPE_IDLE_S, 0}, write = {SCRAPE_WRITE_S, 0};
    struct scrape *sc = NULL;
    struct bufferevent *bev = NULL;
    (void)addr;
    (void)socklen;

    if (m->nscrapes >= MAX_SCRAPES)
        goto fail;
    sc = calloc(1, sizeof(*sc));
    bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!sc || !bev)
        goto fail;
    sc->m = m;
    sc->bev = bev;
    sc->next = m->scrapes;
    if (m->scrapes)
        m->scrapes->prev = sc;
    m->scrapes = sc;
    m->nscrapes++;
    bufferevent_setcb(bev, on_scrape_read, on_scrape_written, on_scrape_event, sc);
    bufferevent_set_timeouts(bev, &idle, &write);
    bufferevent_setwatermark(bev, EV_READ, 0, MAX_HEAD);
    bufferevent_enable(bev, EV_READ);
    return;
fail:
    free(sc);
    if (bev)
        bufferevent_free(bev);
    else
        evutil_closesocket(fd);
}

static struct evconnlistener *bind_any(struct metrics *m, struct event_base *base, int port)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                .sin6_addr = IN6ADDR_ANY_INIT};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY)};
    struct evconnlistener *l = evconnlistener_new_bind(base, on_scrape_accept, m, flags, 64,
                                                       (struct sockaddr *)&sin6, sizeof(sin6));
    if (l)
        return l;
    /* No IPv6 in this network namespace: IPv4 only. */
    return evconnlistener_new_bind(base, on_scrape_accept, m, flags, 64, (struct sockaddr *)&sin,
                                   sizeof(sin));
}

int metrics_listen(struct metrics *m, struct event_base *base, int port)
{
    m->listener = bind_any(m, base, port);
    if (!m->listener) {
        log_error("metrics_port: cannot listen on :%d: %s", port, strerror(errno));
        return -1;
    }
    log_info("Metrics listening on port: %d", port);
    return 0;
}
