/* The upstream client: one connection per exchange, kept alive in a small
 * pool between exchanges. A connection only ever carries one request at a
 * time (no pipelining), so its lifecycle is a single state enum. The
 * struct is freed from the outermost callback only (busy count): a
 * callback into the owner may cancel the connection under our feet. */
#include "upstream.h"
#include "clock.h"
#include "clrepeat.h"
#include "deadline.h"
#include "evio.h"
#include "evmem.h"
#include "log.h"
#include "msghead.h"
#include "plainline.h"
#include "target.h"
#include "tecoding.h"

#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

/* Idle connections kept: enough for the concurrency of a busy function,
 * few enough that an idle watchdog holds no pile of sockets. */
#define IDLE_MAX 64
/* Below the keep-alive timeouts of common servers (5 s in many), so the
 * pool rarely hands out a connection the upstream is about to close. */
#define IDLE_TIMEOUT_MS 4000
/* An idle connection used this recently is taken as open without a
 * MSG_PEEK (one syscall per request) when the owner can retry: upstreams
 * close idle connections after seconds, not milliseconds, so the retry
 * is rarely needed, and one that sat longer is still checked. */
#define IDLE_TRUSTED_MS 1000
#define MAX_HEAD (1024 * 1024)
/* Larger than libevent's 16 kB default: fewer syscalls on big bodies. */
#define IO_CHUNK (128 * 1024)
/* One read while a response head is expected, into the stack: a head and
 * a small body fit, with no 128 KiB chain per response (32 connections at
 * once took glibc's heap past its trim threshold: brk calls in one
 * strace). A large body goes on in IO_CHUNK reads. */
#define HEAD_READ (4096 - 128)
/* An answer's fields handed to the owner from the stack, up to this many. */
#define HEAD_STACK_FIELDS 32
/* Tell the owner to send more request body once the output is this low. */
#define WRITE_LOW (64 * 1024)
/* Go's client reads through a buffer of this size: what it logs of bytes
 * that answer no request. */
#define GO_READ_BUFFER 4096
/* How long the body of a HEAD answer is waited for, to be logged, and for
 * how many connections at once: most servers send none, and a stream of
 * HEAD requests must not hold sockets. */
#define STRAY_WAIT_MS 1000
#define STRAY_MAX 8

enum upconn_state {
    UPCONN_PROBE,        /* connecting only to learn that the upstream listens */
    UPCONN_CHECK,        /* connecting only to learn that it still listens */
    UPCONN_IDLE,         /* in the pool */
    UPCONN_HEAD,         /* carrying a request, reading the response head */
    UPCONN_BODY_LENGTH,  /* body delimited by Content-Length (or empty) */
    UPCONN_BODY_CHUNKED, /* chunked body, through the parser */
    UPCONN_BODY_EOF,     /* body delimited by the close */
    UPCONN_UPGRADED,     /* 101 seen: the owner detaches or cancels */
    UPCONN_STRAY,        /* after a HEAD answer that announced a body: watched
                            for those bytes, never reused */
    UPCONN_CLOSED,       /* socket gone, struct freed once no callback runs */
};

struct upconn {
    struct upstream *u;
    struct bufferevent *bev;
    struct event *rd;             /* readable socket: see on_readable */
    struct deadline idle;         /* pooled: closed after IDLE_TIMEOUT_MS unused */
    enum upconn_state state;
    int busy;
    bool connected, reused, head_request, req_done, keep_alive, got_bytes, paused;
    bool write_gone;              /* the upstream stopped taking the request */
    bool stray_body;              /* a HEAD answer announced a body */
    bool writing;                 /* the bufferevent's EV_WRITE is enabled: kept
                                   * here, where each request reads it, not in
                                   * libevent's separate allocation */
    bool reading;                 /* rd is added (read_on): the same, for the
                                   * read event */
    const struct upstream_ops *ops;
    void *arg;
    LIST_ENTRY(upconn) idle_link; /* in the pool, or among the strays */
    struct timespec idle_since;   /* when it went back to the pool */
    llhttp_t parser;
    uint64_t remaining;           /* UPCONN_BODY_LENGTH */
    char reason[64];              /* the status line's reason phrase, cut to fit */
    size_t reason_len;
    /* Whether a space follows the status code: Go logs the status as sent,
     * "200" apart from "200 " (with an empty reason, llhttp reports none). */
    bool reason_sep;
    const char *feed_start;       /* start of the memory the piece being parsed is in */
    const char *feed_end;         /* end of the piece being parsed */
    char feed_tail[2];            /* the two bytes parsed before feed_start */
    /* llhttp took a CR that starts a value, and the byte after it, as a
     * line end (target_bare_cr_before): the value is read again from
     * bare_cr_from, after the byte in feed_tail[1] when bare_cr_tail. */
    const char *bare_cr_from;
    bool bare_cr_tail;
    enum { REPAIR_NONE, REPAIR_NAME, REPAIR_VALUE } repair; /* a head line (repair_line) */
    bool repair_colon;            /* REPAIR_NAME: the line has its colon */
    struct evbuffer *body;        /* body bytes on their way to the owner */
    bool last_chunk;              /* the chunk of size 0 is in: its trailer is read */
    enum { CHUNK_END_NONE, CHUNK_END_SIZE, CHUNK_END_DATA } crlf_due; /* paused there (on_chunk_header) */
    const char *bad_chunk;        /* why a chunk end checked was refused */
    /* the response head, kept across exchanges so steady state allocates nothing */
    struct msghead head;
};

struct upstream {
    struct event_base *base;
    const struct upstream_url *url;
    LIST_HEAD(, upconn) idle;     /* most recently used first */
    int nidle;
    LIST_HEAD(, upconn) stray;    /* UPCONN_STRAY */
    int nstray;
    struct upconn *probe;
    struct upconn *check;
    void (*on_check)(void *arg, bool listening);
    void *check_arg;
    bool ready;
    void (*on_ready)(void *arg);
    void *ready_arg;
};

static llhttp_settings_t settings;
/* None: a restarted parser reads a stand-in status line (repair_line). */
static llhttp_settings_t quiet_settings;
/* settings without a callback for each span of a field: a plain head's
 * fields are split by parse_plain. */
static llhttp_settings_t plain_settings;

static void process(struct upconn *c);
static void log_unsolicited(struct evbuffer *in);
static void stray_wait(struct upconn *c);
static void check_done(struct upconn *c, bool listening);
static const char *repair_line(struct upconn *c, llhttp_errno_t err, const char *start,
                               const char *end);
static const char *repair_take(struct upconn *c, const char *from, const char *end);
static int value_complete(struct upconn *c);

/* ---- lifetime ---- */

static void conn_destroy(struct upconn *c)
{
    if (c->rd)
        event_free(c->rd);
    if (c->idle.ev)
        event_free(c->idle.ev);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->body)
        evbuffer_free(c->body);
    msghead_free(&c->head);
    free(c);
}

static void idle_unlink(struct upconn *c)
{
    LIST_REMOVE(c, idle_link);
    c->u->nidle--;
}

/* Watching the socket for reading, or not; each a no-op when so already. */
static void read_on(struct upconn *c)
{
    if (!c->reading && event_add(c->rd, NULL) == 0)
        c->reading = true;
}

static void read_off(struct upconn *c)
{
    if (c->reading)
        event_del(c->rd);
    c->reading = false;
}

/* Idempotent; the struct itself goes once no callback is on the stack. */
static void conn_close(struct upconn *c)
{
    if (c->state == UPCONN_CLOSED)
        return;
    if (c->state == UPCONN_IDLE)
        idle_unlink(c);
    else if (c->state == UPCONN_STRAY) {
        LIST_REMOVE(c, idle_link);
        c->u->nstray--;
    }
    if (c->u->probe == c)
        c->u->probe = NULL;
    if (c->u->check == c)
        c->u->check = NULL;
    c->state = UPCONN_CLOSED;
    c->ops = NULL;
    c->arg = NULL;
    deadline_clear(&c->idle);
    if (c->rd)
        read_off(c);
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    if (c->busy == 0)
        conn_destroy(c);
}

static void conn_enter(struct upconn *c)
{
    c->busy++;
}

static void conn_leave(struct upconn *c)
{
    if (--c->busy == 0 && c->state == UPCONN_CLOSED)
        conn_destroy(c);
}

static bool conn_gone(const struct upconn *c)
{
    return c->state == UPCONN_CLOSED;
}

/* A request is out on this connection and its response not yet over. */
static bool in_exchange(const struct upconn *c)
{
    return c->state == UPCONN_HEAD || c->state == UPCONN_BODY_LENGTH ||
           c->state == UPCONN_BODY_CHUNKED || c->state == UPCONN_BODY_EOF;
}

/* ---- the pool ---- */

static void reset_status(struct upconn *c)
{
    c->reason_len = 0;
    c->reason[0] = '\0';
    c->reason_sep = true;
}

static void reset_head(struct upconn *c)
{
    msghead_reset(&c->head);
    c->repair = REPAIR_NONE;
}

static void pool_put(struct upconn *c)
{
    struct upstream *u = c->u;
    if (u->nidle >= IDLE_MAX) {
        conn_close(c);
        return;
    }
    c->state = UPCONN_IDLE;
    c->ops = NULL;
    c->arg = NULL;
    c->paused = false;
    llhttp_reset(&c->parser);
    reset_head(c);
    /* Reading stays on: an upstream that closes an idle connection is
     * noticed here, not by the next request. */
    read_on(c);
    deadline_set(&c->idle, IDLE_TIMEOUT_MS);
    /* Pooled connections are connected: the next request is written
     * directly (upconn_flush). Writing is on only after a full socket. */
    if (c->writing)
        evio_bev_set_writing(c->bev, &c->writing, false);
    clock_mono(&c->idle_since);
    LIST_INSERT_HEAD(&u->idle, c, idle_link);
    u->nidle++;
}

static bool idle_briefly(const struct upconn *c)
{
    return clock_ms_since(&c->idle_since) < IDLE_TRUSTED_MS;
}

/* An idle connection the upstream closed since the loop last looked. */
static bool conn_alive(struct upconn *c)
{
    char b;
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        return false;
    ssize_t n = recv(event_get_fd(c->rd), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* ---- the exchange ---- */

/* Bytes after an answer on a connection that stays open (a body to a HEAD,
 * more than Content-Length said) answer no request: the connection is
 * closed, and Go's client logs what it holds of them, up to its read
 * buffer, unless they are a 408 (a server closing an idle connection). */
static void log_unsolicited(struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in);
    if (n > GO_READ_BUFFER)
        n = GO_READ_BUFFER;
    const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);
    if (!p || (n >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && memcmp(p + 8, " 408", 4) == 0))
        return;
    log_quoted("Unsolicited response received on idle HTTP channel starting with ", p, n,
               "; err=<nil>");
}

/* Out of the pool, until the body a HEAD answer announced comes (Go's
 * client, which would have kept the connection, logs it) or a while has
 * passed. */
static void stray_wait(struct upconn *c)
{
    c->state = UPCONN_STRAY;
    c->ops = NULL;
    c->arg = NULL;
    LIST_INSERT_HEAD(&c->u->stray, c, idle_link);
    c->u->nstray++;
    read_on(c);
    deadline_set(&c->idle, STRAY_WAIT_MS);
}

/* The response is complete: back to the pool when it can carry another. */
static void exchange_end(struct upconn *c)
{
    const struct upstream_ops *ops = c->ops;
    void *arg = c->arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t left = evbuffer_get_length(in);
    if (left > 0 && (c->keep_alive || c->stray_body))
        log_unsolicited(in);
    if (c->keep_alive && c->req_done && !c->write_gone && left == 0 &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        pool_put(c);
    else if (c->stray_body && c->req_done && !c->write_gone && left == 0 &&
             c->u->nstray < STRAY_MAX)
        stray_wait(c);
    else
        conn_close(c);
    ops->end(arg);
}

static void exchange_fail(struct upconn *c, enum upstream_failure kind, int err)
{
    const struct upstream_ops *ops = c->ops;
    void *arg = c->arg;
    struct upstream_fail f = {kind, err, c->reused && !c->got_bytes && kind == UPSTREAM_NO_RESPONSE,
                              NULL};
    conn_close(c);
    if (ops)
        ops->fail(arg, &f);
}

/* A chunked body the parser refused, in the words of Go's client. */
static void body_fail(struct upconn *c, llhttp_errno_t err)
{
    const struct upstream_ops *ops = c->ops;
    void *arg = c->arg;
    struct upstream_fail f = {UPSTREAM_BAD_BODY, 0, false, c->bad_chunk};
    if (!f.why)
        f.why = err == HPE_INVALID_CHUNK_SIZE ? "invalid byte in chunk length"
                                              : "malformed chunked encoding";
    conn_close(c);
    if (ops)
        ops->fail(arg, &f);
}

static void deliver_body(struct upconn *c)
{
    if (evbuffer_get_length(c->body) > 0)
        c->ops->body(c->arg, c->body);
}

/* Of what followed the head in one read, the bytes that belong to a body
 * delimited by its length or by the close. */
static size_t body_part(const struct upconn *c, size_t n)
{
    if (c->state == UPCONN_BODY_EOF)
        return n;
    if (c->state == UPCONN_BODY_LENGTH)
        return n < c->remaining ? n : (size_t)c->remaining;
    return 0;
}

/* The body part, once the owner has the head: to the owner now, or, when
 * it holds the body back, to the input, ahead of anything stashed there,
 * for later. 0 when this connection goes on reading this response. */
static int give_body_part(struct upconn *c, const char *data, size_t len)
{
    if (c->paused) {
        if (evbuffer_prepend(bufferevent_get_input(c->bev), data, len) != 0) {
            exchange_fail(c, UPSTREAM_TRUNCATED, ENOMEM);
            return -1;
        }
        return 0;
    }
    if (c->state == UPCONN_BODY_LENGTH)
        c->remaining -= len;
    if (c->ops->body_mem(c->arg, data, len) != 0) {
        exchange_fail(c, UPSTREAM_TRUNCATED, ENOMEM);
        return -1;
    }
    return conn_gone(c) ? -1 : 0;
}

/* The parser stopped after the head: pick how the body is delimited and
 * tell the owner. The fields are plain's (nplain of them) when the head
 * was read by parse_plain, else the callbacks' (c->head). What followed
 * the head in the same read, when it was not read into the input, is
 * (rest, n). 0 when this connection goes on reading this response. */
static int head_done(struct upconn *c, const char *rest, size_t n, const struct header *plain,
                     size_t nplain)
{
    const llhttp_t *p = &c->parser;
    struct upstream_response resp = {.status = p->status_code, .content_length = -1,
                                     .reason = c->reason_sep ? c->reason : NULL,
                                     .headers = plain, .nheaders = nplain};

    /* The owner reads the fields only inside its head callback: an array
     * on the stack, which stays in cache from one answer to the next, where
     * the connection's own would be cold. */
    struct header fields[HEAD_STACK_FIELDS];
    if (!plain) {
        resp.headers = fields;
        if (!msghead_build_into(&c->head, fields, HEAD_STACK_FIELDS)) {
            if (msghead_build(&c->head)) {
                exchange_fail(c, UPSTREAM_BAD_RESPONSE, ENOMEM);
                return -1;
            }
            resp.headers = c->head.headers;
        }
        resp.nheaders = c->head.nfields;
    }
    c->keep_alive = llhttp_should_keep_alive(p);
    bool has_length = (p->flags & F_CONTENT_LENGTH) && !(p->flags & F_TRANSFER_ENCODING);

    if (resp.status == 101) {
        c->state = UPCONN_UPGRADED;
        resp.upgrade = true;
    } else if (c->head_request || resp.status == 204 || resp.status == 304) {
        c->state = UPCONN_BODY_LENGTH;
        c->remaining = 0;
        if (has_length)
            resp.content_length = (int64_t)p->content_length;
        /* Servers often write the body of a HEAD answer anyway (Python's
         * http.server with do_HEAD = do_GET): when the head announces one,
         * its bytes may still be on the way, and would be read as the start
         * of the next response on this connection. */
        if ((has_length && p->content_length > 0) || (p->flags & F_CHUNKED)) {
            c->stray_body = c->keep_alive;
            c->keep_alive = false;
        }
    } else if (p->flags & F_CHUNKED) {
        c->state = UPCONN_BODY_CHUNKED;
        c->last_chunk = false;
        c->bad_chunk = NULL;
        llhttp_resume(&c->parser);
    } else if (has_length) {
        c->state = UPCONN_BODY_LENGTH;
        c->remaining = p->content_length;
        resp.content_length = (int64_t)p->content_length;
    } else {
        c->state = UPCONN_BODY_EOF;
        c->keep_alive = false;
    }
    /* Past the body, before the owner hears of the head: an upgrade's
     * owner takes the input with the socket, and the end of the exchange
     * judges the bytes left over. */
    size_t take = body_part(c, n);
    if (n > take && evio_bev_add_input(c->bev, rest + take, n - take) != 0) {
        exchange_fail(c, UPSTREAM_BAD_RESPONSE, ENOMEM);
        return -1;
    }
    c->ops->head(c->arg, &resp);
    if (conn_gone(c) || c->state == UPCONN_UPGRADED)
        return -1;
    if (take > 0 && give_body_part(c, rest, take) != 0)
        return -1;
    if (c->state == UPCONN_BODY_LENGTH && c->remaining == 0) {
        exchange_end(c);
        return -1;
    }
    return 0;
}

/* After a piece of a repaired line: next is past what was taken, NULL
 * when the answer is refused. 0 to go on. */
static int repair_step(struct upconn *c, struct evbuffer *in, const char *data,
                       const char *next)
{
    if (!next) {
        exchange_fail(c, UPSTREAM_BAD_RESPONSE, 0);
        return -1;
    }
    target_note_tail(c->feed_tail, data, (size_t)(next - data));
    evbuffer_drain(in, (size_t)(next - data));
    return 0;
}

/* llhttp 8 also takes a CR and any byte after it, where a line starts,
 * for the blank line that ends a head; Go's client reads a line that is
 * not empty there and refuses the answer. Whether the head that ends
 * before used (in the piece at start) ended at an LF. */
static bool head_ends_in_lf(const struct upconn *c, const char *used, const char *start)
{
    return (used > start ? used[-1] : c->feed_tail[1]) == '\n';
}

/* llhttp_execute over a piece, through its stops at chunk ends
 * (on_chunk_header): Go's client fails a body whose chunk lines or data
 * do not end in a CRLF, so such an end is an error here too. The stops
 * stay inside, so the body is still delivered once a piece. */
static llhttp_errno_t execute_chunks(struct upconn *c, const char *data, size_t len)
{
    const char *from = data, *end = data + len;
    llhttp_errno_t err = llhttp_execute(&c->parser, from, len);
    while (err == HPE_PAUSED && c->crlf_due != CHUNK_END_NONE) {
        bool size = c->crlf_due == CHUNK_END_SIZE;
        c->crlf_due = CHUNK_END_NONE;
        const char *stop = llhttp_get_error_pos(&c->parser);
        if (!target_crlf_before(stop, data, c->feed_tail)) {
            c->bad_chunk = size ? "invalid byte in chunk length" : "malformed chunked encoding";
            return HPE_STRICT;
        }
        llhttp_resume(&c->parser);
        from = stop;
        err = from < end ? llhttp_execute(&c->parser, from, (size_t)(end - from)) : HPE_OK;
    }
    return err;
}

/* Feed one contiguous piece of input to the parser. 0 to go on. */
static int parse_step(struct upconn *c, struct evbuffer *in)
{
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
        return -1;
    const char *data = v.iov_base, *end = data + v.iov_len;
    c->feed_start = data;
    if (c->repair != REPAIR_NONE)
        return repair_step(c, in, data, repair_take(c, data, end));
    c->feed_end = end;
    llhttp_errno_t err = execute_chunks(c, data, v.iov_len);
    if (err != HPE_OK && err != HPE_PAUSED && c->state == UPCONN_HEAD)
        return repair_step(c, in, data, repair_line(c, err, data, end));
    size_t used = err == HPE_OK ? v.iov_len : (size_t)(llhttp_get_error_pos(&c->parser) - data);
    if (err == HPE_PAUSED && c->state == UPCONN_HEAD && !head_ends_in_lf(c, data + used, data)) {
        exchange_fail(c, UPSTREAM_BAD_RESPONSE, 0);
        return -1;
    }
    target_note_tail(c->feed_tail, data, used);
    evbuffer_drain(in, used);
    if (c->state == UPCONN_BODY_CHUNKED) {
        deliver_body(c);
        if (conn_gone(c))
            return -1;
    }
    if (err == HPE_OK)
        return 0;
    if (err == HPE_USER) {
        exchange_fail(c, UPSTREAM_TRUNCATED, ENOMEM);   /* on_body could not keep it */
        return -1;
    }
    if (err != HPE_PAUSED) {
        if (c->state == UPCONN_HEAD)
            exchange_fail(c, UPSTREAM_BAD_RESPONSE, 0);
        else
            body_fail(c, err);
        return -1;
    }
    if (c->state == UPCONN_HEAD)
        return head_done(c, NULL, 0, NULL, 0);
    exchange_end(c);   /* the chunked message is complete */
    return -1;
}

/* Content-Length and close-delimited bodies skip the parser: whole
 * buffer chains move to the owner without a copy. */
static void move_body(struct upconn *c, struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in);
    if (c->state == UPCONN_BODY_LENGTH && n > c->remaining)
        n = (size_t)c->remaining;
    evbuffer_remove_buffer(in, c->body, n);
    if (c->state == UPCONN_BODY_LENGTH)
        c->remaining -= n;
    deliver_body(c);
    if (conn_gone(c))
        return;
    if (c->state == UPCONN_BODY_LENGTH && c->remaining == 0)
        exchange_end(c);
}

static void process(struct upconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->paused && evbuffer_get_length(in) > 0) {
        switch (c->state) {
        case UPCONN_HEAD:
        case UPCONN_BODY_CHUNKED:
            if (parse_step(c, in) != 0)
                return;
            break;
        case UPCONN_BODY_LENGTH:
        case UPCONN_BODY_EOF:
            move_body(c, in);
            return;
        case UPCONN_IDLE:
        case UPCONN_STRAY:
            log_unsolicited(in);
            conn_close(c);
            return;
        case UPCONN_PROBE:
            /* Bytes nobody asked for: this connection cannot be trusted. */
            conn_close(c);
            return;
        case UPCONN_CHECK:
            check_done(c, true);
            return;
        case UPCONN_UPGRADED:
        case UPCONN_CLOSED:
            return;
        }
    }
}

/* ---- bufferevent callbacks ---- */

/* A response that arrives in pieces (head, then body: Python's
 * http.server writes them separately with Nagle on) would otherwise wait
 * for our delayed ACK, 40 ms a request; acknowledge at once instead. */
static void ack_now(struct upconn *c)
{
    int one = 1;
    if (c->bev && in_exchange(c))
        setsockopt(event_get_fd(c->rd), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct upconn *c = arg;
    (void)bev;
    conn_enter(c);
    if (c->state == UPCONN_HEAD)
        c->got_bytes = true;
    process(c);
    ack_now(c);
    conn_leave(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct upconn *c = arg;
    conn_enter(c);
    /* Back to direct writes (upconn_flush) once the output is empty. */
    if (c->connected && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        evio_bev_set_writing(bev, &c->writing, false);
    if (c->ops && c->ops->drain && c->state != UPCONN_UPGRADED)
        c->ops->drain(c->arg);
    conn_leave(c);
}

static void probe_done(struct upconn *c)
{
    struct upstream *u = c->u;
    u->probe = NULL;
    c->connected = true;
    pool_put(c);
    if (!u->ready) {
        u->ready = true;
        if (u->on_ready)
            u->on_ready(u->ready_arg);
    }
}

static void check_done(struct upconn *c, bool listening)
{
    struct upstream *u = c->u;
    void (*cb)(void *, bool) = u->on_check;
    void *arg = u->check_arg;
    u->check = NULL;
    u->on_check = NULL;
    conn_close(c);
    if (cb)
        cb(arg, listening);
}

static int socket_error(struct upconn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (c->rd && getsockopt(event_get_fd(c->rd), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
        return err;
    return EVUTIL_SOCKET_ERROR();
}

/* A write failed (the upstream closed, or reset the connection) while the
 * request was going out. An upstream may answer before the body has all
 * arrived and then close without reading the rest, and its answer is
 * still in our socket: the read side decides whether there is one. What
 * the request still had to send is dropped from now on, and the owner is
 * told the output drained, so that a body paused for it flows (to
 * nowhere) again. */
static void write_side_gone(struct upconn *c)
{
    c->write_gone = true;
    evio_bev_drop_output(c->bev);
    evio_bev_set_writing(c->bev, &c->writing, false);
    if (c->ops && c->ops->drain)
        c->ops->drain(c->arg);
}

static void conn_broken(struct upconn *c, short what)
{
    if ((what & BEV_EVENT_WRITING) && c->connected && in_exchange(c)) {
        write_side_gone(c);
        return;
    }
    int err = (what & BEV_EVENT_EOF) ? 0 : socket_error(c);
    switch (c->state) {
    case UPCONN_CHECK:
        check_done(c, false);
        break;
    case UPCONN_PROBE:
    case UPCONN_IDLE:
    case UPCONN_STRAY:
        conn_close(c);
        break;
    case UPCONN_HEAD:
        exchange_fail(c, c->connected ? UPSTREAM_NO_RESPONSE : UPSTREAM_CONNECT, err);
        break;
    case UPCONN_BODY_EOF:
        if (what & BEV_EVENT_EOF)
            exchange_end(c);
        else
            exchange_fail(c, UPSTREAM_TRUNCATED, err);
        break;
    case UPCONN_BODY_LENGTH:
    case UPCONN_BODY_CHUNKED:
        exchange_fail(c, UPSTREAM_TRUNCATED, err);
        break;
    case UPCONN_UPGRADED:
    case UPCONN_CLOSED:
        break;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct upconn *c = arg;
    /* libevent turns EV_WRITE off itself before it reports a write error
     * or timeout. */
    c->writing = evio_bev_writing(bev);
    conn_enter(c);
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        /* What was queued while connecting is written by the bufferevent
         * now; on_write turns EV_WRITE off once it is out. */
        if (c->state == UPCONN_PROBE)
            probe_done(c);
        else if (c->state == UPCONN_CHECK)
            check_done(c, true);
    } else {
        conn_broken(c, what);
    }
    conn_leave(c);
}

/* ---- answer head lines Go reads past ---- */

/* The fields llhttp frames a message by, a name in any case: a line of
 * theirs is never repaired, since what llhttp made of it would not be what
 * Go reads. */
static bool frames_name(const char *name, size_t len)
{
    switch (len) {
    case 7:
        return strncasecmp(name, "Upgrade", 7) == 0;
    case 10:
        return strncasecmp(name, "Connection", 10) == 0;
    case 14:
        return strncasecmp(name, "Content-Length", 14) == 0;
    case 16:
        return strncasecmp(name, "Proxy-Connection", 16) == 0;
    case 17:
        return strncasecmp(name, "Transfer-Encoding", 17) == 0;
    default:
        return false;
    }
}

/* Whether the last field of h is one of those. */
static bool frames_message(const struct msghead *h)
{
    if (h->nfields == 0)
        return false;
    const struct msghead_field *f = &h->fields[h->nfields - 1];
    return frames_name(h->buf + f->name_off, f->name_len);
}

/* Bytes of a value under repair: a CR is a space, as Go's server writes
 * it, and whitespace before the value's first byte is not kept (the
 * trailing is trimmed when the value ends). */
static bool value_add(struct upconn *c, const char *from, const char *to)
{
    for (const char *q = from; q < to; q++) {
        char b = *q == '\r' ? ' ' : *q;
        if (c->head.fields[c->head.nfields - 1].val_len == 0 && (b == ' ' || b == '\t'))
            continue;
        if (msghead_value(&c->head, &b, 1))
            return false;
    }
    return true;
}

/* The bytes of the line under repair in [from, end), up to its line break:
 * past them, or NULL when the answer is refused (a name's line without a
 * colon is no field to Go either). The line may end in a later read. */
static const char *repair_take(struct upconn *c, const char *from, const char *end)
{
    const char *nl = memchr(from, '\n', (size_t)(end - from));
    const char *stop = nl ? nl : end;
    if (c->repair == REPAIR_VALUE && !value_add(c, from, stop))
        return NULL;
    if (c->repair == REPAIR_NAME && memchr(from, ':', (size_t)(stop - from)))
        c->repair_colon = true;
    if (!nl)
        return end;
    if (c->repair == REPAIR_NAME ? !c->repair_colon : value_complete(c) != 0)
        return NULL;
    c->repair = REPAIR_NONE;
    return nl + 1;
}

/* llhttp restarted at the start of a header line, with what it noted of
 * the lines before: it reads a stand-in status line without callbacks. */
static bool parser_restart(struct upconn *c)
{
    llhttp_t old = c->parser;
    char line[48];
    int n = snprintf(line, sizeof(line), "HTTP/%u.%u %03u R\r\n", old.http_major,
                     old.http_minor, old.status_code);
    c->parser.settings = &quiet_settings;
    llhttp_reset(&c->parser);
    llhttp_errno_t err = llhttp_execute(&c->parser, line, (size_t)n);
    c->parser.settings = &settings;
    c->parser.flags = old.flags;
    c->parser.content_length = old.content_length;
    return err == HPE_OK;
}

/* The value llhttp read past a leading bare CR, repaired from where Go's
 * starts; a field that frames the answer is not repaired (as below). */
static const char *repair_bare_cr(struct upconn *c, const char *end)
{
    const char *from = c->bare_cr_from;
    struct msghead *h = &c->head;
    c->bare_cr_from = NULL;
    if (c->state != UPCONN_HEAD || h->nfields == 0 || !h->in_value || frames_message(h) ||
        !parser_restart(c))
        return NULL;
    c->repair = REPAIR_VALUE;
    if (c->bare_cr_tail && !value_add(c, &c->feed_tail[1], &c->feed_tail[1] + 1))
        return NULL;
    return repair_take(c, from, end);
}

/* llhttp stopped in an answer's header line that Go's client reads past:
 * a name with a byte outside a token (Go's server drops that field when
 * it writes the answer), or a bare CR in a value. The parser restarts for
 * the next line and the rest of this one is taken by repair_take: what
 * repair_take returns, or NULL when the line is not one of those. */
static const char *repair_line(struct upconn *c, llhttp_errno_t err, const char *start,
                               const char *end)
{
    const char *at = llhttp_get_error_pos(&c->parser);
    const char *why = llhttp_get_error_reason(&c->parser);
    struct msghead *h = &c->head;
    if (err == HPE_USER && c->bare_cr_from)
        return repair_bare_cr(c, end);
    if (c->state != UPCONN_HEAD || !at || at < start || at >= end || !why)
        return NULL;
    if (err == HPE_INVALID_HEADER_TOKEN &&
        (strcmp(why, "Invalid header token") == 0 || strcmp(why, "Invalid header field char") == 0)) {
        msghead_drop_partial_name(h);
        c->repair = REPAIR_NAME;
        c->repair_colon = false;
    } else if (err == HPE_LF_EXPECTED && strcmp(why, "Missing expected LF after header value") == 0) {
        /* From the CR on: llhttp stops on it or on the byte after. */
        if (at > start && at[-1] == '\r')
            at--;
        if (*at != '\r' || h->nfields == 0 || !h->in_value || frames_message(h))
            return NULL;
        c->repair = REPAIR_VALUE;
    } else {
        return NULL;
    }
    return parser_restart(c) ? repair_take(c, at, end) : NULL;
}

/* ---- a plain head, whole in one read ---- */

/* What llhttp reads of a plain head that is not framed simply: its status
 * line, the lines that frame the message, and the empty line, copied
 * together. A head with more of them than fit is read through the
 * callbacks. */
#define PLAIN_FRAME_MAX 512
/* Lines that frame the message noted for that copy: more are read through
 * the callbacks (a head has one or two). */
#define PLAIN_FRAMING 8
/* Digits of a Content-Length read here: more go to llhttp, which checks
 * for overflow. */
#define PLAIN_LENGTH_DIGITS 18

struct plain_frame {
    const char *line[PLAIN_FRAMING]; /* each with its CRLF */
    size_t len[PLAIN_FRAMING];
    size_t n;
    /* The framing as llhttp would note it, when every line that frames
     * the message is one Content-Length of digits or one Connection of
     * keep-alive or close (most answers): simple. */
    bool simple;
    uint16_t flags;
    uint64_t length;
};

/* A field that frames the message (Content-Length, 14 bytes, or
 * Connection, 10, among frames_name's), with the value v of n bytes,
 * noted in f as llhttp would note it (flag, length) when it is one of the
 * simple ones and the first of its name; false otherwise. */
static bool frame_simple(struct plain_frame *f, size_t name_len, const char *v, size_t n)
{
    if (name_len == 14 && !(f->flags & F_CONTENT_LENGTH)) {
        if (n == 0 || n > PLAIN_LENGTH_DIGITS)
            return false;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return false;
            f->length = f->length * 10 + (uint64_t)(v[i] - '0');
        }
        f->flags |= F_CONTENT_LENGTH;
        return true;
    }
    if (name_len != 10 || (f->flags & (F_CONNECTION_KEEP_ALIVE | F_CONNECTION_CLOSE)))
        return false;
    uint16_t flag = plainline_connection(v, n);
    f->flags |= flag;
    return flag != 0;
}

static bool frame_note(struct plain_frame *f, const char *p, size_t n)
{
    if (f->n == PLAIN_FRAMING)
        return false;
    f->line[f->n] = p;
    f->len[f->n++] = n;
    return true;
}

/* A plain head's fields, pointing into the read: its names as they came
 * until plain_fields_done. in_read: they are handed on from there; else
 * they were copied into the connection's msghead (plain_into_head). */
struct plain_fields {
    struct header f[HEAD_STACK_FIELDS];
    size_t n;
    bool in_read;
};

/* The fields of the head's lines from p on, up to the empty line, into
 * pf, and in f the lines among them that frame the message and whether
 * they are simple: past the empty line, or NULL when a line is not plain
 * or there are more fields than pf holds. Plain is a name of letters,
 * digits and '-', a colon, and a value, ended by a CRLF with no other CR
 * or LF in the line. What these lines give, once plain_fields_done has
 * run, is what the callbacks would: the value without the whitespace
 * around it, the name in canonical case. llhttp refuses the rest of what
 * the callbacks let through (a repeated Content-Length, clrepeat.h), and
 * then the callbacks read the head. The read is left as it is. */
static const char *split_plain(struct plain_fields *pf, struct plain_frame *f, const char *p,
                               const char *end)
{
    for (;;) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        if (!cr || end - cr < 2 || cr[1] != '\n' || memchr(p, '\n', (size_t)(cr - p)))
            return NULL;
        if (cr == p)
            return cr + 2;
        const char *colon = memchr(p, ':', (size_t)(cr - p)), *v, *e;
        size_t nlen = colon ? (size_t)(colon - p) : 0;
        if (!colon || pf->n == HEAD_STACK_FIELDS || !target_plain_name(p, nlen))
            return NULL;
        bool bare = plainline_value(colon, cr, &v, &e);
        pf->f[pf->n++] = (struct header){p, nlen, v, (size_t)(e - v)};
        if (frames_name(p, nlen)) {
            /* Whitespace around a framing value is left to llhttp's rules. */
            if (!frame_note(f, p, (size_t)(cr + 2 - p)))
                return NULL;
            f->simple = f->simple && bare && frame_simple(f, nlen, v, (size_t)(e - v));
        }
        p = cr + 2;
    }
}

/* The plain head taken: its names in canonical case and each name and
 * value ended by a NUL, in the read itself (the colon, and the CR or the
 * whitespace after the value). */
static void plain_fields_done(struct plain_fields *pf)
{
    for (size_t i = 0; i < pf->n; i++) {
        struct header *h = &pf->f[i];
        char *name = (char *)h->name, *value = (char *)h->value;
        target_canonical_token(name, h->name_len);
        name[h->name_len] = '\0';
        value[h->value_len] = '\0';
    }
}

/* The fields of pf copied into the connection's msghead, as the callbacks
 * would have put them there. */
static bool plain_into_head(struct upconn *c, const struct plain_fields *pf)
{
    for (size_t i = 0; i < pf->n; i++) {
        const struct header *h = &pf->f[i];
        if (msghead_field(&c->head, h->name, h->name_len, h->value, h->value_len))
            return false;
    }
    return true;
}

/* A status line llhttp would read as "HTTP/1.x NNN reason" (the line
 * ends in its only CR, then an LF, at lf) with a status of 200 or more:
 * its status, version and reason noted as the callbacks would; false
 * otherwise. */
static bool status_simple(struct upconn *c, const char *line, const char *lf)
{
    llhttp_t *p = &c->parser;
    const char *code = line + 9, *end = lf - 1;
    if (end - line < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || code[0] < '2' || code[0] > '9' || code[1] < '0' || code[1] > '9' ||
        code[2] < '0' || code[2] > '9' || (end > code + 3 && code[3] != ' '))
        return false;
    p->http_major = 1;
    p->http_minor = (uint8_t)(line[7] - '0');
    p->status_code = (uint16_t)((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
    reset_status(c);
    c->reason_sep = end > code + 3;
    if (c->reason_sep) {
        size_t n = (size_t)(end - (code + 4));
        c->reason_len = n < sizeof(c->reason) - 1 ? n : sizeof(c->reason) - 1;
        memcpy(c->reason, code + 4, c->reason_len);
        c->reason[c->reason_len] = '\0';
    }
    return true;
}

/* Appends n bytes at p to the n_out bytes at out (PLAIN_FRAME_MAX in all). */
static bool frame_copy(char *out, size_t *n_out, const char *p, size_t n)
{
    if (n > PLAIN_FRAME_MAX - *n_out)
        return false;
    memcpy(out + *n_out, p, n);
    *n_out += n;
    return true;
}

/* llhttp over the status line (ending at lf) and the lines that frame the
 * message, copied together: the framing of a head that is not simple. */
static bool frame_by_llhttp(struct upconn *c, const struct plain_frame *f, const char *data,
                            size_t len, const char *lf)
{
    char bytes[PLAIN_FRAME_MAX];
    size_t n = 0;
    bool ok = frame_copy(bytes, &n, data, (size_t)(lf + 1 - data));
    for (size_t i = 0; ok && i < f->n; i++)
        ok = frame_copy(bytes, &n, f->line[i], f->len[i]);
    if (!ok || !frame_copy(bytes, &n, "\r\n", 2))
        return false;
    /* on_version looks past the version, within what is parsed. */
    c->feed_start = bytes;
    c->feed_end = bytes + n;
    c->parser.settings = &plain_settings;
    llhttp_errno_t err = llhttp_execute(&c->parser, bytes, n);
    c->parser.settings = &settings;
    c->feed_start = data;
    c->feed_end = data + len;
    return err == HPE_PAUSED && llhttp_get_error_pos(&c->parser) == bytes + n;
}

/* Most heads are plain (split_plain) and come whole in the first read:
 * split in one pass, their fields left in the read (pf). Most of those
 * are framed simply too (frame_simple, status_simple), and llhttp does not
 * read them at all; the others it reads only for the status and framing,
 * without a callback for each span of each field. The head's end when it
 * was read so, the body's first byte; NULL, with nothing kept and the
 * read unchanged, when it is not (or llhttp reads it otherwise): the
 * callbacks read it from the start. */
static const char *parse_plain(struct upconn *c, char *data, size_t len, struct plain_fields *pf)
{
    const char *lf = memchr(data, '\n', len), *stop = NULL;
    struct plain_frame f;
    f.n = 0;
    f.simple = true;
    f.flags = 0;
    f.length = 0;
    pf->n = 0;
    if (len < 5 || memcmp(data, "HTTP/", 5) != 0 || !lf || memchr(data, '\r', len) != lf - 1)
        return NULL;
    stop = split_plain(pf, &f, lf + 1, data + len);
    if (stop && f.simple && status_simple(c, data, lf)) {
        c->parser.flags = f.flags;
        c->parser.content_length = f.length;
        plain_fields_done(pf);
        pf->in_read = true;
        return stop;
    }
    /* llhttp's callbacks for the framing look at the fields (te_refused). */
    if (stop && plain_into_head(c, pf) && frame_by_llhttp(c, &f, data, len, lf)) {
        pf->in_read = false;
        return stop;
    }
    llhttp_reset(&c->parser);
    reset_head(c);
    return NULL;
}

/* A head read into plain memory and parsed there. Most answers, head and
 * a small body, come in one read and end within it: no input chain is
 * filled and drained for them. What the head leaves goes where head_done
 * puts it. first: these are the answer's first bytes. */
static void parse_flat(struct upconn *c, char *data, size_t len, bool first)
{
    const char *end = data + len, *from = data;
    c->feed_start = data;
    c->feed_end = end;
    struct plain_fields pf;
    const char *plain_end = first ? parse_plain(c, data, len, &pf) : NULL;
    if (plain_end) {
        if (head_done(c, plain_end, (size_t)(end - plain_end), pf.in_read ? pf.f : NULL,
                      pf.n) == 0)
            process(c);
        return;
    }
    while (from && from < end) {
        if (c->repair != REPAIR_NONE) {
            from = repair_take(c, from, end);
            continue;
        }
        llhttp_errno_t err = llhttp_execute(&c->parser, from, (size_t)(end - from));
        if (err == HPE_OK)
            break;
        if (err == HPE_PAUSED) {
            const char *used = llhttp_get_error_pos(&c->parser);
            if (!head_ends_in_lf(c, used, data)) {
                from = NULL;
                break;
            }
            if (head_done(c, used, (size_t)(end - used), NULL, 0) == 0)
                process(c);
            return;
        }
        from = repair_line(c, err, from, end);
    }
    if (!from)
        exchange_fail(c, UPSTREAM_BAD_RESPONSE, 0);
    else
        target_note_tail(c->feed_tail, data, len);
}

/* The read end of the socket is done: stop watching before telling anyone. */
static void read_side_done(struct upconn *c, ssize_t n)
{
    read_off(c);
    conn_enter(c);
    conn_broken(c, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR));
    conn_leave(c);
}

/* Waiting for a head with nothing held from before: one read into memory
 * of our own. */
static bool read_flat(struct upconn *c, int fd)
{
    /* (A paused connection is not read at all: upconn_pause.) */
    if (c->state != UPCONN_HEAD || evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        return false;
    char buf[HEAD_READ];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0) {
        read_side_done(c, n);
        return true;
    }
    conn_enter(c);
    bool first = !c->got_bytes;
    c->got_bytes = true;
    parse_flat(c, buf, (size_t)n, first);
    ack_now(c);
    conn_leave(c);
    return true;
}

/* Bytes other than a head's go to the bufferevent's input. */
static void read_buffered(struct upconn *c, evutil_socket_t fd)
{
    ssize_t n = evio_bev_read(c->bev, fd, c->state == UPCONN_HEAD ? HEAD_READ : IO_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        read_side_done(c, n);
        return;
    }
    on_read(c->bev, c);
}

/* The socket is read here rather than by the bufferevent (see evio.h),
 * whose own read event is never enabled. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct upconn *c = arg;
    (void)what;
    clock_hold();
    if (!read_flat(c, fd))
        read_buffered(c, fd);
    clock_release();
}

static void on_pool_gone(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    evmem_trim();
}

/* Unused in the pool for IDLE_TIMEOUT_MS: closed. The last one to go
 * gives the memory of the pool back: the watchdog's own trim ran when
 * requests stopped, while these connections still held theirs. libevent
 * frees a closed connection's bufferevent in a later turn of the loop, so
 * the trim waits for one. */
static void on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct upconn *c = arg;
    struct upstream *u = c->u;
    (void)fd;
    (void)what;
    if (!deadline_due(&c->idle))
        return;
    conn_enter(c);
    conn_broken(c, BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
    conn_leave(c);
    if (u->nidle == 0) {
        const struct timeval next_turn = {0, 0};
        event_base_once(u->base, -1, EV_TIMEOUT, on_pool_gone, NULL, &next_turn);
    }
}

/* ---- parser callbacks ---- */

static struct upconn *parser_conn(llhttp_t *p)
{
    return p->data;
}

/* Trailers of a chunked body come through the same callbacks: ignored. */
static bool reading_head(const struct upconn *c)
{
    return c->state == UPCONN_HEAD;
}

static int on_message_begin(llhttp_t *p)
{
    struct upconn *c = parser_conn(p);
    reset_head(c);
    reset_status(c);
    return 0;
}

/* The fields are in already (parse_plain). */
static int on_plain_message_begin(llhttp_t *p)
{
    reset_status(parser_conn(p));
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct upconn *c = parser_conn(p);
    if (!reading_head(c))
        return 0;
    return msghead_name(&c->head, at, len) ? HPE_USER : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct upconn *c = parser_conn(p);
    if (!reading_head(c))
        return 0;
    if (!msghead_name_done(&c->head))
        return HPE_USER;
    clrepeat_name(p, &c->head);
    return 0;
}

/* Where the value of the line llhttp ended early starts for Go: at its CR,
 * k bytes before at (value_add makes it a space and skips it), or, when
 * that is in feed_tail, at the byte after it. */
static int bare_cr_value(struct upconn *c, const char *at, size_t k)
{
    size_t have = (size_t)(at - c->feed_start);
    c->bare_cr_tail = k - have == 2;
    c->bare_cr_from = k <= have ? at - k : c->feed_start;
    return HPE_USER;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct upconn *c = parser_conn(p);
    if (!reading_head(c))
        return 0;
    size_t cr = target_bare_cr_before(at, c->feed_start, c->feed_tail);
    if (cr)
        return bare_cr_value(c, at, cr);
    /* Only a continuation line (obs-fold) starts a value's piece after a
     * line break: Go joins it with one space. Seen when the line break is
     * in the memory parsed; a fold cut there keeps its whitespace. */
    if (at > c->feed_start && at[-1] == '\n') {
        if (msghead_value_fold(&c->head))
            return HPE_USER;
        while (len > 0 && (*at == ' ' || *at == '\t')) {
            at++;
            len--;
        }
    }
    return msghead_value(&c->head, at, len) ? HPE_USER : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct upconn *c = parser_conn(p);
    return reading_head(c) ? value_complete(c) : 0;
}

/* A field's value has ended: kept, dropped, or the answer refused. */
static int value_complete(struct upconn *c)
{
    llhttp_t *p = &c->parser;
    if (msghead_value_done(&c->head))
        return HPE_USER;
    /* Go's server drops a field whose name is not a token. Of the bytes
     * outside a token llhttp lets a name have only spaces ("Bad Name",
     * "Name :"), and it may be empty. */
    const struct msghead_field *f = &c->head.fields[c->head.nfields - 1];
    if (f->name_len == 0 || memchr(c->head.buf + f->name_off, ' ', f->name_len)) {
        msghead_drop_last(&c->head);
        return 0;
    }
    te10_ignore(p, &c->head);
    return clrepeat_value(&c->head) ? HPE_USER : 0;
}

/* Go's client fails an HTTP/1.1 answer whose Transfer-Encoding is not one
 * field "chunked" (two fields, gzip, identity), where llhttp would read
 * the body to the close. */
static bool te_refused(const struct upconn *c)
{
    if (!(c->parser.flags & F_TRANSFER_ENCODING))
        return false;
    const struct msghead_field *te = msghead_find(&c->head, "Transfer-Encoding", 17);
    return te && (msghead_count(&c->head, "Transfer-Encoding", 17) > 1 ||
                  te_not_chunked(c->head.buf + te->val_off, te->val_len));
}

static int on_headers_complete(llhttp_t *p)
{
    /* llhttp 8 reads "HTTP/1.1 20 OK" as status 20: what is not a
     * three-digit status cannot be passed on (the owner answers 502). */
    if (p->status_code < 100 || p->status_code > 999 || te_refused(parser_conn(p)))
        return -1;
    /* 1xx other than 101 are interim (100 Continue, 103 Early Hints):
     * skip them and read the real head. They have no body whatever their
     * headers say, and llhttp skips one only when told to (1): otherwise
     * "100 + Content-Length: 3" would hand three bytes of the real
     * response to the client as body. */
    if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101)
        return 1;
    /* Stop here: head_done decides how to read the body. */
    return HPE_PAUSED;
}

/* An interim answer is followed by the real head, and a 1.0 answer's
 * Transfer-Encoding changes its framing as its line is read (te10_ignore):
 * both are read again through the callbacks. */
static int on_plain_headers_complete(llhttp_t *p)
{
    struct upconn *c = parser_conn(p);
    if ((p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) ||
        (llhttp_get_http_minor(p) == 0 && msghead_find(&c->head, "Transfer-Encoding", 17)))
        return -1;
    return on_headers_complete(p);
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct upconn *c = parser_conn(p);
    return evbuffer_add(c->body, at, len) == 0 ? 0 : HPE_USER;
}

/* llhttp 8 (outside its strict build) takes a CR and any byte after it as
 * the CRLF that ends a chunk's size line, and any two bytes as the one
 * after its data. So the parser stops at each, for parse_step to check
 * the two bytes before the stop. The last chunk's completion comes after
 * its trailer, which llhttp reads as it reads a head. */
static int on_chunk_header(llhttp_t *p)
{
    struct upconn *c = parser_conn(p);
    c->last_chunk = p->content_length == 0;
    c->crlf_due = CHUNK_END_SIZE;
    return HPE_PAUSED;
}

static int on_chunk_complete(llhttp_t *p)
{
    struct upconn *c = parser_conn(p);
    if (c->last_chunk)
        return 0;
    c->crlf_due = CHUNK_END_DATA;
    return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
    /* End of a chunked body: stop so the connection can go back to the
     * pool; end of an interim response: go on to the real one. */
    return parser_conn(p)->state == UPCONN_BODY_CHUNKED ? HPE_PAUSED : 0;
}

/* The version ends the span; " NNN" and the byte after the code follow.
 * Where the line is cut between reads there, a space is assumed. */
static int on_version(llhttp_t *p, const char *at, size_t len)
{
    struct upconn *c = parser_conn(p);
    const char *end = at + len;
    if (c->feed_end - end > 4)
        c->reason_sep = end[4] == ' ';
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    struct upconn *c = parser_conn(p);
    size_t room = sizeof(c->reason) - 1 - c->reason_len;
    if (len > room)
        len = room;
    memcpy(c->reason + c->reason_len, at, len);
    c->reason_len += len;
    c->reason[c->reason_len] = '\0';
    return 0;
}

static void init_settings(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_status;
    settings.on_version = on_version;
    settings.on_header_field = on_header_field;
    settings.on_header_field_complete = on_header_field_complete;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_chunk_header = on_chunk_header;
    settings.on_chunk_complete = on_chunk_complete;
    settings.on_message_complete = on_message_complete;
    llhttp_settings_init(&quiet_settings);
    plain_settings = settings;
    plain_settings.on_message_begin = on_plain_message_begin;
    plain_settings.on_header_field = NULL;
    plain_settings.on_header_field_complete = NULL;
    plain_settings.on_header_value = NULL;
    plain_settings.on_header_value_complete = NULL;
    plain_settings.on_headers_complete = on_plain_headers_complete;
}

/* ---- connections ---- */

static void parser_init(struct upconn *c)
{
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    /* As Go's client: a control byte in a value passes (CR and LF still
     * end the line), a NUL too (a value is forwarded by its length; read
     * as a string it ends there), and so do lines ended by a bare LF;
     * Transfer-Encoding: chunked beside a Content-Length frames the body,
     * and the length is dropped. */
    llhttp_set_lenient_headers(&c->parser, 1);
    llhttp_set_lenient_chunked_length(&c->parser, 1);
    c->parser.data = c;
}

static struct upconn *conn_new(struct upstream *u)
{
    const struct sockaddr *sa = (const struct sockaddr *)&u->url->addr;
    int one = 1, err;
    struct upconn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    msghead_init(&c->head, MAX_HEAD);
    c->u = u;
    c->state = UPCONN_HEAD;
    c->body = evbuffer_new();
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!c->body || fd < 0)
        goto fail;
    /* Small heads and chunks must not wait for Nagle. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_socket_new(u->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        close(fd);
        goto fail;
    }
    c->writing = evio_bev_writing(c->bev);
    c->rd = event_new(u->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->idle.ev = evtimer_new(u->base, on_idle_timeout, c);
    if (!c->rd || !c->idle.ev)
        goto fail;
    /* Callbacks are set after connecting: a refusal seen at once is
     * reported here, a later one through on_event. */
    if (bufferevent_socket_connect(c->bev, sa, (int)u->url->addrlen) != 0)
        goto fail;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, WRITE_LOW, 0);
    bufferevent_set_max_single_read(c->bev, IO_CHUNK);
    bufferevent_set_max_single_write(c->bev, IO_CHUNK);
    parser_init(c);
    return c;
fail:
    err = errno ? errno : ECONNREFUSED;
    conn_destroy(c);
    errno = err;
    return NULL;
}

struct upstream *upstream_new(struct event_base *base, const struct upstream_url *url,
                              void (*on_ready)(void *arg), void *arg)
{
    struct upstream *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    if (!settings.on_headers_complete)
        init_settings();
    u->base = base;
    LIST_INIT(&u->idle);
    LIST_INIT(&u->stray);
    u->url = url;
    u->on_ready = on_ready;
    u->ready_arg = arg;
    return u;
}

void upstream_close_idle(struct upstream *u)
{
    while (!LIST_EMPTY(&u->idle))
        conn_close(LIST_FIRST(&u->idle));
    while (!LIST_EMPTY(&u->stray))
        conn_close(LIST_FIRST(&u->stray));
}

void upstream_free(struct upstream *u)
{
    if (!u)
        return;
    upstream_close_idle(u);
    if (u->probe)
        conn_close(u->probe);
    if (u->check) {
        u->on_check = NULL;
        conn_close(u->check);
    }
    free(u);
}

bool upstream_probe(struct upstream *u)
{
    if (u->ready)
        return true;
    if (!u->probe) {
        u->probe = conn_new(u);
        if (u->probe)
            u->probe->state = UPCONN_PROBE;
    }
    return false;
}

void upstream_check(struct upstream *u, void (*done)(void *arg, bool listening), void *arg)
{
    if (u->check)
        return;
    u->check = conn_new(u);
    if (!u->check) {
        /* Out of descriptors says nothing about the upstream. */
        done(arg, errno != ECONNREFUSED);
        return;
    }
    u->check->state = UPCONN_CHECK;
    u->on_check = done;
    u->check_arg = arg;
}

struct upconn *upstream_begin(struct upstream *u, const struct upstream_ops *ops, void *arg,
                              bool head_request, bool retryable)
{
    struct upconn *c;
    while ((c = LIST_FIRST(&u->idle))) {
        idle_unlink(c);
        c->state = UPCONN_HEAD;
        /* Input already waiting on an idle connection is never trusted. */
        if (retryable && idle_briefly(c) && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
            break;
        if (conn_alive(c))
            break;
        conn_close(c);
    }
    if (c)
        c->reused = true;
    else if (!(c = conn_new(u))) {
        return NULL;
    }
    c->state = UPCONN_HEAD;
    c->ops = ops;
    c->arg = arg;
    c->head_request = head_request;
    c->req_done = c->keep_alive = c->got_bytes = c->paused = c->write_gone = false;
    c->stray_body = false;
    /* A connected socket is written directly by upconn_flush; EV_WRITE
     * stays on only while connecting or while a write would block. The
     * read event stays as it is: deleting and adding it again would cost
     * two epoll_ctl calls per request. */
    deadline_clear(&c->idle);
    read_on(c);
    if (!c->connected)
        evio_bev_set_writing(c->bev, &c->writing, true);
    return c;
}

struct evbuffer *upconn_output(struct upconn *c)
{
    return bufferevent_get_output(c->bev);
}

size_t upconn_pending(const struct upconn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Write at once instead of arming EV_WRITE and waiting a loop iteration:
 * on a connected socket with nothing pending, the write nearly always
 * completes, which saves an epoll_wait and two epoll_ctl per request. */
void upconn_flush(struct upconn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (c->write_gone) {
        evio_bev_drop_output(c->bev);
        return;
    }
    if (!c->connected || evbuffer_get_length(out) == 0 || c->writing)
        return;
    /* Through evio: a plain evbuffer_write on the bufferevent's frozen
     * output fails without a syscall, and the request would wait for
     * EPOLLOUT after all. */
    evio_bev_write(c->bev, event_get_fd(c->rd));
    /* The rest, or the error, is the bufferevent's to handle. */
    if (evbuffer_get_length(out) > 0)
        evio_bev_set_writing(c->bev, &c->writing, true);
}

void upconn_send_gathered(struct upconn *c, struct evio_gather *g)
{
    /* g gathers into this output: an empty one means nothing of g, nor
     * anything before it, is queued. */
    struct evbuffer *out = bufferevent_get_output(c->bev);
    ssize_t n = 0;
    if (c->connected && !c->write_gone && !c->writing && evbuffer_get_length(out) == 0) {
        n = write(event_get_fd(c->rd), g->buf, g->len);
        /* A failed write is left to upconn_flush, which reports it */
        if (n < 0)
            n = 0;
    }
    if ((size_t)n < g->len)
        evbuffer_add(out, g->buf + n, g->len - (size_t)n);
    g->len = 0;
}

void upconn_request_done(struct upconn *c)
{
    c->req_done = true;
}

void upconn_pause(struct upconn *c, bool paused)
{
    if (c->paused == paused || conn_gone(c))
        return;
    c->paused = paused;
    if (paused) {
        read_off(c);
        return;
    }
    read_on(c);
    /* What was read before the pause is not announced again by the socket. */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void upconn_cancel(struct upconn *c)
{
    conn_close(c);
}

struct bufferevent *upconn_detach(struct upconn *c)
{
    struct bufferevent *bev = c->bev;
    c->bev = NULL;
    /* The new owner reads through the bufferevent itself. */
    read_off(c);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    conn_close(c);
    return bev;
}
