/* The engine's parsing: llhttp's callbacks, what Go's server refuses or
 * answers before any handler (bad heads, transfer codings, "*", unclean
 * paths), the body limit, and the hand-over of each head to the handler. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "clock.h"
#include "clrepeat.h"
#include "evio.h"
#include "evmem.h"
#include "log.h"
#include "plainreq.h"
#include "tecoding.h"

#define FEED_CHUNK (64 * 1024)

static const char invalid_name[] = "400 Bad Request: invalid header name";
static const char invalid_value[] = "400 Bad Request: invalid header value";

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

/* An answer before any request head was complete: neither logged nor counted. */
void conn_bare_request(struct conn *c)
{
    memset(&c->req, 0, sizeof(c->req));
    c->req.method = c->req.uri = c->req.path = c->req.query = c->req.host = "";
    c->req.conn = c;
    c->log.off = true;
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    c->state = CONN_HEAD;
    c->reject = 0;
    c->reject_why = NULL;
    c->head_fault = NULL;
    c->bare_cr_value = false;
    c->raw.on = false;
    msghead_reset(&c->head);
    c->url_len = 0;
    c->body.bytes = 0;
    c->body.refused = false;
    c->body.trailer = false;
    c->body.crlf_due = false;
    c->body.crlf_bad = false;
    c->body.drop_until = 0;
    c->body.done = false;
    c->body.paused = false;
    c->body.held = false;
    resp_reset(c);
    conn_arm_read_timer(c);
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

/* A chunked body's trailer comes through the same callbacks. It is not
 * kept, as Go hands it to no function, and it must not grow the head: the
 * request points into it. */
static bool in_trailer(const struct conn *c)
{
    return c->state != CONN_HEAD;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    if (in_trailer(c))
        return 0;
    return msghead_name(&c->head, at, len) ? HPE_USER : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    if (in_trailer(c))
        return 0;
    const struct msghead_field *f = msghead_name_done(&c->head);
    if (!f)
        return HPE_USER;
    /* Only token characters in a name (RFC 9110 5.1), where llhttp lets
     * some others through in its default mode: a name like "Bad Header"
     * must not become an environment variable. Whitespace before
     * the colon ("Name : v") in particular, which a proxy in front may read
     * differently, and which llhttp refuses only for the names it knows.
     * The head is refused once complete, as Go does; an empty name Go
     * skips (on_header_value_complete). */
    if (f->name_len > 0 && !target_token(c->head.buf + f->name_off, f->name_len) &&
        !c->head_fault)
        c->head_fault = invalid_name;
    clrepeat_name(p, &c->head);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    if (in_trailer(c))
        return 0;
    /* The line llhttp ended early is read on as Go reads it (llhttp_fault),
     * rather than its rest taken as more header lines or a next request. */
    if (target_bare_cr_before(at, c->feed_start, c->feed_tail)) {
        c->bare_cr_value = true;
        return HPE_USER;
    }
    return msghead_value(&c->head, at, len) ? HPE_USER : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    if (in_trailer(c))
        return 0;
    if (msghead_value_done(&c->head))
        return HPE_USER;
    if (msghead_last_named(&c->head, "", 0)) {
        msghead_drop_last(&c->head);
        return 0;
    }
    te10_ignore(p, &c->head);
    return clrepeat_value(&c->head) ? reject(c, 400) : 0;
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
    clock_mono(&r->start);
    return 0;
}

/* The request over a complete head: its pointers, and the uri split into
 * path and query in a copy kept in the head buffer. The copy is made first,
 * as it may move the buffer the pointers go into. */
static int finish_head(struct conn *c)
{
    size_t off = c->head.len;
    int err = c->url_len ? msghead_copy(&c->head, c->url_off, c->url_len)
                         : msghead_append(&c->head, "/", 1);
    if (err || msghead_terminate(&c->head) || build_request(c))
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
    if (c->expect_continue && !c->resp.started && !c->body.done) {
        conn_out_add(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        c->expect_continue = false;
        conn_flush_soon(c);
    }
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
        resp_empty(r, 301);
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

/* Checked for every request: most methods differ in their first byte. */
static bool is_connect(const struct request *r)
{
    return r->method[0] == 'C' && strcmp(r->method, "CONNECT") == 0;
}

/* What Go's server and ServeMux answer before any handler, neither logged
 * nor counted: an authority-form CONNECT (404), "*" (OPTIONS: 200; else
 * 400 and close) and a path that is not clean (301 to the clean one). True
 * when answered. */
static bool route_target(struct conn *c)
{
    struct request *r = &c->req;
    /* Go's ServeMux leaves a CONNECT's path as it is; an authority-form
     * target ("CONNECT host:443") has none, and no handler matches it. */
    if (is_connect(r)) {
        if (r->uri[0] == '/')
            return false;
        c->log.off = true;
        resp_go_error(r, 404, "404 page not found\n");
        return true;
    }
    if (strcmp(r->path, "*") == 0) {
        bool options = strcmp(r->method, "OPTIONS") == 0;
        c->log.off = true;
        /* Go's globalOptionsHandler sets the length; ServeMux sets the
         * close of its 400, to HTTP/1.1 only */
        c->keep_alive = c->keep_alive && options;
        if (options)
            resp_length_in_head(r);
        else if (r->http_minor >= 1)
            resp_close_in_head(r);
        resp_empty(r, options ? 200 : 400);
        return true;
    }
    if (target_plain(r->path))
        return false;
    char *dec = malloc(strlen(r->path) + 1);
    char *clean = dec && target_decode(r->path, dec) >= 0 ? target_clean(dec) : NULL;
    bool moved = clean && strcmp(clean, dec) != 0;
    if (moved) {
        c->log.off = true;
        answer_redirect(r, clean);
    }
    free(dec);
    free(clean);
    return moved;
}

/* Go's httpguts.ValidHostHeader: the bytes of a name, a port, an IPv6
 * literal or a zone, and the sub-delimiters; nothing else. */
static bool host_byte(unsigned char b)
{
    if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'))
        return true;
    switch (b) {
    case '!': case '$': case '%': case '&': case '\'': case '(': case ')': case '*': case '+':
    case ',': case '-': case '.': case ':': case ';': case '=': case '[': case ']': case '_':
    case '~':
        return true;
    default:
        return false;
    }
}

/* Every request has a Host to check: host_byte, looked up in a table. */
static bool valid_host(const char *v, size_t len)
{
    static bool table[256], ready;
    if (!ready) {
        for (unsigned b = 0; b < 256; b++)
            table[b] = host_byte((unsigned char)b);
        ready = true;
    }
    for (size_t i = 0; i < len; i++) {
        if (!table[(unsigned char)v[i]])
            return false;
    }
    return true;
}

/* A Transfer-Encoding Go refuses (501): any but one lone "chunked", in 1.1. */
static bool te_refused(int te, const struct header *h, int http_minor)
{
    if (te == 0 || http_minor == 0)
        return false;
    return te > 1 || te_not_chunked(h->value, h->value_len);
}

/* llhttp refuses Content-Length beside Transfer-Encoding at the end of the
 * head, before on_headers_complete and so before check_head; Go reads the
 * coding first, and refuses one it does not know (501), in 1.1. */
static bool te_refused_in_head(const struct conn *c)
{
    const struct msghead_field *f = msghead_find(&c->head, "Transfer-Encoding", 17);
    return c->parser.http_minor > 0 && f && te_not_chunked(c->head.buf + f->val_off, f->val_len);
}

/* Go's Content-Length checks, for a head llhttp did not read to its end:
 * repeats must agree, and without chunked framing the value is digits or
 * nothing. */
static bool cl_refused(const struct request *r, bool chunked)
{
    const struct header *first = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        if (h->name_len != 14 || memcmp(h->name, "Content-Length", 14) != 0)
            continue;
        if (first && (h->value_len != first->value_len ||
                      memcmp(h->value, first->value, h->value_len) != 0))
            return true;
        first = first ? first : h;
    }
    if (!first || chunked)
        return false;
    for (size_t i = 0; i < first->value_len; i++) {
        if (first->value[i] < '0' || first->value[i] > '9')
            return true;
    }
    return false;
}

/* Go refuses a request whose path has a malformed escape before reading
 * its headers; then a repeated Host; every transfer coding but a lone
 * "chunked" (501); a Content-Length it cannot use; a missing or malformed
 * Host; and only then a bad header name or value (head_fault). */
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
    const struct header *te_header = NULL, *host = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        if (h->name_len == 17 && memcmp(h->name, "Transfer-Encoding", 17) == 0) {
            te++;
            te_header = h;
        }
        if (h->name_len == 4 && memcmp(h->name, "Host", 4) == 0) {
            hosts++;
            host = h;
        }
    }
    /* Go requires exactly one Host in HTTP/1.1 (at most one in 1.0). */
    if (hosts > 1)
        return reject(c, 400);
    if (te_refused(te, te_header, r->http_minor))
        return reject(c, 501);
    if (c->raw.on && cl_refused(r, te > 0 && r->http_minor >= 1))
        return reject(c, 400);
    /* Go requires Host in HTTP/1.1, except of a CONNECT. */
    if (hosts == 0 && r->http_minor >= 1 && !is_connect(r))
        c->reject_why = "400 Bad Request: missing required Host header";
    else if (host && !valid_host(host->value, host->value_len))
        c->reject_why = "400 Bad Request: malformed Host header";
    else
        c->reject_why = c->head_fault;
    return c->reject_why ? reject(c, 400) : 0;
}

static bool token_boundary(char b)
{
    return b == ' ' || b == ',' || b == '\t';
}

/* Go's hasToken: the token anywhere in the value, in any case, between
 * the value's ends, spaces, tabs or commas. */
static bool has_token(const char *value, const char *token)
{
    size_t n = strlen(token), len = strlen(value);
    for (size_t i = 0; i + n <= len; i++) {
        if ((i > 0 && !token_boundary(value[i - 1])) ||
            (i + n < len && !token_boundary(value[i + n])))
            continue;
        if (strncasecmp(value + i, token, n) == 0)
            return true;
    }
    return false;
}

/* Go's server answers any expectation but 100-continue itself, before
 * routing: 417, closing, neither logged nor counted. */
static void expectation_failed(struct conn *c)
{
    c->log.off = true;
    resp_close_in_head(&c->req); /* Go's sendExpectationFailed sets it */
    resp_empty(&c->req, 417);
}

/* What the engine answers itself, then the handler. A body known to be
 * over the limit is refused before the handler sees the head. */
static void dispatch(struct conn *c)
{
    struct engine *e = c->eng;
    struct request *r = &c->req;
    if (route_target(c))
        return;
    if (e->p.max_request_body > 0 && r->content_length > e->p.max_request_body) {
        answer_too_large(r, e->p.max_request_body);
        return;
    }
    c->in_flight = true;
    e->p.on_request(e->p.arg, r);
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    /* Go's server knows no upgrade, and no CONNECT tunnel: the body is
     * framed as any other, and what follows is the next request, unless a
     * handler takes the connection over (req_detach, on a 101). */
    p->upgrade = 0;
    if (finish_head(c))
        return HPE_USER;
    if (check_head(c))
        return HPE_USER;
    c->state = CONN_BODY;
    c->keep_alive = llhttp_should_keep_alive(p);
    const char *expect = req_header(&c->req, "Expect");
    bool continues = expect && has_token(expect, "100-continue");
    c->expect_continue = continues && c->req.http_minor >= 1 && c->req.has_body;
    if (c->req.has_body == false)
        c->body.done = false;
    if (expect && *expect && !continues)
        expectation_failed(c);
    else
        dispatch(c);
    if (c->dead)
        return HPE_USER;
    /* Held (req_hold): the body waits in the input until req_release. A
     * bodiless request completes now, as the handler expects of one. */
    if (c->body.held)
        return c->req.has_body ? HPE_PAUSED : 0;
    send_continue(c);
    return 0;
}

static void body_over_limit(struct conn *c)
{
    c->body.refused = true;
    conn_abort_handler(c);
    if (c->resp.started)
        conn_abort(c);
    else
        answer_too_large(&c->req, c->eng->p.max_request_body);
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    int64_t max = c->eng->p.max_request_body;
    c->body.bytes += (int64_t)len;
    if (max > 0 && c->body.bytes > max && !c->body.refused && c->h)
        body_over_limit(c);
    else if (c->h && c->h->body)
        c->h->body(c->harg, at, len);
    if (c->body.drop_until && c->body.bytes > c->body.drop_until) {
        /* A chunked body dropped after the answer turned out too long. */
        conn_close_after_answer(c);
        return HPE_PAUSED;
    }
    return c->dead ? HPE_USER : 0;
}

/* llhttp 8 (outside its strict build) takes a CR and any byte after it as
 * the CRLF that ends a chunk's size line, and any two bytes as the one
 * after its data, where Go refuses the body. Either could frame the bytes
 * after it as a next request. So the parser stops at each, and
 * execute_chunks checks the two bytes before where it stopped. */
static int chunk_crlf_due(struct conn *c)
{
    c->body.crlf_due = true;
    return HPE_PAUSED;
}

static int on_chunk_header(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    if (p->content_length == 0)
        c->body.trailer = true;
    return chunk_crlf_due(c);
}

/* The last chunk's completion comes after its trailer, whose end
 * feed_piece judges on its own. */
static int on_chunk_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    return c->body.trailer ? 0 : chunk_crlf_due(c);
}

/* The body is complete: tell the handler, and answer what is answered.
 * From llhttp's callback (in_parser), an answer already complete moves on
 * once llhttp says where the message ended (feed_piece). */
static int message_done(struct conn *c, bool in_parser)
{
    conn_disarm_timer(c);
    c->body.done = true;
    if (c->state == CONN_LINGER)
        return HPE_PAUSED;
    if (c->state == CONN_BODY)
        c->state = CONN_WAIT;
    if (c->h && c->h->body_end)
        c->h->body_end(c->harg);
    if (c->dead)
        return HPE_USER;
    /* The answer may already be complete (private endpoints, errors). */
    if (c->resp.done && in_parser)
        c->done_at_end = true;
    else if (c->resp.done)
        conn_response_done(c);
    return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
    return message_done(parser_conn(p), true);
}

/* A request we cannot parse: answer and close. */
static void bad_request(struct conn *c)
{
    int status = 400;
    /* Go's texts, and its Content-Type even on the 431. */
    /* A bad name or value in the head was judged by feed_raw (reject_why);
     * in a trailer it ends the body (feed_once). */
    const char *body = c->reject_why ? c->reject_why : "400 Bad Request";
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
               llhttp_get_errno(&c->parser) == HPE_INVALID_TRANSFER_ENCODING ||
               (llhttp_get_errno(&c->parser) == HPE_UNEXPECTED_CONTENT_LENGTH &&
                te_refused_in_head(c))) {
        status = 501;
        body = "Unsupported transfer encoding";
    }
    if (c->state == CONN_BODY || c->state == CONN_WAIT) {
        /* Mid-body framing error: the function must not see more. */
        conn_abort_handler(c);
        if (c->resp.started) {
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
        conn_bare_request(c);
    /* Go's raw error answers repeat their body ("400 Bad Request: why")
     * after the status code in the status line. */
    if (strlen(body) > 4 && atoi(body) == status && body[3] == ' ')
        c->resp.reason = body + 4;
    resp_simple(&c->req, status, body);
}

/* Inside a line only the byte after its LF matters: the index after the
 * next LF (noted as the byte before), or len. */
static size_t skip_to_line_end(struct conn *c, const char *p, size_t i, size_t len)
{
    const char *lf = memchr(p + i, '\n', len - i);
    if (!lf) {
        c->scan_prev = p[len - 1];
        return len;
    }
    c->scan_prev = '\n';
    return (size_t)(lf - p) + 1;
}

/* Go splits a request line at its first two spaces and parses each part
 * strictly, where llhttp takes a run of spaces as one: two in a row, or a
 * third, is a 400. An unknown method was fed to llhttp already (feed_method):
 * the line then starts at the space after it. */
static bool request_line_byte(struct conn *c, char b)
{
    if (b == '\n')
        c->scan_line_done = true;
    else if (b == ' ' && (c->scan_prev == ' ' || ++c->scan_spaces > 2))
        return false;
    c->scan_prev = b;
    return true;
}

/* The rest of the request line from *i, up to its LF or the end of p: its
 * spaces found with memchr rather than byte by byte. */
static bool request_line_rest(struct conn *c, const char *p, size_t *i, size_t len)
{
    const char *lf = memchr(p + *i, '\n', len - *i);
    size_t end = lf ? (size_t)(lf - p) : len;
    for (size_t at = *i; at < end;) {
        const char *sp = memchr(p + at, ' ', end - at);
        if (!sp) {
            c->scan_prev = p[end - 1];
            break;
        }
        size_t s = (size_t)(sp - p);
        char before = s > at ? p[s - 1] : c->scan_prev;
        if (before == ' ' || ++c->scan_spaces > 2)
            return false;
        c->scan_prev = ' ';
        at = s + 1;
    }
    *i = end;
    if (lf) {
        request_line_byte(c, '\n');
        *i = end + 1;
    }
    return true;
}

/* llhttp 8 takes an obs-fold line (a head line starting with SP or HT) as
 * more of the previous value, even after an empty one. Folding is obsolete
 * and a smuggling vector (RFC 9112 5.2 allows refusing it), and it cannot
 * be seen from the callbacks, so the head's raw bytes are scanned up to the
 * blank line that ends it. False when a fold, or a request line Go would
 * not split, is found. */
static bool scan_head(struct conn *c, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && !c->scan_done) {
        if (c->scan_seen && !c->scan_line_done) {
            if (!request_line_rest(c, p, &i, len))
                return false;
            continue;
        }
        char b = p[i++];
        if (c->scan_cr) {
            /* The blank line's CR: llhttp 8 takes any byte after it for
             * its LF and ends the head there, where Go reads a line that
             * is not empty and refuses it. */
            if (b != '\n')
                return false;
            c->scan_done = true;
            break;
        }
        if (c->scan_prev == '\n' && c->scan_seen) {
            if (b == ' ' || b == '\t')
                return false;
            if (b == '\r') {
                c->scan_cr = true;
                continue;
            }
            if (b == '\n')
                c->scan_done = true;
        }
        if (b != '\r' && b != '\n')
            c->scan_seen = true; /* leading empty lines are skipped */
        if (c->scan_seen && !c->scan_line_done) {
            if (!request_line_byte(c, b))
                return false;
            continue;
        }
        c->scan_prev = b;
        if (c->scan_seen && !c->scan_done && b != '\n')
            i = skip_to_line_end(c, p, i, len);
    }
    return true;
}

void conn_scan_reset(struct conn *c)
{
    c->scan_prev = 0;
    c->scan_seen = c->scan_done = c->scan_line_done = c->scan_cr = false;
    c->scan_spaces = 0;
}

static bool can_feed(const struct conn *c)
{
    if (c->dead)
        return false;
    if (c->state == CONN_WAIT || c->state == CONN_LINGER)
        return false;
    if (c->state == CONN_BODY && (c->body.paused || c->body.held))
        return false;
    return true;
}

/* How much of a request line feed_method looks at: a method token of the
 * longest kind, its space, and one byte to tell a longer one. */
#define METHOD_LOOK (TARGET_METHOD_MAX + 2)

/* llhttp 8 refuses every method outside its list, where Go hands any
 * token to the function (QUERY, X-CUSTOM). At the start of a request
 * line, an unknown but valid token is kept aside and llhttp is fed "POST"
 * in its place: for a request, the method changes nothing in how llhttp
 * frames the body. 1: fed or nothing to do; 0: the token is incomplete,
 * wait for more input. */
static int feed_method(struct conn *c, const char *data, size_t have, size_t *skip)
{
    size_t n = have < METHOD_LOOK ? have : METHOD_LOOK;

    *skip = 0;
    c->method[0] = '\0';
    const char *sp = memchr(data, ' ', n);
    size_t len = sp ? (size_t)(sp - data) : n;
    /* Not a token (TLS, garbage) or too long: llhttp refuses it now. */
    if (!target_method_token(data, len < TARGET_METHOD_MAX ? len : TARGET_METHOD_MAX))
        return 1;
    if (!sp)
        return n == METHOD_LOOK ? 1 : 0;
    if (target_method_known(data, len) || !target_method_token(data, len))
        return 1;
    static const char stand_in[] = "POST";
    c->feed_start = stand_in;
    c->feed_end = stand_in + sizeof(stand_in) - 1;
    if (llhttp_execute(&c->parser, stand_in, sizeof(stand_in) - 1) != HPE_OK || c->dead)
        return 1;
    memcpy(c->method, data, len);
    c->method[len] = '\0';
    *skip = len;
    return 1;
}

/* feed_method on the start of the input, which may be split across
 * chains. */
static int feed_method_in(struct conn *c, struct evbuffer *in)
{
    char tok[METHOD_LOOK];
    size_t have = evbuffer_get_length(in);
    size_t n = have < sizeof(tok) ? have : sizeof(tok), skip;
    if (evbuffer_copyout(in, tok, n) != (ev_ssize_t)n) {
        c->method[0] = '\0';
        return 1;
    }
    int rc = feed_method(c, tok, n, &skip);
    evbuffer_drain(in, skip);
    return rc;
}

/* Where llhttp stopped at a header name or value Go reads on past, Go's
 * text for it, else NULL. A line without a colon stops llhttp at its line
 * break: Go refuses that line itself, with a plain 400. */
static const char *llhttp_fault(const struct conn *c, llhttp_errno_t err)
{
    const char *at = llhttp_get_error_pos(&c->parser);
    const char *why = llhttp_get_error_reason(&c->parser);
    if (c->state != CONN_HEAD || !c->scan_line_done || !at)
        return NULL;
    if (err == HPE_USER && c->bare_cr_value)
        return invalid_value;
    if (at >= c->feed_end || !why)
        return NULL;
    if (err == HPE_LF_EXPECTED && strcmp(why, "Missing expected LF after header value") == 0)
        return invalid_value;
    if (err != HPE_INVALID_HEADER_TOKEN)
        return NULL;
    if (strcmp(why, "Invalid header value char") == 0)
        return invalid_value;
    return *at == '\r' || *at == '\n' ? NULL : invalid_name;
}

static void raw_start(struct conn *c, const char *why, llhttp_errno_t err)
{
    if (!c->head_fault)
        c->head_fault = why;
    c->raw.on = c->raw.first = true;
    c->raw.in_value = why == invalid_value;
    c->raw.cr = err == HPE_LF_EXPECTED;
    c->raw.bytes = 0;
    if (!c->raw.in_value)
        msghead_drop_partial_name(&c->head);
}

/* A "name: value" line as Go's textproto takes it: an empty name is
 * skipped, a bad one or a bad value noted, the rest kept in the head. */
static bool raw_field(struct conn *c, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n), *end = line + n;
    if (!colon)
        return false;
    size_t klen = (size_t)(colon - line);
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (klen == 0)
        return true;
    bool name_ok = target_token(line, klen);
    if (!c->head_fault && !name_ok)
        c->head_fault = invalid_name;
    else if (!c->head_fault && !target_field_value(v, (size_t)(end - v)))
        c->head_fault = invalid_value;
    if (!name_ok)
        return true;
    return !msghead_name(&c->head, line, klen) && msghead_name_done(&c->head) &&
           !msghead_value(&c->head, v, (size_t)(end - v)) && !msghead_value_done(&c->head);
}

/* One line of the head's rest, without its line break. True to read on;
 * false once the head is judged (c->reject, or a plain 400). */
static bool raw_line(struct conn *c, const char *line, size_t n)
{
    struct msghead *h = &c->head;
    if (c->raw.first) {
        c->raw.first = false;
        if (!c->raw.in_value)
            return memchr(line, ':', n) != NULL;
        /* The value llhttp stopped in, with the CR it consumed. */
        return !(c->raw.cr && msghead_value(h, "\r", 1)) && !msghead_value(h, line, n) &&
               !msghead_value_done(h);
    }
    if (n == 0) {
        if (!finish_head(c) && !check_head(c))
            reject(c, 400);
        return false;
    }
    /* A folded line, refused as scan_head refuses it. */
    if (line[0] == ' ' || line[0] == '\t')
        return false;
    return raw_field(c, line, n);
}

/* The rest of a head after llhttp stopped at a bad name or value: Go reads
 * it all, and refuses a missing Host, say, before the bad name. */
static int feed_raw(struct conn *c, struct evbuffer *in)
{
    for (;;) {
        size_t n;
        /* libevent's memory: evmem gives it and takes it back */
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
        size_t pending = line ? n + 1 : evbuffer_get_length(in);
        if (c->head.len + c->raw.bytes + pending > c->head.max) {
            evmem_free(line);
            c->head.too_large = true;
            break;
        }
        if (!line)
            return 0;
        c->raw.bytes += pending;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        bool more = raw_line(c, line, n);
        evmem_free(line);
        if (!more)
            break;
    }
    bad_request(c);
    return 0;
}

/* An answer complete when its request's message ended: the next request
 * is buffered if the input holds it, with the bytes after the message in
 * a read into the stack (after), not yet moved there. 1 to go on parsing. */
static int done_at_message_end(struct conn *c, size_t after)
{
    c->done_at_end = false;
    c->unparsed = after;
    conn_response_done(c);
    return !c->dead;
}

/* llhttp_execute over a piece, through its stops at chunk ends
 * (chunk_crlf_due): each goes on when the two bytes before it are a CRLF.
 * One that is not stays stopped (paused) with body.crlf_bad set. */
static llhttp_errno_t execute_chunks(struct conn *c, const char *data, size_t len)
{
    const char *end = data + len;
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    while (err == HPE_PAUSED && c->body.crlf_due && !c->dead) {
        c->body.crlf_due = false;
        const char *stop = llhttp_get_error_pos(&c->parser);
        if (!target_crlf_before(stop, data, c->feed_tail)) {
            c->body.crlf_bad = true;
            break;
        }
        llhttp_resume(&c->parser);
        if (stop == end)
            return HPE_OK;
        err = llhttp_execute(&c->parser, stop, (size_t)(end - stop));
    }
    return err;
}

/* A chunk's size line or data did not end with a CRLF: the body is refused
 * as Go refuses it, as llhttp refuses other framing faults. */
static int chunk_refused(struct conn *c)
{
    c->body.crlf_bad = false;
    if (c->state == CONN_LINGER)
        conn_kill(c);
    else
        bad_request(c);
    return 0;
}

/* Feed data (len bytes, the start of what is unparsed) to the parser;
 * what it took is drained from in, or, without one, counted in *used. 1
 * to go on. */
static int feed_piece(struct conn *c, struct evbuffer *in, const char *data, size_t len,
                      size_t *used)
{
    *used = 0;
    c->feed_end = data + len;
    if ((c->state == CONN_IDLE || c->state == CONN_HEAD) && !scan_head(c, data, len)) {
        c->reject = 400;
        bad_request(c);
        return 0;
    }
    c->feed_start = data;
    llhttp_errno_t err = execute_chunks(c, data, len);
    size_t took = len;
    if (err != HPE_OK)
        took = (size_t)(llhttp_get_error_pos(&c->parser) - data);
    target_note_tail(c->feed_tail, data, took);
    if (c->dead)
        return 0;
    const char *fault = err != HPE_OK && err != HPE_PAUSED ? llhttp_fault(c, err) : NULL;
    *used = took;
    if (in)
        evbuffer_drain(in, took);
    if (err == HPE_OK)
        return 1;
    if (err == HPE_PAUSED) {
        llhttp_resume(&c->parser);
        if (c->body.crlf_bad)
            return chunk_refused(c);
        /* llhttp 8 also ends a trailer at a CR and any byte after it,
         * where Go reads a line it cannot parse: the body ends there for
         * both, and nothing after it can be framed. */
        if (c->body.trailer && c->body.done && c->feed_tail[1] != '\n')
            c->keep_alive = false;
        return c->done_at_end ? done_at_message_end(c, in ? 0 : len - took) : 1;
    }
    if (c->state == CONN_LINGER) {
        conn_kill(c);
        return 0;
    }
    if (fault) {
        raw_start(c, fault, err);
        return 1;
    }
    /* Go reads the body to its last chunk and takes a trailer it cannot
     * parse as the body's end; nothing after it can be framed. */
    if (c->body.trailer && c->state == CONN_BODY) {
        c->keep_alive = false;
        message_done(c, false);
        return 0;
    }
    bad_request(c);
    return 0;
}

static int feed_once(struct conn *c, struct evbuffer *in)
{
    if (c->raw.on)
        return feed_raw(c, in);
    if (c->state == CONN_IDLE && !c->scan_seen && !feed_method_in(c, in))
        return 0;
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, FEED_CHUNK, NULL, &v, 1) < 1)
        return 0;
    size_t used;
    return feed_piece(c, in, v.iov_base, v.iov_len > FEED_CHUNK ? FEED_CHUNK : v.iov_len, &used);
}

/* The answer is out and the client is still sending a body nobody will
 * read. Closing now would reset the connection under the client's feet and
 * it could lose the answer, so wait for LINGER_MS of quiet, but not past the
 * request's read deadline, which bounded the body anyway. */
static void linger_more(struct conn *c)
{
    int64_t rt = c->eng->p.read_timeout_ms;
    int64_t left = rt > 0 ? rt - (int64_t)(req_elapsed(&c->req) * 1000) : LINGER_MS;
    if (left > LINGER_MS)
        left = LINGER_MS;
    conn_arm_timer(c, left > 0 ? left : 0);
}

/* Off only where tests/fuzz/fuzz_plainreq.c holds feed_plain against
 * llhttp over the same bytes. */
bool conn_plain_heads = true;

/* The scan of a plain head (plainreq.h) as scan_head leaves it at the
 * blank line's LF: it need not look at the bytes. */
static void scan_plain(struct conn *c)
{
    c->scan_seen = c->scan_line_done = c->scan_cr = c->scan_done = true;
    c->scan_prev = '\n';
    c->scan_spaces = 2;
}

/* A plain head handed over as llhttp's callbacks hand it over, from
 * on_message_begin to the field values, and the parser's fields set as
 * llhttp sets them by the end of the head. 0, or HPE_USER as a callback's. */
static int plain_head(struct conn *c, const struct plainreq *pr)
{
    llhttp_t *p = &c->parser;
    c->method[0] = '\0'; /* a known method: llhttp's name for it */
    on_message_begin(p);
    c->url_off = (uint32_t)c->head.len;
    c->url_len = (uint32_t)pr->target_len;
    if (msghead_append(&c->head, pr->target, pr->target_len) || msghead_terminate(&c->head))
        return HPE_USER;
    for (size_t i = 0; i < pr->nfields; i++) {
        const struct plainreq_field *f = &pr->fields[i];
        if (msghead_field(&c->head, f->name, f->name_len, f->value, f->value_len))
            return HPE_USER;
    }
    p->method = pr->method;
    p->http_major = 1;
    p->http_minor = pr->minor;
    p->flags = pr->flags;
    p->content_length = 0;
    return 0;
}

/* A plain, bodiless head at the start of data (len bytes), read without
 * llhttp and then followed as feed_piece follows llhttp's stop at the end
 * of such a message: 1 to go on, 0 to stop (*used as feed_piece's); -1,
 * with nothing changed, when the head is not plain. */
static int feed_plain(struct conn *c, const char *data, size_t len, size_t *used)
{
    struct plainreq pr;
    size_t took = conn_plain_heads ? plainreq_split(data, len, &pr) : 0;
    if (took == 0)
        return -1;
    scan_plain(c);
    c->feed_start = data;
    c->feed_end = data + len;
    int err = plain_head(c, &pr);
    if (err == 0)
        err = on_headers_complete(&c->parser);
    /* A bodiless message completes with its head. */
    if (err == 0)
        err = message_done(c, true);
    target_note_tail(c->feed_tail, data, took);
    *used = took;
    if (c->dead)
        return 0;
    if (err != HPE_PAUSED) {
        bad_request(c);
        return 0;
    }
    /* The message is complete, and nothing reads the parser's fields for
     * it any more. llhttp starts the next one afresh, as from its first:
     * left as set here, the flags would carry over into it. */
    llhttp_reset(&c->parser);
    return c->done_at_end ? done_at_message_end(c, len - took) : 1;
}

/* Requests read into memory of the caller's (a head read into the stack):
 * parsed there, as far as the parser can go without the input's own
 * machinery (a head judged line by line, a pause); the rest goes to the
 * input as a read would put it, and is parsed from there. */
void conn_process_read(struct conn *c, const char *data, size_t len)
{
    size_t off = 0;
    conn_enter(c);
    c->parsing = true;
    while (off < len && can_feed(c) && !c->raw.on) {
        size_t used;
        c->unparsed = len - off;
        if (c->state == CONN_IDLE && !c->scan_seen) {
            int plain = feed_plain(c, data + off, len - off, &used);
            if (plain >= 0) {
                off += used;
                if (!plain)
                    break;
                continue;
            }
            int whole = feed_method(c, data + off, len - off, &used);
            off += used;
            if (!whole || c->dead)
                break;
        }
        c->unparsed = len - off;
        int go = feed_piece(c, NULL, data + off, len - off, &used);
        off += used;
        if (!go)
            break;
    }
    c->parsing = false;
    c->unparsed = 0;
    /* The input was empty when the read began (read_flat) and only this
     * adds to it: with all of the read parsed, there is nothing to feed. */
    bool rest = !c->dead && off < len;
    if (rest && evio_bev_add_input(c->bev, data + off, len - off) != 0)
        conn_abort(c);
    if (rest && !c->dead)
        conn_process_input(c);
    else if (!c->dead)
        conn_update_reading_empty(c);
    conn_leave(c);
}

void conn_process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->state == CONN_LINGER) {
        /* Closing: whatever the client still sends is dropped. */
        bool got = evbuffer_get_length(in) > 0;
        evbuffer_drain(in, evbuffer_get_length(in));
        if (got && conn_out_len(c) == 0)
            linger_more(c);
        conn_update_reading(c);
        return;
    }
    if (c->parsing)
        return;
    conn_enter(c);
    c->parsing = true;
    bool empty = false;
    while (can_feed(c) && !(empty = evbuffer_get_length(in) == 0)) {
        if (!feed_once(c, in))
            break;
    }
    c->parsing = false;
    /* Input drained below the limit: read again. */
    if (empty)
        conn_update_reading_empty(c);
    else
        conn_update_reading(c);
    conn_leave(c);
}

int req_set_header(struct request *r, const char *name, const char *value)
{
    struct conn *c = r->conn;
    struct timespec start = c->req.start;
    if (msghead_set(&c->head, name, value) || finish_head(c))
        return -1;
    c->req.start = start;
    return 0;
}

void req_hold(struct request *r)
{
    struct conn *c = r->conn;
    c->body.held = true;
    conn_disarm_timer(c);
}

void req_release(struct request *r)
{
    struct conn *c = r->conn;
    if (!c->body.held)
        return;
    c->body.held = false;
    if (c->body.done || c->state != CONN_BODY)
        return;
    conn_arm_read_timer(c);
    send_continue(c);
    /* Parsed from the loop, once the new handler is attached. */
    bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

const llhttp_settings_t engine_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_version_complete = on_version_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
    .on_message_complete = on_message_complete,
};
