/* libFuzzer target for the plain request heads the engine reads without
 * llhttp (watchdog/plainreq.c, feed_plain in watchdog/engine_parse.c).
 * The same bytes go twice through the real engine on a real event loop,
 * over a socketpair, in the same fuzzer-chosen pieces: once with plain
 * heads taken as they are, once with llhttp reading every head. The
 * client must hear the same bytes both times, and the handler, which
 * answers with everything it was handed (method, target, version,
 * framing, every field, the body), must be handed the same requests.
 *
 * Input: byte 0 seeds the split sizes, byte 1 bounds them (low 7 bits:
 * 1..128 bytes a piece; high bit: 4 KiB pieces, so that most heads come
 * whole), the rest is what the client sends. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "engine.h"
#include "engine_int.h"
#include "fzclient.h"
#include "request.h"

#define LOOP_ROUNDS 8
#define DRAIN_ROUNDS 64
#define HEARD_MAX (1 << 20)

/* ---- a handler that answers with what it was handed ---- */

struct fz_req {
    struct request *r;
    char *text;
    size_t len, cap;
};

static void fz_add(struct fz_req *q, const char *s, size_t n)
{
    if (q->len + n > q->cap) {
        size_t cap = (q->len + n) * 2;
        char *t = realloc(q->text, cap);
        if (!t)
            abort();
        q->text = t;
        q->cap = cap;
    }
    memcpy(q->text + q->len, s, n);
    q->len += n;
}

__attribute__((format(printf, 2, 3))) static void fz_addf(struct fz_req *q, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fz_add(q, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void fz_describe(struct fz_req *q, const struct request *r)
{
    fz_addf(q, "%d.%d head=%d chunked=%d body=%d length=%lld\n", r->http_major, r->http_minor,
            r->head, r->chunked, r->has_body, (long long)r->content_length);
    const char *parts[] = {r->method, r->uri, r->path, r->query, r->host};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        fz_add(q, parts[i], strlen(parts[i]));
        fz_add(q, "\n", 1);
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        fz_add(q, h->name, h->name_len);
        fz_add(q, "=", 1);
        fz_add(q, h->value, h->value_len);
        fz_add(q, "\n", 1);
    }
}

static void fz_answer(struct fz_req *q)
{
    struct request *r = q->r;
    /* The server's own Date would differ between the two runs. */
    resp_header(r, "Date", "-");
    resp_start(r, 200, (int64_t)q->len);
    resp_write(r, q->text, q->len);
    resp_end(r);
    free(q->text);
    free(q);
}

static void fz_body(void *arg, const char *data, size_t len)
{
    struct fz_req *q = arg;
    fz_add(q, data, len);
}

static void fz_body_end(void *arg)
{
    fz_answer(arg);
}

static void fz_abort(void *arg)
{
    struct fz_req *q = arg;
    free(q->text);
    free(q);
}

static const struct req_handler fz_ops = {fz_body, fz_body_end, NULL, fz_abort};

static void fz_on_request(void *arg, struct request *r)
{
    (void)arg;
    struct fz_req *q = calloc(1, sizeof(*q));
    if (!q)
        abort();
    q->r = r;
    fz_describe(q, r);
    if (r->path[0] == '/' && r->path[1] == 'n') { /* answered before the body */
        fz_add(q, "", 1);
        resp_header(r, "Date", "-");
        resp_simple(r, 200, q->text);
        free(q->text);
        free(q);
        return;
    }
    req_attach(r, &fz_ops, q);
}

/* ---- the harness ---- */

static struct event_base *fz_base;
static struct engine *fz_engine;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    fz_base = event_base_new();
    struct engine_params p = {
        .port_setting = "port",
        .read_timeout_ms = 60000,
        .write_timeout_ms = 60000,
        .max_connections = 16,
        .max_request_body = 8192,
        .on_request = fz_on_request,
    };
    fz_engine = fz_base ? engine_new(fz_base, &p) : NULL;
    if (!fz_engine)
        abort();
    return 0;
}

/* One connection through the engine: what the client heard, in *heard. */
static void run(const uint8_t *data, size_t size, uint32_t seed, size_t max_piece,
                struct fz_client *heard)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (engine_adopt(fz_engine, sv[0], (struct sockaddr *)&sin) != 0)
        abort();
    heard->fd = sv[1];
    fz_client_feed(heard, data, size, seed, max_piece);
    shutdown(sv[1], SHUT_WR);
    fz_client_spin(heard, LOOP_ROUNDS);
    for (int i = 0; i < DRAIN_ROUNDS && engine_connections(fz_engine) > 0; i++)
        fz_client_spin(heard, 1);
    close(sv[1]);
    engine_abort_all(fz_engine);
}

/* The server's own Date lines are the one thing that may differ. */
static size_t without_dates(char *buf, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        if (len - i > 6 && memcmp(buf + i, "Date: ", 6) == 0 && (i == 0 || buf[i - 1] == '\n')) {
            char *nl = memchr(buf + i, '\n', len - i);
            i = nl ? (size_t)(nl - buf) + 1 : len;
            continue;
        }
        buf[out++] = buf[i++];
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char a_buf[HEARD_MAX], b_buf[HEARD_MAX];
    if (size < 2)
        return 0;
    uint32_t seed = data[0];
    size_t max_piece = data[1] & 0x80 ? 4096 : (size_t)(data[1] & 0x7f) + 1;
    data += 2;
    size -= 2;

    struct fz_client a = {fz_base, fz_engine, -1, a_buf, 0, HEARD_MAX};
    struct fz_client b = {fz_base, fz_engine, -1, b_buf, 0, HEARD_MAX};
    conn_plain_heads = true;
    run(data, size, seed, max_piece, &a);
    conn_plain_heads = false;
    run(data, size, seed, max_piece, &b);
    conn_plain_heads = true;
    a.len = without_dates(a.heard, a.len);
    b.len = without_dates(b.heard, b.len);
    if (a.len != b.len || memcmp(a.heard, b.heard, a.len) != 0) {
        fprintf(stderr, "plain heads: %zu bytes heard\n%.*s\nllhttp: %zu bytes heard\n%.*s\n",
                a.len, (int)a.len, a.heard, b.len, (int)b.len, b.heard);
        abort();
    }
    return 0;
}
