/* gunzip: gzip answers inflated piece by piece, errors in Go's words. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <event2/buffer.h>

#include "check.h"
#include "gunzip.h"

/* data as one gzip member. */
static struct evbuffer *gz(const char *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    unsigned char out[1 << 16];
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = sizeof(out);
    deflate(&z, Z_FINISH);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, out, sizeof(out) - z.avail_out);
    deflateEnd(&z);
    return b;
}

static char *text(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = calloc(1, n + 1);
    evbuffer_remove(b, s, n);
    return s;
}

/* Fed one byte at a time, and as two members: one body. */
static void test_pieces_and_members(void)
{
    struct gunzip *g = gunzip_new();
    struct evbuffer *in = gz("hello, ", 7), *second = gz("world\n", 6), *out = evbuffer_new();
    evbuffer_add_buffer(in, second);
    struct evbuffer *one = evbuffer_new();
    while (evbuffer_get_length(in) > 0) {
        evbuffer_remove_buffer(in, one, 1);
        CHECK(gunzip_feed(g, one, out, 1 << 20) == 0);
        CHECK(evbuffer_get_length(one) == 0);
    }
    CHECK(gunzip_finish(g) == 0);
    char *s = text(out);
    CHECK_STR(s, "hello, world\n");
    free(s);
    evbuffer_free(one);
    evbuffer_free(second);
    evbuffer_free(in);
    evbuffer_free(out);
    gunzip_free(g);
}

/* Output stops at the limit; the rest of the input waits in place. */
static void test_steps(void)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'z', n);
    struct gunzip *g = gunzip_new();
    struct evbuffer *in = gz(big, n), *out = evbuffer_new();
    size_t total = 0;
    int steps = 0;
    while (evbuffer_get_length(in) > 0) {
        CHECK(gunzip_feed(g, in, out, 64 * 1024) == 0);
        size_t got = evbuffer_get_length(out);
        CHECK(got < 64 * 1024 + 16 * 1024 + 1);
        total += got;
        evbuffer_drain(out, got);
        steps++;
    }
    CHECK(total == n);
    CHECK(steps >= 12);
    CHECK(gunzip_finish(g) == 0);
    free(big);
    evbuffer_free(in);
    evbuffer_free(out);
    gunzip_free(g);
}

static const char *error_of(struct evbuffer *in, bool finish)
{
    static char msg[96];
    struct gunzip *g = gunzip_new();
    struct evbuffer *out = evbuffer_new();
    int rc = gunzip_feed(g, in, out, 1 << 20);
    if (rc == 0 && finish)
        rc = gunzip_finish(g);
    snprintf(msg, sizeof(msg), "%s", rc ? gunzip_error(g) : "");
    evbuffer_free(out);
    gunzip_free(g);
    return msg;
}

static void test_errors(void)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "this is not gzip data\n", 22);
    CHECK_STR(error_of(b, true), "gzip: invalid header");
    evbuffer_free(b);

    /* cut in the middle of a member, and in the middle of its header */
    b = gz("some text that is long enough", 29);
    size_t len = evbuffer_get_length(b);
    struct evbuffer *half = evbuffer_new();
    evbuffer_remove_buffer(b, half, len / 2);
    CHECK_STR(error_of(half, true), "unexpected EOF");
    evbuffer_drain(half, evbuffer_get_length(half));
    evbuffer_add(half, "\x1f\x8b\x08", 3);
    CHECK_STR(error_of(half, true), "unexpected EOF");
    evbuffer_free(half);
    evbuffer_free(b);

    /* a wrong CRC in the trailer */
    b = gz("checked", 7);
    len = evbuffer_get_length(b);
    unsigned char *p = evbuffer_pullup(b, -1);
    p[len - 8] ^= 0xff;
    CHECK_STR(error_of(b, true), "gzip: invalid checksum");
    evbuffer_free(b);

    /* garbage after a complete member */
    b = gz("one", 3);
    evbuffer_add(b, "trailing", 8);
    CHECK_STR(error_of(b, true), "gzip: invalid header");
    evbuffer_free(b);

    /* nothing at all is an empty body, not an error */
    b = evbuffer_new();
    CHECK_STR(error_of(b, true), "");
    evbuffer_free(b);
}

int main(void)
{
    test_pieces_and_members();
    test_steps();
    test_errors();
    return check_done("gunzip");
}
