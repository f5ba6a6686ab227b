/* The modes that buffer both ways (serializing, classic): the whole request
 * body is collected, within max_request_body, and written to the function's
 * stdin; its whole stdout is collected; then the mode answers. They differ
 * only in what goes to stdin, how stderr is handled and how the result is
 * turned into a response, which is what this table says. */
#ifndef FW_BUFFERED_H
#define FW_BUFFERED_H

#include "fork.h"
#include "job.h"
#include "mode.h"

struct evbuffer;

struct buffered_mode {
    bool classic_env;   /* the classic watchdog's Http_* variables */
    /* Adjust the job before it starts (stdio options). NULL: defaults. */
    void (*params)(const struct config *cfg, struct job_params *p);
    /* Turn the collected body into what the function reads, in place.
     * NULL: the body as is. 0, or -1 after answering r. */
    int (*input)(const struct mode_env *env, struct request *r, struct evbuffer *body);
    /* The function ended (result as in job_ops.done; why: Go's text for
     * it, "exit status N" or "signal: killed") and out holds all it wrote.
     * Must answer r. */
    void (*answer)(const struct mode_env *env, struct request *r, int result, const char *why,
                   struct evbuffer *out);
};

/* The mode's state for m: a fork_mode whose prespawned processes have m's
 * stdio options. 0 or -1. */
int buffered_init(const struct mode_env *env, const struct buffered_mode *m, void **state);
/* state: what buffered_init made. */
void buffered_handle(void *state, struct request *r, const struct buffered_mode *m);

#endif
