/* HTTP/1.1 server on libevent bufferevents, parsing with llhttp.
 *
 * One request at a time per connection: the parser pauses at the end of
 * each message so pipelined requests wait for the previous answer. A
 * connection is only freed from the outermost callback (busy count), so a
 * callback that fires after an error never touches freed memory. */
#include "server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "auth.h"
#include "evio.h"
#include "fdreserve.h"
#include "health.h"
#include "log.h"

#define MAX_HEAD (1024 * 1024)
#define FEED_CHUNK (64 * 1024)
#define INPUT_HIGH (2 * 1024 * 1024)
/* One read while a head is expected: most heads fit, and an idle or slow
 * client holds no more than this (a chain of 4 KiB, header included). */
#define HEAD_READ (4096 - 128)
/* libevent moves at most 16 KiB per read or write call by default: a large
 * body then costs a wakeup of every process on the path per 16 KiB. */
#define SOCKET_IO_MAX (256 * 1024 - 256)   /* see READ_CHUNK in job.c */
#define LINGER_MS 2000
#define QUIET_MS 1000
#define READY_POLL_MS 10
#define ACCEPT_PAUSE_MS 100

static llhttp_settings_t parser_settings;

static void process_input(struct conn *c);
static void conn_free(struct conn *c);
static void arm_timer(struct conn *c, int64_t ms);
static void update_reading(struct conn *c);

/* ---- connection lifetime ---- */

static void conn_enter(struct conn *c)
{
    c->busy++;
}

/* Leave a callback; free the connection if it died meanwhile. */
static void conn_leave(struct conn *c)
{
    if (--c->busy == 0 && c->dead)
        conn_free(c);
}

static void conn_kill(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    update_reading(c);
    /* req_detach hands the bufferevent away before killing the rest. */
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->busy == 0)
        conn_free(c);
}

static void unlink_conn(struct conn *c)
{
    struct server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
}

static void conn_free(struct conn *c)
{
    unlink_conn(c);
    /* Before the bufferevent closes the descriptor it watches. */
    if (c->read_ev)
        event_free(c->read_ev);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->timer)
        event_free(c->timer);
    if (c->flush_ev)
        event_free(c->flush_ev);
    if (c->resp_head)
        evbuffer_free(c->resp_head);
    msghead_free(&c->head);
    free(c);
}

/* The request stops being in flight (answered, aborted or detached). */
void conn_request_over(struct conn *c)
{
    struct server *s = c->srv;
    if (!c->counted)
        return;
    c->counted = false;
    s->inflight--;
    if (s->hooks.request_end)
        s->hooks.request_end(s->hooks.arg, c->req.method, c->status, req_elapsed(&c->req));
}

/* Tell whoever answers the request that it is over, then drop the link. */
static void abort_handler(struct conn *c)
{
    const struct req_handler *h = c->h;
    void *arg = c->harg;
    c->h = NULL;
    c->harg = NULL;
    if (h && h->abort)
        h->abort(arg);
}

/* The client is gone or we give up on it. */
void conn_abort(struct conn *c)
{
    if (c->state == CONN_BODY || c->state == CONN_WAIT) {
        abort_handler(c);
        if (!c->resp_done && c->status == 0)
            c->status = 499;
        if (!c->resp_done)
            resp_finish_log(c);
        conn_request_over(c);
    }
    conn_kill(c);
}

/* ---- timers ---- */

/* An answer before any request head was complete: neither logged nor counted. */
static void bare_request(struct conn *c)
{
    memset(&c->req, 0, sizeof(c->req));
    c->req.method = c->req.uri = c->req.path = c->req.query = c->req.host = "";
    c->req.conn = c;
    c->private_req = true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    conn_enter(c);
    if (c->state == CONN_HEAD && c->head.len > 0 && !c->resp_started) {
        /* A slow client mid-head: say why before closing. */
        c->keep_alive = false;
        bare_request(c);
        resp_simple(&c->req, 408, "Request Timeout\n");
    } else if (c->state == CONN_BODY && !c->resp_started) {
        abort_handler(c);
        c->keep_alive = false;
        resp_simple(&c->req, 408, "Request Timeout\n");
    } else {
        conn_abort(c);
    }
    conn_leave(c);
}

static void arm_timer(struct conn *c, int64_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* ---- parsing callbacks ---- */

static struct conn *parser_conn(llhttp_t *p)
{
    return p->data;
}

/* Refuse the head with this status; bad_request answers it. */
static int reject(struct conn *c, int status)
{
    c->reject = status;
    return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    c->state = CONN_HEAD;
    c->reject = 0;
    c->reject_why = NULL;
    msghead_reset(&c->head);
    c->url_len = 0;
    c->body_bytes = 0;
    c->body_refused = false;
    c->body_done = false;
    c->body_paused = false;
    resp_reset(c);
    arm_timer(c, c->srv->cfg->read_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    /* llhttp ends the target span on the byte that follows it. A line
     * break there means an HTTP/0.9 request ("GET /"), which llhttp would
     * take as a head still waiting for header lines: the client would hang
     * until the read timeout instead of hearing that we do not speak it. */
    if (at + len < c->feed_end && (at[len] == '\r' || at[len] == '\n'))
        return reject(c, 400);
    if (c->url_len == 0)
        c->url_off = (uint32_t)c->head.len;
    c->url_len += (uint32_t)len;
    return msghead_append(&c->head, at, len) ? HPE_USER : 0;
}

static int on_url_complete(llhttp_t *p)
{
    return msghead_terminate(&parser_conn(p)->head) ? HPE_USER : 0;
}

/* llhttp accepts any one-digit major version; only HTTP/1.x is spoken here
 * (an "HTTP/2.0" head would otherwise be answered as if it were 1.1). */
static int on_version_complete(llhttp_t *p)
{
    return llhttp_get_http_major(p) == 1 ? 0 : reject(parser_conn(p), 505);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    return msghead_name(&parser_conn(p)->head, at, len) ? HPE_USER : 0;
}

/* RFC 9110 token characters: llhttp lets some others through in its
 * default mode, and a name like "Bad Header" must not become an
 * environment variable. */
static bool is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch && strchr(extra, ch))))
            return false;
    }
    return true;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    const struct msghead_field *f = msghead_name_done(&c->head);
    if (!f)
        return HPE_USER;
    /* Only token characters in a name (RFC 9110 5.1); whitespace before
     * the colon ("Name : v") in particular, which a proxy in front may read
     * differently, and which llhttp refuses only for the names it knows. */
    if (!is_token(c->head.buf + f->name_off, f->name_len)) {
        c->reject_why = "400 Bad Request: invalid header name";
        return reject(c, 400);
    }
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return msghead_value(&parser_conn(p)->head, at, len) ? HPE_USER : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    return msghead_value_done(&parser_conn(p)->head) ? HPE_USER : 0;
}

/* Pointers into the head, now that it no longer moves. */
static int build_request(struct conn *c)
{
    struct request *r = &c->req;
    if (msghead_build(&c->head))
        return -1;
    memset(r, 0, sizeof(*r));
    r->conn = c;
    r->headers = c->head.headers;
    r->nheaders = c->head.nfields;
    r->method = c->method[0] ? c->method : llhttp_method_name(llhttp_get_method(&c->parser));
    r->uri = c->url_len ? c->head.buf + c->url_off : "/";
    r->remote_addr = c->remote;
    r->http_major = llhttp_get_http_major(&c->parser);
    r->http_minor = llhttp_get_http_minor(&c->parser);
    r->head = llhttp_get_method(&c->parser) == HTTP_HEAD;
    r->chunked = (c->parser.flags & F_CHUNKED) != 0;
    r->content_length = (c->parser.flags & F_CONTENT_LENGTH) && !r->chunked
                            ? (int64_t)c->parser.content_length : -1;
    r->has_body = r->chunked || r->content_length > 0;
    const char *host = req_header(r, "Host");
    r->host = host ? host : "";
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    return 0;
}

/* Split uri into path and query in a copy kept in the head buffer. */
static int split_uri(struct conn *c)
{
    size_t off = c->head.len;
    int err = c->url_len ? msghead_copy(&c->head, c->url_off, c->url_len)
                         : msghead_append(&c->head, "/", 1);
    if (err || msghead_terminate(&c->head))
        return -1;
    /* the head buffer may have moved: rebuild pointers */
    if (build_request(c))
        return -1;
    char *path = c->head.buf + off;
    char *q = strchr(path, '?');
    c->req.query = "";
    if (q) {
        *q = '\0';
        c->req.query = q + 1;
    }
    c->req.path = target_path_part(path);
    return 0;
}

static void send_continue(struct conn *c)
{
    if (c->expect_continue && !c->resp_started && !c->body_done) {
        evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        c->expect_continue = false;
        conn_flush_soon(c);
    }
}

static bool limit_reached(const struct server *s)
{
    return s->cfg->max_inflight > 0 && s->inflight >= s->cfg->max_inflight;
}

/* Exactly the Go watchdog's answer (faas-middleware's limiter), down to
 * the Content-Type without a charset. */
static void answer_limit(struct request *r, int max)
{
    char body[96];
    snprintf(body, sizeof(body), "Concurrent request limit exceeded. Max concurrent requests: %d\n", max);
    resp_header(r, "Content-Type", "text/plain");
    resp_header(r, "X-OpenFaaS-Internal", "faas-middleware");
    resp_simple(r, 429, body);
}

/* A request turned away at the limit is still a request to the function's
 * port: the Go watchdog's instrumentation wraps its limiter and counts it
 * as a 429, so the hooks see it too (it never counts in s->inflight).
 * Reported before answering: the request is invalid once answered. */
static void answer_over_limit(struct server *s, struct conn *c)
{
    if (s->hooks.request_begin)
        s->hooks.request_begin(s->hooks.arg);
    if (s->hooks.request_end)
        s->hooks.request_end(s->hooks.arg, c->req.method, 429, req_elapsed(&c->req));
    resp_log_status(&c->req, -1);
    answer_limit(&c->req, s->cfg->max_inflight);
}

/* max_request_body, for every mode and before any handler sees a byte
 * past it: one answer, 413 unless output already went out. */
static void answer_too_large(struct request *r, int64_t max)
{
    char body[96];
    snprintf(body, sizeof(body), "Request body larger than max_request_body (%lld bytes)\n",
             (long long)max);
    r->conn->keep_alive = false;
    resp_simple(r, 413, body);
}

/* Answer without a body or a Content-Type, as Go's empty answers go. */
static void answer_empty(struct request *r, int status, bool close)
{
    if (close)
        r->conn->keep_alive = false;
    resp_start(r, status, 0);
    resp_end(r);
}

/* ServeMux's 301 to the clean path; the link body only for GET, the type
 * for GET and HEAD, as http.Redirect writes them. */
static void answer_redirect(struct request *r, const char *clean)
{
    char *loc = target_location(clean, r->query);
    if (!loc) {
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    resp_header(r, "Location", loc);
    bool get = strcmp(r->method, "GET") == 0;
    if (get || strcmp(r->method, "HEAD") == 0)
        resp_header(r, "Content-Type", "text/html; charset=utf-8");
    if (!get) {
        answer_empty(r, 301, false);
    } else {
        struct evbuffer *body = evbuffer_new();
        if (body)
            evbuffer_add_printf(body, "<a href=\"%s\">Moved Permanently</a>.\n\n", loc);
        resp_start(r, 301, body ? (int64_t)evbuffer_get_length(body) : 0);
        if (body) {
            resp_write_buf(r, body);
            evbuffer_free(body);
        }
        resp_end(r);
    }
    free(loc);
}

/* What Go's server and ServeMux answer before any handler, neither logged
 * nor counted: "*" (OPTIONS: 200; else 400 and close) and a path that is
 * not clean (301 to the clean one). True when answered. */
static bool route_target(struct conn *c)
{
    struct request *r = &c->req;
    if (strcmp(r->path, "*") == 0) {
        c->private_req = true;
        answer_empty(r, strcmp(r->method, "OPTIONS") == 0 ? 200 : 400,
                     strcmp(r->method, "OPTIONS") != 0);
        return true;
    }
    if (target_plain(r->path))
        return false;
    char *dec = malloc(strlen(r->path) + 1);
    char *clean = dec && target_decode(r->path, dec) >= 0 ? target_clean(dec) : NULL;
    bool moved = clean && strcmp(clean, dec) != 0;
    if (moved) {
        c->private_req = true;
        answer_redirect(r, clean);
    }
    free(dec);
    free(clean);
    return moved;
}

/* Go refuses a request whose path has a malformed escape before reading
 * its headers, and every transfer coding but a lone "chunked" (501). */
static int check_head(struct conn *c)
{
    struct request *r = &c->req;
    bool bad_path = false;
    if (strchr(r->path, '%')) {
        char *dec = malloc(strlen(r->path) + 1);
        bad_path = dec && target_decode(r->path, dec) < 0;
        free(dec);
    }
    if (bad_path)
        return reject(c, 400);
    int te = 0, hosts = 0;
    const char *value = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        if (h->name_len == 17 && strncasecmp(h->name, "Transfer-Encoding", 17) == 0) {
            te++;
            value = h->value;
        }
        hosts += h->name_len == 4 && strncasecmp(h->name, "Host", 4) == 0;
    }
    /* Go requires exactly one Host in HTTP/1.1 (at most one in 1.0). */
    if (hosts == 0 && r->http_minor >= 1)
        c->reject_why = "400 Bad Request: missing required Host header";
    if (hosts > 1 || (hosts == 0 && r->http_minor >= 1))
        return reject(c, 400);
    if (te == 0 || r->http_minor == 0)
        return 0;
    while (value && (*value == ' ' || *value == '\t'))
        value++;
    size_t len = value ? strlen(value) : 0;
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (te > 1 || len != 7 || strncasecmp(value, "chunked", 7) != 0)
        return reject(c, 501);
    return 0;
}

/* As the Go watchdogs: the lock file is the health, even with
 * suppress_lock (which only stops the watchdog writing it). */
static bool is_healthy(const struct server *s)
{
    if (!s->ready || s->shutting_down)
        return false;
    return lock_exists(s->cfg->lock_path);
}

static void answer_health(struct server *s, struct request *r)
{
    if (strcmp(r->method, "GET") != 0)
        answer_empty(r, 405, false);
    else if (!is_healthy(s))
        answer_empty(r, 503, false);
    else
        resp_simple(r, 200, "OK");
}

/* /_/ready: 503, 429, the function's answer at ready_path (logged as a
 * request to it, not counted), or 200; Go's answers have no body. */
static bool answer_ready(struct server *s, struct conn *c)
{
    struct request *r = &c->req;
    c->private_req = true;
    if (strcmp(r->method, "GET") != 0) {
        answer_empty(r, 405, false);
        return true;
    }
    if (!is_healthy(s)) {
        answer_empty(r, 503, false);
        return true;
    }
    if (limit_reached(s)) {
        answer_empty(r, 429, false);
        return true;
    }
    if (!s->cfg->ready_path) {
        answer_empty(r, 200, false);
        return true;
    }
    c->ready_req = true;
    r->uri = s->cfg->ready_path;
    r->path = s->cfg->ready_path;
    r->query = "";
    return false;
}

/* Private endpoints never reach the function; true when answered. A mode
 * without a readiness endpoint (classic) hands /_/ready to its function. */
static bool route_private(struct conn *c)
{
    struct request *r = &c->req;
    if (strcmp(r->path, "/_/health") == 0) {
        c->private_req = true;
        answer_health(c->srv, r);
        return true;
    }
    if (strcmp(r->path, "/_/ready") == 0 && !c->srv->mode->no_ready_endpoint)
        return answer_ready(c->srv, c);
    return false;
}

/* The head with a header of the watchdog's own, replacing the client's:
 * the head buffer may move, so the request is rebuilt around it. */
static int add_request_header(struct conn *c, const char *name, const char *value)
{
    struct timespec start = c->req.start;
    if (msghead_set(&c->head, name, value) || split_uri(c))
        return -1;
    c->req.start = start;
    return 0;
}

/* jwt_auth (auth.c): true when the request was answered here. A token that
 * allows this function lets it through with X-Auth-Seconds, as Go's
 * middleware does; a denial is logged by auth in Go's words instead of the
 * request line. */
static bool check_auth(struct conn *c)
{
    struct auth_verdict v;
    if (!c->srv->auth)
        return false;
    if (auth_check(c->srv->auth, &c->req, &v)) {
        if (add_request_header(c, "X-Auth-Seconds", v.seconds) == 0)
            return false;
        resp_simple(&c->req, 431, "Request Header Fields Too Large\n");
        return true;
    }
    c->logged = v.logged;
    auth_answer(&c->req, &v);
    return true;
}

static void dispatch(struct conn *c)
{
    struct server *s = c->srv;
    struct request *r = &c->req;

    c->private_req = c->ready_req = false;
    if (route_target(c) || route_private(c))
        return;
    if (!c->private_req) {
        clock_gettime(CLOCK_MONOTONIC, &s->last_request);
        if (limit_reached(s)) {
            answer_over_limit(s, c);
            return;
        }
        if (s->cfg->max_request_body > 0 && r->content_length > s->cfg->max_request_body) {
            answer_too_large(r, s->cfg->max_request_body);
            return;
        }
        c->counted = true;
        s->inflight++;
        if (s->hooks.request_begin)
            s->hooks.request_begin(s->hooks.arg);
        if (check_auth(c))
            return;
    }
    s->mode->handle(s->mode_state, r);
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    if (build_request(c) || split_uri(c))
        return HPE_USER;
    if (check_head(c))
        return HPE_USER;
    c->state = CONN_BODY;
    c->keep_alive = llhttp_should_keep_alive(p);
    const char *expect = req_header(&c->req, "Expect");
    c->expect_continue = expect && strcasecmp(expect, "100-continue") == 0 &&
                         c->req.http_minor >= 1 && c->req.has_body;
    if (c->req.has_body == false)
        c->body_done = false;
    dispatch(c);
    if (c->dead)
        return HPE_USER;
    send_continue(c);
    return 0;
}

static void body_over_limit(struct conn *c)
{
    c->body_refused = true;
    abort_handler(c);
    if (c->resp_started)
        conn_abort(c);
    else
        answer_too_large(&c->req, c->srv->cfg->max_request_body);
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    int64_t max = c->srv->cfg->max_request_body;
    c->body_bytes += (int64_t)len;
    if (max > 0 && c->body_bytes > max && !c->body_refused && c->h)
        body_over_limit(c);
    else if (c->h && c->h->body)
        c->h->body(c->harg, at, len);
    return c->dead ? HPE_USER : 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    evtimer_del(c->timer);
    c->body_done = true;
    if (c->state == CONN_LINGER)
        return HPE_PAUSED;
    if (c->state == CONN_BODY)
        c->state = CONN_WAIT;
    if (c->h && c->h->body_end)
        c->h->body_end(c->harg);
    if (c->dead)
        return HPE_USER;
    /* The answer may already be complete (private endpoints, errors). */
    if (c->resp_done)
        conn_response_done(c);
    return HPE_PAUSED;
}

static void init_settings(void)
{
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_url_complete = on_url_complete;
    parser_settings.on_version_complete = on_version_complete;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_field_complete = on_header_field_complete;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_header_value_complete = on_header_value_complete;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
}

/* ---- reading ---- */

/* A request we cannot parse: answer and close. */
static void bad_request(struct conn *c)
{
    int status = 400;
    /* Go's texts, and its Content-Type even on the 431. */
    const char *body = c->reject_why ? c->reject_why : "400 Bad Request";
    /* A name with a space in it; a line without a colon is plain 400. */
    const char *at = llhttp_get_error_pos(&c->parser);
    if (llhttp_get_errno(&c->parser) == HPE_INVALID_HEADER_TOKEN && at && at < c->feed_end &&
        (*at == ' ' || *at == '\t'))
        body = "400 Bad Request: invalid header name";
    /* llhttp reports a refusal from an on_*_complete callback with its own
     * error code, not HPE_USER, so the callback's status is kept aside.
     * A well-formed "HTTP/3.1" fails llhttp's own version check before
     * on_version_complete runs; the major it stored tells it from garble. */
    bool bad_major = llhttp_get_errno(&c->parser) == HPE_INVALID_VERSION &&
                     llhttp_get_http_major(&c->parser) > 1;
    if (c->reject == 505 || bad_major) {
        status = 505;
        body = "505 HTTP Version Not Supported: unsupported protocol version";
    } else if (c->head.too_large) {
        status = 431;
        body = "431 Request Header Fields Too Large";
    } else if (c->reject == 501 ||
               llhttp_get_errno(&c->parser) == HPE_INVALID_TRANSFER_ENCODING) {
        status = 501;
        body = "Unsupported transfer encoding";
    }
    if (c->state == CONN_BODY || c->state == CONN_WAIT) {
        /* Mid-body framing error: the function must not see more. */
        abort_handler(c);
        if (c->resp_started) {
            conn_abort(c);
            return;
        }
        /* Parsing ends here, so no message-complete will follow: without
         * this, resp_end would wait for one on a bodiless request (an
         * unknown Transfer-Encoding fails right after the head) and the
         * connection would hang open until the read timeout. */
        c->state = CONN_WAIT;
    }
    c->keep_alive = false;
    if (c->state == CONN_IDLE || c->state == CONN_HEAD)
        bare_request(c);
    resp_simple(&c->req, status, body);
}

/* llhttp 8 takes an obs-fold line (a head line starting with SP or HT) as
 * more of the previous value, even after an empty one. Folding is obsolete
 * and a smuggling vector (RFC 9112 5.2 allows refusing it), and it cannot
 * be seen from the callbacks, so the head's raw bytes are scanned up to the
 * blank line that ends it. False when a fold is found. */
static bool scan_head(struct conn *c, const char *p, size_t len)
{
    for (size_t i = 0; i < len && !c->scan_done; i++) {
        char b = p[i];
        if (c->scan_prev == '\n' && c->scan_seen) {
            if (b == ' ' || b == '\t')
                return false;
            if (b == '\r' || b == '\n')
                c->scan_done = true;
        }
        if (b != '\r' && b != '\n')
            c->scan_seen = true; /* leading empty lines are skipped */
        c->scan_prev = b;
    }
    return true;
}

static void scan_reset(struct conn *c)
{
    c->scan_prev = 0;
    c->scan_seen = c->scan_done = false;
}

static bool can_feed(const struct conn *c)
{
    if (c->dead || c->upgrade)
        return false;
    if (c->state == CONN_WAIT || c->state == CONN_LINGER)
        return false;
    if (c->state == CONN_BODY && c->body_paused)
        return false;
    return true;
}

/* llhttp 8 refuses every method outside its list, where Go hands any
 * token to the function (QUERY, X-CUSTOM). At the start of a request
 * line, an unknown but valid token is kept aside and llhttp is fed "POST"
 * in its place: for a request, the method changes nothing in how llhttp
 * frames the body. 1: fed or nothing to do; 0: the token is incomplete,
 * wait for more input. */
static int feed_method(struct conn *c, struct evbuffer *in)
{
    char tok[TARGET_METHOD_MAX + 2];
    size_t have = evbuffer_get_length(in);
    size_t n = have < sizeof(tok) ? have : sizeof(tok);

    c->method[0] = '\0';
    if (evbuffer_copyout(in, tok, n) != (ev_ssize_t)n)
        return 1;
    char *sp = memchr(tok, ' ', n);
    size_t len = sp ? (size_t)(sp - tok) : n;
    /* Not a token (TLS, garbage) or too long: llhttp refuses it now. */
    if (!target_method_token(tok, len < TARGET_METHOD_MAX ? len : TARGET_METHOD_MAX))
        return 1;
    if (!sp)
        return n == sizeof(tok) ? 1 : 0;
    if (target_method_known(tok, len) || !target_method_token(tok, len))
        return 1;
    static const char stand_in[] = "POST";
    c->feed_end = stand_in + sizeof(stand_in) - 1;
    if (llhttp_execute(&c->parser, stand_in, sizeof(stand_in) - 1) != HPE_OK || c->dead)
        return 1;
    memcpy(c->method, tok, len);
    c->method[len] = '\0';
    evbuffer_drain(in, len);
    return 1;
}

static int feed_once(struct conn *c, struct evbuffer *in)
{
    if (c->state == CONN_IDLE && !c->scan_seen && !feed_method(c, in))
        return 0;
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, FEED_CHUNK, NULL, &v, 1) < 1)
        return 0;
    size_t len = v.iov_len > FEED_CHUNK ? FEED_CHUNK : v.iov_len;
    const char *data = v.iov_base;
    c->feed_end = data + len;
    if ((c->state == CONN_IDLE || c->state == CONN_HEAD) && !scan_head(c, data, len)) {
        c->reject = 400;
        bad_request(c);
        return 0;
    }
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    size_t used = len;
    if (err != HPE_OK)
        used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
    if (c->dead)
        return 0;
    evbuffer_drain(in, used);
    if (err == HPE_OK)
        return 1;
    if (err == HPE_PAUSED) {
        llhttp_resume(&c->parser);
        return 1;
    }
    if (err == HPE_PAUSED_UPGRADE) {
        c->upgrade = true;
        return 0;
    }
    if (c->state == CONN_LINGER) {
        conn_kill(c);
        return 0;
    }
    bad_request(c);
    return 0;
}

/* The answer is out and the client is still sending a body nobody will
 * read. Closing now would reset the connection under the client's feet and
 * it could lose the answer, so wait for LINGER_MS of quiet, but not past the
 * request's read deadline, which bounded the body anyway. */
static void linger_more(struct conn *c)
{
    int64_t left = c->srv->cfg->read_timeout_ms - (int64_t)(req_elapsed(&c->req) * 1000);
    if (left > LINGER_MS)
        left = LINGER_MS;
    arm_timer(c, left > 0 ? left : 0);
}

static void process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->state == CONN_LINGER) {
        /* Closing: whatever the client still sends is dropped. */
        bool got = evbuffer_get_length(in) > 0;
        evbuffer_drain(in, evbuffer_get_length(in));
        if (got && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            linger_more(c);
        update_reading(c);
        return;
    }
    if (c->parsing)
        return;
    conn_enter(c);
    c->parsing = true;
    while (can_feed(c) && evbuffer_get_length(in) > 0) {
        if (!feed_once(c, in))
            break;
    }
    c->parsing = false;
    /* Input drained below the limit: read again. */
    update_reading(c);
    conn_leave(c);
}

/* The socket is read here, not by the bufferevent (see evio.h). The bytes
 * go to the bufferevent's input as before; its own read event is never
 * enabled. Reading stops while a
 * body is paused and while the input holds INPUT_HIGH, as the bufferevent's
 * high watermark did. */
static bool want_read(const struct conn *c)
{
    if (c->dead || !c->bev || c->read_closed)
        return false;
    /* Once the answer is out, what the client still sends is read and
     * dropped (process_input), even a body paused for its handler. */
    if (c->state == CONN_LINGER)
        return true;
    if (c->body_paused)
        return false;
    return evbuffer_get_length(bufferevent_get_input(c->bev)) < INPUT_HIGH;
}

static void update_reading(struct conn *c)
{
    bool want = want_read(c);
    if (want == c->reading)
        return;
    c->reading = want;
    if (want)
        event_add(c->read_ev, NULL);
    else
        event_del(c->read_ev);
}

/* One readv of up to max bytes into the input: its result, as readv's. */
static ssize_t read_more(struct conn *c, size_t max)
{
    size_t have = evbuffer_get_length(bufferevent_get_input(c->bev));
    size_t want = INPUT_HIGH - have < max ? INPUT_HIGH - have : max;
    if (want == 0) {
        errno = EAGAIN;
        return -1;
    }
    return evio_bev_read(c->bev, want);
}

static void on_event(struct bufferevent *bev, short what, void *arg);

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    conn_enter(c);
    /* A body (or what is dropped of it) is taken in large reads, two per
     * event as the bufferevent's read plus read_more used to; a head in one
     * small one. */
    bool body = c->state == CONN_BODY || c->state == CONN_LINGER;
    size_t max = body ? SOCKET_IO_MAX : HEAD_READ;
    ssize_t n = read_more(c, max);
    if (body && n == (ssize_t)max)
        n = read_more(c, max);
    bool closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    /* What came before an EOF is parsed first, as the bufferevent did: a
     * client may send its last request and close its side at once. */
    process_input(c);
    if (closed) {
        c->read_closed = true;
        update_reading(c);
        if (!c->dead)
            on_event(c->bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), c);
    }
    conn_leave(c);
}

/* A deferred trigger (pipelined request, resumed body): parse what is
 * already in the input. */
static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process_input(arg);
}

/* All queued output is written: move on (linger close, or let the mode
 * send more). */
static void output_drained(struct conn *c)
{
    if (c->state == CONN_LINGER) {
        /* Everything sent: stop sending, keep reading what the client still
         * sends so it sees our answer instead of a reset. */
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
        arm_timer(c, LINGER_MS);
    } else if (c->h && c->h->drain) {
        c->h->drain(c->harg);
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    conn_enter(c);
    /* Back to writing directly from on_flush until the socket is full again. */
    bufferevent_disable(bev, EV_WRITE);
    output_drained(c);
    conn_leave(c);
}

/* Output is written straight to the socket at the end of the loop
 * iteration that queued it: one write for a whole answer, and no EPOLLOUT
 * registration unless the socket is full. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (c->dead || !c->bev || (bufferevent_get_enabled(c->bev) & EV_WRITE))
        return;
    conn_enter(c);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int n = evbuffer_get_length(out) > 0 ? evio_bev_write(c->bev) : 0;
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        conn_abort(c);
    else if (evbuffer_get_length(out) > 0)
        bufferevent_enable(c->bev, EV_WRITE); /* the loop takes over, with write_timeout */
    else
        output_drained(c);
    conn_leave(c);
}

void conn_flush_soon(struct conn *c)
{
    if (!c->dead && c->bev && !(bufferevent_get_enabled(c->bev) & EV_WRITE))
        event_active(c->flush_ev, EV_WRITE, 1);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    conn_enter(c);
    if ((what & BEV_EVENT_EOF) && c->state == CONN_IDLE &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        /* Half-closed after its last request: finish writing the answer. */
        c->state = CONN_LINGER;
    } else {
        conn_abort(c);
    }
    conn_leave(c);
}

/* ---- after a response ---- */

/* The answer is complete: next request, or close. */
void conn_response_done(struct conn *c)
{
    if (!c->body_done || !c->keep_alive || c->upgrade || c->srv->stopping) {
        c->state = CONN_LINGER;
        c->keep_alive = false;
        update_reading(c);
        /* output_drained runs once the output is flushed */
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            output_drained(c);
        else
            conn_flush_soon(c);
        return;
    }
    c->state = CONN_IDLE;
    scan_reset(c);
    arm_timer(c, c->srv->cfg->read_timeout_ms);
    /* Pipelined requests: the parsing loop on the stack picks them up;
     * from other callbacks, a deferred read event does. */
    if (c->parsing)
        return;
    if (c->busy)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    else
        process_input(c);
}

/* ---- accepting ---- */

static void set_remote(struct conn *c, const struct sockaddr *sa)
{
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, addr, c->remote, sizeof(c->remote)))
        strcpy(c->remote, "unknown");
    if (strncmp(c->remote, "::ffff:", 7) == 0)
        memmove(c->remote, c->remote + 7, strlen(c->remote + 7) + 1);
}

static struct conn *conn_new(struct server *s, evutil_socket_t fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    msghead_init(&c->head, MAX_HEAD);
    c->srv = s;
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(s->base, on_timer, c);
    c->flush_ev = event_new(s->base, -1, 0, on_flush, c);
    c->read_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->resp_head = evbuffer_new();
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (!c->bev || !c->timer || !c->flush_ev || !c->read_ev || !c->resp_head) {
        if (!c->bev)
            close(fd);
        conn_free(c);
        return NULL;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    return c;
}

static void arm_accept_pause(struct server *s)
{
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    evtimer_add(s->accept_timer, &tv);
}

/* Out of descriptors. The pending connection stays queued and the
 * listener stays readable, so accepting again at once would spin. Pause on
 * a timer the server owns (freed with it, never firing on a freed
 * listener), and log once per episode, not once per retry. */
static void pause_accepting(struct server *s, int err)
{
    if (!s->accept_paused)
        log_error("accept: %s: pausing new connections until descriptors free up", strerror(err));
    s->accept_paused = true;
    evconnlistener_disable(s->listener);
    arm_accept_pause(s);
}

/* The pause is over: accept again once the reserve is whole, so that the
 * next connection can start its function. */
static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd;
    (void)what;
    if (!s->listener)
        return;
    if (!fd_reserve_fill(s->reserve)) {
        arm_accept_pause(s);
        return;
    }
    evconnlistener_enable(s->listener);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct server *s = arg;
    (void)l;
    (void)salen;
    if (s->nconns >= s->cfg->max_connections) {
        /* Over the cap: a polite close beats an unbounded queue. */
        close(fd);
        return;
    }
    if (s->accept_paused) {
        log_info("accept: descriptors available again");
        s->accept_paused = false;
    }
    /* This connection took a descriptor the reserve wanted back: accept
     * no more until it has them. */
    if (!fd_reserve_fill(s->reserve))
        pause_accepting(s, EMFILE);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = conn_new(s, fd);
    if (!c)
        return;
    set_remote(c, sa);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_max_single_write(c->bev, SOCKET_IO_MAX);
    struct timeval wt = {s->cfg->write_timeout_ms / 1000, (s->cfg->write_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    /* Writes go through on_flush; the bufferevent only takes over (and
     * its write timeout only runs) while the socket is full. */
    bufferevent_disable(c->bev, EV_WRITE);
    update_reading(c);
    arm_timer(c, s->cfg->read_timeout_ms);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    /* Anything else (a connection reset while queued) concerns one
     * connection only; libevent goes on accepting the others. */
    if (!fd_exhausted(err) && err != ENOBUFS && err != ENOMEM) {
        log_warn("accept: %s", strerror(err));
        return;
    }
    pause_accepting(s, err);
}

/* ---- readiness ---- */

static void on_ready_poll(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd;
    (void)what;
    if (s->shutting_down)
        return;
    if ((s->mode->ready && !s->mode->ready(s->mode_state)) || (s->auth && !auth_ready(s->auth))) {
        struct timeval tv = {0, READY_POLL_MS * 1000};
        evtimer_add(s->ready_timer, &tv);
        return;
    }
    if (s->cfg->suppress_lock)
        log_info("Warning: \"suppress_lock\" is enabled. No automated health-checks will be in "
                 "place for your function.");
    else if (lock_write(s->cfg->lock_path) != 0)
        log_error("health checks will fail until %s can be written", s->cfg->lock_path);
    s->ready = true;
}

static struct evconnlistener *bind_any(struct server *s)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)s->cfg->port),
                                .sin6_addr = IN6ADDR_ANY_INIT};
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *l = evconnlistener_new_bind(s->base, on_accept, s, flags, 1024,
                                                       (struct sockaddr *)&sin6, sizeof(sin6));
    if (l)
        return l;
    /* No IPv6 in this network namespace: IPv4 only. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg->port),
                              .sin_addr.s_addr = htonl(INADDR_ANY)};
    return evconnlistener_new_bind(s->base, on_accept, s, flags, 1024, (struct sockaddr *)&sin,
                                   sizeof(sin));
}

int server_listen(struct server *s)
{
    s->listener = bind_any(s);
    if (!s->listener) {
        log_error("port: cannot listen on :%d: %s", s->cfg->port, strerror(errno));
        return -1;
    }
    s->accept_timer = evtimer_new(s->base, on_accept_resume, s);
    if (!s->accept_timer)
        return -1;
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    log_info("Listening on port: %d", s->cfg->port);
    s->ready_timer = evtimer_new(s->base, on_ready_poll, s);
    if (!s->ready_timer)
        return -1;
    if (s->cfg->jwt_auth && !(s->auth = auth_new(s->cfg, s->base)))
        return -1;
    on_ready_poll(-1, 0, s);
    return 0;
}

/* ---- shutdown ---- */

static void stop_mode_done(void *arg)
{
    struct server *s = arg;
    event_base_loopexit(s->base, NULL);
}

static void finish_stop(struct server *s)
{
    if (s->stop_timer)
        evtimer_del(s->stop_timer);
    if (s->mode->stop)
        s->mode->stop(s->mode_state, stop_mode_done, s);
    else
        stop_mode_done(s);
}

static void close_idle(struct server *s)
{
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state == CONN_IDLE && !c->busy)
            conn_kill(c);
    }
}

static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd;
    (void)what;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    close_idle(s);
    if (s->inflight == 0 || (now.tv_sec - s->last_request.tv_sec) * 1000 > s->cfg->write_timeout_ms + 1000) {
        finish_stop(s);
        return;
    }
    struct timeval tv = {0, 50 * 1000};
    evtimer_add(s->stop_timer, &tv);
}

/* Stop accepting; let in-flight requests finish within write_timeout. */
static void begin_stop(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    if (s->drain_timer)
        evtimer_del(s->drain_timer);
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    log_info("No new connections allowed, waiting for %d in-flight request(s)", s->inflight);
    clock_gettime(CLOCK_MONOTONIC, &s->last_request);
    s->stop_timer = evtimer_new(s->base, on_stop_tick, s);
    on_stop_tick(-1, 0, s);
}

static int64_t ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* During the drain window: end early once nothing is in flight and
 * nothing has arrived for a quiet second. */
static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    (void)fd;
    (void)what;
    int64_t quiet = s->cfg->healthcheck_interval_ms < QUIET_MS ? s->cfg->healthcheck_interval_ms : QUIET_MS;
    if (ms_since(&s->drain_start) >= s->cfg->healthcheck_interval_ms ||
        (s->inflight == 0 && ms_since(&s->last_request) >= quiet &&
         ms_since(&s->drain_start) >= quiet)) {
        begin_stop(s);
        return;
    }
    struct timeval tv = {0, 50 * 1000};
    evtimer_add(s->drain_timer, &tv);
}

void server_shutdown(struct server *s, int exit_code, bool drain)
{
    if (exit_code != 0 && s->exit_code == 0)
        s->exit_code = exit_code;
    if (!s->shutting_down) {
        s->shutting_down = true;
        if (!s->cfg->suppress_lock)
            lock_remove(s->cfg->lock_path);
    }
    if (!drain || s->drain_timer) {
        if (!drain)
            begin_stop(s);
        return;
    }
    log_info("Shutting down: draining for up to %.3fs", (double)s->cfg->healthcheck_interval_ms / 1000.0);
    clock_gettime(CLOCK_MONOTONIC, &s->drain_start);
    s->drain_timer = evtimer_new(s->base, on_drain_tick, s);
    on_drain_tick(-1, 0, s);
}

/* ---- public ---- */

struct server *server_new(const struct config *cfg, struct event_base *base,
                          const struct mode *mode, void *mode_state,
                          const struct server_hooks *hooks, struct fd_reserve *reserve)
{
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (!parser_settings.on_message_begin)
        init_settings();
    s->cfg = cfg;
    s->base = base;
    s->mode = mode;
    s->mode_state = mode_state;
    s->reserve = reserve;
    if (hooks)
        s->hooks = *hooks;
    clock_gettime(CLOCK_MONOTONIC, &s->last_request);
    return s;
}

int server_exit_code(const struct server *s)
{
    return s->exit_code;
}

int server_inflight(const struct server *s)
{
    return s->inflight;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    while (s->conns) {
        struct conn *c = s->conns;
        c->busy = 0;
        if (c->state == CONN_BODY || c->state == CONN_WAIT)
            abort_handler(c);
        conn_free(c);
    }
    if (s->listener)
        evconnlistener_free(s->listener);
    if (s->ready_timer)
        event_free(s->ready_timer);
    if (s->accept_timer)
        event_free(s->accept_timer);
    if (s->drain_timer)
        event_free(s->drain_timer);
    if (s->stop_timer)
        event_free(s->stop_timer);
    auth_free(s->auth);
    free(s);
}

/* ---- request accessors ---- */

void req_attach(struct request *r, const struct req_handler *h, void *arg)
{
    r->conn->h = h;
    r->conn->harg = arg;
}

void req_pause_body(struct request *r)
{
    struct conn *c = r->conn;
    if (c->body_paused)
        return;
    c->body_paused = true;
    update_reading(c);
}

void req_resume_body(struct request *r)
{
    struct conn *c = r->conn;
    if (!c->body_paused)
        return;
    c->body_paused = false;
    update_reading(c);
    if (!c->busy)
        process_input(c);
    else if (!c->parsing)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

bool req_body_done(const struct request *r)
{
    return r->conn->body_done;
}

const char *req_header(const struct request *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++) {
        if (r->headers[i].name_len == n && strncasecmp(r->headers[i].name, name, n) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

double req_elapsed(const struct request *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
}

struct bufferevent *req_detach(struct request *r)
{
    struct conn *c = r->conn;
    struct bufferevent *bev = c->bev;
    c->h = NULL;
    if (c->status == 0)
        c->status = 101;
    resp_finish_log(c);
    conn_request_over(c);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(bev, NULL, NULL);
    /* The new owner reads and writes through the bufferevent itself. */
    event_del(c->read_ev);
    c->reading = false;
    bufferevent_enable(bev, EV_WRITE);
    c->bev = NULL;
    conn_kill(c);
    return bev;
}
