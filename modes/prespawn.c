/* The prespawn pool: a fixed number of slots, each empty or holding an
 * idle job whose stdout is paused (so whatever the function prints before
 * its request is kept in the pipe for that request, as if it had been
 * started by it) and whose stderr goes to the log as usual. */
#include "prespawn.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "mode.h"

/* An idle process that exits sooner than this after its start is taken as
 * a function that cannot wait for a request (one that ignores stdin). */
#define IMMEDIATE_EXIT_MS 1000
/* After this many such exits (or failed starts) in a row, stop refilling. */
#define MAX_IMMEDIATE_EXITS 5
/* Delay before a refill after the first immediate exit, doubled for each
 * further one, so such a function costs a handful of spawns, not a loop. */
#define RETRY_BASE_MS 100
/* Shutdown: how long killed idle processes (and whatever they started in
 * their group) get to be reaped, checked every STOP_POLL_MS. Reaping takes
 * milliseconds, so this is only a bound; a loaded machine, or one that
 * emulates another architecture, has been seen to take over 2 s. */
#define STOP_GRACE_MS 5000
#define STOP_POLL_MS 10

struct slot {
    struct prespawn *ps;
    struct job *job;             /* NULL: empty */
    struct timespec started;
    pid_t stop_pgid;             /* group killed on shutdown; 0: none */
};

struct prespawn {
    struct job_params params;
    int size;
    struct slot *slots;
    struct event *refill;
    struct event *stop_timer;
    int immediate_exits;         /* in a row */
    bool given_up;
    bool stopping;
    struct timespec stop_start;
    struct mode_stop stop;
};


static int idle_count(const struct prespawn *ps)
{
    int n = 0;
    for (int i = 0; i < ps->size; i++)
        n += ps->slots[i].job != NULL;
    return n;
}

static struct slot *empty_slot(struct prespawn *ps)
{
    for (int i = 0; i < ps->size; i++) {
        if (!ps->slots[i].job)
            return &ps->slots[i];
    }
    return NULL;
}

/* False once the process has exited, even if its SIGCHLD has not been
 * handled yet (WNOWAIT leaves it to the reaper): a request must not be
 * handed a dead process when it could start a live one. */
static bool still_running(pid_t pid)
{
    siginfo_t info = {0};
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false;
    return info.si_pid == 0;
}

/* The live idle process that has had the longest to get through its
 * startup. */
static struct slot *oldest_slot(struct prespawn *ps)
{
    struct slot *best = NULL;
    for (int i = 0; i < ps->size; i++) {
        struct slot *s = &ps->slots[i];
        if (!s->job || !still_running(job_pid(s->job)))
            continue;
        if (!best || s->started.tv_sec < best->started.tv_sec ||
            (s->started.tv_sec == best->started.tv_sec &&
             s->started.tv_nsec < best->started.tv_nsec))
            best = s;
    }
    return best;
}

/* Refills run from a timer, never inside the callback that emptied a slot:
 * a request must not wait for the next process's spawn. */
static void schedule_refill(struct prespawn *ps)
{
    if (ps->stopping || ps->given_up || !empty_slot(ps) || evtimer_pending(ps->refill, NULL))
        return;
    int64_t delay = ps->immediate_exits == 0 ? 0
                                             : (int64_t)RETRY_BASE_MS << (ps->immediate_exits - 1);
    clock_arm(ps->refill, delay);
}

static void note_immediate_failure(struct prespawn *ps)
{
    ps->immediate_exits++;
    if (ps->given_up || ps->immediate_exits < MAX_IMMEDIATE_EXITS)
        return;
    ps->given_up = true;
    log_error("prespawn: the function exited %d times in a row within %gs of starting, before "
              "any request; prespawning stopped, each request starts its own process",
              ps->immediate_exits, IMMEDIATE_EXIT_MS / 1000.0);
}

/* The leaders' exits are not enough: a grandchild in the group dies of the
 * same SIGKILL but is reaped (as an orphan) only on a later SIGCHLD, and
 * the watchdog must not exit and leave it as a zombie. */
static bool groups_gone(const struct prespawn *ps)
{
    for (int i = 0; i < ps->size; i++) {
        pid_t g = ps->slots[i].stop_pgid;
        /* A zombie still counts as a member; any error (ESRCH) means gone. */
        if (g > 1 && kill(-g, 0) == 0)
            return false;
    }
    return true;
}

/* Shutdown progress: done once every killed group is reaped, or at the
 * grace limit. Returns true when finished. */
static bool check_stop(struct prespawn *ps)
{
    if (idle_count(ps) == 0 && groups_gone(ps)) {
        mode_stop_finish(&ps->stop, ps->stop_timer);
        return true;
    }
    if (clock_ms_since(&ps->stop_start) < STOP_GRACE_MS)
        return false;
    log_warn("prespawn: idle function processes not reaped %gs after SIGKILL; not waiting longer",
             STOP_GRACE_MS / 1000.0);
    for (int i = 0; i < ps->size; i++) {
        job_free(ps->slots[i].job);
        ps->slots[i].job = NULL;
    }
    mode_stop_finish(&ps->stop, ps->stop_timer);
    return true;
}

/* Only reached when an idle process exits: while idle its stdout is paused,
 * and on exit the job hands over what was left in the pipe. Nobody asked
 * for it, so it is dropped, but not silently. */
static void idle_out(void *arg, struct evbuffer *data)
{
    (void)arg;
    size_t n = evbuffer_get_length(data);
    log_warn("prespawn: dropped %zu byte(s) an idle function process wrote to stdout", n);
    evbuffer_drain(data, n);
}

static void idle_done(void *arg, int result)
{
    struct slot *s = arg;
    struct prespawn *ps = s->ps;
    int64_t lived = clock_ms_since(&s->started);
    job_free(s->job);
    s->job = NULL;
    if (ps->stopping) {
        check_stop(ps);
        return;
    }
    if (lived < IMMEDIATE_EXIT_MS) {
        log_warn("prespawn: idle function process exited after %lldms (exit status %d)",
                 (long long)lived, result);
        note_immediate_failure(ps);
    } else {
        log_info("prespawn: idle function process exited (exit status %d); starting another",
                 result);
        ps->immediate_exits = 0;
    }
    schedule_refill(ps);
}

static const struct job_ops idle_ops = {idle_out, NULL, idle_done};

static void start_one(struct prespawn *ps, struct slot *s)
{
    int code = 1;
    s->job = job_start(&ps->params, &idle_ops, s, &code);
    if (!s->job) {
        note_immediate_failure(ps);
        return;
    }
    job_pause_out(s->job, true);
    clock_gettime(CLOCK_MONOTONIC, &s->started);
}

/* One process per run, so requests arriving meanwhile are served between
 * spawns; the timer is re-armed while slots are empty. */
static void on_refill(evutil_socket_t fd, short what, void *arg)
{
    struct prespawn *ps = arg;
    (void)fd;
    (void)what;
    struct slot *s = empty_slot(ps);
    if (ps->stopping || ps->given_up || !s)
        return;
    start_one(ps, s);
    schedule_refill(ps);
}

static void on_stop_poll(evutil_socket_t fd, short what, void *arg)
{
    struct prespawn *ps = arg;
    (void)fd;
    (void)what;
    if (check_stop(ps))
        return;
    clock_arm(ps->stop_timer, STOP_POLL_MS);
}

struct prespawn *prespawn_new(const struct job_params *p, int n)
{
    struct prespawn *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    ps->params = *p;
    ps->params.timeout_ms = 0;
    ps->size = n;
    ps->slots = calloc((size_t)n, sizeof(*ps->slots));
    ps->refill = evtimer_new(p->base, on_refill, ps);
    ps->stop_timer = evtimer_new(p->base, on_stop_poll, ps);
    if (!ps->slots || !ps->refill || !ps->stop_timer)
        goto fail;
    for (int i = 0; i < n; i++)
        ps->slots[i].ps = ps;
    schedule_refill(ps);
    return ps;
fail:
    prespawn_free(ps);
    return NULL;
}

struct job *prespawn_take(struct prespawn *ps, const struct job_params *p,
                          const struct job_ops *ops, void *arg)
{
    struct slot *s = oldest_slot(ps);
    if (ps->stopping || !s || p->merge_stderr != ps->params.merge_stderr)
        return NULL;
    struct job *j = s->job;
    /* The exec timeout counts from the request, not from the process start. */
    if (job_set_timeout(j, p->timeout_ms) < 0)
        return NULL;
    s->job = NULL;
    job_rebind(j, ops, arg);
    job_pause_out(j, false);
    /* It waited for a request: the function is fit for prespawning. */
    ps->immediate_exits = 0;
    schedule_refill(ps);
    return j;
}

void prespawn_stop(struct prespawn *ps, void (*done)(void *arg), void *arg)
{
    ps->stopping = true;
    evtimer_del(ps->refill);
    ps->stop = (struct mode_stop){done, arg};
    clock_gettime(CLOCK_MONOTONIC, &ps->stop_start);
    int idle = idle_count(ps);
    if (idle > 0)
        log_info("prespawn: stopping %d idle function process(es)", idle);
    for (int i = 0; i < ps->size; i++) {
        if (!ps->slots[i].job)
            continue;
        ps->slots[i].stop_pgid = job_pid(ps->slots[i].job);
        job_signal(ps->slots[i].job, SIGKILL);
    }
    on_stop_poll(-1, 0, ps);
}

void prespawn_free(struct prespawn *ps)
{
    if (!ps)
        return;
    for (int i = 0; ps->slots && i < ps->size; i++)
        job_free(ps->slots[i].job);
    if (ps->refill)
        event_free(ps->refill);
    if (ps->stop_timer)
        event_free(ps->stop_timer);
    free(ps->slots);
    free(ps);
}
