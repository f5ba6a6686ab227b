/* What a connection has to send the client, before the socket takes it.
 *
 * An answer that fits one block (a head and a small body, nearly all of
 * them) is kept in flat memory and written with one write(2): no evbuffer
 * chain is allocated, linked, walked into an iovec and drained for it. The
 * block comes from evmem's pool when output starts and goes back once it
 * is written, so an idle connection holds none. What does not fit (a
 * file too big for the block among it), and everything queued after it,
 * goes to the bufferevent's output, which writes it as the socket takes
 * it. The flat bytes always come first: while the evbuffer holds
 * anything, flat memory is empty. */
#include "engine_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "evio.h"
#include "evmem.h"

static struct evbuffer *ev_out(const struct conn *c)
{
    return bufferevent_get_output(c->bev);
}

/* Whether len more bytes go to flat memory: they fit, nothing waits in
 * the evbuffer ahead of them, and the block is there (taken if needed). */
static bool flat_takes(struct conn *c, size_t len)
{
    /* Bytes in flat memory mean an empty evbuffer: it is asked only when
     * flat memory is empty. */
    if (c->out.len + len > EVMEM_BLOCK || (c->out.len == 0 && evbuffer_get_length(ev_out(c)) > 0))
        return false;
    if (!c->out.buf)
        c->out.buf = evmem_malloc(EVMEM_BLOCK);
    return c->out.buf != NULL;
}

static void flat_release(struct conn *c)
{
    evmem_free(c->out.buf);
    c->out.buf = NULL;
    c->out.len = 0;
}

void conn_out_spill(struct conn *c)
{
    if (c->out.len > 0)
        evbuffer_add(ev_out(c), c->out.buf, c->out.len);
    flat_release(c);
}

void conn_out_add(struct conn *c, const void *data, size_t len)
{
    if (flat_takes(c, len)) {
        memcpy(c->out.buf + c->out.len, data, len);
        c->out.len += len;
        return;
    }
    conn_out_spill(c);
    evbuffer_add(ev_out(c), data, len);
}

void conn_out_sink(void *arg, const void *data, size_t len)
{
    conn_out_add(arg, data, len);
}

void conn_out_add_buf(struct conn *c, struct evbuffer *buf)
{
    size_t len = evbuffer_get_length(buf);
    if (flat_takes(c, len)) {
        evbuffer_remove(buf, c->out.buf + c->out.len, len);
        c->out.len += len;
        return;
    }
    conn_out_spill(c);
    evbuffer_add_buffer(ev_out(c), buf);
}

ssize_t conn_out_pread(struct conn *c, int fd, int64_t offset, size_t len)
{
    if (!flat_takes(c, len))
        return -1;
    ssize_t n;
    do
        n = pread(fd, c->out.buf + c->out.len, len, (off_t)offset);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->out.len += (size_t)n;
    return n;
}

size_t conn_out_len(const struct conn *c)
{
    return c->out.len + evbuffer_get_length(ev_out(c));
}

int conn_out_write_flat(struct conn *c, int fd)
{
    if (c->out.len == 0)
        return 0;
    ssize_t n = write(fd, c->out.buf, c->out.len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        n = 0;
    }
    /* What the socket did not take waits in the evbuffer, which the
     * bufferevent writes once the socket has room. */
    size_t left = c->out.len - (size_t)n;
    if (left > 0)
        evbuffer_add(ev_out(c), c->out.buf + n, left);
    flat_release(c);
    return left > 0;
}

void conn_out_free(struct conn *c)
{
    flat_release(c);
}
