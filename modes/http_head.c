#include "http_head.h"

#include <string.h>
#include <strings.h>

#include "evio.h"
#include "fmt.h"

static void add_str(struct evio_gather *out, const char *s)
{
    evio_gather_add(out, s, strlen(s));
}

void http_gather_header(struct evio_gather *out, const char *name, size_t nlen, const char *val,
                        size_t vlen)
{
    evio_gather_add(out, name, nlen);
    evio_gather_add(out, ": ", 2);
    evio_gather_add(out, val, vlen);
    evio_gather_add(out, "\r\n", 2);
}

/* The next token of a comma-separated list at or after list; its length in *n. */
static const char *next_token(const char *list, size_t *n)
{
    list += strspn(list, " \t,");
    *n = strcspn(list, " \t,");
    return list;
}

/* Is name one of the comma-separated tokens of a Connection value? */
static bool in_token_list(const char *list, const char *name, size_t len)
{
    size_t n;
    for (; list && *list; list += n) {
        list = next_token(list, &n);
        if (n == len && strncasecmp(list, name, len) == 0)
            return true;
    }
    return false;
}

/* The Connection value as far as it names headers to drop: NULL when it
 * names none besides Keep-Alive, which goes anyway. The usual "keep-alive"
 * then costs no token scan for every header. */
const char *http_connection_names(const char *value)
{
    size_t n;
    for (const char *list = value; list && *list; list += n) {
        list = next_token(list, &n);
        if (n > 0 && !(n == 10 && (memcmp(list, "keep-alive", 10) == 0 ||
                                   strncasecmp(list, "keep-alive", 10) == 0)))
            return value;
    }
    return NULL;
}

/* The fixed names, told apart by length first: most headers are none of
 * them and cost one comparison. */
static bool fixed_hop_by_hop(const struct header *h)
{
    switch (h->name_len) {
    case 2:
        return HTTP_HEADER_IS(h, "Te");
    case 7:
        return HTTP_HEADER_IS(h, "Trailer");
    case 10:
        return HTTP_HEADER_IS(h, "Connection") || HTTP_HEADER_IS(h, "Keep-Alive");
    case 14:
        return HTTP_HEADER_IS(h, "Content-Length");
    case 17:
        return HTTP_HEADER_IS(h, "Transfer-Encoding");
    default:
        return false;
    }
}

bool http_hop_by_hop(const struct header *h, const char *connection, bool upgrade)
{
    if (fixed_hop_by_hop(h))
        return true;
    if (h->name_len >= 5 && memcmp(h->name, "Proxy", 5) == 0)
        return true;
    /* An upgrade keeps its Upgrade header, whatever Connection names. */
    if (h->name_len == 7 && HTTP_HEADER_IS(h, "Upgrade"))
        return !upgrade;
    return connection && in_token_list(connection, h->name, h->name_len);
}

bool http_is_upgrade(const struct request *r)
{
    return req_header(r, "Upgrade") && in_token_list(req_header(r, "Connection"), "upgrade", 7);
}

/* The request line: prefix + the original request-target. */
static void add_request_line(struct evio_gather *out, const struct request *r,
                             const struct upstream_url *url)
{
    const char *target = r->uri;
    add_str(out, r->method);
    evio_gather_add(out, " ", 1);
    if (target[0] != '/' &&
        (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0)) {
        /* absolute-form: keep the path; the upstream is ours to name */
        const char *path = strchr(strstr(target, "//") + 2, '/');
        target = path ? path : "/";
    }
    if (target[0] == '/')
        evio_gather_add(out, url->prefix, url->prefix_len);
    /* Go's client parses the target as a URL: a fragment is not sent. */
    evio_gather_add(out, target, strcspn(target, "#"));
    evio_gather_add(out, " HTTP/1.1\r\n", 11);
}

/* Go reads a header with Get: a repeated one by its first value, and an
 * empty one as none. */
static bool header_empty(const struct request *r, const char *name)
{
    const char *v = req_header(r, name);
    return !v || !*v;
}

bool http_adds_gzip(const struct request *r)
{
    return !r->head && header_empty(r, "Accept-Encoding") && header_empty(r, "Range");
}

bool http_stream_request(const struct request *r)
{
    const char *accept = req_header(r, "Accept");
    const char *upgrade = req_header(r, "Upgrade");
    return (accept && (strcasestr(accept, "text/event-stream") ||
                       strcasestr(accept, "application/x-ndjson"))) ||
           (upgrade && strcmp(upgrade, "websocket") == 0);
}

/* Go's reverse proxy: the client's X-Forwarded-For values joined with
 * ", ", then the client's address, in one field. */
static void add_forwarded_for(struct evio_gather *out, const struct request *r)
{
    EVIO_GATHER_LIT(out, "X-Forwarded-For: ");
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        if (HTTP_HEADER_IS(h, "X-Forwarded-For")) {
            evio_gather_add(out, h->value, h->value_len);
            evio_gather_add(out, ", ", 2);
        }
    }
    add_str(out, r->remote_addr);
    evio_gather_add(out, "\r\n", 2);
}

void http_head_gather(struct evio_gather *out, const struct request *r,
                      const struct upstream_url *url, int64_t length, bool chunked, bool gzip,
                      bool stream)
{
    const char *connection = http_connection_names(req_header(r, "Connection"));
    bool upgrade = http_is_upgrade(r);

    add_request_line(out, r, url);
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        /* Expect was answered by the engine; the body streams anyway. An
         * empty Host is replaced by the upstream's, as Go's client does.
         * User-Agent, and X-Forwarded-For of a stream, are written once,
         * below. */
        if (http_hop_by_hop(h, connection, upgrade) || HTTP_HEADER_IS(h, "Expect") ||
            (!*r->host && HTTP_HEADER_IS(h, "Host")) ||
            HTTP_HEADER_IS(h, "User-Agent") || (stream && HTTP_HEADER_IS(h, "X-Forwarded-For")))
            continue;
        http_gather_header(out, h->name, h->name_len, h->value, h->value_len);
    }
    if (!*r->host)
        http_gather_header(out, "Host", 4, url->authority, strlen(url->authority));
    /* Go's http.Client sends the first User-Agent only, none at all when
     * that one is empty, and names itself when the client sent none; its
     * reverse proxy, never. */
    const char *agent = req_header(r, "User-Agent");
    if (!agent && !stream)
        EVIO_GATHER_LIT(out, "User-Agent: Go-http-client/1.1\r\n");
    else if (agent && *agent)
        http_gather_header(out, "User-Agent", 10, agent, strlen(agent));
    if (stream)
        add_forwarded_for(out, r);
    if (upgrade)
        EVIO_GATHER_LIT(out, "Connection: Upgrade\r\n");
    if (chunked)
        EVIO_GATHER_LIT(out, "Transfer-Encoding: chunked\r\n");
    if (length >= 0) {
        char num[FMT_U64_LEN];
        http_gather_header(out, "Content-Length", 14, num, fmt_u64(num, (uint64_t)length));
    }
    if (gzip)
        EVIO_GATHER_LIT(out, "Accept-Encoding: gzip\r\n");
    EVIO_GATHER_LIT(out, "\r\n");
}
