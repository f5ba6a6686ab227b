/* gzip, for the answers Go's watchdog compresses (promhttp's /metrics). */
#ifndef FW_GZIPENC_H
#define FW_GZIPENC_H

#include <stdbool.h>

struct evbuffer;

/* Whether an Accept-Encoding value asks for gzip as promhttp reads it:
 * one of its comma-separated parts, trimmed of spaces, is "gzip" or starts
 * with "gzip;" (a q-value is not weighed). NULL: no. */
bool gzip_accepted(const char *accept_encoding);

/* All of plain, gzip-compressed, in a new buffer; NULL when memory ran
 * out. plain is left as it was. */
struct evbuffer *gzip_encode(struct evbuffer *plain);

#endif
