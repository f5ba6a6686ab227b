/* http: the function is a long-lived HTTP server started once; each
 * request is reverse-proxied to it over pooled keep-alive connections.
 * Bodies stream both ways with backpressure, every upstream read goes to
 * the client at once, and an Upgrade becomes a byte tunnel. If the
 * function exits, the watchdog exits with its code. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "clock.h"
#include "deadline.h"
#include "evio.h"
#include "fmt.h"
#include "gunzip.h"
#include "http_head.h"
#include "job.h"
#include "log.h"
#include "sniff.h"
#include "tunnel.h"
#include "mode.h"
#include "upstream.h"

/* Request body held or queued towards the upstream before the client is
 * paused: bounds memory per request whatever the body size. */
#define BODY_HIGH (256 * 1024)
/* How long the function gets to exit after SIGTERM at shutdown. */
/* How long a request waits for an upstream that does not listen yet. */
#define UPSTREAM_WAIT_MS 10000
/* How often a daemonised function's server is checked for. */
#define DAEMON_CHECK_MS 1000
/* ... and how often, for UPSTREAM_WAIT_MS, while it may still be starting. */
#define START_CHECK_MS 100

enum proxy_state {
    PX_FREE,      /* in the free list */
    PX_WAIT,      /* the upstream does not accept connections yet */
    PX_BUFFERING, /* http_buffer_req_body: collecting the whole body first */
    PX_SENT,      /* request on a connection, waiting for the response head */
    PX_RESPONSE,  /* response head forwarded, body streaming */
};

struct http_mode;

/* Spare proxies kept, as many as the upstream's idle connections. Past
 * them a proxy is freed, and all of them once the watchdog is idle
 * (http_idle): those of a burst, made between its connections, would
 * otherwise live on after it, each pinning heap pages that the idle trim
 * cannot give back. */
#define SPARE_MAX 64

/* One proxied request. Kept in a free list of up to SPARE_MAX: the steady
 * state allocates nothing per request. */
struct proxy {
    struct http_mode *m;
    struct request *r;
    struct upconn *uc;
    enum proxy_state state;
    struct deadline deadline;  /* exec_timeout / X-Timeout */
    struct evbuffer *body;     /* request body not yet on a connection */
    struct evbuffer *held;     /* response body held while its type is sniffed */
    struct gunzip *gz;         /* inflating this response (NULL: as it comes) */
    struct evbuffer *zin;      /* gzip bytes not inflated yet */
    struct evbuffer *plain;    /* inflated bytes, on their way out */
    TAILQ_ENTRY(proxy) link;   /* waiting list or free list */
    bool body_end;             /* the client sent the whole body */
    bool body_sent;            /* body bytes went to a connection: no retry */
    bool retried;
    bool chunked_out;          /* the request goes out chunked */
    bool gzip_asked;           /* Accept-Encoding: gzip is ours, not the client's */
    bool stream;               /* http_stream_request */
    bool sniff;                /* response head held until its type is sniffed */
    bool buffered;             /* body, held, zin or plain took bytes in this exchange */
    int status;                /* the held head's status and length */
    int64_t content_length;
    int64_t timeout_ms;
    struct event *wait_timer;  /* bound on PX_WAIT */
};

struct http_mode {
    const struct mode_env *env;
    const struct config *cfg;
    const struct upstream_url *url; /* the configuration's */
    struct upstream *up;
    struct job *fn;
    bool fn_done;              /* the fprocess exited */
    int fn_result;
    bool daemon;               /* ... and the server it started still listens */
    bool fn_gone;              /* ... and nothing listens: the watchdog exits */
    int start_checks;          /* checks left for a daemon's server to appear */
    struct event *daemon_timer;
    bool stopping;
    struct mode_stop stop;
    struct event *grace;
    TAILQ_HEAD(, proxy) waiting; /* for the upstream to listen, oldest first */
    TAILQ_HEAD(, proxy) spare;   /* free */
    int nspare;
    struct tunnels tunnels;    /* after a 101 */
};

static void start_exchange(struct proxy *p);
static void on_timeout(evutil_socket_t fd, short what, void *arg);
static void on_wait_timeout(evutil_socket_t fd, short what, void *arg);

/* ---- proxies ---- */

static void proxy_destroy(struct proxy *p)
{
    if (p->deadline.ev)
        event_free(p->deadline.ev);
    if (p->wait_timer)
        event_free(p->wait_timer);
    if (p->body)
        evbuffer_free(p->body);
    if (p->held)
        evbuffer_free(p->held);
    if (p->plain)
        evbuffer_free(p->plain);
    if (p->zin)
        evbuffer_free(p->zin);
    free(p);
}

static struct proxy *proxy_get(struct http_mode *m)
{
    struct proxy *p = TAILQ_FIRST(&m->spare);
    if (p) {
        TAILQ_REMOVE(&m->spare, p, link);
        m->nspare--;
        return p;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->m = m;
    p->body = evbuffer_new();
    p->held = evbuffer_new();
    p->plain = evbuffer_new();
    p->zin = evbuffer_new();
    p->deadline.ev = evtimer_new(m->env->base, on_timeout, p);
    p->wait_timer = evtimer_new(m->env->base, on_wait_timeout, p);
    if (!p->body || !p->held || !p->plain || !p->zin || !p->deadline.ev || !p->wait_timer) {
        proxy_destroy(p);
        return NULL;
    }
    return p;
}

static void wait_unlink(struct proxy *p)
{
    evtimer_del(p->wait_timer);
    TAILQ_REMOVE(&p->m->waiting, p, link);
}

/* A request waits for the upstream to listen, but never without bound and
 * never silently. */
static void wait_push(struct proxy *p)
{
    struct http_mode *m = p->m;
    if (TAILQ_EMPTY(&m->waiting))
        log_info("Waiting up to %gs for the function to accept connections at http://%s",
                 UPSTREAM_WAIT_MS / 1000.0, m->url->authority);
    clock_arm(p->wait_timer, UPSTREAM_WAIT_MS);
    p->state = PX_WAIT;
    TAILQ_INSERT_TAIL(&m->waiting, p, link);
}

/* Nearly always empty already: a drain call would cost more than the
 * length check. */
static void drain_all(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    if (n > 0)
        evbuffer_drain(b, n);
}

/* Forget the request and go back to the free list. The caller answers
 * the request (if at all) afterwards, through its own copy of r. */
static void proxy_release(struct proxy *p)
{
    struct http_mode *m = p->m;
    if (p->state == PX_WAIT)
        wait_unlink(p);
    if (p->uc)
        upconn_cancel(p->uc);
    deadline_clear(&p->deadline);
    /* Each evbuffer lies apart from the proxy in memory: an exchange that
     * buffered nothing (most) does not read them. */
    if (p->buffered) {
        drain_all(p->body);
        drain_all(p->held);
        drain_all(p->plain);
        drain_all(p->zin);
    }
    gunzip_free(p->gz);
    p->gz = NULL;
    if (m->nspare >= SPARE_MAX) {
        proxy_destroy(p);
        return;
    }
    p->r = NULL;
    p->uc = NULL;
    p->state = PX_FREE;
    p->body_end = p->body_sent = p->retried = p->chunked_out = p->sniff = false;
    p->gzip_asked = p->buffered = p->stream = false;
    TAILQ_INSERT_HEAD(&m->spare, p, link);
    m->nspare++;
}

/* X-Duration-Seconds in Go's "%f": six decimals. */
static void set_duration(struct request *r)
{
    char dur[FMT_U64_LEN + 2];
    resp_header_n(r, "X-Duration-Seconds", 18, dur, fmt_seconds(dur, req_elapsed(r)));
}

/* Go's own answers here have no body, and Go logs the failure (each
 * caller does), not a request line. */
static void answer_error(struct request *r, int status)
{
    set_duration(r);
    resp_header(r, "X-Openfaas-Internal", "of-watchdog");
    resp_log_status(r, -1);
    resp_start(r, status, 0);
    resp_end(r);
}

/* Give up on a request: an error answer, or a cut-off body once started. */
static void proxy_fail(struct proxy *p, int status)
{
    struct request *r = p->r;
    bool started = resp_started(r);
    proxy_release(p);
    if (started)
        resp_abort(r);
    else
        answer_error(r, status);
}

/* ---- the request head towards the upstream ---- */

static bool needs_length(const char *method)
{
    return method[0] == 'P' && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                                strcmp(method, "PATCH") == 0);
}

/* The body's length when the client sent a Content-Length (or the body was
 * buffered), 0 for none; -1 for a chunked body on its way, sent chunked. */
static int64_t known_length(struct proxy *p)
{
    const struct request *r = p->r;
    if (p->m->cfg->buffer_req_body && (r->has_body || r->content_length >= 0))
        return (int64_t)evbuffer_get_length(p->body);
    if (r->chunked)
        return -1;
    return r->content_length >= 0 ? r->content_length : 0;
}

static void send_head(struct proxy *p)
{
    int64_t len = known_length(p);
    p->chunked_out = len < 0;
    /* Go's client says "Content-Length: 0" for an empty body only to POST,
     * PUT and PATCH, and nothing to other methods. */
    if (len == 0 && !needs_length(p->r->method))
        len = -1;
    p->gzip_asked = http_adds_gzip(p->r);
    struct evio_gather out;
    evio_gather_init(&out, upconn_output(p->uc));
    http_head_gather(&out, p->r, p->m->url, len, p->chunked_out, p->gzip_asked, p->stream);
    /* A request without a body is its head alone: sent without a copy into
     * the output buffer. With a body, head and body go in one write. */
    if (p->body_end && evbuffer_get_length(p->body) == 0 && !p->chunked_out)
        upconn_send_gathered(p->uc, &out);
    else
        evio_gather_flush(&out);
}

/* ---- the request body towards the upstream ---- */

static void write_body(struct proxy *p, struct evbuffer *data, const char *bytes, size_t len)
{
    struct evbuffer *out = upconn_output(p->uc);
    char size[FMT_CHUNK_LEN];
    if (len == 0)
        return;
    p->body_sent = true;
    if (p->chunked_out)
        evbuffer_add(out, size, fmt_chunk_size(size, len));
    if (data)
        evbuffer_add_buffer(out, data);
    else
        evbuffer_add(out, bytes, len);
    if (p->chunked_out)
        evbuffer_add(out, "\r\n", 2);
}

static void finish_request(struct proxy *p)
{
    if (p->chunked_out)
        evbuffer_add(upconn_output(p->uc), "0\r\n\r\n", 5);
    upconn_request_done(p->uc);
}

static void on_req_body(void *arg, const char *data, size_t len)
{
    struct proxy *p = arg;
    if (p->uc) {
        write_body(p, NULL, data, len);
        upconn_flush(p->uc);
        if (upconn_pending(p->uc) > BODY_HIGH)
            req_pause_body(p->r);
        return;
    }
    p->buffered = true;
    evbuffer_add(p->body, data, len);
    /* Buffering mode keeps it all by definition; otherwise hold a little. */
    if (!p->m->cfg->buffer_req_body && evbuffer_get_length(p->body) > BODY_HIGH)
        req_pause_body(p->r);
}

static void on_req_body_end(void *arg)
{
    struct proxy *p = arg;
    if (p->body_end)
        return;
    p->body_end = true;
    if (p->uc) {
        finish_request(p);
        upconn_flush(p->uc);
    }
    else if (p->state == PX_BUFFERING)
        start_exchange(p);
}

static void inflate_some(struct proxy *p);

static void on_client_drain(void *arg)
{
    struct proxy *p = arg;
    if (p->state != PX_RESPONSE)
        return;
    if (p->gz && evbuffer_get_length(p->zin) > 0)
        inflate_some(p);   /* resumes the upstream once it caught up */
    else if (p->uc)
        upconn_pause(p->uc, false);
}

static void on_client_abort(void *arg)
{
    proxy_release(arg);
}

static const struct req_handler proxy_req_ops = {on_req_body, on_req_body_end, on_client_drain,
                                                 on_client_abort};

static void start_tunnel(struct proxy *p, const struct upstream_response *resp)
{
    struct http_mode *m = p->m;
    struct tunnel *t = http_is_upgrade(p->r) ? tunnel_alloc() : NULL;
    if (!t) {
        log_error("Upstream answered 101 to a request that did not ask for an upgrade");
        log_error("Upstream HTTP request error: unexpected 101 from the function");
        proxy_fail(p, 502);
        return;
    }
    struct bufferevent *up = upconn_detach(p->uc);
    p->uc = NULL;
    struct bufferevent *client = req_detach(p->r);
    proxy_release(p);
    /* The upstream's head as it is: Connection and Upgrade included. */
    struct evio_gather out;
    evio_gather_init(&out, bufferevent_get_output(client));
    EVIO_GATHER_LIT(&out, "HTTP/1.1 101 Switching Protocols\r\n");
    for (size_t i = 0; i < resp->nheaders; i++) {
        const struct header *h = &resp->headers[i];
        http_gather_header(&out, h->name, h->name_len, h->value, h->value_len);
    }
    EVIO_GATHER_LIT(&out, "\r\n");
    evio_gather_flush(&out);
    tunnel_start(&m->tunnels, t, client, up);
}

/* ---- the response from the upstream ---- */

/* The statuses Go writes a body (and so a sniffed type) for. */
static bool sniff_allowed(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* The body's first bytes are in: the head goes out with their type. */
static void sniff_start(struct proxy *p)
{
    struct evbuffer *b = p->held;
    size_t n = evbuffer_get_length(b);
    const char *data = (const char *)evbuffer_pullup(b, n < SNIFF_LEN ? (ev_ssize_t)n : SNIFF_LEN);
    p->sniff = false;
    /* Nothing to sniff (empty, HEAD): Go's writer sets no type either. */
    if (n > 0)
        resp_sniffed_type(p->r, sniff_type(data, n < SNIFF_LEN ? n : SNIFF_LEN));
    resp_start(p->r, p->status, p->content_length);
    resp_write_buf(p->r, b);
}

/* Go's client inflates the answer to a request it asked gzip for, when
 * the answer's (first) Content-Encoding is gzip in any case and it has a
 * body to inflate: not a 204 or 304, not Content-Length: 0. */
static bool inflates(const struct proxy *p, const struct upstream_response *resp,
                     const char *encoding)
{
    return p->gzip_asked && encoding && strcasecmp(encoding, "gzip") == 0 &&
           resp->content_length != 0 && resp->status != 204 && resp->status != 304;
}

static void on_up_head(void *arg, const struct upstream_response *resp)
{
    struct proxy *p = arg;
    struct request *r = p->r;
    const char *connection = NULL, *encoding = NULL;
    bool type = false;

    if (resp->upgrade) {
        start_tunnel(p, resp);
        return;
    }
    for (size_t i = 0; i < resp->nheaders; i++) {
        const struct header *h = &resp->headers[i];
        if (HTTP_HEADER_IS(h, "Connection"))
            connection = http_connection_names(h->value);
        if (HTTP_HEADER_IS(h, "Content-Type"))
            type = true;
        if (!encoding && HTTP_HEADER_IS(h, "Content-Encoding"))
            encoding = h->value;
    }
    /* Inflated, the answer has neither its encoding nor its length. */
    bool gz = inflates(p, resp, encoding);
    int64_t length = gz ? -1 : resp->content_length;
    if (gz && !(p->gz = gunzip_new())) {
        log_error("Upstream HTTP request error: cannot inflate the answer: out of memory");
        proxy_fail(p, 502);
        return;
    }
    /* zin and plain take bytes only while gz is set, held only while
     * sniff is */
    p->buffered = p->buffered || gz;
    for (size_t i = 0; i < resp->nheaders; i++) {
        const struct header *h = &resp->headers[i];
        /* Go's server drops a 304's Content-Type. */
        if (!http_hop_by_hop(h, connection, false) &&
            !(resp->status == 304 && HTTP_HEADER_IS(h, "Content-Type")) &&
            !(gz && HTTP_HEADER_IS(h, "Content-Encoding")))
            resp_header_n(r, h->name, h->name_len, h->value, h->value_len);
    }
    /* Go's client keeps the function's Content-Length in the header map
     * its handler copies. */
    if (length >= 0)
        resp_length_in_head(r);
    if (!p->stream)
        set_duration(r);
    /* Go's client reports no body (0) for these, whatever was announced;
     * to HEAD, whatever the status, the announced length (-1: none). */
    bool bodiless = !r->head && (resp->status == 204 || resp->status == 304);
    resp_log_size(r, bodiless ? 0 : length);
    if (resp->reason)
        resp_log_reason(r, resp->reason);
    p->state = PX_RESPONSE;
    /* Go's ResponseWriter gives a body without a type one sniffed from its
     * first 512 bytes (an empty one: text/plain); so the head waits. */
    bool encoded = encoding && !gz;
    if (!type && !encoded && sniff_allowed(resp->status)) {
        p->sniff = p->buffered = true;
        p->status = resp->status;
        p->content_length = length;
        if (r->head || length == 0)
            sniff_start(p);
        return;
    }
    resp_start(r, resp->status, length);
}

/* The client is behind: the function is not read until it drains. */
static void pause_if_behind(struct proxy *p)
{
    if (p->uc && resp_queued(p->r) > RESP_HIGH_WATERMARK)
        upconn_pause(p->uc, true);
}

static void sniff_if_enough(struct proxy *p)
{
    if (evbuffer_get_length(p->held) >= SNIFF_LEN)
        sniff_start(p);
}

static void forward_body(struct proxy *p, struct evbuffer *data)
{
    if (p->sniff) {
        evbuffer_add_buffer(p->held, data);
        sniff_if_enough(p);
        return;
    }
    resp_write_buf(p->r, data);
    pause_if_behind(p);
}

/* The rest of the answer is over for the client: what came (inflated) is
 * all of it, and the upstream connection goes back to the pool or is
 * closed. */
static void answer_done(struct proxy *p)
{
    struct request *r = p->r;
    if (p->sniff)
        sniff_start(p);
    proxy_release(p);
    resp_end(r);
}

/* Inflated bytes go out this much at a time: the next step waits for the
 * client to take them (on_client_drain), so a small answer that inflates a
 * thousand times over never sits in memory whole. */
#define INFLATE_STEP (256 * 1024)

static void inflate_some(struct proxy *p)
{
    int rc = gunzip_feed(p->gz, p->zin, p->plain, INFLATE_STEP);
    forward_body(p, p->plain);
    if (rc) {
        /* Go's client stops reading at a corrupt stream; the watchdog logs
         * the error and answers with what was read. A connection left in
         * the middle of an answer is closed (proxy_release cancels it). */
        log_info("read body err %s", gunzip_error(p->gz));
        answer_done(p);
        return;
    }
    if (evbuffer_get_length(p->zin) > 0) {
        if (p->uc)
            upconn_pause(p->uc, true);
        return;
    }
    if (!p->uc) {   /* the upstream sent all of it (on_up_end) */
        if (gunzip_finish(p->gz))
            log_info("read body err %s", gunzip_error(p->gz));
        answer_done(p);
    } else if (resp_queued(p->r) <= RESP_HIGH_WATERMARK) {
        upconn_pause(p->uc, false);
    }
}

static void on_up_body(void *arg, struct evbuffer *data)
{
    struct proxy *p = arg;
    if (!p->gz) {
        forward_body(p, data);
        return;
    }
    evbuffer_add_buffer(p->zin, data);
    inflate_some(p);
}

/* The body's first bytes, in the upstream connection's memory: one copy,
 * to wherever on_up_body would have moved them. */
static int on_up_body_mem(void *arg, const char *data, size_t len)
{
    struct proxy *p = arg;
    struct evbuffer *hold = p->gz ? p->zin : p->sniff ? p->held : NULL;
    if (!hold) {
        resp_write(p->r, data, len);
        pause_if_behind(p);
        return 0;
    }
    if (evbuffer_add(hold, data, len) != 0)
        return -1;
    if (p->gz)
        inflate_some(p);
    else
        sniff_if_enough(p);
    return 0;
}

static void on_up_end(void *arg)
{
    struct proxy *p = arg;
    p->uc = NULL;   /* back in the pool, or closed */
    if (!p->gz) {
        answer_done(p);
        return;
    }
    if (evbuffer_get_length(p->zin) == 0)
        inflate_some(p);
}

static void on_up_fail(void *arg, const struct upstream_fail *f)
{
    struct proxy *p = arg;
    const char *why;

    p->uc = NULL;
    /* A body cut short after its head: the client gets what came, as
     * under the Go watchdog, then the cut. */
    if (p->sniff)
        sniff_start(p);
    if (f->retryable && !p->retried && !p->body_sent && p->state == PX_SENT) {
        /* A kept-alive connection the upstream closed as we used it. */
        p->retried = true;
        start_exchange(p);
        return;
    }
    if (f->kind == UPSTREAM_BAD_BODY) {
        /* As the Go watchdog logs a body its client could not read. */
        log_error("read body err %s", f->why);
        proxy_fail(p, 500);
        return;
    }
    switch (f->kind) {
    case UPSTREAM_CONNECT: why = "cannot connect to the function"; break;
    case UPSTREAM_NO_RESPONSE: why = "the function closed the connection without a response"; break;
    case UPSTREAM_BAD_RESPONSE: why = "the function sent an invalid HTTP response"; break;
    default: why = "the function closed the connection mid-response"; break;
    }
    log_error("Upstream HTTP request error: %s%s%s", why, f->err ? ": " : "",
              f->err ? strerror(f->err) : "");
    /* A function that cannot be reached is the gateway's failure (502); one
     * that answered wrongly or hung up is the function's, 500 as under Go. */
    proxy_fail(p, f->kind == UPSTREAM_CONNECT ? 502 : 500);
}

static void on_up_drain(void *arg)
{
    struct proxy *p = arg;
    if (!p->body_end)
        req_resume_body(p->r);
}

static const struct upstream_ops proxy_up_ops = {on_up_head, on_up_body, on_up_body_mem,
                                                 on_up_end,  on_up_fail, on_up_drain};

/* ---- starting an exchange ---- */

/* The method after its first letter, lower-cased, as Go's url.Error
 * names the operation ("Get", "Post"). */
static const char *lower_rest(const char *method, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *m = method + (*method ? 1 : 0); *m && n + 1 < len; m++)
        buf[n++] = (char)(*m >= 'A' && *m <= 'Z' ? *m - 'A' + 'a' : *m);
    buf[n] = '\0';
    return buf;
}

/* Go's client error: the operation, the URL it asked for (upstream_url as
 * written, then the request URI) and what failed. */
static void log_client_error(const struct proxy *p, const char *what)
{
    char op[32];
    const struct upstream_url *u = p->m->url;
    log_error("Upstream HTTP request error: %c%s \"http://%s%s%s\": %s", p->r->method[0],
              lower_rest(p->r->method, op, sizeof(op)), u->authority, u->prefix, p->r->uri, what);
}

/* The Go watchdogs give their client's dialer exec_timeout as its timeout,
 * and Go takes a negative one as a deadline already past: every connection
 * to the function fails at once, and every request gets a 500. Requests
 * that the newest one hands to its reverse proxy (http_stream_request)
 * dial with Go's default timeout and are served. */
static bool dial_times_out(const struct proxy *p)
{
    return p->m->cfg->exec_timeout_ns < 0 && !p->stream;
}

/* What Go's dialer says: the address it dialled, or, for a host name, the
 * lookup that the past deadline stopped. */
static void dial_error(const struct upstream_url *u, char *buf, size_t len)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&u->addr;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&u->addr;
    char ip[INET6_ADDRSTRLEN];

    if (u->named) {
        snprintf(buf, len, "dial tcp: lookup %.*s: i/o timeout", (int)u->name_len, u->authority);
    } else if (u->addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "dial tcp [%s]:%u: i/o timeout", ip, (unsigned)ntohs(v6->sin6_port));
    } else {
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "dial tcp %s:%u: i/o timeout", ip, (unsigned)ntohs(v4->sin_port));
    }
}

static void fail_dial(struct proxy *p)
{
    char what[sizeof(p->m->url->authority) + 64];
    dial_error(p->m->url, what, sizeof(what));
    log_client_error(p, what);
    proxy_fail(p, 500);
}

static void start_exchange(struct proxy *p)
{
    struct request *r = p->r;
    if (dial_times_out(p)) {
        fail_dial(p);
        return;
    }
    /* on_up_fail retries a first attempt that sent no body bytes; a
     * request with a body may have sent some by then, so its connection
     * is checked before use. */
    p->uc = upstream_begin(p->m->up, &proxy_up_ops, p, r->head, !p->retried && !r->has_body);
    if (!p->uc) {
        log_error("Upstream HTTP request error: cannot connect to the function: %s",
                  strerror(errno));
        proxy_fail(p, 502);
        return;
    }
    p->state = PX_SENT;
    send_head(p);
    write_body(p, p->body, NULL, evbuffer_get_length(p->body));
    if (p->body_end)
        finish_request(p);
    upconn_flush(p->uc);
    if (p->body_end)
        return;
    if (upconn_pending(p->uc) <= BODY_HIGH)
        req_resume_body(r);   /* last: it may feed body bytes at once */
}

static void try_start(struct proxy *p)
{
    struct http_mode *m = p->m;
    if (m->fn_gone) {
        proxy_fail(p, 502);
        return;
    }
    /* A dial that cannot succeed does not wait for the function either. */
    if (!dial_times_out(p) && !upstream_probe(m->up)) {
        wait_push(p);
        return;
    }
    if (m->cfg->buffer_req_body && !p->body_end) {
        p->state = PX_BUFFERING;
        return;
    }
    start_exchange(p);
}

static void on_upstream_ready(void *arg)
{
    struct http_mode *m = arg;
    struct proxy *p;
    m->env->maybe_ready(m->env->fatal_arg);
    while ((p = TAILQ_FIRST(&m->waiting))) {
        wait_unlink(p);
        p->state = PX_FREE;
        try_start(p);
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *p = arg;
    char limit[32];
    (void)fd;
    (void)what;
    if (!deadline_due(&p->deadline))
        return;
    /* Go's client error first, then the watchdog's line, which names the
     * configured exec_timeout whatever X-Timeout said. */
    log_client_error(p, "context deadline exceeded");
    log_go_duration(p->m->cfg->exec_timeout_ns, limit, sizeof(limit));
    log_info("Upstream HTTP killed due to exec_timeout: %s", limit);
    proxy_fail(p, 504);
}

static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct proxy *p = arg;
    (void)fd;
    (void)what;
    log_error("Upstream HTTP request error: the function did not accept connections at "
              "http://%s within %gs", p->m->url->authority, UPSTREAM_WAIT_MS / 1000.0);
    proxy_fail(p, 502);
}

/* exec_timeout, or an X-Timeout no longer than it, as the newest Go
 * watchdog takes it: "0" or a negative duration means no limit, and a bare
 * number other than 0, which Go's time.ParseDuration refuses, is ignored.
 * Ignored when exec_timeout is none. Milliseconds, 0 for none. */
static int64_t request_timeout(const struct config *cfg, const struct request *r)
{
    int64_t t = cfg->exec_timeout_ns, x;
    const char *h = req_header(r, "X-Timeout");
    const char *digits = h ? h + (*h == '+' || *h == '-') : NULL;
    if (t <= 0 || !h ||
        (*digits && strspn(digits, "0123456789") == strlen(digits) && strcmp(digits, "0") != 0))
        return config_ms(t);
    if (config_parse_duration(h, &x) == 0 && x <= t)
        t = x;
    return config_ms(t);
}

static void http_handle(void *state, struct request *r)
{
    struct http_mode *m = state;
    struct proxy *p = proxy_get(m);
    if (!p) {
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    p->r = r;
    p->body_end = !r->has_body;
    p->stream = http_stream_request(r);
    int64_t ms = p->timeout_ms = request_timeout(m->cfg, r);
    if (ms > 0) {
        deadline_set(&p->deadline, ms);
    }
    req_attach(r, &proxy_req_ops, p);
    try_start(p);
}

/* ---- the function process ---- */

static void fail_waiting(struct http_mode *m)
{
    struct proxy *p;
    while ((p = TAILQ_FIRST(&m->waiting)))
        proxy_fail(p, 502);
}

/* Nothing will serve requests any more: the watchdog stops, with the
 * function's exit code (where Go always says 1). */
static void function_gone(struct http_mode *m)
{
    m->fn_gone = true;
    fail_waiting(m);
    m->env->fatal(m->env->fatal_arg, m->fn_result);
}

/* An fprocess that daemonises (nginx, php-fpm -D) exits while the server
 * it started goes on: as under the Go watchdog, requests are still
 * served, as long as something accepts connections. */
static void on_listen_check(void *arg, bool listening)
{
    struct http_mode *m = arg;
    if (m->stopping)
        return;
    if (!listening && !m->daemon && m->start_checks-- > 0) {
        /* Exited 0 at once: a daemon may still be starting its server. */
        clock_arm(m->daemon_timer, START_CHECK_MS);
        return;
    }
    if (!listening) {
        log_error("Function process exited: exit code 0; the watchdog exits too");
        function_gone(m);
        return;
    }
    if (!m->daemon) {
        m->daemon = true;
        log_info("The function's server still accepts connections at http://%s: serving on "
                 "while it does", m->url->authority);
    }
    clock_arm(m->daemon_timer, DAEMON_CHECK_MS);
}

static void on_daemon_timer(evutil_socket_t fd, short what, void *arg)
{
    struct http_mode *m = arg;
    (void)fd;
    (void)what;
    upstream_check(m->up, on_listen_check, m);
}

static void on_fn_done(void *arg, int result)
{
    struct http_mode *m = arg;
    char how[64];
    m->fn_done = true;
    m->fn_result = result;
    /* As Go's exec package words it: "exit status 3", "signal: killed". */
    job_result_text(m->fn, result, how, sizeof(how));
    if (m->stopping) {
        log_info("Function process stopped: %s", how);
        mode_stop_finish(&m->stop, m->grace);
        return;
    }
    if (result != 0) {
        /* A failure, not a daemon's parent leaving: of-watchdog's line,
         * and it stops at once as Go does. */
        log_error("Forked function has terminated: %s", how);
        function_gone(m);
        return;
    }
    log_info("Function process exited: exit code 0; checking whether its server still listens");
    m->start_checks = UPSTREAM_WAIT_MS / START_CHECK_MS;
    upstream_check(m->up, on_listen_check, m);
}

static const struct job_ops fn_ops = {NULL, NULL, on_fn_done};

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct http_mode *m = arg;
    (void)fd;
    (void)what;
    log_warn("Function process still running %gs after SIGTERM: sending SIGKILL",
             (double)config_ms(m->cfg->function_grace_ns) / 1000.0);
    job_signal(m->fn, SIGKILL);
}

/* "Forking: cmd, arguments: [a b]", as Go prints the command and a slice. */
static void log_forking(char *const *argv)
{
    char args[1024];
    size_t n = 0;
    args[0] = '\0';
    for (size_t i = 1; argv[i] && n + 2 < sizeof(args); i++)
        n += (size_t)snprintf(args + n, sizeof(args) - n, "%s%s", i > 1 ? " " : "", argv[i]);
    log_info("Forking: %s, arguments: [%s]", argv[0], args);
}

static int start_function(struct http_mode *m)
{
    const struct mode_env *env = m->env;
    int code = 1;
    /* Its stdin is a pipe nothing is written to, closed when it exits, as
     * of-watchdog gives it: a server that reads stdin waits on it instead
     * of ending at EOF. */
    struct job_params jp = {
        .base = env->base,
        .procs = env->procs,
        .argv = m->cfg->argv,
        .envp = env->environ,
        .timeout_ms = 0,
        .prefix_logs = m->cfg->prefix_logs,
        .log_stdout_to_stdout = true,
        .outlive = true,
        .observer = env->jobs,
        .reserve = env->fds,
    };
    log_forking(m->cfg->argv);
    m->fn = job_start(&jp, &fn_ops, m, &code);
    if (!m->fn)
        return code;
    /* of-watchdog's lines as it binds the function's output to its own. */
    log_info("Started logging: stderr from function.");
    log_info("Started logging: stdout from function.");
    return 0;
}

/* ---- the mode ---- */

static void free_spares(struct http_mode *m)
{
    struct proxy *p;
    while ((p = TAILQ_FIRST(&m->spare))) {
        TAILQ_REMOVE(&m->spare, p, link);
        proxy_destroy(p);
    }
    m->nspare = 0;
}

static void http_idle(void *state)
{
    free_spares(state);
}

static void http_free(void *state)
{
    struct http_mode *m = state;
    struct proxy *p;
    if (!m)
        return;
    while ((p = TAILQ_FIRST(&m->waiting)))
        proxy_release(p);
    free_spares(m);
    tunnels_close(&m->tunnels);
    job_free(m->fn);
    upstream_free(m->up);
    if (m->grace)
        event_free(m->grace);
    if (m->daemon_timer)
        event_free(m->daemon_timer);
    free(m);
}

/* The configuration has checked that fprocess and upstream_url are set and
 * that the URL parses. */
static int http_init(const struct mode_env *env, void **state)
{
    int rc = 1;
    struct http_mode *m = calloc(1, sizeof(*m));
    if (!m)
        return 1;
    m->env = env;
    m->cfg = env->cfg;
    TAILQ_INIT(&m->waiting);
    TAILQ_INIT(&m->spare);
    tunnels_init(&m->tunnels, config_ms(env->cfg->write_timeout_ns));
    m->url = m->cfg->upstream;
    m->up = upstream_new(env->base, m->url, on_upstream_ready, m);
    m->grace = evtimer_new(env->base, on_grace, m);
    m->daemon_timer = evtimer_new(env->base, on_daemon_timer, m);
    if (!m->up || !m->grace || !m->daemon_timer)
        goto fail;
    if ((rc = start_function(m)) != 0)
        goto fail;
    upstream_probe(m->up);
    *state = m;
    return 0;
fail:
    http_free(m);
    return rc;
}

static bool http_ready(void *state)
{
    struct http_mode *m = state;
    return !m->fn_gone && (!m->fn_done || m->daemon) && upstream_probe(m->up);
}

/* After in-flight requests: SIGTERM the function, SIGKILL after a grace. */
static void http_stop(void *state, void (*done)(void *arg), void *arg)
{
    struct http_mode *m = state;
    m->stopping = true;
    m->stop = (struct mode_stop){done, arg};
    evtimer_del(m->daemon_timer);
    upstream_close_idle(m->up);
    tunnels_close(&m->tunnels);
    if (m->fn_done) {
        mode_stop_finish(&m->stop, m->grace);
        return;
    }
    job_signal(m->fn, SIGTERM);
    clock_arm(m->grace, config_ms(m->cfg->function_grace_ns));
}

/* forward_sigterm: the function hears of the shutdown when the drain
 * starts, so it can stop taking new work itself; requests still reach it
 * until the drain ends. */
static void http_drain(void *state)
{
    struct http_mode *m = state;
    if (!m->fn_done)
        job_signal(m->fn, SIGTERM);
}

const struct mode mode_http = {
    .name = "http",
    .init = http_init,
    .ready = http_ready,
    .handle = http_handle,
    .drain = http_drain,
    .idle = http_idle,
    .stop = http_stop,
    .free = http_free,
};
