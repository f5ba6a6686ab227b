#include "fork.h"

#include <stdio.h>
#include <stdlib.h>

#include "cgi.h"
#include "log.h"

static char **request_env(const struct mode_env *env, const struct request *r)
{
    struct cgi_request cr = {
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .host = r->host,
        .content_length = r->chunked ? -1 : (r->content_length < 0 ? 0 : r->content_length),
        .transfer_encoding = req_header(r, "Transfer-Encoding"),
        .headers = r->headers,
        .nheaders = r->nheaders,
    };
    return cgi_build_env(env->environ, &cr);
}

struct job *fork_start(const struct mode_env *env, struct request *r, struct job_params *p,
                       const struct job_ops *ops, void *arg)
{
    const struct config *cfg = env->cfg;
    char **envp = NULL;
    int code = 1;

    if (cfg->cgi_headers && !(envp = request_env(env, r))) {
        resp_simple(r, 500, "Out of memory\n");
        return NULL;
    }
    p->base = env->base;
    p->procs = env->procs;
    p->argv = cfg->argv;
    p->envp = envp ? envp : env->environ;
    p->prefix_logs = cfg->prefix_logs;
    p->observer = env->jobs;
    struct job *j = job_start(p, ops, arg, &code);
    free(envp);
    if (!j) {
        char body[128];
        snprintf(body, sizeof(body), "Unable to start function: %s (exit status %d)\n", cfg->argv[0], code);
        resp_simple(r, 500, body);
    }
    return j;
}

void fork_log_timeout(const struct config *cfg)
{
    log_info("Function was killed by ExecTimeout: %gs", (double)cfg->exec_timeout_ms / 1000.0);
}
