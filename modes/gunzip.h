/* Inflating a gzip answer on its way through, as Go's http.Client does
 * for the requests it added "Accept-Encoding: gzip" to. Streaming: each
 * piece of the body is inflated as it arrives. Concatenated gzip members
 * are one body, as for Go's gzip.Reader. */
#ifndef FW_GUNZIP_H
#define FW_GUNZIP_H

#include <stddef.h>

struct evbuffer;
struct gunzip;

struct gunzip *gunzip_new(void);
void gunzip_free(struct gunzip *g);
/* Inflate what in holds onto the end of out, until in is used up (and
 * drained) or out holds max bytes: a small answer may inflate a thousand
 * times over, so the caller takes the output in steps. 0, or -1 once the
 * stream is found corrupt: gunzip_error says why, in Go's words. */
int gunzip_feed(struct gunzip *g, struct evbuffer *in, struct evbuffer *out, size_t max);
/* The body is complete: -1 when it stopped inside a member. */
int gunzip_finish(struct gunzip *g);
const char *gunzip_error(const struct gunzip *g);

#endif
