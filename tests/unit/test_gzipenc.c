/* gzipenc: promhttp's reading of Accept-Encoding, and gzip that inflates
 * back to what went in. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <event2/buffer.h>

#include "check.h"
#include "gzipenc.h"

static void test_accepted(void)
{
    CHECK(gzip_accepted("gzip"));
    CHECK(gzip_accepted("deflate, gzip"));
    CHECK(gzip_accepted(" gzip ,deflate"));
    CHECK(gzip_accepted("\tgzip\t"));
    CHECK(gzip_accepted("gzip;q=0")); /* no q-value weighed */
    CHECK(gzip_accepted("br,gzip;q=0.5"));
    CHECK(!gzip_accepted(NULL));
    CHECK(!gzip_accepted(""));
    CHECK(!gzip_accepted("GZIP")); /* compared as written */
    CHECK(!gzip_accepted("gzipx"));
    CHECK(!gzip_accepted("x-gzip"));
    CHECK(!gzip_accepted("gzip x"));
    CHECK(!gzip_accepted("identity, *"));
    CHECK(!gzip_accepted(","));
}

/* Inflated with zlib: the bytes that went in. */
static bool round_trips(const char *data, size_t len)
{
    struct evbuffer *plain = evbuffer_new();
    evbuffer_add(plain, data, len);
    struct evbuffer *packed = gzip_encode(plain);
    bool ok = packed && evbuffer_get_length(plain) == len;
    if (ok) {
        size_t n = evbuffer_get_length(packed);
        unsigned char *out = malloc(len + 1);
        z_stream z;
        memset(&z, 0, sizeof(z));
        inflateInit2(&z, 16 + MAX_WBITS);
        z.next_in = evbuffer_pullup(packed, -1);
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)len + 1;
        ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len &&
             memcmp(out, data, len) == 0 && z.avail_in == 0;
        inflateEnd(&z);
        free(out);
    }
    evbuffer_free(plain);
    if (packed)
        evbuffer_free(packed);
    return ok;
}

static void test_round_trip(void)
{
    CHECK(round_trips("", 0));
    CHECK(round_trips("x", 1));
    size_t big = 300000; /* far past the window */
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++)
        text[i] = (char)("# HELP http_requests_total\n"[i % 27] ^ (i / 7919 % 2));
    CHECK(round_trips(text, big));
    unsigned int seed = 7;
    for (size_t i = 0; i < big; i++)
        text[i] = (char)(rand_r(&seed) & 0xff); /* incompressible: deflate's bound */
    CHECK(round_trips(text, big));
    free(text);
}

int main(void)
{
    test_accepted();
    test_round_trip();
    return check_done("gzipenc");
}
