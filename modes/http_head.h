/* The request head http mode sends to its upstream, by the rules of Go's
 * reverse proxy and http.Client: hop-by-hop headers dropped, Host and
 * User-Agent when the client sent none, the proxy's own framing. */
#ifndef FW_HTTP_HEAD_H
#define FW_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "request.h"
#include "upstream.h"

struct evbuffer;
struct evio_gather;

/* Whether h is named lit, a name in Go's canonical case (as the parsers
 * keep every name). */
#define HTTP_HEADER_IS(h, lit) \
    ((h)->name_len == sizeof(lit) - 1 && memcmp((h)->name, lit, sizeof(lit) - 1) == 0)
/* value (a Connection header's, or NULL) for http_hop_by_hop: NULL when
 * it names no header besides Keep-Alive. */
const char *http_connection_names(const char *value);
/* Headers meant for one hop only (RFC 9110 7.6.1), plus those the proxy
 * sets itself; connection: the message's Connection value (NULL: none). */
bool http_hop_by_hop(const struct header *h, const char *connection, bool upgrade);
/* The client asks for a protocol upgrade (Upgrade, Connection: upgrade). */
bool http_is_upgrade(const struct request *r);
void http_gather_header(struct evio_gather *out, const char *name, size_t nlen, const char *val,
                        size_t vlen);
/* Go's http.Client asks for gzip itself (and inflates the answer) when the
 * request names no Accept-Encoding and no Range and is not a HEAD. */
bool http_adds_gzip(const struct request *r);
/* A request the newest Go watchdog hands to its reverse proxy instead of
 * its client: one that accepts text/event-stream or application/x-ndjson
 * (its first Accept, in any case), or asks for Upgrade: websocket. Such a
 * request reaches the function with X-Forwarded-For and without a
 * User-Agent of the proxy's own, and its answer has no X-Duration-Seconds. */
bool http_stream_request(const struct request *r);
/* The whole head, into out (which the caller set up and sends): the
 * request line (url's prefix before the client's path), the client's
 * end-to-end headers, then Content-Length (length >= 0) or chunked, and
 * Accept-Encoding: gzip when gzip. stream: http_stream_request(r). */
void http_head_gather(struct evio_gather *out, const struct request *r,
                      const struct upstream_url *url, int64_t length, bool chunked, bool gzip,
                      bool stream);

#endif
