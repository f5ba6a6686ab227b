/* Shared by the modes that start a process per request. */
#ifndef FW_FORK_H
#define FW_FORK_H

#include "job.h"
#include "mode.h"

/* Spawn the function for r with its CGI environment (cgi_headers) and the
 * given stdio options. On failure, answers 500 and returns NULL. */
struct job *fork_start(const struct mode_env *env, struct request *r, struct job_params *p,
                       const struct job_ops *ops, void *arg);
/* Log a timeout the way the Go watchdog does. */
void fork_log_timeout(const struct config *cfg);

#endif
