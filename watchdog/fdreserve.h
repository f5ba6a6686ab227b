/* A few descriptors held open so that a connection accepted when the
 * descriptor table is full can still start its function.
 *
 * Without it, the listener takes every free descriptor, and the request on
 * the last connection accepted fails with EMFILE when it needs its pipes.
 * The server stops accepting while the reserve is not full; a function
 * start that runs out of descriptors releases the reserve and tries again. */
#ifndef FW_FDRESERVE_H
#define FW_FDRESERVE_H

#include <stdbool.h>

/* Enough for one function's three pipes, both ends. */
#define FD_RESERVE_SIZE 6

struct fd_reserve {
    int fds[FD_RESERVE_SIZE];
    int have;
    int want;  /* FD_RESERVE_SIZE, or what a small table allowed at startup */
};

/* Empty; call fd_reserve_fill to take the descriptors. */
void fd_reserve_init(struct fd_reserve *r);
/* At startup, after the first fill: leave room for at least one
 * connection (giving a descriptor back if the reserve took the last one),
 * then keep what is held as the reserve's size, so that a small table
 * never has the server waiting for descriptors it cannot have. True when
 * the whole reserve was kept. */
bool fd_reserve_settle(struct fd_reserve *r);
/* Take descriptors until the reserve is full. False only when the table
 * (or the system) ran out first, keeping what it got; true when full, or
 * when there is nothing to copy (stdin closed), or on NULL (no reserve). */
bool fd_reserve_fill(struct fd_reserve *r);
/* Close every held descriptor; returns how many were freed. Safe on NULL. */
int fd_reserve_release(struct fd_reserve *r);
/* True when err means the descriptor table or the system is out of them. */
bool fd_exhausted(int err);

#endif
