/* Logging to stderr. Every line is built whole in memory and leaves in one
 * write(2), so lines from the watchdog and from function processes never
 * interleave mid-line. No stdio: nothing is buffered behind our back; the
 * one hold, log_defer's, ends with each pass of the event loop. */
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"

/* The one global: set once at startup, before any other thread or child. */
static enum log_format log_fmt = LOG_FORMAT_TEXT;

void log_setup(enum log_format fmt)
{
    log_fmt = fmt;
}

/* ---- a growable line buffer ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool heap;
    char inline_buf[512]; /* most lines fit; no malloc for them */
};

static void sb_init(struct sbuf *b)
{
    b->p = b->inline_buf;
    b->len = 0;
    b->cap = sizeof(b->inline_buf);
    b->heap = false;
}

static void sb_free(struct sbuf *b)
{
    if (b->heap)
        free(b->p);
    sb_init(b);
}

/* Room for n more bytes. On allocation failure the line is cut rather than
 * lost: false tells the caller to stop appending. */
/* The slow half of sb_reserve: a larger buffer, on the heap. */
static bool sb_grow(struct sbuf *b, size_t n)
{
    size_t cap = b->cap;
    char *p;

    while (cap < b->len + n)
        cap *= 2;
    p = b->heap ? realloc(b->p, cap) : malloc(cap);
    if (!p)
        return false;
    if (!b->heap)
        memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
    b->heap = true;
    return true;
}

/* Room for n more bytes. A log line is a dozen pieces, each through
 * here, so the common case is inline. */
static inline bool sb_reserve(struct sbuf *b, size_t n)
{
    return b->len + n <= b->cap || sb_grow(b, n);
}

static inline void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n))
        n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_adds(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_vaddf(struct sbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        if (!sb_reserve(b, (size_t)n + 1)) {
            b->len = b->cap - 1; /* keep the truncated text vsnprintf wrote */
            return;
        }
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

static void sb_addf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vaddf(b, fmt, ap);
    va_end(ap);
}

/* ---- output ---- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Lines held while the event loop runs. A request's line is made while
 * its answer is still queued on the socket: written at once, the line
 * went out ahead of the answer and its write added to every request's
 * latency. Held until the end of the loop pass (log_flush, run by an
 * event the loop activates after the pass's writes), the lines of a pass
 * leave after the answers and in one write. Whole lines only, in order,
 * at most PIPE_BUF bytes: a batch written to a pipe stays atomic. */
#define LOG_BATCH_MAX PIPE_BUF

static struct {
    void (*wake)(void *);
    void *arg;
    bool woken;
    size_t len;
    char buf[LOG_BATCH_MAX];
} batch;

void log_flush(void)
{
    write_all(STDERR_FILENO, batch.buf, batch.len);
    batch.len = 0;
    batch.woken = false;
}

void log_defer(void (*wake)(void *arg), void *arg)
{
    log_flush();
    batch.wake = wake;
    batch.arg = arg;
}

/* Ends the line and sends it with a single write, now or with its pass. */
static void sb_emit(struct sbuf *b)
{
    sb_add(b, "\n", 1);
    if (b->len > 0 && b->p[b->len - 1] != '\n')
        b->p[b->len - 1] = '\n'; /* cut short by memory: still one line */
    if (!batch.wake || b->len > sizeof(batch.buf)) {
        log_flush(); /* what is held goes first (nothing when not holding) */
        write_all(STDERR_FILENO, b->p, b->len);
        return;
    }
    if (batch.len + b->len > sizeof(batch.buf))
        log_flush();
    memcpy(batch.buf + batch.len, b->p, b->len);
    batch.len += b->len;
    if (!batch.woken) {
        batch.woken = true;
        batch.wake(batch.arg);
    }
}

/* ---- time stamps ---- */

/* Go's log package: "2006/01/02 15:04:05 ", local time. Formatted once
 * per second: localtime_r and strftime were a visible share of the
 * instructions spent per request line. */
const char *time_cached(struct time_cache *tc, const char *fmt, bool utc, size_t *len)
{
    time_t now = time(NULL);
    if (tc->len == 0 || now != tc->last) {
        struct tm tm;
        if (utc)
            gmtime_r(&now, &tm);
        else
            localtime_r(&now, &tm);
        tc->len = strftime(tc->buf, sizeof(tc->buf), fmt, &tm);
        tc->last = now;
    }
    *len = tc->len;
    return tc->buf;
}

/* Go's log prefix: "2006/01/02 15:04:05 ", local time. */
static const char *text_time(size_t *len)
{
    static struct time_cache tc;
    return time_cached(&tc, "%Y/%m/%d %H:%M:%S ", false, len);
}

static void add_text_time(struct sbuf *b)
{
    size_t len;
    const char *ts = text_time(&len);
    sb_add(b, ts, len);
}

/* RFC 3339 with milliseconds and the local offset ("Z" for UTC). */
static void add_json_time(struct sbuf *b)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];
    long off;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    sb_addf(b, "{\"time\":\"%s.%03ld", ts, (long)tv.tv_usec / 1000);
    off = tm.tm_gmtoff / 60;
    if (off == 0)
        sb_adds(b, "Z\"");
    else
        sb_addf(b, "%c%02ld:%02ld\"", off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* ---- JSON strings ---- */

size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

/* How a quoting style writes what it does not copy: a quote and a
 * backslash are escaped alike in both; a control byte, a byte that starts
 * no UTF-8 sequence, and a valid sequence are the style's. */
struct quote_style {
    bool (*control)(unsigned char c);
    void (*escape)(struct sbuf *b, unsigned char c);
    void (*invalid)(struct sbuf *b, unsigned char c);
    void (*sequence)(struct sbuf *b, const unsigned char *s, size_t len);
};

static void add_quoted(struct sbuf *b, const unsigned char *s, size_t n,
                       const struct quote_style *q)
{
    sb_add(b, "\"", 1);
    for (size_t i = 0, len; i < n; i += len) {
        unsigned char c = s[i];
        len = 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_add(b, esc, 2);
        } else if (q->control(c)) {
            q->escape(b, c);
        } else if ((len = utf8_seq(s + i, n - i)) == 0) {
            q->invalid(b, c);
            len = 1;
        } else {
            q->sequence(b, s + i, len);
        }
    }
    sb_add(b, "\"", 1);
}

static void add_sequence(struct sbuf *b, const unsigned char *s, size_t len)
{
    sb_add(b, (const char *)s, len);
}

static bool json_control(unsigned char c)
{
    return c < 0x20;
}

static void json_escape(struct sbuf *b, unsigned char c)
{
    if (c == '\n')
        sb_adds(b, "\\n");
    else if (c == '\r')
        sb_adds(b, "\\r");
    else if (c == '\t')
        sb_adds(b, "\\t");
    else
        sb_addf(b, "\\u%04x", c);
}

static void json_invalid(struct sbuf *b, unsigned char c)
{
    (void)c;
    sb_adds(b, "\\ufffd");
}

/* A quoted JSON string. Invalid UTF-8 becomes U+FFFD, as Go's encoder does,
 * so function output that is not text still yields valid JSON. */
static void add_json_str(struct sbuf *b, const char *s, size_t n)
{
    static const struct quote_style json = {json_control, json_escape, json_invalid,
                                            add_sequence};
    add_quoted(b, (const unsigned char *)s, n, &json);
}

/* The code point of a valid UTF-8 sequence of len bytes. */
static uint32_t utf8_decode(const unsigned char *s, size_t len)
{
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t cp = s[0] & lead_mask[len];
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

/* Outside ASCII, the code points strconv.IsPrint refuses that text from a
 * function is likely to hold: the C1 controls, the soft hyphen, the
 * zero-width and bidirectional marks, the line and paragraph separators,
 * the byte order mark and the specials. */
static bool go_unprintable(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0xa0) || cp == 0xad || (cp >= 0x2000 && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
           cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe000 && cp <= 0xf8ff);
}

static bool go_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static void add_go_escape(struct sbuf *b, unsigned char c)
{
    static const char named[] = "\\a\\b\\t\\n\\v\\f\\r";
    if (c >= '\a' && c <= '\r')
        sb_add(b, named + 2 * (c - '\a'), 2);
    else
        sb_addf(b, "\\x%02x", c);
}

static void go_invalid(struct sbuf *b, unsigned char c)
{
    sb_addf(b, "\\x%02x", c);
}

static void go_sequence(struct sbuf *b, const unsigned char *s, size_t len)
{
    uint32_t cp = len == 1 ? s[0] : utf8_decode(s, len);
    if (go_unprintable(cp))
        sb_addf(b, "\\u%04x", (unsigned)cp);
    else
        add_sequence(b, s, len);
}

/* s as Go's %q writes it (strconv.Quote). */
static void add_go_quoted(struct sbuf *b, const unsigned char *s, size_t n)
{
    static const struct quote_style go = {go_control, add_go_escape, go_invalid, go_sequence};
    add_quoted(b, s, n, &go);
}

void log_quoted(const char *before, const void *s, size_t n, const char *after)
{
    struct sbuf msg;
    sb_init(&msg);
    sb_adds(&msg, before);
    add_go_quoted(&msg, s, n);
    sb_adds(&msg, after);
    log_info("%.*s", (int)msg.len, msg.p);
    sb_free(&msg);
}

static void add_json_field(struct sbuf *b, const char *key, const char *val, size_t n)
{
    sb_addf(b, ",\"%s\":", key);
    add_json_str(b, val, n);
}

/* ---- watchdog messages ---- */

void log_msg(const char *level, const char *fmt, ...)
{
    struct sbuf msg, line;
    va_list ap;

    sb_init(&msg);
    sb_init(&line);
    va_start(ap, fmt);
    sb_vaddf(&msg, fmt, ap);
    va_end(ap);
    /* Like Go's log: a message ending in a newline does not get a second. */
    if (msg.len > 0 && msg.p[msg.len - 1] == '\n')
        msg.len--;
    if (log_fmt == LOG_FORMAT_JSON) {
        add_json_time(&line);
        add_json_field(&line, "level", level, strlen(level));
        add_json_field(&line, "msg", msg.p, msg.len);
        sb_add(&line, "}", 1);
    } else {
        add_text_time(&line);
        sb_add(&line, msg.p, msg.len);
    }
    sb_emit(&line);
    sb_free(&msg);
    sb_free(&line);
}

/* ---- request lines ---- */

void log_human_size(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB",
                                        "PB", "EB", "ZB", "YB"};
    size_t i = 0;

    /* A whole number under 1000 prints the same under %.4g: skip the
     * float formatting for the common small answer. */
    if (bytes >= 0 && bytes < 1000.0 && bytes == (double)(int)bytes && len >= 5) {
        size_t n = fmt_u64(buf, (uint64_t)bytes);
        buf[n++] = 'B';
        buf[n] = '\0';
        return;
    }
    while (bytes >= 1000.0 && i + 1 < sizeof(units) / sizeof(units[0])) {
        bytes /= 1000.0;
        i++;
    }
    snprintf(buf, len, "%.4g%s", bytes, units[i]);
}

/* v / 10^prec with the remainder as a fraction without its trailing
 * zeros (none at all when it is 0), as Go's fmtFrac writes it. */
static int go_frac(char *buf, size_t len, uint64_t v, int prec)
{
    uint64_t pow = 1, frac;
    int digits = prec;

    for (int i = 0; i < prec; i++)
        pow *= 10;
    frac = v % pow;
    while (frac && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    if (!frac)
        return snprintf(buf, len, "%llu", (unsigned long long)(v / pow));
    return snprintf(buf, len, "%llu.%0*llu", (unsigned long long)(v / pow), digits,
                    (unsigned long long)frac);
}

void log_go_duration(int64_t ns, char *buf, size_t len)
{
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    const char *sign = ns < 0 ? "-" : "";
    char num[48];

    if (u == 0) {
        snprintf(buf, len, "0s");
    } else if (u < 1000) {
        snprintf(buf, len, "%s%lluns", sign, (unsigned long long)u);
    } else if (u < 1000000) {
        go_frac(num, sizeof(num), u, 3);
        snprintf(buf, len, "%s%s\xc2\xb5s", sign, num);
    } else if (u < 1000000000) {
        go_frac(num, sizeof(num), u, 6);
        snprintf(buf, len, "%s%sms", sign, num);
    } else {
        uint64_t secs = u / 1000000000, h = secs / 3600, m = secs / 60 % 60;
        go_frac(num, sizeof(num), secs % 60 * 1000000000 + u % 1000000000, 9);
        if (h)
            snprintf(buf, len, "%s%lluh%llum%ss", sign, (unsigned long long)h,
                     (unsigned long long)m, num);
        else if (m)
            snprintf(buf, len, "%s%llum%ss", sign, (unsigned long long)m, num);
        else
            snprintf(buf, len, "%s%ss", sign, num);
    }
}

static const char *call_id_text(const char *id)
{
    return *id ? id : "none";
}

#define SECONDS_TEXT_LEN 48

/* "%.4f" of a duration into num (SECONDS_TEXT_LEN bytes), its length
 * returned; in integers: float printf was the largest single cost of a
 * request line. Ties round up where printf rounds the exact binary value,
 * so the last digit can differ on one; out-of-range values go through
 * printf. */
static size_t seconds_text(char *num, double s)
{
    if (s >= 0 && s < 1e10)
        return fmt_fixed(num, (uint64_t)(s * 10000.0 + 0.5), 4);
    int n = snprintf(num, SECONDS_TEXT_LEN, "%.4f", s);
    if (n < 0)
        return 0;
    return (size_t)n < SECONDS_TEXT_LEN ? (size_t)n : SECONDS_TEXT_LEN - 1;
}

struct piece {
    const char *p;
    size_t n;
};

/* Pieces of one line in one reservation: a request's line is a dozen of
 * them, and one copy loop keeps the path every request takes short. */
static void sb_add_pieces(struct sbuf *b, const struct piece *pc, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += pc[i].n;
    if (sb_reserve(b, total)) {
        for (size_t i = 0; i < count; i++) {
            memcpy(b->p + b->len, pc[i].p, pc[i].n);
            b->len += pc[i].n;
        }
        return;
    }
    for (size_t i = 0; i < count; i++)
        sb_add(b, pc[i].p, pc[i].n);
}

#define PIECE_LIT(s) ((struct piece){s, sizeof(s) - 1})
#define PIECE_STR(s) ((struct piece){s, strlen(s)})

static void request_text(struct sbuf *b, const struct log_request *r)
{
    char size[32], status[FMT_U64_LEN + 1], secs[SECONDS_TEXT_LEN];
    struct piece pc[14];
    size_t n = 0, tlen;

    log_human_size((double)r->bytes, size, sizeof(size));
    /* "%s %s - %d - ContentLength: %s (%.4fs)" */
    pc[n].p = text_time(&tlen);
    pc[n++].n = tlen;
    pc[n++] = PIECE_STR(r->method);
    pc[n++] = PIECE_LIT(" ");
    pc[n++] = PIECE_STR(r->uri);
    pc[n++] = PIECE_LIT(" - ");
    pc[n++] = (struct piece){status, fmt_i64(status, r->status)};
    if (r->reason) {
        pc[n++] = PIECE_LIT(" ");
        pc[n++] = PIECE_STR(r->reason);
    }
    pc[n++] = PIECE_LIT(" - ContentLength: ");
    pc[n++] = PIECE_STR(size);
    pc[n++] = PIECE_LIT(" (");
    pc[n++] = (struct piece){secs, seconds_text(secs, r->seconds)};
    pc[n++] = PIECE_LIT("s)");
    sb_add_pieces(b, pc, n);
    if (r->call_id)
        sb_addf(b, " [%s]", call_id_text(r->call_id));
}

static void request_json(struct sbuf *b, const struct log_request *r)
{
    struct sbuf msg;
    double secs = isfinite(r->seconds) ? r->seconds : 0.0;

    sb_init(&msg);
    sb_addf(&msg, "%s %s - %d", r->method, r->uri, r->status);
    add_json_time(b);
    add_json_field(b, "level", "info", 4);
    add_json_field(b, "msg", msg.p, msg.len);
    add_json_field(b, "method", r->method, strlen(r->method));
    add_json_field(b, "path", r->uri, strlen(r->uri));
    sb_addf(b, ",\"status\":%d,\"bytes\":%lld,\"duration_seconds\":%.6f", r->status,
            (long long)r->bytes, secs);
    if (r->call_id) {
        const char *id = call_id_text(r->call_id);
        add_json_field(b, "call_id", id, strlen(id));
    }
    sb_add(b, "}", 1);
    sb_free(&msg);
}

void log_request(const struct log_request *r)
{
    struct log_request safe = *r;
    struct sbuf line;

    if (!safe.method)
        safe.method = "-";
    if (!safe.uri)
        safe.uri = "-";
    sb_init(&line);
    if (log_fmt == LOG_FORMAT_JSON)
        request_json(&line, &safe);
    else
        request_text(&line, &safe);
    sb_emit(&line);
    sb_free(&line);
}

/* ---- function output, line by line ---- */

struct log_lines {
    char *name;
    bool prefix;
    bool to_stdout;  /* written to fd 1 at once, as Go logs http-mode stdout */
    char *buf; /* the pending partial line */
    size_t len, cap;
};

/* After a very long line, give the memory back instead of keeping the
 * high-water mark for the life of the process. */
#define LINES_KEEP_CAP (64 * 1024)

static void emit_line(const struct log_lines *ll, const char *s, size_t n)
{
    struct sbuf line;

    if (n > 0 && s[n - 1] == '\r')
        n--;
    sb_init(&line);
    if (log_fmt == LOG_FORMAT_JSON) {
        add_json_time(&line);
        add_json_field(&line, "level", "info", 4);
        add_json_field(&line, "stream", ll->name, strlen(ll->name));
        add_json_field(&line, "msg", s, n);
        sb_add(&line, "}", 1);
    } else {
        if (ll->prefix) {
            add_text_time(&line);
            sb_adds(&line, ll->name);
            sb_add(&line, ": ", 2);
        }
        sb_add(&line, s, n);
    }
    if (ll->to_stdout) {
        sb_add(&line, "\n", 1);
        write_all(STDOUT_FILENO, line.p, line.len);
    } else {
        sb_emit(&line);
    }
    sb_free(&line);
}

struct log_lines *log_lines_new(const char *name, bool prefix)
{
    struct log_lines *ll = calloc(1, sizeof(*ll));

    if (!ll)
        return NULL;
    ll->name = strdup(name);
    if (!ll->name) {
        free(ll);
        return NULL;
    }
    ll->prefix = prefix;
    return ll;
}

void log_lines_to_stdout(struct log_lines *ll)
{
    ll->to_stdout = true;
}

/* Keep bytes of an unfinished line. If memory runs out, log what is held
 * and the new bytes as lines of their own rather than drop output; false
 * says so. */
static bool hold(struct log_lines *ll, const char *data, size_t len)
{
    if (len == 0)
        return true;
    if (ll->len + len > ll->cap) {
        size_t cap = ll->cap ? ll->cap : 256;
        while (cap < ll->len + len)
            cap *= 2;
        char *p = realloc(ll->buf, cap);
        if (!p) {
            log_lines_flush(ll);
            emit_line(ll, data, len);
            return false;
        }
        ll->buf = p;
        ll->cap = cap;
    }
    memcpy(ll->buf + ll->len, data, len);
    ll->len += len;
    return true;
}

static void release_if_large(struct log_lines *ll)
{
    if (ll->cap > LINES_KEEP_CAP) {
        free(ll->buf);
        ll->buf = NULL;
        ll->cap = 0;
    }
}

void log_lines_feed(struct log_lines *ll, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) {
            hold(ll, data, len);
            return;
        }
        size_t n = (size_t)(nl - data);
        if (ll->len == 0) {
            emit_line(ll, data, n); /* common case: no copy */
        } else if (hold(ll, data, n)) {
            emit_line(ll, ll->buf, ll->len);
            ll->len = 0;
            release_if_large(ll);
        }
        data += n + 1;
        len -= n + 1;
    }
}

void log_lines_flush(struct log_lines *ll)
{
    if (!ll || ll->len == 0)
        return;
    emit_line(ll, ll->buf, ll->len);
    ll->len = 0;
    release_if_large(ll);
}

void log_lines_free(struct log_lines *ll)
{
    if (!ll)
        return;
    log_lines_flush(ll);
    free(ll->buf);
    free(ll->name);
    free(ll);
}
