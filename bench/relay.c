/* The cost of one more hop on this machine: a TCP relay that does nothing
 * but copy bytes between each client and its own connection to the
 * upstream. One thread and epoll, as the watchdog; no HTTP parsing, no
 * headers, no logging. Whatever http mode costs beyond this is ours.
 *
 * Two options add, one at a time, the least that any HTTP proxy does, so
 * that the distance between the plain relay and http mode can be split:
 *   -p  runs llhttp (the watchdog's parser) over every byte in both
 *       directions, requests on the client side and responses on the
 *       upstream side, with header callbacks that only return; the bytes
 *       are still copied as they came.
 *   -l  (with -p) one access-log line per response, as the watchdog writes:
 *       method, path, status and duration in integer microseconds, timed
 *       with the monotonic clock, gathered in a buffer written to stderr
 *       once per pass of the loop.
 *
 *   relay [-p [-l]] LISTEN_PORT UPSTREAM_PORT   (127.0.0.1; runs until killed) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 65536

static int peer[MAX_FD];

/* One per connection pair in -p mode: the request parser reads what the
 * client sends, the response parser what the upstream answers. */
struct exchange {
    llhttp_t req, resp;
    struct timespec start;
    char path[64];
    size_t path_len;
};

struct relay_opts {
    int parse, log;
    llhttp_settings_t req_settings, resp_settings;
};

static struct exchange *exch[MAX_FD];
static char logbuf[65536];
static size_t log_len;

static int span_ignored(llhttp_t *p, const char *at, size_t n)
{
    (void)p;
    (void)at;
    (void)n;
    return 0;
}

static int on_req_begin(llhttp_t *p)
{
    struct exchange *x = p->data;
    x->path_len = 0;
    clock_gettime(CLOCK_MONOTONIC, &x->start);
    return 0;
}

static int on_req_url(llhttp_t *p, const char *at, size_t n)
{
    struct exchange *x = p->data;
    size_t room = sizeof(x->path) - x->path_len;
    if (n > room)
        n = room;
    memcpy(x->path + x->path_len, at, n);
    x->path_len += n;
    return 0;
}

static int on_resp_complete(llhttp_t *p)
{
    struct exchange *x = p->data;
    struct timespec now;
    if (sizeof(logbuf) - log_len < 256)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long us = (long)(now.tv_sec - x->start.tv_sec) * 1000000 + (now.tv_nsec - x->start.tv_nsec) / 1000;
    int n = snprintf(logbuf + log_len, sizeof(logbuf) - log_len, "%s %.*s - %d - (%ldus)\n",
                     llhttp_method_name((llhttp_method_t)x->req.method), (int)x->path_len, x->path,
                     p->status_code, us);
    if (n > 0)
        log_len += (size_t)n;
    return 0;
}

static void settings_init(struct relay_opts *o)
{
    llhttp_settings_init(&o->req_settings);
    llhttp_settings_init(&o->resp_settings);
    o->req_settings.on_header_field = o->resp_settings.on_header_field = span_ignored;
    o->req_settings.on_header_value = o->resp_settings.on_header_value = span_ignored;
    if (o->log) {
        o->req_settings.on_message_begin = on_req_begin;
        o->req_settings.on_url = on_req_url;
        o->resp_settings.on_message_complete = on_resp_complete;
    }
}

static void log_flush(void)
{
    if (log_len > 0 && write(2, logbuf, log_len) < 0)
        perror("relay: log");
    log_len = 0;
}

/* Feed what was read to the parser of its side; -1 on a parse error. */
static int parse_chunk(int fd, const char *p, size_t n)
{
    struct exchange *x = exch[fd] ? exch[fd] : exch[peer[fd]];
    llhttp_t *par = exch[fd] ? &x->req : &x->resp;
    llhttp_errno_t e = llhttp_execute(par, p, n);
    return e == HPE_OK ? 0 : -1;
}

static int exchange_new(const struct relay_opts *o, int client)
{
    struct exchange *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -1;
    llhttp_init(&x->req, HTTP_REQUEST, &o->req_settings);
    llhttp_init(&x->resp, HTTP_RESPONSE, &o->resp_settings);
    x->req.data = x->resp.data = x;
    exch[client] = x;
    return 0;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* Write all of it; wait on poll when the peer's buffer is full. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void drop(int ep, int fd)
{
    int other = peer[fd];
    free(exch[fd]);
    free(exch[other]);
    exch[fd] = exch[other] = NULL;
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL);
    close(fd);
    close(other);
    /* Events for either may still be in this batch. */
    peer[fd] = peer[other] = -1;
}

static int watch(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void accept_one(int ep, int lfd, int up_port, const struct relay_opts *o)
{
    int one = 1;
    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (c < 0)
        return;
    int u = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(up_port);
    if (u < 0 || c >= MAX_FD || u >= MAX_FD || connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("relay: upstream");
        close(c);
        if (u >= 0)
            close(u);
        return;
    }
    fcntl(u, F_SETFL, O_NONBLOCK);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    peer[c] = u;
    peer[u] = c;
    if ((o->parse && exchange_new(o, c) != 0) || watch(ep, c) != 0 || watch(ep, u) != 0)
        drop(ep, c);
}

int main(int argc, char **argv)
{
    static char buf[65536];
    struct epoll_event evs[64];
    int one = 1, opt;
    struct relay_opts o = {0};
    while ((opt = getopt(argc, argv, "pl")) != -1) {
        if (opt == 'p')
            o.parse = 1;
        else if (opt == 'l')
            o.log = 1;
        else
            return 2;
    }
    if (argc - optind != 2 || (o.log && !o.parse)) {
        fprintf(stderr, "usage: relay [-p [-l]] LISTEN_PORT UPSTREAM_PORT\n");
        return 2;
    }
    settings_init(&o);
    int up_port = atoi(argv[optind + 1]);
    struct sockaddr_in a = loopback(atoi(argv[optind]));
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0);
    if (lfd < 0 || ep < 0)
        return 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 1024) != 0 || watch(ep, lfd) != 0) {
        perror("relay: listen");
        return 1;
    }
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                accept_one(ep, lfd, up_port, &o);
                continue;
            }
            if (peer[fd] < 0)
                continue;
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0 || (o.parse && parse_chunk(fd, buf, (size_t)r) != 0) ||
                write_all(peer[fd], buf, (size_t)r) != 0)
                drop(ep, fd);
        }
        if (o.log)
            log_flush();
    }
}
