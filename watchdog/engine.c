/* The engine's connections: accepting, reading and writing, timers, and
 * the end of each request. Parsing is in engine_parse.c, answering in
 * response.c.
 *
 * One request at a time per connection: the parser pauses at the end of
 * each message so pipelined requests wait for the previous answer. A
 * connection is only freed from the outermost callback (busy count), so a
 * callback that fires after an error never touches freed memory. */
#include "engine_int.h"

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

#include "clock.h"
#include "evio.h"
#include "evmem.h"
#include "fdreserve.h"
#include "log.h"

#define INPUT_HIGH (2 * 1024 * 1024)
/* One read while a head is expected: most heads fit, and an idle or slow
 * client holds no more than this (a chain of 4 KiB, header included). */
#define HEAD_READ (4096 - 128)
/* libevent moves at most 16 KiB per read or write call by default: a large
 * body then costs a wakeup of every process on the path per 16 KiB. */
#define SOCKET_IO_MAX (256 * 1024 - 256)   /* see READ_CHUNK in job.c */
#define ACCEPT_PAUSE_MS 100
#define MAX_HEAD (1024 * 1024)

static void conn_free(struct conn *c);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* ---- connection lifetime ---- */

void conn_enter(struct conn *c)
{
    c->busy++;
}

/* Leave a callback; free the connection if it died meanwhile. */
void conn_leave(struct conn *c)
{
    if (--c->busy == 0 && c->dead)
        conn_free(c);
}

void conn_kill(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    conn_update_reading(c);
    /* req_detach hands the bufferevent away before killing the rest. */
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->busy == 0)
        conn_free(c);
}

static void unlink_conn(struct conn *c)
{
    LIST_REMOVE(c, link);
    c->eng->nconns--;
}

static void conn_free(struct conn *c)
{
    unlink_conn(c);
    /* Before the bufferevent closes the descriptor it watches. */
    if (c->read_ev)
        event_free(c->read_ev);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->deadline.ev)
        event_free(c->deadline.ev);
    if (c->flush_due)
        TAILQ_REMOVE(&c->eng->flushq, c, flush_link);
    evmem_free(c->resp.head);
    conn_out_free(c);
    msghead_free(&c->head);
    struct engine *e = c->eng;
    free(c);
    if (e->p.on_close)
        e->p.on_close(e->p.arg);
}

/* The request stops being in flight (answered, aborted or detached). */
void conn_request_over(struct conn *c)
{
    void (*done)(void *, struct request *, int) = c->done;
    if (!c->in_flight)
        return;
    c->in_flight = false;
    c->done = NULL;
    if (done)
        done(c->done_arg, &c->req, c->resp.status);
}

/* Tell whoever answers the request that it is over, then drop the link. */
void conn_abort_handler(struct conn *c)
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
        conn_abort_handler(c);
        if (!c->resp.done && c->resp.status == 0)
            c->resp.status = 499;
        if (!c->resp.done)
            resp_finish_log(c);
        conn_request_over(c);
    }
    conn_kill(c);
}

void conn_arm_timer(struct conn *c, int64_t ms)
{
    deadline_set(&c->deadline, ms);
}

void conn_disarm_timer(struct conn *c)
{
    deadline_clear(&c->deadline);
}

/* read_timeout=0 is no read deadline at all, as a Go http.Server's
 * ReadTimeout (and, without an IdleTimeout, its keep-alive wait). */
void conn_arm_read_timer(struct conn *c)
{
    if (c->eng->p.read_timeout_ms > 0)
        conn_arm_timer(c, c->eng->p.read_timeout_ms);
    else
        conn_disarm_timer(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    if (!deadline_due(&c->deadline))
        return;
    conn_enter(c);
    if (c->state == CONN_HEAD && c->head.len > 0 && !c->resp.started) {
        /* A slow client mid-head: say why before closing. */
        c->keep_alive = false;
        conn_bare_request(c);
        resp_simple(&c->req, 408, "Request Timeout\n");
    } else if (c->state == CONN_BODY && !c->resp.started) {
        conn_abort_handler(c);
        c->keep_alive = false;
        resp_simple(&c->req, 408, "Request Timeout\n");
    } else {
        conn_abort(c);
    }
    conn_leave(c);
}

/* The socket is read here, not by the bufferevent (see evio.h). The bytes
 * go to the bufferevent's input as before; its own read event is never
 * enabled. Reading stops while a
 * body is paused and while the input holds INPUT_HIGH, as the bufferevent's
 * high watermark did. */
static bool want_read(const struct conn *c, bool input_empty)
{
    if (c->dead || !c->bev || c->read_closed)
        return false;
    /* Once the answer is out, what the client still sends is read and
     * dropped (process_input), even a body paused for its handler. */
    if (c->state == CONN_LINGER)
        return true;
    if (c->body.paused)
        return false;
    return input_empty || evbuffer_get_length(bufferevent_get_input(c->bev)) < INPUT_HIGH;
}

static void set_reading(struct conn *c, bool want)
{
    if (want == c->reading)
        return;
    c->reading = want;
    if (want)
        event_add(c->read_ev, NULL);
    else
        event_del(c->read_ev);
}

void conn_update_reading(struct conn *c)
{
    set_reading(c, want_read(c, false));
}

void conn_update_reading_empty(struct conn *c)
{
    set_reading(c, want_read(c, true));
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
    return evio_bev_read(c->bev, event_get_fd(c->read_ev), want);
}

/* The read end is done: what came before is parsed, then the close is
 * handled, as the bufferevent did (a client may send its last request and
 * close its side at once). */
static void read_closed(struct conn *c, ssize_t n)
{
    c->read_closed = true;
    conn_update_reading(c);
    if (!c->dead)
        on_event(c->bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR), c);
}

/* Waiting for a request with nothing buffered (a keep-alive connection
 * between requests): the head is read into the stack and parsed there. */
static bool read_flat(struct conn *c, int fd)
{
    if (c->state != CONN_IDLE || c->raw.on ||
        evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        return false;
    char buf[HEAD_READ];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0)
        conn_process_read(c, buf, (size_t)n);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        read_closed(c, n);
    return true;
}

/* A body (or what is dropped of it) is taken in large reads, up to two
 * per event; a head in one small one. */
static void read_buffered(struct conn *c)
{
    bool body = c->state == CONN_BODY || c->state == CONN_LINGER;
    size_t max = body ? SOCKET_IO_MAX : HEAD_READ;
    ssize_t n = read_more(c, max);
    if (body && n == (ssize_t)max)
        n = read_more(c, max);
    bool closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    conn_process_input(c);
    if (closed)
        read_closed(c, n);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    clock_hold();
    conn_enter(c);
    if (!read_flat(c, fd))
        read_buffered(c);
    conn_leave(c);
    clock_release();
}

/* A deferred trigger (pipelined request, resumed body): parse what is
 * already in the input. */
static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process_input(arg);
}

/* All queued output is written: move on (linger close, or let the mode
 * send more). */
static void output_drained(struct conn *c)
{
    if (c->state == CONN_LINGER) {
        /* Everything sent: stop sending, keep reading what the client still
         * sends so it sees our answer instead of a reset. */
        shutdown(event_get_fd(c->read_ev), SHUT_WR);
        conn_arm_timer(c, LINGER_MS);
    } else if (c->h && c->h->drain) {
        c->h->drain(c->harg);
    }
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    conn_enter(c);
    /* Back to writing directly from on_flush until the socket is full again. */
    evio_bev_set_writing(bev, &c->bev_writing, false);
    /* Output queued while the evbuffer was writing, after its last byte
     * went out, waits in flat memory. */
    if (c->out.len > 0)
        conn_flush_soon(c);
    else
        output_drained(c);
    conn_leave(c);
}

/* The bufferevent's output, written as far as the socket takes it: as
 * conn_out_write_flat's result. */
static int write_buffered(struct conn *c, int fd)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) == 0)
        return 0;
    if (evio_bev_write(c->bev, fd) < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    return evbuffer_get_length(out) > 0;
}

/* Output is written straight to the socket at the end of the loop
 * iteration that queued it: one write for a whole answer, and no EPOLLOUT
 * registration unless the socket is full. */
static void flush_one(struct conn *c)
{
    if (c->dead || !c->bev || c->bev_writing)
        return;
    conn_enter(c);
    int fd = event_get_fd(c->read_ev);
    /* Flat bytes come first, so with them the evbuffer is empty. */
    int left = c->out.len > 0 ? conn_out_write_flat(c, fd) : write_buffered(c, fd);
    if (left < 0)
        conn_abort(c);
    else if (left > 0) /* the loop takes over, with write_timeout */
        evio_bev_set_writing(c->bev, &c->bev_writing, true);
    else
        output_drained(c);
    conn_leave(c);
}

/* A connection written here may queue itself again (its handler sends
 * more once the output drained) until its socket is full. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct engine *e = arg;
    struct conn *c;
    (void)fd;
    (void)what;
    while ((c = TAILQ_FIRST(&e->flushq)) != NULL) {
        TAILQ_REMOVE(&e->flushq, c, flush_link);
        c->flush_due = false;
        flush_one(c);
    }
}

void conn_flush_soon(struct conn *c)
{
    if (!c->flush_due && !c->dead && c->bev && !c->bev_writing) {
        struct engine *e = c->eng;
        if (TAILQ_EMPTY(&e->flushq))
            event_active(e->flush_ev, EV_WRITE, 1);
        c->flush_due = true;
        TAILQ_INSERT_TAIL(&e->flushq, c, flush_link);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    /* libevent turns EV_WRITE off itself before it reports a write error
     * or timeout. */
    c->bev_writing = evio_bev_writing(bev);
    conn_enter(c);
    if ((what & BEV_EVENT_EOF) && c->state == CONN_IDLE && conn_out_len(c) > 0) {
        /* Half-closed after its last request: finish writing the answer. */
        c->state = CONN_LINGER;
    } else {
        conn_abort(c);
    }
    conn_leave(c);
}

/* Go's server reads and drops what is left of a body that its handler did
 * not read, up to 256 KiB, so that the connection serves the next request
 * (a 429 to a POST, an answer that did not need the body); with more left,
 * or a body the client waits to be asked for (100-continue never sent), it
 * closes. A chunked body's size is known only by reading it: it is dropped
 * up to the same limit, and the connection closes past it. */
#define DISCARD_MAX (256 * 1024)

static bool can_discard(const struct conn *c)
{
    if (c->state != CONN_BODY || c->body.refused || c->expect_continue)
        return false;
    if (c->req.chunked)
        return true;
    return c->req.content_length >= 0 && c->req.content_length - c->body.bytes < DISCARD_MAX;
}

/* An answer that starts with more of the body unread than
 * conn_response_done would drop ends with a close. */
bool conn_closes_for_body(const struct conn *c)
{
    return c->state == CONN_BODY && c->req.has_body && !c->body.done && !can_discard(c);
}

/* Reading and parsing go on, with the read deadline running again, and the
 * input already buffered is parsed: by the parsing loop when it is on the
 * stack, else now, or from a deferred read event inside other callbacks.
 * A handler may have paused a body whose last bytes were parsed in the same
 * pass (llhttp finishes the piece it was given): the pause was that
 * request's. */
static void parse_on(struct conn *c)
{
    c->body.paused = c->body.held = false;
    conn_arm_read_timer(c);
    if (!c->parsing && !c->busy) {
        conn_process_input(c); /* which ends by setting reading */
        return;
    }
    conn_update_reading(c);
    if (!c->parsing)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* What the client still sends is dropped; the connection closes once the
 * answer is out. */
void conn_close_after_answer(struct conn *c)
{
    c->state = CONN_LINGER;
    c->keep_alive = false;
    conn_update_reading(c);
    /* output_drained runs once the output is flushed */
    if (conn_out_len(c) == 0)
        output_drained(c);
    else
        conn_flush_soon(c);
}

/* Go's bufio.Reader.Peek(4) before waiting for the next request. */
#define NEXT_REQUEST_PEEK 4

/* The answer is complete: next request, or close. */
void conn_response_done(struct conn *c)
{
    bool reusable = c->keep_alive && !c->eng->closing;
    if (c->eng->p.idle_expired &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) + c->unparsed < NEXT_REQUEST_PEEK)
        reusable = false;
    if (reusable && !c->body.done && can_discard(c)) {
        /* No handler is left: the rest of the body is parsed and dropped,
         * and message-complete comes back here. */
        c->body.drop_until = c->body.bytes + DISCARD_MAX;
        parse_on(c);
        return;
    }
    if (!reusable || !c->body.done) {
        conn_close_after_answer(c);
        return;
    }
    c->state = CONN_IDLE;
    conn_scan_reset(c);
    /* pipelined requests */
    parse_on(c);
}

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

static struct conn *conn_new(struct engine *e, evutil_socket_t fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    msghead_init(&c->head, MAX_HEAD);
    c->eng = e;
    c->bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->deadline.ev = evtimer_new(e->base, on_timer, c);
    c->read_ev = event_new(e->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    LIST_INSERT_HEAD(&e->conns, c, link);
    e->nconns++;
    if (!c->bev || !c->deadline.ev || !c->read_ev) {
        if (!c->bev)
            close(fd);
        conn_free(c);
        return NULL;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &engine_parser_settings);
    /* Go takes any one-digit minor version of HTTP/1 ("HTTP/1.2") as 1.1
     * would be; llhttp 8 knows 1.0 and 1.1 only, unless told. Other majors
     * are refused in on_version_complete. (llhttp 8.1 has the flag but no
     * setter for it.) */
    c->parser.lenient_flags |= LENIENT_VERSION;
    c->parser.data = c;
    return c;
}

/* Out of descriptors. The pending connection stays queued and the
 * listener stays readable, so accepting again at once would spin. Pause on
 * a timer the engine owns (freed with it, never firing on a freed
 * listener), and log once per episode, not once per retry. */
static void pause_accepting(struct engine *e, int err)
{
    if (!e->accept_paused)
        log_error("accept: %s: pausing new connections until descriptors free up", strerror(err));
    e->accept_paused = true;
    evconnlistener_disable(e->listener);
    clock_arm(e->accept_timer, ACCEPT_PAUSE_MS);
}

/* The pause is over: accept again once the reserve is whole, so that the
 * next connection can start its function. */
static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct engine *e = arg;
    (void)fd;
    (void)what;
    if (!e->listener)
        return;
    if (e->p.reserve && !fd_reserve_fill(e->p.reserve)) {
        clock_arm(e->accept_timer, ACCEPT_PAUSE_MS);
        return;
    }
    evconnlistener_enable(e->listener);
}

int engine_adopt(struct engine *e, int fd, const struct sockaddr *peer)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = conn_new(e, fd);
    if (!c)
        return -1;
    set_remote(c, peer);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_max_single_write(c->bev, SOCKET_IO_MAX);
    struct timeval wt = clock_tv(e->p.write_timeout_ms);
    bufferevent_set_timeouts(c->bev, NULL, e->p.write_timeout_ms > 0 ? &wt : NULL);
    /* Writes go through on_flush; the bufferevent only takes over (and
     * its write timeout only runs) while the socket is full. */
    evio_bev_set_writing(c->bev, &c->bev_writing, false);
    conn_update_reading(c);
    conn_arm_read_timer(c);
    return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct engine *e = arg;
    (void)l;
    (void)salen;
    if (e->nconns >= e->p.max_connections) {
        /* Over the cap: a polite close beats an unbounded queue. */
        close(fd);
        return;
    }
    if (e->accept_paused) {
        log_info("accept: descriptors available again");
        e->accept_paused = false;
    }
    /* This connection took a descriptor the reserve wanted back: accept
     * no more until it has them. */
    if (e->p.reserve && !fd_reserve_fill(e->p.reserve))
        pause_accepting(e, EMFILE);
    engine_adopt(e, fd, sa);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct engine *e = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    /* Anything else (a connection reset while queued) concerns one
     * connection only; libevent goes on accepting the others. */
    if (!fd_exhausted(err) && err != ENOBUFS && err != ENOMEM) {
        log_warn("accept: %s", strerror(err));
        return;
    }
    pause_accepting(e, err);
}

/* A listening socket on every address of family. IPv6 is made dual-stack
 * whatever net.ipv6.bindv6only says, as Go's listeners are, so IPv4
 * clients (a kubelet's probes) still reach it. Accepted connections
 * inherit TCP keep-alive, as from Go's listeners: a peer that vanished is
 * found. -1 with errno set. */
static evutil_socket_t listen_socket(int family, int port, int backlog)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                .sin6_addr = IN6ADDR_ANY_INIT};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY)};
    const struct sockaddr *sa = family == AF_INET6 ? (const struct sockaddr *)&sin6
                                                   : (const struct sockaddr *)&sin;
    socklen_t salen = family == AF_INET6 ? sizeof(sin6) : sizeof(sin);
    int one = 1, zero = 0, err;
    evutil_socket_t fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0 ||
        (family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) ||
        bind(fd, sa, salen) != 0 || listen(fd, backlog) != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static struct evconnlistener *bind_any(struct engine *e)
{
    evutil_socket_t fd = listen_socket(AF_INET6, e->p.port, e->p.backlog);
    struct evconnlistener *l;
    int err;

    /* No IPv6 in this network namespace: IPv4 only. */
    if (fd < 0)
        fd = listen_socket(AF_INET, e->p.port, e->p.backlog);
    if (fd < 0)
        return NULL;
    /* Backlog 0: the socket listens already. */
    l = evconnlistener_new(e->base, on_accept, e, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    if (!l) {
        err = errno;
        close(fd);
        errno = err;
    }
    return l;
}

/* ---- the engine ---- */

struct engine *engine_new(struct event_base *base, const struct engine_params *p)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->p = *p;
    e->base = base;
    LIST_INIT(&e->conns);
    TAILQ_INIT(&e->flushq);
    e->accept_timer = evtimer_new(base, on_accept_resume, e);
    e->flush_ev = event_new(base, -1, 0, on_flush, e);
    if (!e->accept_timer || !e->flush_ev) {
        if (e->accept_timer)
            event_free(e->accept_timer);
        free(e);
        return NULL;
    }
    return e;
}

int engine_listen(struct engine *e, const char *listening_line)
{
    /* What is logged so far is out before anyone can connect: whoever
     * sees the port open finds the startup lines. */
    log_flush();
    e->listener = bind_any(e);
    if (!e->listener) {
        log_error("%s: cannot listen on :%d: %s", e->p.port_setting, e->p.port, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(e->listener, on_accept_error);
    if (listening_line)
        log_info("%s", listening_line);
    log_flush();
    return 0;
}

void engine_closing(struct engine *e)
{
    e->closing = true;
}

void engine_stop_accepting(struct engine *e)
{
    e->closing = true;
    if (e->listener) {
        evconnlistener_free(e->listener);
        e->listener = NULL;
    }
}

void engine_close_idle(struct engine *e)
{
    struct conn *c, *next;
    for (c = LIST_FIRST(&e->conns); c; c = next) {
        next = LIST_NEXT(c, link);
        if (c->state == CONN_IDLE && !c->busy)
            conn_kill(c);
    }
}

void engine_abort_all(struct engine *e)
{
    while (!LIST_EMPTY(&e->conns)) {
        struct conn *c = LIST_FIRST(&e->conns);
        c->busy = 0;
        conn_abort(c);
    }
}

int engine_connections(const struct engine *e)
{
    return e->nconns;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    e->p.on_close = NULL; /* its owner is going away too */
    while (!LIST_EMPTY(&e->conns)) {
        struct conn *c = LIST_FIRST(&e->conns);
        c->busy = 0;
        if (c->state == CONN_BODY || c->state == CONN_WAIT)
            conn_abort_handler(c);
        conn_free(c);
    }
    if (e->listener)
        evconnlistener_free(e->listener);
    event_free(e->accept_timer);
    event_free(e->flush_ev);
    free(e);
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
    if (c->body.paused)
        return;
    c->body.paused = true;
    conn_update_reading(c);
}

void req_resume_body(struct request *r)
{
    struct conn *c = r->conn;
    if (!c->body.paused)
        return;
    c->body.paused = false;
    conn_update_reading(c);
    if (!c->busy)
        conn_process_input(c);
    else if (!c->parsing)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

bool req_body_done(const struct request *r)
{
    return r->conn->body.done;
}

double req_elapsed(const struct request *r)
{
    struct timespec now;
    clock_end(&now);
    return (double)(now.tv_sec - r->start.tv_sec) + (double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
}

struct bufferevent *req_detach(struct request *r)
{
    struct conn *c = r->conn;
    struct bufferevent *bev = c->bev;
    c->h = NULL;
    if (c->resp.status == 0)
        c->resp.status = 101;
    resp_finish_log(c);
    conn_request_over(c);
    conn_out_spill(c);
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

void req_on_done(struct request *r, void (*done)(void *arg, struct request *r, int status),
                 void *arg)
{
    r->conn->done = done;
    r->conn->done_arg = arg;
}

void req_set_target(struct request *r, const char *path)
{
    r->uri = path;
    r->path = path;
    r->query = "";
}
