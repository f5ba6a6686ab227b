/* Reading and writing evbuffers straight from and to descriptors.
 *
 * libevent 2.1's evbuffer_read asks the kernel how much is pending (ioctl
 * FIONREAD) before every readv and reads at most 4 KiB per call: one
 * syscall more per request, and a large body in 4 KiB lockstep. These read
 * up to the size asked in one readv instead. A socket bufferevent keeps the
 * end of its input and the start of its output frozen so that only its own
 * callbacks touch them; the bev variants unfreeze around the I/O exactly as
 * those callbacks do, so the loop does not wait for another iteration. */
#ifndef FW_EVIO_H
#define FW_EVIO_H

#include <stddef.h>
#include <sys/types.h>

struct evbuffer;
struct bufferevent;

/* One readv of up to max bytes from fd into buf: readv's result
 * (-1 with errno ENOMEM when no space could be reserved). */
ssize_t evio_read(struct evbuffer *buf, int fd, size_t max);
/* The same into a socket bufferevent's input, from its own socket. */
ssize_t evio_bev_read(struct bufferevent *bev, size_t max);
/* Write what the bufferevent's output holds to its socket now:
 * evbuffer_write's result. */
int evio_bev_write(struct bufferevent *bev);

#endif
