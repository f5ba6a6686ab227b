/* deadline.c: a deadline moved later fires once, at the new time, without
 * the event being added again; an earlier one re-adds it; a cleared one
 * fires once and does nothing. Ordering is checked, not durations. And
 * clock.h's held reading: one per hold, a fresh one replacing it, none
 * kept after the hold. */
#include <time.h>

#include <event2/event.h>

#include "check.h"
#include "clock.h"
#include "deadline.h"

struct probe {
    struct deadline d;
    int early; /* fired before its deadline, or after a clear */
    int due;
    struct event_base *base;
};

static void on_fire(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;
    (void)fd;
    (void)what;
    if (deadline_due(&p->d)) {
        p->due++;
        event_base_loopbreak(p->base);
    } else {
        p->early++;
    }
}

static void setup(struct probe *p, struct event_base *base)
{
    *p = (struct probe){.base = base};
    p->d.ev = evtimer_new(base, on_fire, p);
}

/* Later: the event added for 20 ms fires, finds 60 ms, waits for the rest. */
static void test_moved_later(struct event_base *base)
{
    struct probe p;
    setup(&p, base);
    int64_t start = clock_now_ms();
    deadline_set(&p.d, 20);
    int64_t first = p.d.fires_ms;
    deadline_set(&p.d, 60);
    CHECK(p.d.fires_ms == first); /* no new event */
    event_base_dispatch(base);
    CHECK(p.early == 1 && p.due == 1);
    CHECK(clock_now_ms() - start >= 60);
    CHECK(p.d.at_ms == 0 && p.d.fires_ms == 0);
    event_free(p.d.ev);
}

/* Earlier: the event is added again for the nearer time. */
static void test_moved_earlier(struct event_base *base)
{
    struct probe p;
    setup(&p, base);
    deadline_set(&p.d, 10000);
    deadline_set(&p.d, 10);
    CHECK(p.d.fires_ms == p.d.at_ms);
    event_base_dispatch(base);
    CHECK(p.early == 0 && p.due == 1);
    event_free(p.d.ev);
}

/* Cleared: the pending event fires once and reports nothing due. */
static void test_cleared(struct event_base *base)
{
    struct probe p;
    setup(&p, base);
    deadline_set(&p.d, 10);
    deadline_clear(&p.d);
    event_base_dispatch(base); /* returns once no event is left */
    CHECK(p.early == 1 && p.due == 0);
    CHECK(!event_pending(p.d.ev, EV_TIMEOUT, NULL));
    event_free(p.d.ev);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* The monotonic clock moved past t (it counts in nanoseconds). */
static void wait_past(const struct timespec *t)
{
    struct timespec now;
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while (same_time(&now, t));
}

static void test_held_clock(void)
{
    struct timespec a, b, c, d;
    clock_hold();
    clock_mono(&a);
    wait_past(&a);
    clock_mono(&b);
    CHECK(same_time(&a, &b)); /* one reading per hold */
    clock_hold();             /* nested: the same hold */
    clock_mono(&c);
    CHECK(same_time(&a, &c));
    clock_release();
    clock_fresh(&c);
    CHECK(!same_time(&a, &c)); /* read afresh... */
    clock_mono(&d);
    CHECK(same_time(&c, &d)); /* ...and held from then on */
    clock_release();
    CHECK(clock_held.depth == 0 && !clock_held.have);
    wait_past(&d);
    clock_mono(&a);
    wait_past(&a);
    clock_mono(&b);
    CHECK(!same_time(&a, &b)); /* no hold: each call reads */
    CHECK(!clock_held.have);
}

static void test_duration_ends(void)
{
    struct timespec a, b, c;
    clock_end(&a);
    wait_past(&a);
    clock_end(&b);
    CHECK(!same_time(&a, &b)); /* no hold: each end reads */
    clock_hold();
    clock_mono(&a);
    wait_past(&a);
    clock_end(&b);
    CHECK(!same_time(&a, &b)); /* a held clock_mono reading is not an end */
    wait_past(&b);
    clock_end(&c);
    CHECK(same_time(&b, &c)); /* the second end in the hold shares the first's */
    clock_mono(&a);
    CHECK(same_time(&b, &a));
    clock_release();
    CHECK(!clock_held.have && !clock_held.ended);
    wait_past(&c);
    clock_hold();
    clock_end(&a);
    CHECK(!same_time(&a, &c)); /* a new hold reads afresh */
    clock_release();
}

int main(void)
{
    test_held_clock();
    test_duration_ends();
    struct event_base *base = event_base_new();
    CHECK(base != NULL);
    if (base) {
        test_moved_later(base);
        test_moved_earlier(base);
        test_cleared(base);
        event_base_free(base);
    }
    return check_done("deadline");
}
