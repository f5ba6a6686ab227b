#include "fdreserve.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void fd_reserve_init(struct fd_reserve *r)
{
    r->have = 0;
    r->want = FD_RESERVE_SIZE;
}

/* A copy of stdin (main keeps 0-2 open) needs no file system, so it works
 * in an image without /dev; close-on-exec keeps it out of every function
 * process. */
static int hold_one(void)
{
    return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
}

bool fd_reserve_settle(struct fd_reserve *r)
{
    int probe = hold_one();
    if (probe >= 0)
        close(probe);
    else if (fd_exhausted(errno) && r->have > 0)
        close(r->fds[--r->have]);
    r->want = r->have;
    return r->have == FD_RESERVE_SIZE;
}

bool fd_reserve_fill(struct fd_reserve *r)
{
    while (r && r->have < r->want) {
        int fd = hold_one();
        if (fd < 0)
            return !fd_exhausted(errno); /* no stdin: nothing to hold back */
        r->fds[r->have++] = fd;
    }
    return true;
}

int fd_reserve_release(struct fd_reserve *r)
{
    if (!r)
        return 0;
    int n = r->have;
    while (r->have > 0)
        close(r->fds[--r->have]);
    return n;
}

bool fd_exhausted(int err)
{
    return err == EMFILE || err == ENFILE;
}
