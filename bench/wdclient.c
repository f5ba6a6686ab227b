/* Small loopback clients for the rows wrk cannot measure.
 *
 *   wdclient body PORT BYTES [PATH]   POST BYTES of zeros with Content-Length
 *                                     while reading the answer; prints MB/s
 *   wdclient idle PORT N PID          open N keep-alive connections (one
 *                                     GET /_/health each), then print PID's
 *                                     VmRSS in KiB while they are all open
 *   wdclient startup PORT PROG ARGS   start PROG, poll GET /_/health until
 *                                     200; prints milliseconds, kills PROG
 *   wdclient exec PROG ARGS           start PROG and wait for it; prints
 *                                     milliseconds (the floor for startup)
 *   wdclient sink PORT [MS STAMP]     an HTTP/1.1 upstream on 127.0.0.1:PORT
 *                                     that reads each Content-Length body to
 *                                     its end, then answers 204 (until killed);
 *                                     with MS, it sleeps MS milliseconds first
 *                                     and writes the CLOCK_MONOTONIC time of
 *                                     its listen() to the file STAMP
 *   wdclient cold PORT STAMP PROG ARGS
 *                                     start PROG (a watchdog whose function is
 *                                     a delayed sink writing STAMP), poll GET
 *                                     /_/health every 0.1 ms until 200; prints
 *                                     milliseconds from the function's listen()
 *                                     to that 200 (negative: 200 came first),
 *                                     then stops PROG */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char health[] = "GET /_/health HTTP/1.1\r\nHost: bench\r\n\r\n";

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dial(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send the head and body while draining the answer, until the server closes. */
static int body(int port, unsigned long long len, const char *path)
{
    static char zeros[256 * 1024];
    char buf[256 * 1024], head[256], status[13] = "";
    int fd = dial(port);
    if (fd < 0)
        return perror("connect"), 1;
    int hl = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
                      "Content-Type: application/octet-stream\r\nContent-Length: %llu\r\n\r\n", path, len);
    double t0 = now();
    if (write(fd, head, (size_t)hl) != hl)
        return perror("write"), 1;
    unsigned long long sent = 0, got = 0;
    int eof = 0;
    struct pollfd p[2] = {{fd, POLLOUT, 0}, {fd, POLLIN, 0}};
    /* An upstream that discards may answer and half-close before the body
     * is all sent: done once both the body is sent and the answer ended. */
    while (!eof || sent < len) {
        p[0].fd = sent < len ? fd : -1;
        p[1].fd = eof ? -1 : fd;
        if (poll(p, 2, 60000) <= 0)
            return fprintf(stderr, "body: stalled after %llu bytes sent\n", sent), 1;
        if (p[0].fd >= 0 && (p[0].revents & POLLOUT)) {
            size_t n = len - sent < sizeof(zeros) ? (size_t)(len - sent) : sizeof(zeros);
            ssize_t w = send(fd, zeros, n, MSG_DONTWAIT);
            if (w > 0)
                sent += (unsigned long long)w;
            else if (errno != EAGAIN)
                return perror("send"), 1;
        }
        if (p[1].fd >= 0 && p[1].revents) {
            ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r == 0)
                eof = 1;
            if (r < 0 && errno != EAGAIN)
                return perror("recv"), 1;
            if (r > 0 && got < 12)
                memcpy(status + got, buf, (size_t)r < 12 - got ? (size_t)r : 12 - got);
            got += r > 0 ? (unsigned long long)r : 0;
        }
    }
    double el = now() - t0;
    close(fd);
    /* Any 2xx: the http rows discard the body with a 204. */
    if (status[9] != '2' || sent != len)
        return fprintf(stderr, "body: status '%s', sent %llu of %llu\n", status, sent, len), 1;
    printf("%.1f\n", (double)len / el / 1e6);
    return 0;
}

/* One GET /_/health on fd; 1 when answered 200. */
static int health_ok(int fd)
{
    char buf[512];
    if (write(fd, health, sizeof(health) - 1) != (ssize_t)sizeof(health) - 1)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    return n >= 12 && strncmp(buf + 9, "200", 3) == 0;
}

static long vm_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int idle(int port, int n, pid_t pid)
{
    struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    int *fds = calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        fds[i] = dial(port);
        if (fds[i] < 0 || !health_ok(fds[i]))
            return fprintf(stderr, "idle: connection %d failed\n", i), 1;
    }
    usleep(200 * 1000);
    printf("%ld\n", vm_rss_kib(pid));
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

static pid_t start(char **argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);   /* stop() can reach what it leaves behind */
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int startup(int port, char **argv)
{
    double t0 = now();
    pid_t pid = start(argv);
    for (;;) {
        int fd = dial(port);
        int ok = fd >= 0 && health_ok(fd);
        if (fd >= 0)
            close(fd);
        if (ok)
            break;
        if (waitpid(pid, NULL, WNOHANG) == pid || now() - t0 > 5)
            return fprintf(stderr, "startup: no 200 on /_/health\n"), 1;
        usleep(100);
    }
    printf("%.3f\n", (now() - t0) * 1e3);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}

/* Stop a watchdog started by start(): SIGTERM, up to 2 s to exit (it stops
 * its function), then SIGKILL to its process group. */
static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10 * 1000);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int cold(int port, const char *stamp, char **argv)
{
    unlink(stamp);
    double t0 = now(), t_ok = 0, t_listen = 0;
    pid_t pid = start(argv);
    while (!t_ok) {
        int fd = dial(port);
        if (fd >= 0 && health_ok(fd))
            t_ok = now();
        if (fd >= 0)
            close(fd);
        if (t_ok)
            break;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return fprintf(stderr, "cold: the watchdog exited\n"), 1;
        if (now() - t0 > 10) {
            stop(pid);
            return fprintf(stderr, "cold: no 200 on /_/health\n"), 1;
        }
        usleep(100);
    }
    /* The function may not have listened yet (a watchdog that answers 200
     * before its function is up): wait for its stamp. */
    while (now() - t0 < 10) {
        FILE *f = fopen(stamp, "r");
        if (f) {
            int ok = fscanf(f, "%lf", &t_listen) == 1;
            fclose(f);
            if (ok)
                break;
        }
        usleep(1000);
    }
    stop(pid);
    if (!t_listen)
        return fprintf(stderr, "cold: the function never listened\n"), 1;
    printf("%.3f\n", (t_ok - t_listen) * 1e3);
    return 0;
}

static int exec_floor(char **argv)
{
    double t0 = now();
    pid_t pid = start(argv);
    waitpid(pid, NULL, 0);
    printf("%.3f\n", (now() - t0) * 1e3);
    return 0;
}

/* The sink's side of one connection: a buffer read ahead of the parser. */
static struct {
    int fd;
    char buf[256 * 1024];
    size_t pos, end;
} in;

static int fill(void)
{
    if (in.pos == in.end) {
        in.pos = in.end = 0;
    } else if (in.end == sizeof(in.buf)) {
        memmove(in.buf, in.buf + in.pos, in.end - in.pos);
        in.end -= in.pos;
        in.pos = 0;
        if (in.end == sizeof(in.buf))
            return -1;   /* a head or chunk line longer than the buffer */
    }
    ssize_t r = read(in.fd, in.buf + in.end, sizeof(in.buf) - in.end);
    if (r <= 0)
        return -1;
    in.end += (size_t)r;
    return 0;
}

/* The next bytes up to DELIM, consumed with it and NUL-terminated in place;
 * valid until the next read. NULL at EOF. */
static char *until(const char *delim)
{
    size_t dl = strlen(delim);
    for (;;) {
        char *start = in.buf + in.pos;
        char *d = memmem(start, in.end - in.pos, delim, dl);
        if (d) {
            *d = '\0';
            in.pos += (size_t)(d - start) + dl;
            return start;
        }
        if (fill() != 0)
            return NULL;
    }
}

static int skip(unsigned long long n)
{
    while (n > 0) {
        if (in.pos == in.end && fill() != 0)
            return -1;
        size_t k = in.end - in.pos < n ? in.end - in.pos : (size_t)n;
        in.pos += k;
        n -= k;
    }
    return 0;
}

/* One connection: every request's body, Content-Length or chunked (the Go
 * watchdog sends chunked), is read to its end before the 204, so a proxy in
 * front has to carry all of it. */
static void sink_conn(int fd)
{
    static const char answer[] = "HTTP/1.1 204 No Content\r\n\r\n";
    in.fd = fd;
    in.pos = in.end = 0;
    for (;;) {
        char *head = until("\r\n\r\n");
        if (!head)
            return;
        bool close_after = strcasestr(head, "\nConnection: close") != NULL;
        bool chunked = strcasestr(head, "\nTransfer-Encoding: chunked") != NULL;
        char *cl = strcasestr(head, "\nContent-Length:");
        unsigned long long len = cl ? strtoull(cl + 16, NULL, 10) : 0;
        if (chunked) {
            for (;;) {
                char *line = until("\r\n");
                if (!line)
                    return;
                len = strtoull(line, NULL, 16);
                if (len == 0)
                    break;
                if (skip(len) != 0 || !until("\r\n"))
                    return;
            }
            /* Trailers, up to the empty line. */
            for (char *t; (t = until("\r\n")) != NULL && *t;)
                ;
        } else if (skip(len) != 0) {
            return;
        }
        if (write(fd, answer, sizeof(answer) - 1) != (ssize_t)sizeof(answer) - 1 || close_after)
            return;
    }
}

static int sink(int port, int delay_ms, const char *stamp)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (delay_ms > 0)
        usleep((useconds_t)delay_ms * 1000);
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(lfd, 64) != 0)
        return perror("sink"), 1;
    if (stamp) {
        /* Written to a temporary name and renamed: a reader never sees half. */
        double t = now();
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", stamp);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%.9f\n", t) < 0 || fclose(f) != 0 || rename(tmp, stamp) != 0)
            return perror("sink: stamp"), 1;
    }
    signal(SIGCHLD, SIG_IGN);   /* no zombies */
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (fork() == 0) {
            close(lfd);
            sink_conn(fd);
            _exit(0);
        }
        close(fd);
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 4 && !strcmp(argv[1], "body"))
        return body(atoi(argv[2]), strtoull(argv[3], NULL, 0), argc > 4 ? argv[4] : "/");
    if (argc == 5 && !strcmp(argv[1], "idle"))
        return idle(atoi(argv[2]), atoi(argv[3]), (pid_t)atoi(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "startup"))
        return startup(atoi(argv[2]), argv + 3);
    if (argc >= 3 && !strcmp(argv[1], "exec"))
        return exec_floor(argv + 2);
    if (argc >= 5 && !strcmp(argv[1], "cold"))
        return cold(atoi(argv[2]), argv[3], argv + 4);
    if (argc == 3 && !strcmp(argv[1], "sink"))
        return sink(atoi(argv[2]), 0, NULL);
    if (argc == 5 && !strcmp(argv[1], "sink"))
        return sink(atoi(argv[2]), atoi(argv[3]), argv[4]);
    fprintf(stderr, "usage: see the comment at the top of wdclient.c\n");
    return 2;
}
