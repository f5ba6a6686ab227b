/* The client side of a connection an engine adopted, for the harnesses
 * that drive one (fuzz_request.c, fuzz_plainreq.c): bytes sent in pieces
 * of a seeded size, with the event loop run in between, and what the
 * server writes read back, kept or dropped, so its writes never block. */
#ifndef FW_FZCLIENT_H
#define FW_FZCLIENT_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "engine.h"

struct fz_client {
    struct event_base *base;
    struct engine *engine;
    int fd;
    char *heard; /* what the server wrote, up to cap bytes; NULL: dropped */
    size_t len, cap;
};

static inline uint32_t fz_next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static inline void fz_client_listen(struct fz_client *c)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(c->fd, buf, sizeof(buf))) > 0) {
        if (!c->heard)
            continue;
        size_t k = (size_t)n < c->cap - c->len ? (size_t)n : c->cap - c->len;
        memcpy(c->heard + c->len, buf, k);
        c->len += k;
    }
}

static inline void fz_client_spin(struct fz_client *c, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(c->base, EVLOOP_NONBLOCK);
        fz_client_listen(c);
    }
}

static inline void fz_client_send(struct fz_client *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return; /* the server closed: the rest is not read */
        fz_client_spin(c, 1);
        if (engine_connections(c->engine) == 0)
            return;
    }
}

/* All of data, in pieces of 1..max_piece bytes chosen from seed, while
 * the server keeps the connection; two rounds of the loop after each. */
static inline void fz_client_feed(struct fz_client *c, const uint8_t *data, size_t size,
                                  uint32_t seed, size_t max_piece)
{
    for (size_t off = 0; off < size && engine_connections(c->engine) > 0;) {
        size_t n = 1 + fz_next_rand(&seed) % max_piece;
        if (n > size - off)
            n = size - off;
        fz_client_send(c, data + off, n);
        off += n;
        fz_client_spin(c, 2);
    }
}

#endif
