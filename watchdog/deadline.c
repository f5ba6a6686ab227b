#include "deadline.h"

#include "clock.h"

void deadline_set(struct deadline *d, int64_t ms)
{
    d->at_ms = clock_now_ms() + ms;
    if (d->fires_ms && d->fires_ms <= d->at_ms)
        return;
    clock_arm(d->ev, ms);
    d->fires_ms = d->at_ms;
}

void deadline_clear(struct deadline *d)
{
    d->at_ms = 0;
}

bool deadline_due(struct deadline *d)
{
    d->fires_ms = 0;
    if (!d->at_ms)
        return false;
    int64_t left = d->at_ms - clock_now_ms();
    if (left > 0) {
        clock_arm(d->ev, left);
        d->fires_ms = d->at_ms;
        return false;
    }
    d->at_ms = 0;
    return true;
}
