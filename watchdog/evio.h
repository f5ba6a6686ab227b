/* Reading and writing evbuffers straight from and to descriptors.
 *
 * libevent 2.1's evbuffer_read asks the kernel how much is pending (ioctl
 * FIONREAD) before every readv and reads at most 4 KiB per call: one
 * syscall more per request, and a large body in 4 KiB lockstep. These read
 * up to the size asked in one readv instead. A socket bufferevent keeps the
 * end of its input and the start of its output frozen so that only its own
 * callbacks touch them; the bev variants unfreeze around the I/O exactly as
 * those callbacks do, so the loop does not wait for another iteration. */
#ifndef FW_EVIO_H
#define FW_EVIO_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

struct evbuffer;
struct bufferevent;

/* One readv of up to max bytes from fd into buf: readv's result
 * (-1 with errno ENOMEM when no space could be reserved). */
ssize_t evio_read(struct evbuffer *buf, int fd, size_t max);
/* The same into a socket bufferevent's input, from its socket fd (the
 * caller's, from its own read event: bufferevent_getfd is a locked
 * control call). */
ssize_t evio_bev_read(struct bufferevent *bev, int fd, size_t max);
/* Append len bytes to a socket bufferevent's input, as a read would:
 * evbuffer_add's result. */
int evio_bev_add_input(struct bufferevent *bev, const void *data, size_t len);
/* Write what the bufferevent's output holds to its socket fd now:
 * evbuffer_write's result. */
int evio_bev_write(struct bufferevent *bev, int fd);
/* Throw away what the bufferevent still has to write. */
void evio_bev_drop_output(struct bufferevent *bev);
/* EV_WRITE of the bufferevent on or off, and *writing (the owner's copy,
 * read on every answer without touching libevent's allocation) with it. */
void evio_bev_set_writing(struct bufferevent *bev, bool *writing, bool on);
/* Whether EV_WRITE is on, from libevent itself: for the owner's copy after
 * libevent turned it off on a write error or timeout. */
bool evio_bev_writing(struct bufferevent *bev);

/* Small pieces (a head: names, values, separators) gathered in memory and
 * added to an evbuffer in one call: each evbuffer_add costs a call and,
 * on a bufferevent's buffer, a run of its callbacks. */
struct evio_gather {
    struct evbuffer *to;
    /* When set, what is gathered goes here rather than to an evbuffer. */
    void (*sink)(void *arg, const void *data, size_t len);
    void *sink_arg;
    size_t len;
    char buf[2048];
};

void evio_gather_init(struct evio_gather *g, struct evbuffer *to);
void evio_gather_init_sink(struct evio_gather *g,
                           void (*sink)(void *arg, const void *data, size_t len), void *arg);
/* Add what is gathered to the evbuffer or the sink. */
void evio_gather_flush(struct evio_gather *g);
/* The slow half of evio_gather_add: flush, then keep or pass on data. */
void evio_gather_spill(struct evio_gather *g, const void *data, size_t len);

/* A head is a score of pieces, each through here: the common case inline. */
static inline void evio_gather_add(struct evio_gather *g, const void *data, size_t len)
{
    if (len > sizeof(g->buf) - g->len) {
        evio_gather_spill(g, data, len);
        return;
    }
    memcpy(g->buf + g->len, data, len);
    g->len += len;
}
#define EVIO_GATHER_LIT(g, lit) evio_gather_add(g, lit, sizeof(lit) - 1)

#endif
