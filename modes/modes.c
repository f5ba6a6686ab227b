/* The table of modes, and what they share. */
#include <string.h>

#include <event2/event.h>

#include "mode.h"

static const struct mode *const modes[] = {
    &mode_streaming,
    &mode_serializing,
    &mode_static,
    &mode_classic,
    &mode_http,
};

const struct mode *mode_find(const char *name)
{
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(modes[i]->name, name) == 0)
            return modes[i];
    }
    return NULL;
}

void mode_stop_finish(struct mode_stop *s, struct event *timer)
{
    void (*done)(void *) = s->done;
    if (timer)
        evtimer_del(timer);
    s->done = NULL;
    if (done)
        done(s->arg);
}
