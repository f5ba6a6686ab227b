/* Logging to stderr, in the Go watchdog's format ("2006/01/02 15:04:05 msg")
 * or as one JSON object per line (log_format=json). */
#ifndef FW_LOG_H
#define FW_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

void log_setup(enum log_format fmt);

/* While wake is set, lines are held in memory and wake(arg) is called
 * once for each batch; the caller then runs log_flush, which writes them
 * in one write(2). Meant for an event the loop activates, so a pass's
 * lines leave after the pass's answers. log_defer(NULL, NULL) flushes and
 * goes back to writing each line at once. */
void log_defer(void (*wake)(void *arg), void *arg);
void log_flush(void);

/* A watchdog message. level is "info", "warn" or "error". */
void log_msg(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_info(...) log_msg("info", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)

/* A watchdog message (info): before, then s as Go's %q quotes it (escapes
 * for quotes, backslashes, control bytes and invalid UTF-8), then after. */
void log_quoted(const char *before, const void *s, size_t n, const char *after);

/* The per-request line:
 * "METHOD URI - STATUS - ContentLength: SIZE (SECONDSs)[ [callid]]".
 * call_id NULL means log_callid is off; "" is logged as "none". */
struct log_request {
    const char *method;
    const char *uri;
    int status;
    const char *reason;      /* NULL: the status number alone */
    int64_t bytes;           /* -1: unknown, as Go logs it ("-1B") */
    double seconds;
    const char *call_id;
};
void log_request(const struct log_request *r);

/* A duration in nanoseconds as Go's time.Duration prints it: 0s, 500ms,
 * 1.5s, 1m30s, 1h0m0s, -1s, and microseconds with the micro sign (U+00B5). */
void log_go_duration(int64_t ns, char *buf, size_t len);

/* Human size as docker/go-units HumanSize: decimal units, 4 significant
 * digits: 12 -> "12B", 1500 -> "1.5kB", 2000000 -> "2MB". */
void log_human_size(double bytes, char *buf, size_t len);
/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when s starts
 * an invalid one: what Go's utf8.DecodeRune accepts (no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
size_t utf8_seq(const unsigned char *s, size_t n);

/* Function output split into lines; each complete line is logged as
 * "DATE TIME name: line" (prefix) or the bare line. No length limit:
 * a long line is kept until its newline or log_lines_flush. */
struct log_lines;
struct log_lines *log_lines_new(const char *name, bool prefix);
/* Lines go to stdout rather than stderr (http mode's function stdout). */
void log_lines_to_stdout(struct log_lines *ll);
void log_lines_feed(struct log_lines *ll, const char *data, size_t len);
void log_lines_flush(struct log_lines *ll); /* log a pending partial line */
void log_lines_free(struct log_lines *ll);  /* flushes first */

/* strftime of the current second, redone only when the second changes:
 * formatting a date per line or response was a visible share of the
 * instructions per request. *len gets the length. */
struct time_cache {
    time_t last;
    size_t len;
    char buf[64];
};
const char *time_cached(struct time_cache *tc, const char *fmt, bool utc, size_t *len);

#endif
