/* The spawn limit of this machine: what fork modes could reach if HTTP
 * cost nothing. N threads, each in a loop: posix_spawn the program with
 * stdin and stdout on pipes, write the body, read the output, wait.
 *
 *   spawn_limit [-c CONC] [-d SECONDS | -n COUNT] [-b BYTES] [PROG ARGS...]
 *
 * Prints "requests/s MB/s" (MB/s counts body bytes written). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char **prog;
static size_t body_len = 1024;
static double seconds = 5;
static long count;              /* 0: run for seconds */
static atomic_long started, done;
static atomic_bool stop;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Write the body and read the output at once, as the watchdog does, so a
 * large body cannot deadlock on full pipes. */
static int pump(int in, int out)
{
    static const char zeros[65536];
    char buf[65536];
    size_t sent = 0;
    struct pollfd p[2] = {{in, POLLOUT, 0}, {out, POLLIN, 0}};

    if (body_len == 0) {
        close(in);
        p[0].fd = -1;
    }
    while (p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return -1;
        if (p[0].fd >= 0 && p[0].revents) {
            size_t n = body_len - sent < sizeof(zeros) ? body_len - sent : sizeof(zeros);
            ssize_t w = write(in, zeros, n);
            if (w < 0 && errno != EAGAIN)
                return -1;
            sent += w > 0 ? (size_t)w : 0;
            if (sent == body_len) {
                close(in);
                p[0].fd = -1;
            }
        }
        if (p[1].revents) {
            ssize_t r = read(out, buf, sizeof(buf));
            if (r == 0)
                p[1].fd = -1;
            else if (r < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
        }
    }
    if (p[0].fd >= 0)
        close(in);
    return 0;
}

static int one_call(void)
{
    int in[2], out[2], rc = -1;
    pid_t pid;
    posix_spawn_file_actions_t fa;

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    int err = posix_spawnp(&pid, prog[0], &fa, NULL, prog, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (err == 0) {
        fcntl(in[1], F_SETFL, O_NONBLOCK);
        rc = pump(in[1], out[0]);
        int st;
        waitpid(pid, &st, 0);
    } else {
        close(in[1]);
    }
    close(out[0]);
    return rc;
}

static void *worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        if (count && atomic_fetch_add(&started, 1) >= count)
            break;
        if (one_call() != 0) {
            perror("spawn_limit");
            exit(1);
        }
        atomic_fetch_add(&done, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static char *cat[] = {"cat", NULL};
    int conc = 1, opt;
    while ((opt = getopt(argc, argv, "+c:d:n:b:")) != -1) {
        switch (opt) {
        case 'c': conc = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'n': count = atol(optarg); break;
        case 'b': body_len = strtoull(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: spawn_limit [-c CONC] [-d SECONDS | -n COUNT] [-b BYTES] [PROG ARGS...]\n");
            return 2;
        }
    }
    prog = optind < argc ? argv + optind : cat;
    pthread_t *t = calloc((size_t)conc, sizeof(*t));
    double t0 = now();
    for (int i = 0; i < conc; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    if (!count) {
        struct timespec d = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
        nanosleep(&d, NULL);
        atomic_store(&stop, true);
    }
    for (int i = 0; i < conc; i++)
        pthread_join(t[i], NULL);
    double el = now() - t0;
    long n = atomic_load(&done);
    printf("%.1f %.1f\n", (double)n / el, (double)n * (double)body_len / el / 1e6);
    return 0;
}
