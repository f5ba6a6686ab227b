/* The one way to answer: resp_header, resp_start, resp_write, resp_end.
 * Framing (Content-Length, chunked, close-delimited), HEAD, Date and
 * Connection are decided here, never by modes. */
#include "server_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Request Entity Too Large";
    case 416: return "Requested Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

static void add_date(struct evbuffer *out)
{
    static struct time_cache tc;
    size_t len;
    const char *d = time_cached(&tc, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", true, &len);
    evbuffer_add(out, d, len);
}

void resp_reset(struct conn *c)
{
    evbuffer_drain(c->resp_head, evbuffer_get_length(c->resp_head));
    c->resp_started = c->resp_done = c->resp_chunked = c->resp_nobody = false;
    c->resp_has_date = c->resp_has_type = c->logged = false;
    c->status = 0;
    c->resp_bytes = 0;
    c->h = NULL;
    c->harg = NULL;
}

static bool server_managed(const char *name)
{
    return strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0 ||
           strcasecmp(name, "Connection") == 0;
}

void resp_header(struct request *r, const char *name, const char *value)
{
    struct conn *c = r->conn;
    if (c->resp_started || server_managed(name))
        return;
    if (strcasecmp(name, "Date") == 0)
        c->resp_has_date = true;
    if (strcasecmp(name, "Content-Type") == 0)
        c->resp_has_type = true;
    evbuffer_add_printf(c->resp_head, "%s: ", name);
    /* A value must never split the head: CR and LF become spaces. */
    for (const char *p = value; *p; p += strcspn(p, "\r\n")) {
        size_t n = strcspn(p, "\r\n");
        evbuffer_add(c->resp_head, p, n);
        p += n;
        if (*p) {
            evbuffer_add(c->resp_head, " ", 1);
            p++;
        }
    }
    evbuffer_add(c->resp_head, "\r\n", 2);
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static void add_framing(struct conn *c, struct evbuffer *out, int status, int64_t len)
{
    if (!status_has_body(status))
        return;
    if (len >= 0)
        evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)len);
    else if (c->req.head)
        return;
    else if (c->req.http_major == 1 && c->req.http_minor >= 1)
        c->resp_chunked = true, evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
    else
        c->keep_alive = false; /* HTTP/1.0: the end of the body is the close */
}

void resp_start(struct request *r, int status, int64_t content_length)
{
    struct conn *c = r->conn;
    if (c->resp_started)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    c->resp_started = true;
    c->status = status;
    c->resp_nobody = r->head || !status_has_body(status);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, reason(status));
    if (!c->resp_has_date)
        add_date(out);
    if (status != 101) {
        add_framing(c, out, status, content_length);
        if (!c->keep_alive || c->srv->shutting_down)
            evbuffer_add(out, "Connection: close\r\n", 19), c->keep_alive = false;
        else if (r->http_minor == 0)
            evbuffer_add(out, "Connection: keep-alive\r\n", 24);
    }
    evbuffer_add_buffer(out, c->resp_head);
    evbuffer_add(out, "\r\n", 2);
    conn_flush_soon(c);
}

static void chunk_head(struct evbuffer *out, size_t len)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%zx\r\n", len);
    evbuffer_add(out, buf, (size_t)n);
}

void resp_write(struct request *r, const void *data, size_t len)
{
    struct conn *c = r->conn;
    if (len == 0 || c->resp_nobody || c->resp_done)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    c->resp_bytes += len;
    if (c->resp_chunked)
        chunk_head(out, len);
    evbuffer_add(out, data, len);
    if (c->resp_chunked)
        evbuffer_add(out, "\r\n", 2);
    conn_flush_soon(c);
}

void resp_write_buf(struct request *r, struct evbuffer *buf)
{
    struct conn *c = r->conn;
    size_t len = evbuffer_get_length(buf);
    if (len == 0)
        return;
    if (c->resp_nobody || c->resp_done) {
        evbuffer_drain(buf, len);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    c->resp_bytes += len;
    if (c->resp_chunked)
        chunk_head(out, len);
    evbuffer_add_buffer(out, buf);
    if (c->resp_chunked)
        evbuffer_add(out, "\r\n", 2);
    conn_flush_soon(c);
}

void resp_write_file(struct request *r, int fd, int64_t offset, int64_t len)
{
    struct conn *c = r->conn;
    if (len <= 0 || c->resp_nobody || c->resp_done) {
        close(fd);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    c->resp_bytes += (uint64_t)len;
    if (c->resp_chunked)
        chunk_head(out, (size_t)len);
    if (evbuffer_add_file(out, fd, offset, len) != 0)
        close(fd);
    if (c->resp_chunked)
        evbuffer_add(out, "\r\n", 2);
    conn_flush_soon(c);
}

/* Log the request line once. */
void resp_finish_log(struct conn *c)
{
    if (c->logged || c->private_req)
        return;
    c->logged = true;
    const char *ua = req_header(&c->req, "User-Agent");
    if (ua && strncmp(ua, "kube-probe", 10) == 0)
        return;
    const char *call_id = NULL;
    if (c->srv->cfg->log_callid) {
        call_id = req_header(&c->req, "X-Call-Id");
        if (!call_id)
            call_id = "";
    }
    struct log_request lr = {c->req.method, c->req.uri, c->status, c->resp_bytes,
                             req_elapsed(&c->req), call_id};
    log_request(&lr);
}

void resp_end(struct request *r)
{
    struct conn *c = r->conn;
    if (c->resp_done)
        return;
    if (!c->resp_started)
        resp_start(r, 200, 0);
    if (c->resp_chunked && !c->resp_nobody)
        evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
    conn_flush_soon(c);
    c->resp_done = true;
    c->h = NULL;
    resp_finish_log(c);
    conn_request_over(c);
    /* Inside on_headers_complete of a bodiless request, message-complete
     * follows at once and moves the connection on. */
    if (c->state == CONN_BODY && !c->req.has_body && !c->body_done)
        return;
    conn_response_done(c);
}

void resp_abort(struct request *r)
{
    struct conn *c = r->conn;
    if (c->resp_done)
        return;
    c->resp_done = true;
    c->h = NULL;
    if (c->status == 0)
        c->status = 500;
    resp_finish_log(c);
    conn_request_over(c);
    /* Send what is queued, then close without the final chunk. */
    c->keep_alive = false;
    c->body_done = false;
    conn_response_done(c);
}

void resp_simple(struct request *r, int status, const char *body)
{
    size_t len = strlen(body);
    if (!r->conn->resp_has_type)
        resp_header(r, "Content-Type", "text/plain; charset=utf-8");
    resp_start(r, status, (int64_t)len);
    resp_write(r, body, len);
    resp_end(r);
}

bool resp_started(const struct request *r)
{
    return r->conn->resp_started;
}

size_t resp_queued(const struct request *r)
{
    return evbuffer_get_length(bufferevent_get_output(r->conn->bev));
}
