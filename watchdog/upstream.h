/* An HTTP/1.1 client for one upstream address: a keep-alive connection
 * pool on libevent bufferevents, responses parsed with llhttp.
 *
 * The caller writes the request itself into upconn_output (head and body,
 * already framed) and hears about the response through upstream_ops. The
 * bytes of a body read with the head reach the caller in that read's
 * memory; the rest of a body delimited by Content-Length or by the close
 * moves from the socket to the caller as buffer chains, without copying;
 * chunked ones go through the parser. */
#ifndef FW_UPSTREAM_H
#define FW_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "request.h"

struct bufferevent;
struct event_base;
struct evbuffer;
struct upstream;
struct upconn;

/* Where the function listens, from upstream_url. */
struct upstream_url {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char authority[300];   /* host:port as written: Host for requests without one */
    char *prefix;          /* path as written (a trailing '/' kept), "" when none */
    size_t prefix_len;
    /* The host was a name (from the hosts file, or localhost), the first
     * name_len bytes of authority; else a numeric address. */
    bool named;
    size_t name_len;
};

/* Parse http://host:port[/prefix] strictly. host is a numeric IPv4
 * address, a bracketed IPv6 address, or a name from hosts_file
 * ("localhost" also without one): a static binary has no resolver.
 * 0, or -1 with a reason in err. */
int upstream_parse_url(const char *url, const char *hosts_file, struct upstream_url *out,
                       char *err, size_t errlen);
void upstream_url_free(struct upstream_url *u);

/* The response head, valid during the head callback only. */
struct upstream_response {
    int status;
    const char *reason;             /* the reason phrase as sent; NULL when no space follows the code */
    const struct header *headers;   /* names and values NUL-terminated */
    size_t nheaders;
    int64_t content_length;         /* -1 when chunked or close-delimited */
    bool upgrade;                   /* 101: call upconn_detach for the tunnel */
};

enum upstream_failure {
    UPSTREAM_CONNECT,     /* could not connect */
    UPSTREAM_NO_RESPONSE, /* closed or reset before a complete response head */
    UPSTREAM_BAD_RESPONSE,/* not HTTP */
    UPSTREAM_TRUNCATED,   /* closed or reset in the middle of the body */
    UPSTREAM_BAD_BODY,    /* a chunked body that cannot be read (why) */
};

struct upstream_fail {
    enum upstream_failure kind;
    int err;              /* errno when known, else 0 */
    bool retryable;       /* a reused connection that closed before sending any byte */
    const char *why;      /* UPSTREAM_BAD_BODY: Go's client's words for the fault */
};

/* How a connection reports to the request it carries. After end or fail
 * the connection is no longer the caller's. */
struct upstream_ops {
    /* resp and its headers are valid only during the call. */
    void (*head)(void *arg, const struct upstream_response *resp);
    void (*body)(void *arg, struct evbuffer *data);   /* takes all of data */
    /* Body bytes that came in the read of the head, in memory valid
     * during the call only: -1 when they could not be kept (out of
     * memory), and the exchange fails as cut short. */
    int (*body_mem)(void *arg, const char *data, size_t len);
    void (*end)(void *arg);
    void (*fail)(void *arg, const struct upstream_fail *f);
    void (*drain)(void *arg);   /* the request bytes queued so far were mostly sent */
};

/* on_ready runs once, when the first connection succeeds. */
struct upstream *upstream_new(struct event_base *base, const struct upstream_url *url,
                              void (*on_ready)(void *arg), void *arg);
/* Close idle connections, and stop probing. Connections carrying requests
 * must have been cancelled or detached by their owners first. */
void upstream_free(struct upstream *u);
/* True once the upstream has accepted a connection; until then, starts a
 * connection attempt whenever none is running. */
bool upstream_probe(struct upstream *u);
/* Connect once to learn whether the upstream still listens: done(arg,
 * listening) runs once, possibly at once. One check at a time; a call
 * while one runs does nothing. */
void upstream_check(struct upstream *u, void (*done)(void *arg, bool listening), void *arg);
/* Drop idle connections, pooled or waiting for the body of a HEAD answer
 * (shutdown). */
void upstream_close_idle(struct upstream *u);

/* A connection for one exchange: a live idle one, else a new one. The
 * request may be written at once, even while connecting. head_request:
 * the response has no body whatever its headers say. retryable: the owner
 * retries the request elsewhere if a reused connection fails before any
 * response byte (upstream_fail.retryable), so a recently used idle
 * connection is handed out without first checking that it is still open.
 * NULL with errno set. */
struct upconn *upstream_begin(struct upstream *u, const struct upstream_ops *ops, void *arg,
                              bool head_request, bool retryable);
/* The request goes into this buffer; upconn_flush sends it. */
struct evbuffer *upconn_output(struct upconn *c);
/* Send what is in the output (call after each batch of writes). */
void upconn_flush(struct upconn *c);
/* g, gathered into upconn_output, when it is all the request there is for
 * now: written to the socket at once when nothing is queued before it,
 * without passing through the output buffer; what the socket does not
 * take is queued for upconn_flush. */
struct evio_gather;
void upconn_send_gathered(struct upconn *c, struct evio_gather *g);
size_t upconn_pending(const struct upconn *c);
/* The whole request is in the output: the connection may be reused once
 * the response is complete. */
void upconn_request_done(struct upconn *c);
/* Stop / restart reading the response (the client is slow). */
void upconn_pause(struct upconn *c, bool paused);
/* The owner gives up: the connection is closed, no callback follows. */
void upconn_cancel(struct upconn *c);
/* After a 101 head: take the socket. Bytes that followed the head are in
 * its input buffer. The caller frees the bufferevent. */
struct bufferevent *upconn_detach(struct upconn *c);

#endif
