/* prespawn: function processes started ahead of requests and left blocked
 * on stdin, so a request in a fork mode does not wait for exec and the
 * function's own startup. The pool refills itself from the event loop,
 * after the request that emptied a slot has been handed its process. */
#ifndef FW_PRESPAWN_H
#define FW_PRESPAWN_H

#include "job.h"

struct prespawn;

/* Keep n processes started from p (argv, envp, stdio options, logging,
 * observer; its timeout is ignored: an idle process has none). The first
 * ones start on the next loop iteration. NULL when out of memory. */
struct prespawn *prespawn_new(const struct job_params *p, int n);
/* A started process handed to ops/arg with p's exec timeout armed from
 * now, or NULL when none is ready or p's stdio options differ from the
 * pool's (the caller then spawns as usual). */
struct job *prespawn_take(struct prespawn *ps, const struct job_params *p,
                          const struct job_ops *ops, void *arg);
/* Stop refilling, kill the idle processes' groups, and call done(arg)
 * once they are reaped (at once when none is idle). */
void prespawn_stop(struct prespawn *ps, void (*done)(void *arg), void *arg);
/* Kill whatever is still idle and free the pool. Safe on NULL. */
void prespawn_free(struct prespawn *ps);

#endif
