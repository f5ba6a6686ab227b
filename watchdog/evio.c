#include "evio.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

ssize_t evio_read(struct evbuffer *buf, int fd, size_t max)
{
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    int nv = evbuffer_reserve_space(buf, (ev_ssize_t)max, v, 2);
    if (nv < 1) {
        errno = ENOMEM;
        return -1;
    }
    /* The space reserved can be more than asked: read no more than max,
     * so that a full read means there may be more waiting. */
    size_t room = max;
    for (int i = 0; i < nv; i++) {
        size_t len = v[i].iov_len < room ? v[i].iov_len : room;
        iov[i] = (struct iovec){v[i].iov_base, len};
        room -= len;
    }
    ssize_t n = readv(fd, iov, nv);
    int used = 0;
    for (ssize_t left = n; left > 0; left -= (ssize_t)v[used++].iov_len) {
        if ((size_t)left < v[used].iov_len)
            v[used].iov_len = (size_t)left;
    }
    /* errno of a failed readv survives: commit makes no syscall */
    evbuffer_commit_space(buf, v, used);
    return n;
}

ssize_t evio_bev_read(struct bufferevent *bev, int fd, size_t max)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_unfreeze(in, 0);
    ssize_t n = evio_read(in, fd, max);
    int err = errno;
    evbuffer_freeze(in, 0);
    errno = err;
    return n;
}

int evio_bev_add_input(struct bufferevent *bev, const void *data, size_t len)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    evbuffer_unfreeze(in, 0);
    int rc = evbuffer_add(in, data, len);
    evbuffer_freeze(in, 0);
    return rc;
}

int evio_bev_write(struct bufferevent *bev, int fd)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write(out, fd);
    int err = errno;
    evbuffer_freeze(out, 1);
    errno = err;
    return n;
}

void evio_bev_drop_output(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_unfreeze(out, 1);
    evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_freeze(out, 1);
}

void evio_bev_set_writing(struct bufferevent *bev, bool *writing, bool on)
{
    if (on)
        bufferevent_enable(bev, EV_WRITE);
    else
        bufferevent_disable(bev, EV_WRITE);
    *writing = on;
}

bool evio_bev_writing(struct bufferevent *bev)
{
    return (bufferevent_get_enabled(bev) & EV_WRITE) != 0;
}

void evio_gather_init(struct evio_gather *g, struct evbuffer *to)
{
    g->to = to;
    g->sink = NULL;
    g->sink_arg = NULL;
    g->len = 0;
}

void evio_gather_init_sink(struct evio_gather *g,
                           void (*sink)(void *arg, const void *data, size_t len), void *arg)
{
    g->to = NULL;
    g->sink = sink;
    g->sink_arg = arg;
    g->len = 0;
}

static void gather_put(struct evio_gather *g, const void *data, size_t len)
{
    if (g->sink)
        g->sink(g->sink_arg, data, len);
    else
        evbuffer_add(g->to, data, len);
}

void evio_gather_flush(struct evio_gather *g)
{
    if (g->len > 0)
        gather_put(g, g->buf, g->len);
    g->len = 0;
}

void evio_gather_spill(struct evio_gather *g, const void *data, size_t len)
{
    evio_gather_flush(g);
    if (len > sizeof(g->buf)) {
        gather_put(g, data, len);
        return;
    }
    memcpy(g->buf, data, len);
    g->len = len;
}
