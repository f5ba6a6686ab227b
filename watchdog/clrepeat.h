/* A Content-Length repeated with the same value. llhttp refuses any second
 * Content-Length; Go's net/http takes repeats of one value as one field and
 * refuses only differing values (RFC 9110 8.6 allows either). These let
 * llhttp read a repeat as if it were the first, and msghead compare the two
 * and drop the repeat, for requests and upstream answers alike. */
#ifndef FW_CLREPEAT_H
#define FW_CLREPEAT_H

#include <llhttp.h>

#include "msghead.h"

/* From on_header_field_complete, after msghead_name_done. */
static inline void clrepeat_name(llhttp_t *p, struct msghead *h)
{
    if (!msghead_repeats(h, "Content-Length", 14))
        return;
    /* What llhttp kept of the first: with the flag it refuses the repeat,
     * and it would add the repeat's digits to the first's length. */
    p->flags &= ~(uint16_t)F_CONTENT_LENGTH;
    p->content_length = 0;
}

/* From on_header_value_complete, after msghead_value_done: 0, or 1 when
 * the repeat differs from the first. */
static inline int clrepeat_value(struct msghead *h)
{
    return msghead_repeats(h, "Content-Length", 14) ? msghead_drop_repeat(h) : 0;
}

#endif
