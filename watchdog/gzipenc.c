/* gzip with zlib (http mode already inflates with it). */
#include "gzipenc.h"

#include <string.h>
#include <zlib.h>

#include <event2/buffer.h>

/* A 4 KiB window and a small hash: a scrape is a few KiB, and deflate's
 * default state (256 KiB) would outgrow the resident set of the whole
 * watchdog once freed into its heap. */
#define WINDOW_BITS 12
#define MEM_LEVEL 4

static bool part_is_gzip(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (n == 4 && memcmp(p, "gzip", 4) == 0) || (n > 4 && memcmp(p, "gzip;", 5) == 0);
}

bool gzip_accepted(const char *accept_encoding)
{
    const char *p = accept_encoding;
    while (p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (part_is_gzip(p, n))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

struct evbuffer *gzip_encode(struct evbuffer *plain)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 16 + window bits: a gzip wrapper, not zlib's own. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + WINDOW_BITS, MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t len = evbuffer_get_length(plain);
    struct evbuffer *out = evbuffer_new();
    struct evbuffer_iovec v;
    static unsigned char none[1]; /* deflate wants an address even for no bytes */
    unsigned char *in = len ? evbuffer_pullup(plain, -1) : none;
    uLong bound = deflateBound(&z, (uLong)len);
    int rc = Z_MEM_ERROR;
    if (out && in && evbuffer_reserve_space(out, (ev_ssize_t)bound, &v, 1) == 1) {
        z.next_in = in;
        z.avail_in = (uInt)len;
        z.next_out = v.iov_base;
        z.avail_out = (uInt)v.iov_len;
        /* deflateBound's room: the whole stream in one call. */
        rc = deflate(&z, Z_FINISH);
        v.iov_len = z.total_out;
        if (rc == Z_STREAM_END)
            evbuffer_commit_space(out, &v, 1);
    }
    deflateEnd(&z);
    if (rc != Z_STREAM_END && out) {
        evbuffer_free(out);
        out = NULL;
    }
    return out;
}
