/* The watchdog's rules in front of its mode. The engine hands every
 * request head here (on_request); what is not the watchdog's own goes to
 * the mode, counted, limited and authorised. */
#include "front.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "auth.h"
#include "clock.h"
#include "engine.h"
#include "evmem.h"
#include "lockfile.h"
#include "log.h"

#define QUIET_MS 1000
#define STOP_POLL_MS 50

/* A request waiting in the queue (max_queue) for a slot under max_inflight. */
struct waiter {
    TAILQ_ENTRY(waiter) link;
    struct front *f;
    struct request *r;
    struct event *timer;     /* queue_timeout */
};

struct front {
    const struct config *cfg;
    struct event_base *base;
    const struct mode *mode;
    void *mode_state;
    struct front_hooks hooks;
    struct engine *eng;
    struct auth *auth;       /* jwt_auth; NULL when off */
    int inflight;
    bool ready;              /* lock written, serving */
    bool shutting_down;
    bool stopping;           /* listener closed, waiting for in-flight */
    int exit_code;
    struct timespec last_request;
    struct timespec drain_start;
    struct timespec started;     /* readiness polling began */
    struct event *ready_timer, *drain_timer, *stop_timer;
    TAILQ_HEAD(, waiter) queue; /* oldest first */
    int queued;
    struct event *admit_ev;  /* a slot is free and the queue is not empty */
    struct event *trim_timer;
    bool trim_armed;         /* trim_timer is pending: a flag read by every
                              * request, not libevent's question */
};

/* ---- max_inflight ---- */

static bool limit_reached(const struct front *f)
{
    return f->cfg->max_inflight > 0 && f->inflight >= f->cfg->max_inflight;
}

static bool queue_has_room(const struct front *f)
{
    return f->queued < f->cfg->max_queue && !f->stopping;
}

/* Exactly the Go watchdog's answer (faas-middleware's limiter), down to
 * the Content-Type without a charset. */
static void answer_limit(struct request *r, int max)
{
    char body[96];
    snprintf(body, sizeof(body), "Concurrent request limit exceeded. Max concurrent requests: %d\n", max);
    resp_header(r, "Content-Type", "text/plain");
    resp_header(r, "X-Openfaas-Internal", "faas-middleware");
    resp_simple(r, 429, body);
}

/* A request turned away at the limit is still a request to the function's
 * port: the Go watchdog's instrumentation wraps its limiter and counts it
 * as a 429, so the hooks see it too (it never counts in f->inflight).
 * Reported before answering: the request is invalid once answered. */
static void answer_over_limit(struct front *f, struct request *r)
{
    if (f->hooks.request_begin)
        f->hooks.request_begin(f->hooks.arg);
    if (f->hooks.request_end)
        f->hooks.request_end(f->hooks.arg, r->method, 429, req_elapsed(r));
    resp_no_log(r);
    answer_limit(r, f->cfg->max_inflight);
}

/* ---- private endpoints ---- */

/* As the Go watchdogs: the lock file is the health, even with
 * suppress_lock (which only stops the watchdog writing it). */
static bool is_healthy(const struct front *f)
{
    if (!f->ready || f->shutting_down)
        return false;
    return lock_exists(f->cfg->lock_path);
}

static void answer_health(const struct front *f, struct request *r)
{
    if (strcmp(r->method, "GET") != 0)
        resp_empty(r, 405);
    else if (!is_healthy(f))
        resp_empty(r, 503);
    else
        resp_simple(r, 200, "OK");
}

/* /_/ready's answer: 405, 503, 429 or 200 (Go's answers have no body),
 * or 0 when the function answers it at ready_path. */
static int ready_status(const struct front *f, const struct request *r)
{
    if (strcmp(r->method, "GET") != 0)
        return 405;
    if (!is_healthy(f))
        return 503;
    if (limit_reached(f) && !queue_has_room(f))
        return 429;
    return f->cfg->ready_path ? 0 : 200;
}

enum route { ROUTE_FUNCTION, ROUTE_ANSWERED, ROUTE_READY_PATH };

/* Private endpoints never reach the function and are neither counted nor
 * logged, but for /_/ready's call to ready_path: logged as a request to
 * it, not counted. A mode without a readiness endpoint (classic) hands
 * /_/ready to its function. */
static enum route route_private(const struct front *f, struct request *r)
{
    /* Nearly every path is the function's: one byte tells. */
    if (r->path[0] != '/' || r->path[1] != '_')
        return ROUTE_FUNCTION;
    if (strcmp(r->path, "/_/health") == 0) {
        resp_no_log(r);
        answer_health(f, r);
        return ROUTE_ANSWERED;
    }
    if (strcmp(r->path, "/_/ready") != 0 || f->mode->no_ready_endpoint)
        return ROUTE_FUNCTION;
    int status = ready_status(f, r);
    if (status == 0) {
        req_set_target(r, f->cfg->ready_path);
        return ROUTE_READY_PATH;
    }
    resp_no_log(r);
    resp_empty(r, status);
    return ROUTE_ANSWERED;
}

/* ---- a request to the function ---- */

/* jwt_auth (auth.c): true when the request was answered here. A token that
 * allows this function lets it through with X-Auth-Seconds, as Go's
 * middleware does; a denial is logged by auth in Go's words instead of the
 * request line. */
static bool check_auth(struct front *f, struct request *r)
{
    struct auth_verdict v;
    if (!f->auth)
        return false;
    if (auth_check(f->auth, r, &v)) {
        if (req_set_header(r, "X-Auth-Seconds", v.seconds) == 0)
            return false;
        resp_simple(r, 431, "Request Header Fields Too Large\n");
        return true;
    }
    if (v.logged)
        resp_no_log(r);
    auth_answer(r, &v);
    return true;
}

/* ---- memory ---- */

/* A burst of concurrent requests leaves free chunks spread over heap pages
 * that malloc keeps. Once no request has been in flight or started for a
 * moment, they go back to the system, so that the resident size returns to
 * where it was rather than staying at the burst's mark. Under steady load
 * nothing is trimmed: what would go back is needed again at once, and
 * every page given back is a fault on the next request. An idle watchdog
 * never wakes for this: the timer is armed by a request ending. */
#define TRIM_AFTER_MS 1000

static void on_trim(evutil_socket_t fd, short what, void *arg)
{
    struct front *f = arg;
    (void)fd;
    (void)what;
    f->trim_armed = false;
    if (f->inflight > 0)
        return; /* its end arms the timer again */
    int64_t quiet = clock_ms_since(&f->last_request);
    if (quiet >= 0 && quiet < TRIM_AFTER_MS) {
        f->trim_armed = clock_arm(f->trim_timer, TRIM_AFTER_MS - quiet) == 0;
        return;
    }
    if (f->mode->idle)
        f->mode->idle(f->mode_state);
    evmem_trim();
}

static void arm_trim(struct front *f)
{
    if (!f->trim_armed)
        f->trim_armed = clock_arm(f->trim_timer, TRIM_AFTER_MS) == 0;
}

/* Connections of a burst may close after its last request ended (a
 * client that lingers, answers still being written): the trim that
 * request armed would come too early for their memory. */
static void on_conn_close(void *arg)
{
    arm_trim(arg);
}

/* ---- requests ---- */

static void request_done(void *arg, struct request *r, int status)
{
    struct front *f = arg;
    f->inflight--;
    arm_trim(f);
    if (f->hooks.request_end)
        f->hooks.request_end(f->hooks.arg, r->method, status, req_elapsed(r));
    /* From the loop, not inside the callback of the request that ended. */
    if (!TAILQ_EMPTY(&f->queue))
        event_active(f->admit_ev, EV_TIMEOUT, 1);
}

/* Kubernetes' probes are not logged, as under the Go watchdogs. */
static bool is_probe(const struct request *r)
{
    const char *ua = req_header(r, "User-Agent");
    return ua && strncmp(ua, "kube-probe", 10) == 0;
}

/* Counted, authorised, handed to the mode. */
static void admit(struct front *f, struct request *r)
{
    f->inflight++;
    req_on_done(r, request_done, f);
    if (f->hooks.request_begin)
        f->hooks.request_begin(f->hooks.arg);
    if (!check_auth(f, r))
        f->mode->handle(f->mode_state, r);
}

/* ---- the queue (max_queue) ---- */

static void report_depth(const struct front *f)
{
    if (f->hooks.queue_depth)
        f->hooks.queue_depth(f->hooks.arg, f->queued);
}

static void report_wait(const struct front *f, const struct request *r)
{
    if (f->hooks.queue_wait)
        f->hooks.queue_wait(f->hooks.arg, req_elapsed(r));
}

static void waiter_free(struct waiter *w)
{
    struct front *f = w->f;
    TAILQ_REMOVE(&f->queue, w, link);
    f->queued--;
    event_free(w->timer);
    free(w);
    report_depth(f);
}

/* The client went away while queued: it leaves the queue at once. */
static void waiter_abort(void *arg)
{
    struct waiter *w = arg;
    report_wait(w->f, w->r);
    waiter_free(w);
}

static const struct req_handler waiter_ops = {.abort = waiter_abort};

/* Out of the queue and back to the engine, which parses its body for
 * whoever handles it next. */
static struct request *waiter_leave(struct waiter *w)
{
    struct request *r = w->r;
    report_wait(w->f, r);
    waiter_free(w);
    req_attach(r, NULL, NULL);
    req_release(r);
    return r;
}

/* queue_timeout: the answer a request over the limit gets without a queue. */
static void on_queue_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    struct front *f = w->f;
    (void)fd;
    (void)what;
    answer_over_limit(f, waiter_leave(w));
}

/* Slots are free: the oldest waiters go in. */
static void on_admit(evutil_socket_t fd, short what, void *arg)
{
    struct front *f = arg;
    struct waiter *w;
    (void)fd;
    (void)what;
    while (!limit_reached(f) && (w = TAILQ_FIRST(&f->queue)))
        admit(f, waiter_leave(w));
}

/* Over max_inflight, or behind others already waiting: wait first in,
 * first out. False when there is no room (the caller answers 429). */
static bool enqueue(struct front *f, struct request *r)
{
    if (!queue_has_room(f))
        return false;
    struct waiter *w = calloc(1, sizeof(*w));
    if (w)
        w->timer = evtimer_new(f->base, on_queue_timeout, w);
    if (!w || !w->timer) {
        free(w);
        return false;
    }
    w->f = f;
    w->r = r;
    TAILQ_INSERT_TAIL(&f->queue, w, link);
    f->queued++;
    clock_arm(w->timer, config_ms(f->cfg->queue_timeout_ns));
    req_hold(r);
    req_attach(r, &waiter_ops, w);
    report_depth(f);
    return true;
}

static void on_request(void *arg, struct request *r)
{
    struct front *f = arg;
    if (is_probe(r))
        resp_no_log(r);
    enum route route = route_private(f, r);
    if (route == ROUTE_ANSWERED)
        return;
    if (route == ROUTE_READY_PATH) {
        f->mode->handle(f->mode_state, r);
        return;
    }
    clock_mono(&f->last_request);
    if (!limit_reached(f) && TAILQ_EMPTY(&f->queue))
        admit(f, r);
    else if (!enqueue(f, r))
        answer_over_limit(f, r);
}

/* ---- readiness ---- */

/* How long until the mode is asked again whether it is ready: often at
 * first, since most functions listen within a second and each millisecond
 * here is cold-start latency, then less often, so that a runtime that
 * takes seconds to start (a JVM) costs a probe every 4 ms, not a spin. */
static int64_t ready_poll_ms(const struct front *f)
{
    int64_t waited = clock_ms_since(&f->started);
    return waited < 100 ? 1 : waited < 1000 ? 2 : 4;
}

static void on_ready_poll(evutil_socket_t fd, short what, void *arg)
{
    struct front *f = arg;
    char why[PATH_MAX + 64];
    (void)fd;
    (void)what;
    if (f->shutting_down)
        return;
    if ((f->mode->ready && !f->mode->ready(f->mode_state)) || (f->auth && !auth_ready(f->auth))) {
        clock_arm(f->ready_timer, ready_poll_ms(f));
        return;
    }
    if (f->cfg->suppress_lock) {
        log_info("Warning: \"suppress_lock\" is enabled. No automated health-checks will be in "
                 "place for your function.");
    } else if (lock_write(f->cfg->lock_path, !f->mode->lock_dir_must_exist, why,
                          sizeof(why)) != 0) {
        /* As the Go watchdogs: a watchdog that can never be healthy stops,
         * exit code 2, so the orchestrator shows why instead of waiting. */
        log_error("Cannot write %s. To disable lock-file set env suppress_lock=true.\n Error: %s.",
                  f->cfg->lock_path, why);
        front_shutdown(f, 2, NULL);
        return;
    }
    f->ready = true;
}

void front_check_ready(struct front *f)
{
    if (f->ready || f->shutting_down || !f->ready_timer)
        return;
    evtimer_del(f->ready_timer);
    on_ready_poll(-1, 0, f);
}

int front_start(struct front *f)
{
    clock_gettime(CLOCK_MONOTONIC, &f->started);
    f->ready_timer = evtimer_new(f->base, on_ready_poll, f);
    if (!f->ready_timer)
        return -1;
    if (f->cfg->jwt_auth && !(f->auth = auth_new(f->cfg, f->base)))
        return -1;
    on_ready_poll(-1, 0, f);
    return 0;
}

int front_listen(struct front *f)
{
    char line[64];
    snprintf(line, sizeof(line), "Listening on port: %d", f->cfg->port);
    return engine_listen(f->eng, line);
}

/* ---- shutdown ---- */

static void stop_mode_done(void *arg)
{
    struct front *f = arg;
    event_base_loopexit(f->base, NULL);
}

static void finish_stop(struct front *f)
{
    if (f->stop_timer)
        evtimer_del(f->stop_timer);
    if (f->mode->stop)
        f->mode->stop(f->mode_state, stop_mode_done, f);
    else
        stop_mode_done(f);
}

/* In-flight requests get write_timeout (and a second) from the last
 * request to finish. */
static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
    struct front *f = arg;
    (void)fd;
    (void)what;
    engine_close_idle(f->eng);
    if ((f->inflight == 0 && f->queued == 0) || clock_ms_since(&f->last_request) > config_ms(f->cfg->write_timeout_ns) + 1000) {
        finish_stop(f);
        return;
    }
    clock_arm(f->stop_timer, STOP_POLL_MS);
}

/* Stop accepting; let in-flight requests finish within write_timeout. */
static void begin_stop(struct front *f)
{
    if (f->stopping)
        return;
    f->stopping = true;
    if (f->drain_timer)
        evtimer_del(f->drain_timer);
    engine_stop_accepting(f->eng);
    log_info("No new connections allowed, draining: %d requests", f->inflight + f->queued);
    clock_mono(&f->last_request);
    f->stop_timer = evtimer_new(f->base, on_stop_tick, f);
    on_stop_tick(-1, 0, f);
}

/* During the drain window: end early once nothing is in flight and
 * nothing has arrived for a quiet second. */
static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct front *f = arg;
    (void)fd;
    (void)what;
    int64_t window = config_ms(f->cfg->healthcheck_interval_ns);
    int64_t quiet = window < QUIET_MS ? window : QUIET_MS;
    if (clock_ms_since(&f->drain_start) >= window ||
        (f->inflight == 0 && f->queued == 0 && clock_ms_since(&f->last_request) >= quiet &&
         clock_ms_since(&f->drain_start) >= quiet)) {
        begin_stop(f);
        return;
    }
    clock_arm(f->drain_timer, STOP_POLL_MS);
}

/* The line the Go watchdogs log when a signal starts the drain. */
static void log_drain_start(const struct front *f, const char *signal)
{
    char window[48];

    log_go_duration(f->cfg->healthcheck_interval_ns, window, sizeof(window));
    log_info("%s: no new connections in %s", signal, window);
}

void front_shutdown(struct front *f, int exit_code, const char *signal)
{
    if (exit_code != 0 && f->exit_code == 0)
        f->exit_code = exit_code;
    if (!f->shutting_down) {
        f->shutting_down = true;
        engine_closing(f->eng);
        if (signal)
            log_drain_start(f, signal);
        if (!f->cfg->suppress_lock) {
            if (signal)
                log_info("Removing lock-file : %s", f->cfg->lock_path);
            lock_remove(f->cfg->lock_path);
        }
        if (f->cfg->forward_sigterm && f->mode->drain)
            f->mode->drain(f->mode_state);
    }
    if (!signal || f->drain_timer) {
        if (!signal)
            begin_stop(f);
        return;
    }
    clock_mono(&f->drain_start);
    f->drain_timer = evtimer_new(f->base, on_drain_tick, f);
    on_drain_tick(-1, 0, f);
}

/* ---- the front ---- */

struct front *front_new(const struct config *cfg, struct event_base *base,
                        const struct mode *mode, void *mode_state,
                        const struct front_hooks *hooks, struct fd_reserve *reserve)
{
    struct front *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->cfg = cfg;
    f->base = base;
    f->mode = mode;
    f->mode_state = mode_state;
    if (hooks)
        f->hooks = *hooks;
    clock_mono(&f->last_request);
    TAILQ_INIT(&f->queue);
    struct engine_params p = {
        .port_setting = "port",
        .port = cfg->port,
        .backlog = 1024,
        .read_timeout_ms = config_ms(cfg->read_timeout_ns),
        .idle_expired = cfg->read_timeout_ns < 0,
        .write_timeout_ms = config_ms(cfg->write_timeout_ns),
        .max_connections = cfg->max_connections,
        .max_request_body = cfg->max_request_body,
        .log_requests = true,
        .log_callid = cfg->log_callid,
        .reserve = reserve,
        .on_request = on_request,
        .on_close = on_conn_close,
        .arg = f,
    };
    f->eng = engine_new(base, &p);
    f->admit_ev = event_new(base, -1, 0, on_admit, f);
    f->trim_timer = evtimer_new(base, on_trim, f);
    if (!f->eng || !f->admit_ev || !f->trim_timer) {
        front_free(f);
        return NULL;
    }
    return f;
}

struct engine *front_engine(struct front *f)
{
    return f->eng;
}

int front_exit_code(const struct front *f)
{
    return f->exit_code;
}

int front_inflight(const struct front *f)
{
    return f->inflight;
}

void front_free(struct front *f)
{
    if (!f)
        return;
    /* Before anything the waiters' aborts touch. */
    engine_free(f->eng);
    if (f->admit_ev)
        event_free(f->admit_ev);
    if (f->trim_timer)
        event_free(f->trim_timer);
    if (f->ready_timer)
        event_free(f->ready_timer);
    if (f->drain_timer)
        event_free(f->drain_timer);
    if (f->stop_timer)
        event_free(f->stop_timer);
    auth_free(f->auth);
    free(f);
}
