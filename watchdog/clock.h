/* Milliseconds, the unit of every setting, to and from what libevent and
 * the monotonic clock speak. */
#ifndef FW_CLOCK_H
#define FW_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

static inline struct timeval clock_tv(int64_t ms)
{
    return (struct timeval){(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
}

/* (Re)arm a timer event ms from now. */
static inline int clock_arm(struct event *ev, int64_t ms)
{
    struct timeval tv = clock_tv(ms);
    return evtimer_add(ev, &tv);
}

/* One reading of the monotonic clock for all of a socket event's work.
 * A proxied request reads the time about ten times (its start, deadlines
 * moved, the pooled connection's idle time), and on a virtual machine
 * with kvm-clock a read costs some 25 ns (bench/README.md, twenty-fifth
 * round), as much as a few hundred instructions. Between clock_hold and
 * clock_release the first clock_mono reads the clock and the others get
 * that reading: it lags by at most the event's own work, less than
 * libevent's timers lag, which take the time once per loop turn.
 * Durations end with clock_end. Single-threaded, as the event loop is. */
struct clock_held {
    unsigned depth;
    bool have;
    bool ended; /* now was read by clock_end */
    struct timespec now;
};
extern struct clock_held clock_held;

static inline void clock_hold(void)
{
    clock_held.depth++;
}

static inline void clock_release(void)
{
    if (--clock_held.depth == 0)
        clock_held.have = clock_held.ended = false;
}

/* Reads the clock; inside a hold, later clock_mono calls get this reading,
 * and later clock_end calls too if it was a duration's end. */
static inline void clock_read(struct timespec *t, bool end)
{
    clock_gettime(CLOCK_MONOTONIC, t);
    if (clock_held.depth > 0) {
        clock_held.now = *t;
        clock_held.have = true;
        clock_held.ended = end;
    }
}

/* The clock now, read afresh; inside a hold, later clock_mono calls get
 * this newer reading. */
static inline void clock_fresh(struct timespec *t)
{
    clock_read(t, false);
}

/* The clock: the held reading inside a hold, else read afresh. */
static inline void clock_mono(struct timespec *t)
{
    if (clock_held.have)
        *t = clock_held.now;
    else
        clock_fresh(t);
}

/* The end of a duration: read afresh, except after another end in the
 * same hold. A request's end is measured twice in one event (for its log
 * line and for its metrics), and each read of the clock costs as much as a
 * few hundred instructions; the second end gets the first's reading, which
 * is early by only the work done between them. */
static inline void clock_end(struct timespec *t)
{
    if (clock_held.ended)
        *t = clock_held.now;
    else
        clock_read(t, true);
}

/* The monotonic clock in milliseconds. */
static inline int64_t clock_now_ms(void)
{
    struct timespec t;
    clock_mono(&t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static inline int64_t clock_ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_mono(&now);
    return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

#endif
