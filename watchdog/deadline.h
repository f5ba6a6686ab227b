/* A timer whose deadline moves often and mostly later: the read deadline
 * of a keep-alive connection, a request's exec timeout on a recycled proxy.
 * Moving it later costs no event change: the pending event fires at the
 * old time, finds the new deadline and waits again for the rest. Only an
 * earlier deadline re-adds the event. */
#ifndef FW_DEADLINE_H
#define FW_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

struct deadline {
    struct event *ev; /* a timer event, owned by the caller */
    int64_t at_ms;    /* the deadline, monotonic ms; 0: none */
    int64_t fires_ms; /* when ev fires; 0: not pending */
};

/* The deadline is ms from now. */
void deadline_set(struct deadline *d, int64_t ms);
/* No deadline; a pending event fires once more and does nothing. */
void deadline_clear(struct deadline *d);
/* First thing in the event's callback: true when the deadline is reached
 * (and cleared), false when there is none or it is still ahead. */
bool deadline_due(struct deadline *d);

#endif
