/* The request API: what a handler (a mode, the watchdog's own endpoints,
 * the metrics page) reads of a request and the one way to answer it. */
#ifndef FW_REQUEST_H
#define FW_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

struct evbuffer;
struct bufferevent;
struct conn;

/* One header of a message head, pointing into its buffer. */
struct header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The value of the first of n headers named name (len bytes, in Go's
 * canonical case, as the parsers keep names), NULL when there is none. */
const char *header_find_n(const struct header *h, size_t n, const char *name, size_t len);
/* Inline so that a literal name's length is known when compiling. */
static inline const char *header_find(const struct header *h, size_t n, const char *name)
{
    return header_find_n(h, n, name, strlen(name));
}

/* A request whose head has been read. Fields are read-only for modes. */
struct request {
    const char *method;
    const char *uri;            /* request-target as received */
    const char *path;           /* uri before '?' */
    const char *query;          /* after '?', "" when none */
    const char *host;           /* Host header, "" when none */
    const char *remote_addr;    /* client IP as text */
    const struct header *headers;
    size_t nheaders;
    int64_t content_length;     /* -1 when chunked or absent */
    bool chunked;
    bool has_body;              /* Content-Length > 0 or chunked */
    bool head;                  /* HEAD: response bodies are not sent */
    int http_major, http_minor;
    struct timespec start;      /* CLOCK_MONOTONIC when the head was complete */
    struct conn *conn;          /* owner; opaque */
};

/* How the server talks to whoever answers a request (a mode). All optional. */
struct req_handler {
    void (*body)(void *arg, const char *data, size_t len); /* request body bytes */
    void (*body_end)(void *arg);                           /* body complete */
    void (*drain)(void *arg);   /* client output fell below the low watermark */
    /* The client is gone or timed out. Release everything; the request is
     * invalid after this returns and no resp_* call may follow. */
    void (*abort)(void *arg);
};

void req_attach(struct request *r, const struct req_handler *h, void *arg);
/* Backpressure on the request body: stop / restart reading it. */
void req_pause_body(struct request *r);
void req_resume_body(struct request *r);
bool req_body_done(const struct request *r);
/* First header with this name (case-insensitive), NULL when absent. */
static inline const char *req_header(const struct request *r, const char *name)
{
    return header_find(r->headers, r->nheaders, name);
}
/* Told once when the request is over (answered, aborted or detached),
 * with the status answered (499: the client went away first). */
void req_on_done(struct request *r, void (*done)(void *arg, struct request *r, int status),
                 void *arg);
/* Hand the request to its handler under another path (no query): the
 * readiness check of a function. */
void req_set_target(struct request *r, const char *path);
/* Add a header to the request, replacing the client's of that name.
 * 0 / -1 (the head would be too large, or out of memory). */
int req_set_header(struct request *r, const char *name, const char *value);
/* Hold the request, from the handler's on_request: nothing of its body is
 * parsed (nor 100 Continue sent) and no read deadline runs until
 * req_release, from any callback; the client going away still aborts it
 * (the handler attached with req_attach hears of it). A new handler may be
 * attached before the release: the body goes to it. */
void req_hold(struct request *r);
void req_release(struct request *r);
/* Seconds since the head was complete. */
double req_elapsed(const struct request *r);
/* Take the client connection out of HTTP processing (protocol upgrades).
 * Bytes already received after the request head stay in its input buffer.
 * The caller owns and frees the bufferevent; r is invalid afterwards. */
struct bufferevent *req_detach(struct request *r);

/* Responses. Headers accumulate until resp_start. Date, Content-Length or
 * Transfer-Encoding and Connection are added by the server. Names go out
 * as given: callers spell them as Go's server writes them, in canonical
 * case ("Etag", "X-Openfaas-Internal"), for clients that match exactly. */
void resp_header(struct request *r, const char *name, const char *value);
/* The same with the lengths known (the bytes need no NUL after them). */
void resp_header_n(struct request *r, const char *name, size_t name_len, const char *value,
                   size_t value_len);
/* The Content-Type Go's server would sniff from a body written without
 * one (a static string): it follows the server's own fields, not the
 * handler's, in the head. Nothing when a Content-Type is set already. */
void resp_sniffed_type(struct request *r, const char *type);
/* The answer's Content-Length is one of the handler's headers, as where Go
 * copies a function's answer or serves a file: it is sorted with them. */
void resp_length_in_head(struct request *r);
/* The answer closes the connection and says so as one of the handler's
 * headers, to HTTP/1.0 too, as where Go's handler sets Connection: close
 * itself. */
void resp_close_in_head(struct request *r);
/* content_length -1: unknown, sent chunked (HTTP/1.1) or close-delimited.
 * The head is written as Go's server writes it: the handler's headers
 * sorted by name, then Date, Content-Length, a sniffed Content-Type,
 * Connection and Transfer-Encoding. */
void resp_start(struct request *r, int status, int64_t content_length);
void resp_write(struct request *r, const void *data, size_t len);
void resp_write_buf(struct request *r, struct evbuffer *buf); /* moves all of buf */
/* Send a whole file range with sendfile; the fd is closed when sent. */
void resp_write_file(struct request *r, int fd, int64_t offset, int64_t len);
/* The response is complete. The request is invalid afterwards. */
void resp_end(struct request *r);
/* Give up mid-response: close without completing the body, so the client
 * can tell. The request is invalid afterwards. */
void resp_abort(struct request *r);
/* Whole answer in one call: status, no body, no Content-Type. */
void resp_empty(struct request *r, int status);
/* Whole answer in one call: status, body, and the type Go sniffs for it
 * (text/plain) unless one is set. */
void resp_simple(struct request *r, int status, const char *body);
/* Go's http.Error: resp_simple with X-Content-Type-Options: nosniff. */
void resp_go_error(struct request *r, int status, const char *body);
bool resp_started(const struct request *r);
/* The request's log line, where the Go watchdog logs something other than
 * the answer: another status (a function that failed after its output
 * went out with 200; negative: no line at all), another size (-1 is
 * logged as Go logs it, "-1B"), and the status's reason phrase after it
 * (a proxied answer's, as the function sent it). */
void resp_log_status(struct request *r, int status);
/* No request line for this request at all. */
void resp_no_log(struct request *r);
void resp_log_size(struct request *r, int64_t size);
void resp_log_reason(struct request *r, const char *reason);
size_t resp_queued(const struct request *r);  /* bytes waiting for the client */
#define RESP_HIGH_WATERMARK (256 * 1024)

#endif
