/* output: a connection's bytes for the client, in flat memory while they
 * fit one block, in the bufferevent's output after; order always kept. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check.h"
#include "engine_int.h"
#include "evmem.h"

/* A connected TCP pair on loopback with small buffers, so that the
 * writing side fills after a few KiB. fds[0] writes, non-blocking. */
static int tcp_pair(int fds[2])
{
    int small = 4096;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || fds[0] < 0)
        return -1;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0 ||
        connect(fds[0], (struct sockaddr *)&a, sizeof(a)) != 0)
        return -1;
    fds[1] = accept(l, NULL, NULL);
    close(l);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    return fds[1] < 0 ? -1 : 0;
}

/* Everything readable on fd within a short wait, appended at *len. */
static void drain_peer(int fd, char *to, size_t cap, size_t *len)
{
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n;
    while (*len < cap && (n = read(fd, to + *len, cap - *len)) > 0)
        *len += (size_t)n;
}

static void fill(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (seed + i / 7) % 26);
}

static size_t queued(struct conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* The first n bytes of the bufferevent's output, taken as its socket
 * would (it keeps the start frozen for its own writes). */
static void take_out(struct conn *c, char *to, size_t n)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_unfreeze(out, 1);
    CHECK(evbuffer_remove(out, to, n) == (int)n);
    evbuffer_freeze(out, 1);
}

/* Small pieces stay flat; one that does not fit sends what is flat and
 * everything after it to the evbuffer, in order. */
static void test_flat_then_spill(struct event_base *base)
{
    static char big[EVMEM_BLOCK + 10], all[2 * EVMEM_BLOCK + 64];
    struct conn c = {0};
    c.bev = bufferevent_socket_new(base, -1, 0);
    conn_out_add(&c, "head:", 5);
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, "body;", 5);
    conn_out_add_buf(&c, body);
    CHECK(evbuffer_get_length(body) == 0);
    CHECK(c.out.len == 10 && queued(&c) == 0 && conn_out_len(&c) == 10);
    fill(big, sizeof(big), 3);
    conn_out_add(&c, big, sizeof(big));
    CHECK(c.out.len == 0 && c.out.buf == NULL);
    conn_out_add(&c, "tail", 4);   /* behind the evbuffer's bytes: there too */
    CHECK(c.out.len == 0 && queued(&c) == 10 + sizeof(big) + 4);
    take_out(&c, all, queued(&c));
    CHECK(memcmp(all, "head:body;", 10) == 0);
    CHECK(memcmp(all + 10, big, sizeof(big)) == 0);
    CHECK(memcmp(all + 10 + sizeof(big), "tail", 4) == 0);
    /* Empty again: the next answer is flat. */
    conn_out_add(&c, "next", 4);
    CHECK(c.out.len == 4 && queued(&c) == 0);
    conn_out_spill(&c);
    CHECK(c.out.len == 0 && c.out.buf == NULL && queued(&c) == 4);
    evbuffer_free(body);
    conn_out_free(&c);
    bufferevent_free(c.bev);
}

/* A block's worth exactly stays flat; a buffer one byte too large for
 * what is left moves as chains, after the flat bytes. */
static void test_block_edges(struct event_base *base)
{
    static char a[EVMEM_BLOCK], all[EVMEM_BLOCK + 2];
    struct conn c = {0};
    c.bev = bufferevent_socket_new(base, -1, 0);
    fill(a, sizeof(a), 1);
    conn_out_add(&c, a, sizeof(a) - 1);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "xy", 2);
    conn_out_add_buf(&c, b);
    CHECK(c.out.len == 0 && queued(&c) == sizeof(a) + 1);
    take_out(&c, all, sizeof(a) + 1);
    CHECK(memcmp(all, a, sizeof(a) - 1) == 0 && memcmp(all + sizeof(a) - 1, "xy", 2) == 0);
    conn_out_add(&c, a, sizeof(a));
    CHECK(c.out.len == sizeof(a) && queued(&c) == 0);
    evbuffer_free(b);
    conn_out_free(&c);
    bufferevent_free(c.bev);
}

/* A connection whose socket is fds[0] of a new TCP pair; false (checked)
 * without one. */
static bool conn_on_pair(struct event_base *base, struct conn *c, int fds[2])
{
    if (tcp_pair(fds) != 0) {
        CHECK(!"a TCP pair on loopback");
        return false;
    }
    *c = (struct conn){0};
    c->bev = bufferevent_socket_new(base, fds[0], 0);
    return true;
}

/* A socket with room takes the whole answer: 0, nothing left queued;
 * with nothing waiting, 0 and no write. */
static void test_whole_write(struct event_base *base)
{
    int fds[2] = {-1, -1};
    struct conn c;
    if (!conn_on_pair(base, &c, fds))
        return;
    CHECK(conn_out_write_flat(&c, fds[0]) == 0);
    conn_out_add(&c, "head:", 5);
    conn_out_add(&c, "body", 4);
    CHECK(conn_out_write_flat(&c, fds[0]) == 0);
    CHECK(c.out.len == 0 && c.out.buf == NULL && queued(&c) == 0);
    char got[16];
    size_t have = 0;
    drain_peer(fds[1], got, sizeof(got), &have);
    CHECK(have == 9 && memcmp(got, "head:body", 9) == 0);
    conn_out_free(&c);
    bufferevent_free(c.bev);
    close(fds[0]);
    close(fds[1]);
}

/* The socket takes part of the flat bytes: the rest waits in the
 * evbuffer, and the peer reads every byte once, in order. */
static void test_partial_write(struct event_base *base)
{
    static char stream[4 << 20], answer[3000], got[8 << 20];
    int fds[2] = {-1, -1};
    struct conn c;
    if (!conn_on_pair(base, &c, fds))
        return;
    /* Fill the socket, then make room for less than one answer. */
    fill(stream, sizeof(stream), 0);
    size_t sent = 0;
    ssize_t n;
    while (sent < sizeof(stream) &&
           (n = write(fds[0], stream + sent, sizeof(stream) - sent)) > 0)
        sent += (size_t)n;
    CHECK(n < 0 && errno == EAGAIN);
    size_t have = 0;
    while (have < 1024) {
        n = read(fds[1], got + have, 1024 - have);
        CHECK(n > 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    fill(answer, sizeof(answer), 9);
    conn_out_add(&c, answer, sizeof(answer));
    CHECK(conn_out_write_flat(&c, fds[0]) == 1);
    CHECK(c.out.len == 0 && c.out.buf == NULL);
    size_t left = queued(&c);
    CHECK(left > 0 && left <= sizeof(answer));
    /* The evbuffer's bytes go out as the bufferevent would write them. */
    struct evbuffer *out = bufferevent_get_output(c.bev);
    while (evbuffer_get_length(out) > 0) {
        drain_peer(fds[1], got, sizeof(got), &have);
        evbuffer_unfreeze(out, 1);
        evbuffer_write(out, fds[0]);
        evbuffer_freeze(out, 1);
    }
    drain_peer(fds[1], got, sizeof(got), &have);
    CHECK(have == sent + sizeof(answer));
    CHECK(memcmp(got, stream, sent) == 0 && memcmp(got + sent, answer, sizeof(answer)) == 0);
    /* A peer that is gone: the write fails, and says so. */
    close(fds[1]);
    int rc = 0;
    for (int i = 0; i < 50 && rc == 0; i++) {
        conn_out_add(&c, "late", 4);
        rc = conn_out_write_flat(&c, fds[0]);
        usleep(1000);
    }
    CHECK(rc == -1 && queued(&c) == 0);
    conn_out_free(&c);
    bufferevent_free(c.bev);
    close(fds[0]);
}

/* A file's bytes read into flat memory after the head, when they fit;
 * -1 and nothing read when they do not, or when the evbuffer holds bytes;
 * fewer at the file's end. */
static void test_pread(struct event_base *base)
{
    static char data[EVMEM_BLOCK], all[EVMEM_BLOCK + 16];
    char path[] = "/tmp/test_output_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        CHECK(!"a temporary file");
        return;
    }
    unlink(path);
    fill(data, sizeof(data), 5);
    CHECK(write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
    struct conn c = {0};
    c.bev = bufferevent_socket_new(base, -1, 0);
    conn_out_add(&c, "head:", 5);
    CHECK(conn_out_pread(&c, fd, 100, 50) == 50);
    CHECK(c.out.len == 55 && memcmp(c.out.buf, "head:", 5) == 0 &&
          memcmp(c.out.buf + 5, data + 100, 50) == 0);
    /* At the end of the file: what there is. */
    CHECK(conn_out_pread(&c, fd, sizeof(data) - 10, 40) == 10);
    CHECK(c.out.len == 65 && memcmp(c.out.buf + 55, data + sizeof(data) - 10, 10) == 0);
    /* More than the block has left: not read, nothing moved. */
    CHECK(conn_out_pread(&c, fd, 0, EVMEM_BLOCK - 64) == -1);
    CHECK(c.out.len == 65 && queued(&c) == 0);
    /* Behind bytes in the evbuffer: never flat. */
    conn_out_spill(&c);
    CHECK(conn_out_pread(&c, fd, 0, 10) == -1 && c.out.len == 0 && queued(&c) == 65);
    take_out(&c, all, 65);
    CHECK(memcmp(all, "head:", 5) == 0 && memcmp(all + 5, data + 100, 50) == 0);
    CHECK(conn_out_pread(&c, fd, 0, sizeof(data)) == (ssize_t)sizeof(data));
    CHECK(c.out.len == sizeof(data) && memcmp(c.out.buf, data, sizeof(data)) == 0);
    conn_out_free(&c);
    bufferevent_free(c.bev);
    close(fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    evmem_install();
    struct event_base *base = event_base_new();
    test_flat_then_spill(base);
    test_block_edges(base);
    test_whole_write(base);
    test_partial_write(base);
    test_pread(base);
    event_base_free(base);
    return check_done("output");
}
