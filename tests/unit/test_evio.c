/* evio: reads straight into evbuffers, and gathered writes. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "check.h"
#include "evio.h"

/* A read never takes more than it was asked for, even when the evbuffer
 * reserved more room: callers grow their read size on full reads. */
static void test_read_at_most_max(void)
{
    static char data[60000];
    int fds[2];
    struct evbuffer *buf = evbuffer_new();
    CHECK(pipe(fds) == 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    memset(data, 'x', sizeof(data));
    CHECK(write(fds[1], data, sizeof(data)) == (ssize_t)sizeof(data));
    CHECK(evio_read(buf, fds[0], 1000) == 1000);
    CHECK(evbuffer_get_length(buf) == 1000);
    CHECK(evio_read(buf, fds[0], 16128) == 16128);
    CHECK(evio_read(buf, fds[0], 1 << 20) == (ssize_t)sizeof(data) - 1000 - 16128);
    CHECK(evbuffer_get_length(buf) == sizeof(data));
    CHECK(evio_read(buf, fds[0], 1000) == -1);
    close(fds[1]);
    CHECK(evio_read(buf, fds[0], 1000) == 0);
    close(fds[0]);
    evbuffer_free(buf);
}

static void test_gather(void)
{
    static char big[5000];
    struct evbuffer *out = evbuffer_new();
    struct evio_gather g;
    evio_gather_init(&g, out);
    EVIO_GATHER_LIT(&g, "Name: ");
    evio_gather_add(&g, "value", 5);
    CHECK(evbuffer_get_length(out) == 0); /* nothing until the flush */
    evio_gather_flush(&g);
    CHECK(evbuffer_get_length(out) == 11);
    CHECK(memcmp(evbuffer_pullup(out, -1), "Name: value", 11) == 0);
    /* Larger than the gather buffer: order kept, nothing lost. */
    memset(big, 'b', sizeof(big));
    EVIO_GATHER_LIT(&g, "<");
    evio_gather_add(&g, big, sizeof(big));
    EVIO_GATHER_LIT(&g, ">");
    evio_gather_flush(&g);
    const char *p = (const char *)evbuffer_pullup(out, -1);
    CHECK(evbuffer_get_length(out) == 11 + 1 + sizeof(big) + 1);
    CHECK(p[11] == '<' && p[12] == 'b' && p[11 + sizeof(big)] == 'b' && p[12 + sizeof(big)] == '>');
    evio_gather_flush(&g); /* empty: adds nothing */
    CHECK(evbuffer_get_length(out) == 11 + 1 + sizeof(big) + 1);
    evbuffer_free(out);
}

int main(void)
{
    test_read_at_most_max();
    test_gather();
    return check_done("evio");
}
