/* libFuzzer target for the upstream-response path of http mode: arbitrary
 * bytes, in fuzzer-chosen pieces, parsed as HTTP responses with llhttp in
 * HTTP_RESPONSE mode and the framing rules a reverse proxy needs: a status,
 * header spans collected the way server.c collects request heads, the body
 * delimited by Content-Length, chunked coding or the close, 1xx interim
 * responses skipped, and responses to HEAD carrying no body. Invariants are
 * checked after every piece; a violation aborts.
 *
 * This exercises llhttp's response parser with those callbacks; the
 * response parser of http mode gets its own harness around this one.
 *
 * Input: byte 0 seeds the split sizes, byte 1 bounds them and (bit 7) says
 * the request was HEAD; the rest is what the upstream sends. */
#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD (1024 * 1024)

struct upstream {
    llhttp_t parser;
    bool head_request;
    bool in_message, headers_done;
    size_t head_bytes;
    int status;
    uint64_t body;              /* body bytes of the current response */
    int64_t content_length;     /* -1 when not framed by length */
    unsigned responses;
};

static struct upstream *up(llhttp_t *p)
{
    return p->data;
}

static int on_message_begin(llhttp_t *p)
{
    struct upstream *u = up(p);
    if (u->in_message)
        abort();
    u->in_message = true;
    u->headers_done = false;
    u->head_bytes = 0;
    u->body = 0;
    u->content_length = -1;
    return 0;
}

static int on_span(llhttp_t *p, const char *at, size_t len)
{
    struct upstream *u = up(p);
    (void)at;
    /* spans after the head are chunked trailers */
    if (!u->in_message)
        abort();
    u->head_bytes += len;
    return u->head_bytes > MAX_HEAD ? HPE_USER : 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct upstream *u = up(p);
    /* llhttp 8 takes "HTTP/1.1 20 OK" as status 20: refuse what is not a
     * three-digit status (http mode answers 502 to it). */
    u->status = llhttp_get_status_code(p);
    if (u->status < 100 || u->status > 999)
        return -1;
    u->headers_done = true;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_len = (p->flags & F_CONTENT_LENGTH) != 0;
    if (chunked && has_len)
        abort(); /* llhttp must refuse the conflict */
    u->content_length = has_len ? (int64_t)p->content_length : -1;
    /* llhttp leaves these to its caller (it skips the body only when told
     * to): the answer to HEAD, 1xx, 204 and 304 have no body whatever
     * their headers say. Without this, "304 + Content-Length: 10" would eat
     * ten bytes of the next response on a pooled connection. */
    if ((u->head_request && u->status >= 200) || u->status < 200 || u->status == 204 ||
        u->status == 304)
        return 1;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct upstream *u = up(p);
    (void)at;
    if (!u->headers_done || len == 0)
        abort();
    if (u->head_request && u->status >= 200)
        abort();
    if (u->status == 204 || u->status == 304 || (u->status >= 100 && u->status < 200))
        abort();
    u->body += len;
    if (u->content_length >= 0 && u->body > (uint64_t)u->content_length)
        abort();
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct upstream *u = up(p);
    if (!u->in_message || !u->headers_done)
        abort();
    bool bodiless = (u->head_request && u->status >= 200) || u->status == 204 ||
                    u->status == 304 || u->status < 200;
    if (!bodiless && u->content_length >= 0 && u->body != (uint64_t)u->content_length)
        abort();
    u->in_message = false;
    u->responses++;
    return 0;
}

static llhttp_settings_t settings;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_span;
    settings.on_header_field = on_span;
    settings.on_header_value = on_span;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct upstream u = {.content_length = -1};
    uint32_t seed = data[0];
    size_t max_piece = (size_t)(data[1] & 0x7f) + 1;
    u.head_request = (data[1] & 0x80) != 0;
    data += 2;
    size -= 2;
    llhttp_init(&u.parser, HTTP_RESPONSE, &settings);
    u.parser.data = &u;

    llhttp_errno_t err = HPE_OK;
    for (size_t off = 0; off < size && err == HPE_OK;) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 8) % max_piece;
        if (n > size - off)
            n = size - off;
        err = llhttp_execute(&u.parser, (const char *)data + off, n);
        if (err != HPE_OK) {
            const char *pos = llhttp_get_error_pos(&u.parser);
            if (pos && (pos < (const char *)data + off || pos > (const char *)data + off + n))
                abort();
        }
        off += n;
    }
    /* The upstream closed: a close-delimited body ends here. */
    if (err == HPE_OK)
        err = llhttp_finish(&u.parser);
    if (err == HPE_OK && u.in_message && u.headers_done && u.content_length >= 0 &&
        u.body > (uint64_t)u.content_length)
        abort();
    return 0;
}
