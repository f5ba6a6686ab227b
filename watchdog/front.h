/* The watchdog's rules in front of its mode, on the function's port:
 * /_/health and /_/ready, max_inflight, jwt_auth, the lock file that says
 * the function is ready, and the drain and stop on shutdown. */
#ifndef FW_FRONT_H
#define FW_FRONT_H

#include <stdbool.h>

#include "config.h"
#include "mode.h"

struct event_base;
struct engine;
struct fd_reserve;
struct front;

/* Observers of the function's requests (metrics). All optional. */
struct front_hooks {
    void (*request_begin)(void *arg);
    void (*request_end)(void *arg, const char *method, int status, double seconds);
    /* max_queue: requests waiting now, and how long one waited when it
     * left the queue (admitted, timed out or gone). */
    void (*queue_depth)(void *arg, int depth);
    void (*queue_wait)(void *arg, double seconds);
    void *arg;
};

/* reserve (NULL: none) is refilled before the engine accepts again. */
struct front *front_new(const struct config *cfg, struct event_base *base,
                        const struct mode *mode, void *mode_state,
                        const struct front_hooks *hooks, struct fd_reserve *reserve);
/* Bind the port on all addresses and log "Listening on port"; front_start
 * before the loop runs. 0 / -1 (logged). */
int front_listen(struct front *f);
/* Start serving and polling the mode's readiness; the lock file is written
 * once it is ready. Without front_listen, connections come by
 * engine_adopt. 0 / -1 (logged). */
int front_start(struct front *f);
/* The mode may be ready now: ask it at once instead of at the next poll. */
void front_check_ready(struct front *f);
/* The engine serving the port (to adopt a connected socket). */
struct engine *front_engine(struct front *f);
/* Stop: after a drain of healthcheck_interval when signal names the signal
 * that asked for it ("SIGTERM"), at once when it is NULL (a fatal error);
 * the event loop ends with exit_code. */
void front_shutdown(struct front *f, int exit_code, const char *signal);
int front_exit_code(const struct front *f);
int front_inflight(const struct front *f);
void front_free(struct front *f);

#endif
