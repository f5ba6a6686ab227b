/* The HTTP/1.1 engine: it accepts connections, parses requests with llhttp,
 * enforces the timeouts and the body limit, frames answers, and hands every
 * complete request head to one handler. It knows nothing of modes, health
 * or metrics: the watchdog's port (front.c) and the metrics port
 * (metrics.c) are two engines with different handlers. */
#ifndef FW_ENGINE_H
#define FW_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"

struct event_base;
struct fd_reserve;
struct sockaddr;
struct engine;

struct engine_params {
    /* The setting that names the port, for the log ("port: cannot listen
     * on :8080: ..."), and the port, on every address. */
    const char *port_setting;
    int port;
    int backlog;
    int64_t read_timeout_ms;   /* a request head and body; idle keep-alive */
    /* A negative read_timeout: no limit on reading a request, but Go's
     * server waits for the next one on a kept-alive connection until
     * IdleTimeout, which defaults to ReadTimeout, and so has already
     * expired. Each answer then closes its connection unless the start of
     * the next request (net/http peeks 4 bytes) has already been read. */
    bool idle_expired;
    int64_t write_timeout_ms;  /* a client that stops reading its answer */
    int max_connections;       /* more are closed as they arrive */
    /* Bodies over this are answered 413 before the handler sees a byte
     * past it (0: no limit). */
    int64_t max_request_body;
    bool log_requests;         /* a log line per answered request */
    bool log_callid;           /* with the X-Call-Id header in it */
    struct fd_reserve *reserve; /* refilled before accepting again; NULL: none */
    /* A request head is complete: answer it with resp_*, req_attach for
     * its body. */
    void (*on_request)(void *arg, struct request *r);
    /* A connection was closed and its memory freed (NULL: not told). */
    void (*on_close)(void *arg);
    void *arg;
};

/* NULL when out of memory. The parameters are copied. */
struct engine *engine_new(struct event_base *base, const struct engine_params *p);
/* Bind the port on all addresses and log "Listening on port: N" (the
 * caller's line, NULL: none). 0 / -1 (logged). */
int engine_listen(struct engine *e, const char *listening_line);
/* Serve a connected socket as if it had been accepted (the engine owns fd
 * afterwards, also on failure). 0 / -1. */
int engine_adopt(struct engine *e, int fd, const struct sockaddr *peer);
/* From now on every answer closes its connection (shutdown). */
void engine_closing(struct engine *e);
/* Close the listener; connections close after their current answer. */
void engine_stop_accepting(struct engine *e);
/* Close connections waiting for their next request. */
void engine_close_idle(struct engine *e);
/* Close every connection now; handlers get their abort. */
void engine_abort_all(struct engine *e);
/* Connections open now. */
int engine_connections(const struct engine *e);
/* Closes every connection (handlers get their abort) and the listener. */
void engine_free(struct engine *e);

#endif
