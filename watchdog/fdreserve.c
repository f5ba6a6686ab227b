#include "fdreserve.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void fd_reserve_init(struct fd_reserve *r)
{
    r->have = 0;
}

bool fd_reserve_fill(struct fd_reserve *r)
{
    while (r->have < FD_RESERVE_SIZE) {
        /* A copy of stdin (main keeps 0-2 open) needs no file system, so
         * it works in an image without /dev; close-on-exec keeps it out of
         * every function process. */
        int fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
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
