/* The server as main sees it. */
#ifndef FW_SERVER_API_H
#define FW_SERVER_API_H

#include <stdbool.h>

#include "config.h"
#include "mode.h"

struct event_base;
struct server;

/* Observers of the request path (metrics). All optional. */
struct server_hooks {
    void (*request_begin)(void *arg);
    void (*request_end)(void *arg, const char *method, int status, double seconds);
    void *arg;
};

/* reserve (NULL: none) is refilled before the listener accepts again. */
struct server *server_new(const struct config *cfg, struct event_base *base,
                          const struct mode *mode, void *mode_state,
                          const struct server_hooks *hooks, struct fd_reserve *reserve);
/* Bind the port on all addresses and start polling the mode's readiness;
 * the lock file is written once it is ready. 0 / -1 (logged). */
int server_listen(struct server *s);
/* SIGTERM: drain for healthcheck_interval (drain=true), or at once, then
 * stop; the event loop ends with exit_code. */
void server_shutdown(struct server *s, int exit_code, bool drain);
int server_exit_code(const struct server *s);
int server_inflight(const struct server *s);
void server_free(struct server *s);

#endif
