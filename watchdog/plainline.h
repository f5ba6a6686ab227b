/* A plain field line as both short paths for plain heads read it: the
 * answer's (upstream.c) and the request's (plainreq.c). Each is held to
 * llhttp's reading by a fuzz target. */
#ifndef FW_PLAINLINE_H
#define FW_PLAINLINE_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

/* The value of a field line, from after its colon to the CR that ends it,
 * without the spaces and tabs around it: [*v, *e). True when it is bare:
 * at most one space after the colon and none at the end, where parsers
 * do not differ on a framing value. */
static inline bool plainline_value(const char *colon, const char *cr, const char **v,
                                   const char **e)
{
    const char *b = colon + 1, *t = cr;
    while (b < t && (*b == ' ' || *b == '\t'))
        b++;
    while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    *v = b;
    *e = t;
    return t == cr && (b == colon + 1 || (b == colon + 2 && colon[1] == ' '));
}

/* llhttp's flag for a Connection value of keep-alive or close alone, in
 * any case; 0 for any other. */
static inline uint16_t plainline_connection(const char *v, size_t n)
{
    if (n == 10 && strncasecmp(v, "keep-alive", 10) == 0)
        return F_CONNECTION_KEEP_ALIVE;
    if (n == 5 && strncasecmp(v, "close", 5) == 0)
        return F_CONNECTION_CLOSE;
    return 0;
}

#endif
