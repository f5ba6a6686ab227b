#include "tunnel.h"

#include <stdbool.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "clock.h"

/* Bytes queued towards one side before the other is paused. */
#define TUNNEL_HIGH (256 * 1024)

/* Side 0 is the client, side 1 the upstream. */
struct tunnel {
    struct tunnels *set;
    struct bufferevent *side[2];
    LIST_ENTRY(tunnel) link;
    bool closing;              /* one side is gone: flushing the other */
};

void tunnels_init(struct tunnels *ts, int64_t close_ms)
{
    LIST_INIT(&ts->open);
    ts->close_ms = close_ms;
}

struct tunnel *tunnel_alloc(void)
{
    return calloc(1, sizeof(struct tunnel));
}

static void tunnel_free(struct tunnel *t)
{
    for (int i = 0; i < 2; i++) {
        if (t->side[i])
            bufferevent_free(t->side[i]);
    }
    LIST_REMOVE(t, link);
    free(t);
}

static int tunnel_side(const struct tunnel *t, const struct bufferevent *bev)
{
    return bev == t->side[0] ? 0 : 1;
}

static void tunnel_pipe(struct tunnel *t, int from)
{
    struct bufferevent *src = t->side[from], *dst = t->side[!from];
    struct evbuffer *out = bufferevent_get_output(dst);
    evbuffer_add_buffer(out, bufferevent_get_input(src));
    /* The other side's write callback (output empty) turns reading back on. */
    if (evbuffer_get_length(out) > TUNNEL_HIGH)
        bufferevent_disable(src, EV_READ);
}

static void on_tunnel_read(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    tunnel_pipe(t, tunnel_side(t, bev));
}

static void on_tunnel_write(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    int i = tunnel_side(t, bev);
    if (t->closing)
        tunnel_free(t);
    else
        bufferevent_enable(t->side[!i], EV_READ);
}

/* Either side closed: deliver what it sent, then close the other. */
static void on_tunnel_event(struct bufferevent *bev, short what, void *arg)
{
    struct tunnel *t = arg;
    int i = tunnel_side(t, bev);
    struct bufferevent *other = t->side[!i];
    (void)what;
    if (other && !t->closing)
        evbuffer_add_buffer(bufferevent_get_output(other), bufferevent_get_input(bev));
    bufferevent_free(bev);
    t->side[i] = NULL;
    t->closing = true;
    if (!other || evbuffer_get_length(bufferevent_get_output(other)) == 0) {
        tunnel_free(t);
        return;
    }
    /* close_ms 0: write_timeout is no limit, and so is this last write */
    struct timeval tv = clock_tv(t->set->close_ms);
    bufferevent_disable(other, EV_READ);
    bufferevent_set_timeouts(other, NULL, t->set->close_ms > 0 ? &tv : NULL);
}

void tunnel_start(struct tunnels *ts, struct tunnel *t, struct bufferevent *client,
                  struct bufferevent *upstream)
{
    t->set = ts;
    t->side[0] = client;
    t->side[1] = upstream;
    LIST_INSERT_HEAD(&ts->open, t, link);
    for (int i = 0; i < 2; i++) {
        bufferevent_setcb(t->side[i], on_tunnel_read, on_tunnel_write, on_tunnel_event, t);
        bufferevent_setwatermark(t->side[i], EV_READ | EV_WRITE, 0, 0);
        bufferevent_set_timeouts(t->side[i], NULL, NULL);
        bufferevent_enable(t->side[i], EV_READ | EV_WRITE);
    }
    tunnel_pipe(t, 0);
    tunnel_pipe(t, 1);
}

void tunnels_close(struct tunnels *ts)
{
    while (!LIST_EMPTY(&ts->open))
        tunnel_free(LIST_FIRST(&ts->open));
}
