#include "gunzip.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include <event2/buffer.h>

/* Inflated bytes are added to the output this much at a time. */
#define OUT_STEP (16 * 1024)

struct gunzip {
    z_stream z;
    bool in_member;     /* a member has begun and not ended */
    char error[96];
};

struct gunzip *gunzip_new(void)
{
    struct gunzip *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    /* 16 + MAX_WBITS: a gzip wrapper, not zlib's own. */
    if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        free(g);
        return NULL;
    }
    return g;
}

void gunzip_free(struct gunzip *g)
{
    if (!g)
        return;
    inflateEnd(&g->z);
    free(g);
}

/* zlib's reason, told in the words of Go's compress/gzip and flate. */
static void set_error(struct gunzip *g, int rc)
{
    const char *msg = g->z.msg ? g->z.msg : "";
    if (rc == Z_MEM_ERROR)
        snprintf(g->error, sizeof(g->error), "out of memory");
    else if (strstr(msg, "check") && !strstr(msg, "header"))
        snprintf(g->error, sizeof(g->error), "gzip: invalid checksum");
    else if (strstr(msg, "header") || strstr(msg, "compression method"))
        snprintf(g->error, sizeof(g->error), "gzip: invalid header");
    else
        snprintf(g->error, sizeof(g->error), "flate: corrupt input before offset %lu",
                 g->z.total_in);
}

/* Inflate from one contiguous piece of input until it is used up or out
 * holds max bytes; the bytes of it consumed, or -1. */
static ssize_t feed_span(struct gunzip *g, const unsigned char *data, size_t len,
                         struct evbuffer *out, size_t max)
{
    g->z.next_in = (unsigned char *)data;
    g->z.avail_in = (uInt)len;
    while (g->z.avail_in > 0 && evbuffer_get_length(out) < max) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(out, OUT_STEP, &v, 1) < 1) {
            set_error(g, Z_MEM_ERROR);
            return -1;
        }
        /* (the space offered may be a whole chain's; take a step of it) */
        if (v.iov_len > OUT_STEP)
            v.iov_len = OUT_STEP;
        uInt had = g->z.avail_in;
        g->z.next_out = v.iov_base;
        g->z.avail_out = (uInt)v.iov_len;
        g->in_member = true;
        int rc = inflate(&g->z, Z_NO_FLUSH);
        v.iov_len -= g->z.avail_out;
        evbuffer_commit_space(out, &v, 1);
        if (rc == Z_STREAM_END) {
            /* Another member may follow. */
            g->in_member = false;
            inflateReset(&g->z);
        } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && (g->z.avail_in < had || v.iov_len > 0))) {
            /* (Z_BUF_ERROR is only "no progress this time") */
            set_error(g, rc);
            return -1;
        }
    }
    return (ssize_t)(len - g->z.avail_in);
}

int gunzip_feed(struct gunzip *g, struct evbuffer *in, struct evbuffer *out, size_t max)
{
    size_t n;
    if (g->error[0])
        return -1;
    while (evbuffer_get_length(out) < max && (n = evbuffer_get_contiguous_space(in)) > 0) {
        const unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)n);
        ssize_t used = feed_span(g, data, n, out, max);
        if (used < 0)
            return -1;
        evbuffer_drain(in, (size_t)used);
    }
    return 0;
}

int gunzip_finish(struct gunzip *g)
{
    if (g->error[0])
        return -1;
    if (g->in_member) {
        snprintf(g->error, sizeof(g->error), "unexpected EOF");
        return -1;
    }
    return 0;
}

const char *gunzip_error(const struct gunzip *g)
{
    return g->error;
}
