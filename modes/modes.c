/* The table of modes, and what they share. It is the one list of mode
 * names: the configuration asks it for them. */
#include <string.h>

#include <event2/event.h>

#include "mode.h"

static const struct {
    const struct mode *mode;
    unsigned bit;
} modes[] = {
    {&mode_streaming, MODE_STREAMING},
    {&mode_serializing, MODE_SERIALIZING},
    {&mode_http, MODE_HTTP},
    {&mode_static, MODE_STATIC},
    {&mode_classic, MODE_CLASSIC},
};

#define N_MODES (sizeof(modes) / sizeof(modes[0]))

const struct mode *mode_find(const char *name)
{
    for (size_t i = 0; i < N_MODES; i++) {
        if (strcmp(modes[i].mode->name, name) == 0)
            return modes[i].mode;
    }
    return NULL;
}

const struct mode *mode_at(size_t i)
{
    return i < N_MODES ? modes[i].mode : NULL;
}

unsigned mode_bit(const struct mode *m)
{
    for (size_t i = 0; i < N_MODES; i++) {
        if (modes[i].mode == m)
            return modes[i].bit;
    }
    return 0;
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
