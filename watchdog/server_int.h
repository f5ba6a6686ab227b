/* Server internals shared by server.c and response.c. */
#ifndef FW_SERVER_INT_H
#define FW_SERVER_INT_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "mode.h"
#include "msghead.h"
#include "server.h"
#include "server_api.h"
#include "target.h"

struct evconnlistener;
struct event;

/* Where a connection is in its request cycle. */
enum conn_state {
    CONN_IDLE,      /* between requests (keep-alive) */
    CONN_HEAD,      /* reading a request head */
    CONN_BODY,      /* request dispatched, body still arriving */
    CONN_WAIT,      /* body complete, response in progress; parsing paused */
    CONN_LINGER,    /* response sent, closing: reading and discarding input */
};

struct conn {
    struct server *srv;
    struct bufferevent *bev;
    struct conn *prev, *next;
    llhttp_t parser;
    enum conn_state state;
    int busy;                /* callbacks on the stack; free is deferred */
    bool dead;
    bool parsing;            /* inside the llhttp loop */
    bool body_paused;
    bool body_done;
    bool body_refused;       /* over max_request_body: the rest is dropped */
    int64_t body_bytes;      /* request body received so far */
    bool upgrade;            /* parser stopped after an Upgrade head */
    bool counted;            /* counted in the in-flight number */
    bool private_req;        /* /_/health or /_/ready: not counted, not logged */
    bool ready_req;          /* ... except /_/ready's call to ready_path: logged */
    bool keep_alive;
    bool expect_continue;
    int reject;              /* status a parser callback refused the head with */
    const char *reject_why;  /* Go's text for it, NULL: "400 Bad Request" */
    /* A method token llhttp does not know, carried past it (see
     * feed_method); "" when llhttp parsed the method itself. */
    char method[TARGET_METHOD_MAX + 1];
    const char *feed_end;    /* end of the bytes llhttp is parsing now */
    char scan_prev;          /* scan_head: last head byte seen */
    bool scan_seen, scan_done; /* scan_head: request line begun / head ended */
    struct event *timer;     /* read deadline, then linger limit */
    struct event *flush_ev;  /* direct write at the end of this loop iteration */
    struct event *read_ev;   /* readable socket (on_readable), added while reading */
    bool reading;            /* read_ev is added */
    bool read_closed;        /* EOF or error seen: nothing more to read */
    char remote[64];

    /* the request head, grown as llhttp hands us spans */
    struct msghead head;     /* the request head, grown as llhttp hands it over */
    uint32_t url_off, url_len;
    struct request req;

    const struct req_handler *h;
    void *harg;

    /* the response */
    struct evbuffer *resp_head;
    bool resp_started, resp_done, resp_chunked, resp_nobody, resp_has_date, resp_has_type;
    bool logged;
    int status;
    uint64_t resp_bytes;
    /* What the log line says where Go logs something else than the answer
     * (0 / false: the answer's status and size). */
    int log_status;
    bool log_reason;
    char log_reason_text[64];
    bool log_size_set;
    int64_t log_size;
};

struct server {
    const struct config *cfg;
    struct event_base *base;
    const struct mode *mode;
    void *mode_state;
    struct server_hooks hooks;
    struct evconnlistener *listener;
    struct conn *conns;
    int nconns;
    int inflight;
    bool ready;              /* lock written, serving */
    bool shutting_down;
    bool stopping;           /* listener closed, waiting for in-flight */
    int exit_code;
    struct timespec last_request;
    struct timespec drain_start;
    struct event *ready_timer, *drain_timer, *stop_timer;
    struct event *accept_timer; /* re-enables accepting after EMFILE */
    bool accept_paused;
    struct fd_reserve *reserve;  /* full before the listener accepts */
    char *const *environ;
    struct auth *auth;           /* jwt_auth; NULL when off */
};

/* response.c */
void resp_reset(struct conn *c);
void resp_finish_log(struct conn *c);
/* server.c */
void conn_response_done(struct conn *c);
void conn_abort(struct conn *c);
void conn_request_over(struct conn *c);
/* Output was queued: write it before the loop next waits. */
void conn_flush_soon(struct conn *c);

#endif
