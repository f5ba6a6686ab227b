/* Shared by the modes that start a process per request. */
#ifndef FW_FORK_H
#define FW_FORK_H

#include "job.h"
#include "mode.h"

struct prespawn;

/* The state of a fork mode: its environment and, with prespawn > 0, the
 * pool of processes started ahead of requests. */
struct fork_mode {
    const struct mode_env *env;
    struct prespawn *pool;   /* NULL: prespawn=0 */
    bool classic_env;        /* the classic watchdog's Http_* variables */
};

/* stdio: the stdio options (merge_stderr) every request of this
 * mode uses, so prespawned processes are wired the same way. classic_env:
 * the classic watchdog's set of Http_* variables. 0 or -1. */
int fork_mode_init(const struct mode_env *env, const struct job_params *stdio, bool classic_env,
                   void **state);
/* mode.stop and mode.free for the fork modes. */
void fork_mode_stop(void *state, void (*done)(void *arg), void *arg);
void fork_mode_free(void *state);

/* Start the function for r: a prespawned process when one is ready, else a
 * fresh one with its CGI environment (cgi_headers) and the given stdio
 * options. On failure, answers 500 and returns NULL. */
struct job *fork_start(const struct fork_mode *fm, struct request *r, struct job_params *p,
                       const struct job_ops *ops, void *arg);
/* X-Duration-Seconds: the time since the request's head, as Go writes it. */
void fork_set_duration(struct request *r);
/* base plus r's Http_* variables (cgi_build_env) as of-watchdog or, with
 * classic, the classic watchdog sets them: free() the result. */
char **fork_request_env(char *const *base, const struct request *r, bool classic);

#endif
