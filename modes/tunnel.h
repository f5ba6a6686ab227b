/* Byte pipes between a client and the upstream after a 101 (WebSocket and
 * other upgrades): each side's bytes go to the other, with backpressure,
 * until either closes. */
#ifndef FW_TUNNEL_H
#define FW_TUNNEL_H

#include <stdint.h>
#include <sys/queue.h>

struct bufferevent;
struct tunnel;

struct tunnels {
    LIST_HEAD(, tunnel) open;
    int64_t close_ms;   /* one side gone: how long the other may take to flush; 0: no limit */
};

void tunnels_init(struct tunnels *ts, int64_t close_ms);
/* Room for one more tunnel, taken before the two sides are detached from
 * HTTP, so that running out of memory can still be answered. NULL: none. */
struct tunnel *tunnel_alloc(void);
/* Start piping; both bufferevents (and t) belong to the set afterwards.
 * Bytes already in either input (sent with the heads) go across first. */
void tunnel_start(struct tunnels *ts, struct tunnel *t, struct bufferevent *client,
                  struct bufferevent *upstream);
void tunnels_close(struct tunnels *ts);

#endif
