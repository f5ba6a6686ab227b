/* The one way to answer: resp_header, resp_start, resp_write, resp_end.
 * Framing (Content-Length, chunked, close-delimited), HEAD, Date and
 * Connection are decided here, never by modes. */
#include "engine_int.h"

#include <stddef.h>
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
    memset(&c->log, 0, offsetof(struct conn, log.reason_text) - offsetof(struct conn, log));
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

/* Whether a CR or LF is among the n bytes at p. Every value of every
 * answer is checked, so a word at a time: a word has a byte equal to c
 * exactly when its XOR with c in every byte has a zero byte. */
static bool has_cr_lf(const char *p, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (p[i] == '\r' || p[i] == '\n')
                return true;
        return false;
    }
    /* Whole words, the last one ending where the value ends (it may look
     * at bytes of the one before again). */
    for (size_t i = 0;; i += 8) {
        uint64_t w;
        memcpy(&w, p + (i + 8 < n ? i : n - 8), 8);
        uint64_t cr = w ^ ones * '\r', lf = w ^ ones * '\n';
        if (((cr - ones) & ~cr & high) | ((lf - ones) & ~lf & high))
            return true;
        if (i + 8 >= n)
            return false;
    }
}

/* Turn every c in the n bytes at p into a space. */
static void blank_out(char *p, size_t n, char c)
{
    for (char *q = p, *end = p + n; (q = memchr(q, c, (size_t)(end - q))) != NULL; q++)
        *q = ' ';
}

/* Go sorts its header map's names as strings. A name's first 8 bytes,
 * big-endian with zeros past its end, order as the name does; only names
 * that share them need a closer look. */
static uint64_t name_key(const char *name, size_t len)
{
    unsigned char b[8] = {0};
    if (len >= 8)
        memcpy(b, name, 8);
    else
        for (size_t i = 0; i < len; i++)
            b[i] = (unsigned char)name[i];
    return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 |
           (uint64_t)b[3] << 32 | (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
           (uint64_t)b[6] << 8 | (uint64_t)b[7];
}

static int line_order(const char *head, const struct head_line *a, const struct head_line *b)
{
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->name_len <= 8 || b->name_len <= 8)
        return (a->name_len > b->name_len) - (a->name_len < b->name_len);
    size_t n = (a->name_len < b->name_len ? a->name_len : b->name_len) - 8;
    int d = memcmp(head + a->off + 8, head + b->off + 8, n);
    return d ? d : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Note the line just added to the head (name at off, line len bytes). */
static void note_line(struct conn *c, size_t off, size_t name_len, size_t len)
{
    size_t i = c->resp.nlines++;
    if (i >= HEAD_LINES_INDEXED)
        return;
    struct head_line *l = &c->lines[i];
    *l = (struct head_line){name_key(c->resp.head + off, name_len), (uint32_t)off, (uint32_t)len,
                            (uint32_t)name_len};
    if (i > 0 && line_order(c->resp.head, l - 1, l) > 0)
        c->resp.unsorted = true;
}

/* Index the lines of a block longer than the index holds (at most n,
 * their number in *got); NULL without memory. Freed by the caller. */
static struct head_line *index_all(const char *head, size_t len, size_t n, size_t *got)
{
    struct head_line *l = malloc(n * sizeof(*l));
    size_t i = 0;
    for (size_t off = 0; l && off < len && i < n; i++) {
        const char *nl = memchr(head + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - head) + 1 : len;
        const char *colon = memchr(head + off, ':', end - off);
        size_t name_len = colon ? (size_t)(colon - head) - off : 0;
        l[i] = (struct head_line){name_key(head + off, name_len), (uint32_t)off,
                                  (uint32_t)(end - off), (uint32_t)name_len};
        off = end;
    }
    *got = i;
    return l;
}

/* Stable: the values of one name keep the order they were set in. */
static void sort_lines(const char *head, struct head_line *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct head_line t = l[i];
        size_t j = i;
        for (; j > 0 && line_order(head, &l[j - 1], &t) > 0; j--)
            l[j] = l[j - 1];
        l[j] = t;
    }
}

/* The handler's header lines as Go's server writes its header map:
 * sorted by name. A long block whose index cannot be had goes out as
 * set: the fields are all there, only their order differs. */
static void add_handler_lines(struct conn *c, struct evio_gather *h)
{
    const char *head = c->resp.head;
    size_t n = c->resp.nlines;
    struct head_line *l = c->lines;
    if (n > HEAD_LINES_INDEXED) {
        l = index_all(head, c->resp.head_len, n, &n);
        c->resp.unsorted = true;
    }
    if (!c->resp.unsorted || !l) {
        evio_gather_add(h, head, c->resp.head_len);
    } else {
        sort_lines(head, l, n);
        for (size_t i = 0; i < n; i++)
            evio_gather_add(h, head + l[i].off, l[i].len);
    }
    if (l != c->lines)
        free(l);
}

void resp_header_n(struct request *r, const char *name, size_t len, const char *value,
                   size_t vlen)
{
    struct conn *c = r->conn;
    if (c->resp.started || server_managed(name, len) || !head_room(c, len + vlen + 4))
        return;
    if (NAME_EQ(name, len, "Date"))
        c->resp.has_date = true;
    if (NAME_EQ(name, len, "Content-Type")) {
        c->resp.has_type = true;
        c->resp.sniffed = NULL; /* the handler's own wins */
    }
    size_t off = c->resp.head_len;
    char *p = c->resp.head + off;
    memcpy(p, name, len);
    p += len;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vlen);
    /* A value must never split the head: CR and LF become spaces. */
    if (has_cr_lf(p, vlen)) {
        blank_out(p, vlen, '\r');
        blank_out(p, vlen, '\n');
    }
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    c->resp.head_len = (size_t)(p - c->resp.head);
    note_line(c, off, len, c->resp.head_len - off);
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

/* How the body is delimited, decided once per answer. */
enum framing { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

static enum framing framing_of(struct conn *c, int status, int64_t len)
{
    if (status == 101 || !status_has_body(status))
        return FRAME_NONE;
    if (len >= 0)
        return FRAME_LENGTH;
    if (c->req.head)
        return FRAME_NONE;
    if (c->req.http_major == 1 && c->req.http_minor >= 1) {
        c->resp.chunked = true;
        return FRAME_CHUNKED;
    }
    c->keep_alive = false; /* HTTP/1.0: the end of the body is the close */
    return FRAME_CLOSE;
}

/* One of the server's own fields; name_colon ends in ": ". */
static void add_server_field(struct evio_gather *h, const char *name_colon, const char *value)
{
    evio_gather_add(h, name_colon, strlen(name_colon));
    evio_gather_add(h, value, strlen(value));
    EVIO_GATHER_LIT(h, "\r\n");
}

static void add_length(struct evio_gather *h, int64_t len)
{
    EVIO_GATHER_LIT(h, "Content-Length: ");
    gather_u64(h, (uint64_t)len);
    EVIO_GATHER_LIT(h, "\r\n");
}

/* An answer whose length is known when its head goes out, with more of
 * the body unread than would be dropped: Go's server says close in that
 * head. A streamed answer's head goes out at its first byte, before Go's
 * would (Go holds the first 2 KiB of output back), so it does not say it. */
static bool whole_answer_leaves_body(const struct conn *c, int64_t content_length)
{
    return content_length >= 0 && conn_closes_for_body(c);
}

/* A field of the server's own as one of the handler's lines, where Go's
 * handler map holds it; false (it goes with the server's fields instead)
 * without memory. The name is canonical, the value has no CR or LF. */
static bool handler_line(struct conn *c, const char *name, size_t nlen, const char *value,
                         size_t vlen)
{
    if (!head_room(c, nlen + vlen + 4))
        return false;
    size_t off = c->resp.head_len;
    char *p = c->resp.head + off;
    memcpy(p, name, nlen);
    memcpy(p + nlen, ": ", 2);
    memcpy(p + nlen + 2, value, vlen);
    memcpy(p + nlen + 2 + vlen, "\r\n", 2);
    c->resp.head_len += nlen + vlen + 4;
    note_line(c, off, nlen, nlen + vlen + 4);
    return true;
}

static bool length_line(struct conn *c, int64_t len)
{
    char num[FMT_U64_LEN];
    return handler_line(c, "Content-Length", 14, num, fmt_u64(num, (uint64_t)len));
}

/* The Connection field the answer gets (NULL: none), as Go decides it. */
static const char *connection_value(struct conn *c, bool http10, int status, int64_t content_length)
{
    if (status == 101)
        return NULL;
    if (!c->keep_alive || c->eng->closing || whole_answer_leaves_body(c, content_length)) {
        c->keep_alive = false;
        return http10 ? NULL : "close"; /* HTTP/1.0 closes by default */
    }
    return http10 ? "keep-alive" : NULL;
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
    enum framing framing = framing_of(c, status, content_length);
    bool length_sorted = framing == FRAME_LENGTH && c->resp.length_in_head &&
                         length_line(c, content_length);
    const char *connection = connection_value(c, http10, status, content_length);
    /* The handler's own close goes out whatever the version, as Go's. */
    if (c->resp.close_in_head && handler_line(c, "Connection", 10, "close", 5))
        connection = NULL;
    /* Go's order: the handler's header map sorted by name, then what its
     * server adds: Date, Content-Length, a sniffed Content-Type,
     * Connection, Transfer-Encoding. */
    add_status_line(&h, http10, status, c->resp.reason);
    if (c->resp.head_len > 0)
        add_handler_lines(c, &h);
    if (!c->resp.has_date)
        add_date(&h);
    if (framing == FRAME_LENGTH && !length_sorted)
        add_length(&h, content_length);
    if (c->resp.sniffed)
        add_server_field(&h, "Content-Type: ", c->resp.sniffed);
    if (connection)
        add_server_field(&h, "Connection: ", connection);
    if (framing == FRAME_CHUNKED)
        EVIO_GATHER_LIT(&h, "Transfer-Encoding: chunked\r\n");
    EVIO_GATHER_LIT(&h, "\r\n");
    evio_gather_flush(&h);
    /* Copied: a connection waiting for its next request holds none. */
    evmem_free(c->resp.head);
    c->resp.head = NULL;
    c->resp.head_len = c->resp.head_cap = 0;
    conn_flush_soon(c);
}

void resp_sniffed_type(struct request *r, const char *type)
{
    struct conn *c = r->conn;
    if (c->resp.started || c->resp.has_type)
        return;
    c->resp.sniffed = type;
    c->resp.has_type = true;
}

void resp_length_in_head(struct request *r)
{
    r->conn->resp.length_in_head = true;
}

void resp_close_in_head(struct request *r)
{
    r->conn->keep_alive = false;
    r->conn->resp.close_in_head = true;
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
    /* A file that fits the block with the head goes out with it, in one
     * write, without waiting for the socket to take the head first. */
    ssize_t got = len <= EVMEM_BLOCK ? conn_out_pread(c, fd, offset, (size_t)len) : -1;
    if (got == len) {
        close(fd);
    } else {
        /* Only the evbuffer can send a file: what waits in flat memory
         * goes first. A short read (the file shrank) leaves the rest to
         * sendfile, which ends the answer as it would have. */
        if (got > 0) {
            offset += got;
            len -= got;
        }
        conn_out_spill(c);
        if (evbuffer_add_file(bufferevent_get_output(c->bev), fd, offset, len) != 0)
            close(fd);
    }
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
    /* A handler's body without a type: Go's server sniffs this one. */
    resp_sniffed_type(r, "text/plain; charset=utf-8");
    resp_start(r, status, (int64_t)len);
    resp_write(r, body, len);
    resp_end(r);
}

void resp_go_error(struct request *r, int status, const char *body)
{
    if (!r->conn->resp.has_type)
        resp_header(r, "Content-Type", "text/plain; charset=utf-8");
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
