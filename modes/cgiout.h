/* cgi_response in the fork modes: the CGI header block a function writes
 * ahead of its body (cgiresp) read from its stdout and turned into the
 * answer's status and headers. */
#ifndef FW_CGIOUT_H
#define FW_CGIOUT_H

#include "cgiresp.h"
#include "request.h"

struct evbuffer;

/* Feed p from the front of out and drain what the block took: whatever is
 * left in out is body. */
enum cgiresp_state cgiout_feed(struct cgiresp *p, struct evbuffer *out);
/* The whole output at once (the buffering modes): afterwards out holds the
 * body alone. 0, or -1 after refusing the block (cgiout_refuse). */
int cgiout_read_all(struct cgiresp *p, struct request *r, struct evbuffer *out);
/* The block was read: its headers go onto r's answer, with Content-Type
 * type (NULL: none) unless the function sent its own. Returns the status
 * to answer with. */
int cgiout_apply(const struct cgiresp *p, struct request *r, const char *type);
/* The block is not valid (p is in CGIRESP_ERROR): a log line saying why,
 * and 502, since the function answered something the watchdog cannot
 * pass on. */
void cgiout_refuse(struct request *r, const struct cgiresp *p);

#endif
