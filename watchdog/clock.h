/* Milliseconds, the unit of every setting, to and from what libevent and
 * the monotonic clock speak. */
#ifndef FW_CLOCK_H
#define FW_CLOCK_H

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

/* The monotonic clock in milliseconds. */
static inline int64_t clock_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static inline int64_t clock_ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

#endif
