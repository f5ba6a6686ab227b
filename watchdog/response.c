/* The one way to answer: resp_header, resp_start, resp_write, resp_end.
 * Framing (Content-Length, chunked, close-delimited), HEAD, Date and
 * Connection are decided here, never by modes. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "evio.h"
#include "evmem.h"
#include "fmt.h"
#include "log.h"

/* Go's http.StatusText, which its server writes for every status. */
static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
    }
}

void resp_reset(struct conn *c)
{
    evmem_free(c->resp.head);
    memset(&c->resp, 0, sizeof(c->resp));
    memset(&c->log, 0, sizeof(c->log));
    c->h = NULL;
    c->harg = NULL;
    c->done = NULL;
    c->done_arg = NULL;
}

/* Callers give names in Go's canonical case (request.h). */
#define NAME_EQ(name, len, lit) ((len) == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)

static bool server_managed(const char *name, size_t len)
{
    return NAME_EQ(name, len, "Content-Length") || NAME_EQ(name, len, "Transfer-Encoding") ||
           NAME_EQ(name, len, "Connection");
}

/* Room for n more bytes of header lines; false when memory ran out. */
static bool head_room(struct conn *c, size_t n)
{
    size_t need = c->resp.head_len + n;
    if (need <= c->resp.head_cap)
        return true;
    /* A block of the pool first: no malloc and free per answer. */
    size_t cap = c->resp.head_cap ? c->resp.head_cap : EVMEM_BLOCK;
    while (cap < need)
        cap *= 2;
    char *p = c->resp.head ? evmem_realloc(c->resp.head, cap) : evmem_malloc(cap);
    if (!p)
        return false;
    c->resp.head = p;
    c->resp.head_cap = cap;
    return true;
}

/* Turn every c in the n bytes at p into a space. */
static void blank_out(char *p, size_t n, char c)
{
    for (char *q = p, *end = p + n; (q = memchr(q, c, (size_t)(end - q))) != NULL; q++)
        *q = ' ';
}

void resp_header_n(struct request *r, const char *name, size_t len, const char *value,
                   size_t vlen)
{
    struct conn *c = r->conn;
    if (c->resp.started || server_managed(name, len) || !head_room(c, len + vlen + 4))
        return;
    if (NAME_EQ(name, len, "Date"))
        c->resp.has_date = true;
    if (NAME_EQ(name, len, "Content-Type"))
        c->resp.has_type = true;
    char *p = c->resp.head + c->resp.head_len;
    memcpy(p, name, len);
    p += len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vlen);
    /* A value must never split the head: CR and LF become spaces. */
    blank_out(p, vlen, '\r');
    blank_out(p, vlen, '\n');
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    c->resp.head_len = (size_t)(p - c->resp.head);
}

void resp_header(struct request *r, const char *name, const char *value)
{
    resp_header_n(r, name, strlen(name), value, strlen(value));
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static void gather_u64(struct evio_gather *g, uint64_t v)
{
    char num[FMT_U64_LEN];
    evio_gather_add(g, num, fmt_u64(num, v));
}

static void add_date(struct evio_gather *h)
{
    static struct time_cache tc;
    size_t len;
    const char *d = time_cached(&tc, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", true, &len);
    evio_gather_add(h, d, len);
}

static void add_framing(struct conn *c, struct evio_gather *h, int status, int64_t len)
{
    if (!status_has_body(status))
        return;
    if (len >= 0) {
        EVIO_GATHER_LIT(h, "Content-Length: ");
        gather_u64(h, (uint64_t)len);
        EVIO_GATHER_LIT(h, "\r\n");
    } else if (c->req.head) {
        return;
    } else if (c->req.http_major == 1 && c->req.http_minor >= 1) {
        c->resp.chunked = true;
        EVIO_GATHER_LIT(h, "Transfer-Encoding: chunked\r\n");
    } else {
        c->keep_alive = false; /* HTTP/1.0: the end of the body is the close */
    }
}

/* An answer whose length is known when its head goes out, with more of
 * the body unread than would be dropped: Go's server says close in that
 * head. A streamed answer's head goes out at its first byte, before Go's
 * would (Go holds the first 2 KiB of output back), so it does not say it. */
static bool whole_answer_leaves_body(const struct conn *c, int64_t content_length)
{
    return content_length >= 0 && conn_closes_for_body(c);
}

/* The reason is Go's text for the status unless the answer set its own. */
static void add_status_line(struct evio_gather *h, bool http10, int status, const char *own)
{
    if (!http10 && status == 200 && !own) {
        EVIO_GATHER_LIT(h, "HTTP/1.1 200 OK\r\n"); /* most answers: one copy */
        return;
    }
    const char *why = own ? own : reason(status);
    if (http10)
        EVIO_GATHER_LIT(h, "HTTP/1.0 ");
    else
        EVIO_GATHER_LIT(h, "HTTP/1.1 ");
    gather_u64(h, (uint64_t)(status < 0 ? 0 : status));
    EVIO_GATHER_LIT(h, " ");
    if (*why) {
        evio_gather_add(h, why, strlen(why));
    } else {
        /* Go's server names a status it has no text for so. */
        EVIO_GATHER_LIT(h, "status code ");
        gather_u64(h, (uint64_t)(status < 0 ? 0 : status));
    }
    EVIO_GATHER_LIT(h, "\r\n");
}

void resp_start(struct request *r, int status, int64_t content_length)
{
    struct conn *c = r->conn;
    struct evio_gather h;
    if (c->resp.started)
        return;
    /* The head reaches the connection's output in one addition when it
     * fits the gather's buffer, as nearly all do. */
    evio_gather_init_sink(&h, conn_out_sink, c);
    c->resp.started = true;
    c->resp.status = status;
    c->resp.nobody = r->head || !status_has_body(status);
    /* A 1.0 request is answered as 1.0, as Go's server does. */
    bool http10 = r->http_major == 1 && r->http_minor == 0;
    add_status_line(&h, http10, status, c->resp.reason);
    if (!c->resp.has_date)
        add_date(&h);
    if (status != 101) {
        add_framing(c, &h, status, content_length);
        if (!c->keep_alive || c->eng->closing || whole_answer_leaves_body(c, content_length)) {
            /* HTTP/1.0 closes by default: no header needed. */
            if (!http10)
                EVIO_GATHER_LIT(&h, "Connection: close\r\n");
            c->keep_alive = false;
        } else if (http10) {
            EVIO_GATHER_LIT(&h, "Connection: keep-alive\r\n");
        }
    }
    if (c->resp.head_len > 0)
        evio_gather_add(&h, c->resp.head, c->resp.head_len);
    EVIO_GATHER_LIT(&h, "\r\n");
    evio_gather_flush(&h);
    /* Copied: a connection waiting for its next request holds none. */
    evmem_free(c->resp.head);
    c->resp.head = NULL;
    c->resp.head_len = c->resp.head_cap = 0;
    conn_flush_soon(c);
}

static void chunk_head(struct conn *c, size_t len)
{
    char buf[FMT_CHUNK_LEN];
    conn_out_add(c, buf, fmt_chunk_size(buf, len));
}

void resp_write(struct request *r, const void *data, size_t len)
{
    struct conn *c = r->conn;
    if (len == 0 || c->resp.done)
        return;
    /* A HEAD answer's body is not sent, but Go's log line counts it. */
    c->resp.bytes += len;
    if (c->resp.nobody)
        return;
    if (c->resp.chunked)
        chunk_head(c, len);
    conn_out_add(c, data, len);
    if (c->resp.chunked)
        conn_out_add(c, "\r\n", 2);
    conn_flush_soon(c);
}

void resp_write_buf(struct request *r, struct evbuffer *buf)
{
    struct conn *c = r->conn;
    size_t len = evbuffer_get_length(buf);
    if (len == 0)
        return;
    if (!c->resp.done)
        c->resp.bytes += len;
    if (c->resp.nobody || c->resp.done) {
        evbuffer_drain(buf, len);
        return;
    }
    if (c->resp.chunked)
        chunk_head(c, len);
    conn_out_add_buf(c, buf);
    if (c->resp.chunked)
        conn_out_add(c, "\r\n", 2);
    conn_flush_soon(c);
}

void resp_write_file(struct request *r, int fd, int64_t offset, int64_t len)
{
    struct conn *c = r->conn;
    if (len <= 0 || c->resp.nobody || c->resp.done) {
        close(fd);
        return;
    }
    c->resp.bytes += (uint64_t)len;
    if (c->resp.chunked)
        chunk_head(c, (size_t)len);
    /* Only the evbuffer can send a file: what waits in flat memory goes
     * first. */
    conn_out_spill(c);
    if (evbuffer_add_file(bufferevent_get_output(c->bev), fd, offset, len) != 0)
        close(fd);
    if (c->resp.chunked)
        conn_out_add(c, "\r\n", 2);
    conn_flush_soon(c);
}

/* Log the request line once. */
void resp_finish_log(struct conn *c)
{
    if (c->log.done || c->log.off || c->log.status < 0 || !c->eng->p.log_requests)
        return;
    c->log.done = true;
    const char *call_id = NULL;
    if (c->eng->p.log_callid) {
        call_id = req_header(&c->req, "X-Call-Id");
        if (!call_id)
            call_id = "";
    }
    int status = c->log.status ? c->log.status : c->resp.status;
    struct log_request lr = {c->req.method, c->req.uri, status,
                             c->log.has_reason ? c->log.reason_text : NULL,
                             c->log.has_size ? c->log.size : (int64_t)c->resp.bytes,
                             req_elapsed(&c->req), call_id};
    log_request(&lr);
}

void resp_end(struct request *r)
{
    struct conn *c = r->conn;
    if (c->resp.done)
        return;
    if (!c->resp.started)
        resp_start(r, 200, 0);
    if (c->resp.chunked && !c->resp.nobody)
        conn_out_add(c, "0\r\n\r\n", 5);
    conn_flush_soon(c);
    c->resp.done = true;
    c->h = NULL;
    resp_finish_log(c);
    conn_request_over(c);
    /* Inside on_headers_complete of a bodiless request, message-complete
     * follows at once and moves the connection on. */
    if (c->state == CONN_BODY && !c->req.has_body && !c->body.done)
        return;
    conn_response_done(c);
}

void resp_abort(struct request *r)
{
    struct conn *c = r->conn;
    if (c->resp.done)
        return;
    c->resp.done = true;
    c->h = NULL;
    if (c->resp.status == 0)
        c->resp.status = 500;
    resp_finish_log(c);
    conn_request_over(c);
    /* Send what is queued, then close without the final chunk. */
    c->keep_alive = false;
    c->body.done = false;
    conn_response_done(c);
}

void resp_simple(struct request *r, int status, const char *body)
{
    size_t len = strlen(body);
    if (!r->conn->resp.has_type)
        resp_header(r, "Content-Type", "text/plain; charset=utf-8");
    resp_start(r, status, (int64_t)len);
    resp_write(r, body, len);
    resp_end(r);
}

void resp_go_error(struct request *r, int status, const char *body)
{
    resp_header(r, "X-Content-Type-Options", "nosniff");
    resp_simple(r, status, body);
}

/* Go's empty answers: no body, no Content-Type, and Content-Length: 0
 * except to HEAD, where a handler that wrote nothing gets no length. */
void resp_empty(struct request *r, int status)
{
    resp_start(r, status, r->head ? -1 : 0);
    resp_end(r);
}

void resp_no_log(struct request *r)
{
    r->conn->log.off = true;
}

void resp_log_status(struct request *r, int status)
{
    r->conn->log.status = status;
}

void resp_log_size(struct request *r, int64_t size)
{
    r->conn->log.has_size = true;
    r->conn->log.size = size;
}

void resp_log_reason(struct request *r, const char *why)
{
    struct conn *c = r->conn;
    size_t n = strnlen(why, sizeof(c->log.reason_text) - 1);
    memcpy(c->log.reason_text, why, n);
    c->log.reason_text[n] = '\0';
    c->log.has_reason = true;
}

bool resp_started(const struct request *r)
{
    return r->conn->resp.started;
}

size_t resp_queued(const struct request *r)
{
    return conn_out_len(r->conn);
}
