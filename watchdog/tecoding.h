/* Transfer codings as Go's net/http takes them, for requests and upstream
 * answers alike. In HTTP/1.1 it knows one field, "chunked" in any case,
 * spaces aside, and refuses anything else. HTTP/1.0 has no transfer
 * codings: Go drops a Transfer-Encoding field of a 1.0 message and frames
 * its body by Content-Length alone, or reads none (a request) or to the
 * close (an answer); golang/go#12785. llhttp honours the field in 1.0 too,
 * and refuses it beside a Content-Length. */
#ifndef FW_TECODING_H
#define FW_TECODING_H

#include <llhttp.h>
#include <stdbool.h>
#include <strings.h>

#include "msghead.h"

/* From on_header_value_complete, after msghead_value_done: forgets what
 * llhttp noted of a 1.0 message's Transfer-Encoding, before it refuses a
 * Content-Length after it or reads chunks. */
static inline void te10_ignore(llhttp_t *p, const struct msghead *h)
{
    if (llhttp_get_http_minor(p) == 0 && msghead_last_named(h, "Transfer-Encoding", 17))
        p->flags &= ~(uint16_t)(F_CHUNKED | F_TRANSFER_ENCODING);
}

/* A Transfer-Encoding value other than "chunked", spaces aside. */
static inline bool te_not_chunked(const char *value, size_t len)
{
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    return len != 7 || strncasecmp(value, "chunked", 7) != 0;
}

#endif
