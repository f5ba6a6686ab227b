/* libFuzzer target for the upstream-response path of http mode: arbitrary
 * bytes, in fuzzer-chosen pieces, answer requests made through the real
 * upstream client (watchdog/upstream.c: connection pool, llhttp response
 * parsing, body framing, pause and resume, 101 detach) on a real event
 * loop. The upstream is a listening abstract unix socket, so conn_new,
 * the connect callback and the pool run unchanged, with no network.
 *
 * upstream.c is included so the harness can see the pool (how many idle
 * connections, which socket a connection uses): no test-only entry point
 * in production code.
 *
 * Input: byte 0 seeds the split sizes, byte 1 bounds them (low 7 bits,
 * 1..128 bytes a piece) and says the first request is HEAD (bit 7); the
 * rest is what the upstream sends, one segment per request, segments
 * separated by SEP. Request i > 0 is HEAD when bit i % 8 of byte 0 is set.
 * A segment is sent only once the previous exchange is over (or after it
 * anyway, as more bytes on the same connection, when it is not). The
 * callbacks check the framing rules a reverse proxy relies on; a violation
 * aborts. */
#include "../../watchdog/upstream.c"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>

#define SEP "\0NEXT\0"
#define SEP_LEN 6
#define SPIN_ROUNDS 4
#define EOF_ROUNDS 256

/* What one exchange has seen so far. */
struct fz_exchange {
    struct upconn *c;
    bool head_request;
    bool got_head, ended, failed, upgraded, cancelled;
    bool bodiless;
    int status;
    int64_t content_length;
    uint64_t body;
    bool pause_on_body;
};

static struct event_base *fz_base;
static struct upstream_url fz_url;
static struct upstream *fz_up;
static int fz_listener = -1;

static void fz_head(void *arg, const struct upstream_response *resp)
{
    struct fz_exchange *x = arg;
    if (x->got_head || x->ended || x->failed)
        abort();
    x->got_head = true;
    x->status = resp->status;
    /* Nothing of an earlier message (an interim response's body) waits to
     * be handed on as this response's body. */
    if (evbuffer_get_length(x->c->body) != 0)
        abort();
    /* Only a status a client can be given reaches the owner; interim
     * responses (1xx but 101) are read past, never handed on. */
    if (resp->status < 100 || resp->status > 999)
        abort();
    if (resp->status < 200 && resp->status != 101)
        abort();
    if (resp->upgrade != (resp->status == 101))
        abort();
    for (size_t i = 0; i < resp->nheaders; i++) {
        const struct header *h = &resp->headers[i];
        /* A value may hold a NUL, as through Go's client: read as a
         * string it ends there, never past its length. */
        if (strlen(h->name) != h->name_len || strlen(h->value) > h->value_len ||
            h->value[h->value_len] != '\0')
            abort();
    }
    x->bodiless = x->head_request || resp->status == 204 || resp->status == 304;
    x->content_length = resp->content_length;
    if (resp->upgrade) {
        /* The owner takes the socket for a tunnel; here it just closes it. */
        x->upgraded = true;
        bufferevent_free(upconn_detach(x->c));
        x->c = NULL;
    }
}

/* n body bytes, the first of them first: what either body callback got. */
static void fz_body_bytes(struct fz_exchange *x, unsigned char first, size_t n)
{
    if (!x->got_head || x->ended || x->failed || x->upgraded || n == 0)
        abort();
    /* The answer to HEAD, 204 and 304 has no body whatever its headers say. */
    if (x->bodiless)
        abort();
    x->body += n;
    if (x->content_length >= 0 && x->body > (uint64_t)x->content_length)
        abort();
    /* An owner may give up in the middle of a callback. */
    if (first == 'C') {
        x->cancelled = true;
        upconn_cancel(x->c);
        x->c = NULL;
        return;
    }
    /* A slow client: stop reading; the harness resumes after a round. */
    if (x->pause_on_body)
        upconn_pause(x->c, true);
}

static void fz_body(void *arg, struct evbuffer *data)
{
    size_t n = evbuffer_get_length(data);
    unsigned char first = 0;
    evbuffer_copyout(data, &first, 1);
    evbuffer_drain(data, n);
    fz_body_bytes(arg, first, n);
}

static int fz_body_mem(void *arg, const char *data, size_t len)
{
    fz_body_bytes(arg, len > 0 ? (unsigned char)data[0] : 0, len);
    return 0;
}

static void fz_end(void *arg)
{
    struct fz_exchange *x = arg;
    if (!x->got_head || x->ended || x->failed || x->upgraded)
        abort();
    if (!x->bodiless && x->content_length >= 0 && x->body != (uint64_t)x->content_length)
        abort();
    x->ended = true;
    x->c = NULL;
}

static void fz_fail(void *arg, const struct upstream_fail *f)
{
    struct fz_exchange *x = arg;
    if (x->ended || x->failed || x->upgraded)
        abort();
    /* Once a head went to the client, only a body can go wrong: cut, or
     * unreadable (with the words for it). */
    bool body_fault = f->kind == UPSTREAM_TRUNCATED || f->kind == UPSTREAM_BAD_BODY;
    if ((x->got_head && !body_fault) || (f->kind == UPSTREAM_BAD_BODY) != (f->why != NULL))
        abort();
    x->failed = true;
    x->c = NULL;
}

static void fz_drain(void *arg)
{
    (void)arg;
}

static const struct upstream_ops fz_ops = {fz_head, fz_body, fz_body_mem, fz_end, fz_fail, fz_drain};

static bool exchange_over(const struct fz_exchange *x)
{
    return x->ended || x->failed || x->upgraded || x->cancelled;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    /* An abstract unix name unique to this process: parallel fuzzers
     * (-jobs) do not collide. */
    struct sockaddr_un *sun = (struct sockaddr_un *)&fz_url.addr;
    sun->sun_family = AF_UNIX;
    int len = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "fwatchdog-fuzz-%d",
                       (int)getpid());
    fz_url.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    strcpy(fz_url.authority, "fuzz");
    fz_url.prefix = "";
    fz_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fz_listener < 0 ||
        bind(fz_listener, (struct sockaddr *)&fz_url.addr, fz_url.addrlen) != 0 ||
        listen(fz_listener, 16) != 0)
        abort();
    fz_base = event_base_new();
    fz_up = fz_base ? upstream_new(fz_base, &fz_url, NULL, NULL) : NULL;
    if (!fz_up)
        abort();
    return 0;
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* The upstream reads the request and drops it. */
static void drain_peer(int fd)
{
    char buf[4096];
    while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
        ;
}

/* Whatever connection the client opened since the last look becomes the
 * upstream's side of the exchange. */
static void accept_new(int *peer)
{
    int fd = accept4(fz_listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (*peer >= 0)
        close(*peer);
    *peer = fd;
}

static void spin(struct fz_exchange *x, int *peer, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(fz_base, EVLOOP_NONBLOCK);
        accept_new(peer);
        drain_peer(*peer);
        if (x->c && !exchange_over(x))
            upconn_pause(x->c, false);
    }
}

static bool begin(struct fz_exchange *x, bool head_request, bool pause_on_body, int *peer)
{
    static const char get[] = "GET /fuzz HTTP/1.1\r\nHost: fuzz\r\n\r\n";
    static const char head[] = "HEAD /fuzz HTTP/1.1\r\nHost: fuzz\r\n\r\n";
    *x = (struct fz_exchange){.head_request = head_request, .pause_on_body = pause_on_body,
                              .content_length = -1};
    /* not retryable: a pooled connection is always checked before reuse */
    x->c = upstream_begin(fz_up, &fz_ops, x, head_request, false);
    if (!x->c)
        return false;
    struct evbuffer *out = upconn_output(x->c);
    if (head_request)
        evbuffer_add(out, head, sizeof(head) - 1);
    else
        evbuffer_add(out, get, sizeof(get) - 1);
    upconn_flush(x->c);
    upconn_request_done(x->c);
    accept_new(peer);
    return true;
}

static void send_all(struct fz_exchange *x, int *peer, const uint8_t *p, size_t n)
{
    while (n > 0 && *peer >= 0) {
        ssize_t w = write(*peer, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return; /* the client closed: the rest is not read */
        spin(x, peer, 1);
        if (exchange_over(x))
            return;
    }
}

static const uint8_t *find_sep(const uint8_t *p, size_t n)
{
    return memmem(p, n, SEP, SEP_LEN);
}

/* The upstream half-closes: a close-delimited body ends, anything else
 * unfinished fails. Either way the exchange must be over. */
static void finish(struct fz_exchange *x, int *peer)
{
    if (*peer >= 0)
        shutdown(*peer, SHUT_WR);
    for (int i = 0; i < EOF_ROUNDS && !exchange_over(x); i++)
        spin(x, peer, 1);
    if (!exchange_over(x))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = data[0];
    uint8_t head_bits = data[0];
    size_t max_piece = (size_t)(data[1] & 0x7f) + 1;
    bool head_request = (data[1] & 0x80) != 0;
    data += 2;
    size -= 2;

    int peer = -1;
    struct fz_exchange x;
    unsigned i = 0;
    bool started = begin(&x, head_request, (seed & 1) != 0, &peer);
    while (started) {
        const uint8_t *sep = find_sep(data, size);
        size_t seg = sep ? (size_t)(sep - data) : size;
        for (size_t off = 0; off < seg && peer >= 0;) {
            size_t n = 1 + next_rand(&seed) % max_piece;
            if (n > seg - off)
                n = seg - off;
            send_all(&x, &peer, data + off, n);
            off += n;
            spin(&x, &peer, SPIN_ROUNDS);
        }
        if (!sep)
            break;
        data += seg + SEP_LEN;
        size -= seg + SEP_LEN;
        if (!exchange_over(&x))
            continue;   /* the next segment is more of this response */
        /* The next request goes on the pooled connection when there is
         * one, else on a new connection (a fresh upstream side). */
        i++;
        started = begin(&x, (head_bits >> (i % 8)) & 1, (next_rand(&seed) & 1) != 0, &peer);
    }
    if (started)
        finish(&x, &peer);
    /* Nothing carries over to the next input. */
    upstream_close_idle(fz_up);
    if (peer >= 0)
        close(peer);
    for (int r = 0; r < SPIN_ROUNDS; r++)
        event_base_loop(fz_base, EVLOOP_NONBLOCK);
    accept_new(&peer);
    if (peer >= 0)
        close(peer);
    return 0;
}
