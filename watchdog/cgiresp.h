/* The CGI header block a fork-mode function writes ahead of its body with
 * cgi_response=true (RFC 3875 section 6): "Name: value" lines (Status:,
 * Content-Type:, Location:, any other), an empty line, then the body.
 * Lines end in LF or CRLF. The parser is fed stdout as it arrives, in
 * pieces of any size, does no I/O, and says when it needs more, when the
 * block is over (and where the body starts), or why it is not a valid
 * block. The block is bounded: a function that never prints the empty
 * line cannot make the watchdog hold its output. */
#ifndef FW_CGIRESP_H
#define FW_CGIRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi.h"

/* The bound the modes use: the block, empty line included. */
#define CGIRESP_MAX (64 * 1024)

enum cgiresp_state {
    CGIRESP_MORE,   /* every byte fed was taken; the block goes on */
    CGIRESP_DONE,   /* the empty line was read: status and headers are set */
    CGIRESP_ERROR,  /* not a valid block: error says why */
};

struct cgiresp_field {
    uint32_t name_off, name_len, val_off, val_len;
};

struct cgiresp {
    enum cgiresp_state state;
    size_t max;                 /* bytes the block may take, empty line included */
    unsigned line;              /* lines read so far */
    char *buf;                  /* the block's bytes; names and values NUL-ended in place */
    size_t len, cap, line_start;
    struct cgiresp_field *fields;   /* offsets into buf: it moves while it grows */
    size_t nfields, fields_cap;
    int status;                 /* from Status:, 0 when none */
    bool absolute_location;     /* a Location: with a scheme (client redirect) */
    /* Once DONE: the headers for the client, pointing into buf, NUL-ended,
     * Status: and the watchdog's own (cgiresp_owned) left out. */
    struct header *headers;
    size_t nheaders;
    char error[96];             /* once ERROR */
};

/* No allocation until the first byte is fed. */
void cgiresp_init(struct cgiresp *p, size_t max);
/* Frees what the parser holds and starts it over. */
void cgiresp_free(struct cgiresp *p);
/* Feed len bytes of stdout. *used gets how many were part of the block:
 * len on MORE; on DONE, up to and including the empty line (the body
 * starts at data + *used). Once DONE or ERROR nothing more is taken. */
enum cgiresp_state cgiresp_feed(struct cgiresp *p, const char *data, size_t len, size_t *used);
/* stdout ended: an unfinished block becomes an ERROR. */
enum cgiresp_state cgiresp_end(struct cgiresp *p);
/* Once DONE: Status's code; else 302 for an absolute Location; else 200. */
int cgiresp_status(const struct cgiresp *p);
/* Once DONE: the first value of a header the client gets (any case), NULL
 * when the function sent none. */
const char *cgiresp_header(const struct cgiresp *p, const char *name);
/* Headers the watchdog sets itself, never taken from a function: framing
 * and connection handling (Content-Length, Transfer-Encoding, Connection
 * and the other hop-by-hop ones), Date, X-Duration-Seconds. */
bool cgiresp_owned(const char *name, size_t len);

#endif
