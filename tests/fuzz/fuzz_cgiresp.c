/* libFuzzer target: the CGI header block parser (cgiresp), which reads
 * whatever a function writes to stdout with cgi_response=true.
 * The first byte says where the rest is cut in two; the input is fed whole,
 * then in those two pieces, then byte by byte, and all three must agree.
 * On DONE every header must be one the watchdog can put in a head as it is:
 * a token name, a value without CR, LF or NUL, no owned header, a status
 * from 200 to 599. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgiresp.h"

/* A small bound too, so that inputs reach it. */
#define SMALL_MAX 64

struct outcome {
    enum cgiresp_state state;
    size_t used;
    int status;
    size_t nheaders;
};

static void check_headers(const struct cgiresp *p)
{
    int status = cgiresp_status(p);
    if (status < 200 || status > 599)
        abort();
    for (size_t i = 0; i < p->nheaders; i++) {
        const struct header *h = &p->headers[i];
        if (h->name_len == 0 || strlen(h->name) != h->name_len || strlen(h->value) != h->value_len)
            abort();
        if (strpbrk(h->name, " \t\r\n:") || strpbrk(h->value, "\r\n"))
            abort();
        if (cgiresp_owned(h->name, h->name_len) || cgiresp_header(p, h->name) == NULL)
            abort();
    }
}

/* Feed data in pieces of at most step bytes (0: whole, or cut at cut). */
static struct outcome run(const char *data, size_t size, size_t max, size_t cut, size_t step)
{
    struct cgiresp p;
    struct outcome o = {CGIRESP_MORE, 0, 0, 0};
    size_t off = 0;
    cgiresp_init(&p, max);
    while (off < size && o.state == CGIRESP_MORE) {
        size_t n = step ? step : (off < cut ? cut - off : size - off), used = 0;
        if (n > size - off)
            n = size - off;
        o.state = cgiresp_feed(&p, data + off, n, &used);
        if (used > n || (o.state == CGIRESP_MORE && used != n))
            abort();
        o.used += used;
        off += n;
    }
    o.state = cgiresp_end(&p);
    if (o.state == CGIRESP_DONE) {
        check_headers(&p);
        o.status = cgiresp_status(&p);
        o.nheaders = p.nheaders;
        /* The block ends with its empty line. */
        if (o.used == 0 || data[o.used - 1] != '\n' || o.used > max)
            abort();
    } else if (p.error[0] == '\0') {
        abort(); /* every refusal says why */
    }
    cgiresp_free(&p);
    return o;
}

static void same(const struct outcome *a, const struct outcome *b)
{
    if (a->state != b->state)
        abort();
    if (a->state == CGIRESP_DONE &&
        (a->used != b->used || a->status != b->status || a->nheaders != b->nheaders))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, cut = len ? data[0] % (len + 1) : 0;
    for (int i = 0; i < 2; i++) {
        size_t max = i ? SMALL_MAX : CGIRESP_MAX;
        struct outcome whole = run(in, len, max, len, 0);
        struct outcome split = run(in, len, max, cut, 0);
        struct outcome bytes = run(in, len, max, 0, 1);
        same(&whole, &split);
        same(&whole, &bytes);
    }
    return 0;
}
