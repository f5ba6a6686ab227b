#include "cgiout.h"

#include <event2/buffer.h>

#include "log.h"

enum cgiresp_state cgiout_feed(struct cgiresp *p, struct evbuffer *out)
{
    enum cgiresp_state st = p->state;
    /* A few chains at a time, without copying the body that may follow. */
    while (st == CGIRESP_MORE && evbuffer_get_length(out) > 0) {
        struct evbuffer_iovec v[4];
        int n = evbuffer_peek(out, -1, NULL, v, 4);
        size_t taken = 0;
        for (int i = 0; i < n && i < 4 && st == CGIRESP_MORE; i++) {
            size_t used = 0;
            st = cgiresp_feed(p, v[i].iov_base, v[i].iov_len, &used);
            taken += used;
        }
        evbuffer_drain(out, taken);
        if (taken == 0)
            break; /* only empty chains in front: nothing to take */
    }
    return st;
}

int cgiout_read_all(struct cgiresp *p, struct request *r, struct evbuffer *out)
{
    if (cgiout_feed(p, out) == CGIRESP_MORE)
        cgiresp_end(p);
    if (p->state == CGIRESP_DONE)
        return 0;
    cgiout_refuse(r, p);
    return -1;
}

int cgiout_apply(const struct cgiresp *p, struct request *r, const char *type)
{
    if (type && !cgiresp_header(p, "Content-Type"))
        resp_header(r, "Content-Type", type);
    for (size_t i = 0; i < p->nheaders; i++)
        resp_header(r, p->headers[i].name, p->headers[i].value);
    return cgiresp_status(p);
}

void cgiout_refuse(struct request *r, const struct cgiresp *p)
{
    log_error("cgi_response: bad header block from the function: %s", p->error);
    resp_simple(r, 502, "Bad CGI header block from the function\n");
}
