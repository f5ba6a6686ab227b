/* The cost of one more hop on this machine: a TCP relay that does nothing
 * but copy bytes between each client and its own connection to the
 * upstream. One thread and epoll, as the watchdog; no HTTP parsing, no
 * headers, no logging. Whatever http mode costs beyond this is ours.
 *
 *   relay LISTEN_PORT UPSTREAM_PORT      (both on 127.0.0.1; runs until killed) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536

static int peer[MAX_FD];

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

static void accept_one(int ep, int lfd, int up_port)
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
    if (watch(ep, c) != 0 || watch(ep, u) != 0)
        drop(ep, c);
}

int main(int argc, char **argv)
{
    static char buf[65536];
    struct epoll_event evs[64];
    int one = 1;
    if (argc != 3) {
        fprintf(stderr, "usage: relay LISTEN_PORT UPSTREAM_PORT\n");
        return 2;
    }
    int up_port = atoi(argv[2]);
    struct sockaddr_in a = loopback(atoi(argv[1]));
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
                accept_one(ep, lfd, up_port);
                continue;
            }
            if (peer[fd] < 0)
                continue;
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0 || write_all(peer[fd], buf, (size_t)r) != 0)
                drop(ep, fd);
        }
    }
}
