/* The request heads llhttp need not read. Most requests to a function are
 * a plain head with no body, whole in one read: a known method, an
 * origin-form target of ordinary bytes, HTTP/1.1 or 1.0, and field lines
 * of a name of letters, digits and '-', a colon and a value of visible
 * bytes, spaces and tabs, each ended by a CRLF. Of the fields llhttp
 * reads for framing, only a Content-Length of 0 and one Connection of
 * keep-alive or close are let through; any other, and Transfer-Encoding,
 * Upgrade and Proxy-Connection, leave the head to llhttp. What is split
 * here is what llhttp's callbacks would hand over for the same bytes
 * (tests/fuzz/fuzz_plainreq.c holds the two side by side). */
#ifndef FW_PLAINREQ_H
#define FW_PLAINREQ_H

#include <stddef.h>
#include <stdint.h>

/* More fields than this leave the head to llhttp. */
#define PLAINREQ_FIELDS 32

struct plainreq_field {
    const char *name, *value;
    uint32_t name_len, value_len; /* the value without the whitespace around it */
};

struct plainreq {
    const char *target;
    size_t target_len;
    uint8_t method;  /* enum llhttp_method */
    uint8_t minor;   /* HTTP/1.minor */
    uint16_t flags;  /* llhttp's F_CONTENT_LENGTH and F_CONNECTION_* */
    size_t nfields;
    struct plainreq_field fields[PLAINREQ_FIELDS];
};

/* The length of the head that starts data (len bytes), its blank line
 * included, with its parts in *r, when it is whole and plain; 0 when it
 * is not (r is then undefined). */
size_t plainreq_split(const char *data, size_t len, struct plainreq *r);

#endif
