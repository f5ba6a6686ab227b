#include "fork.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "log.h"
#include "prespawn.h"
#include "proc.h"
#include "target.h"

/* Go's r.Host: the authority of an absolute-form target, else the Host
 * header; NULL when empty. */
static const char *request_host(const struct request *r, char *buf, size_t len)
{
    const char *scheme = strstr(r->uri, "://");
    if (r->uri[0] != '/' && scheme) {
        const char *auth = scheme + 3;
        size_t n = strcspn(auth, "/?");
        if (n > 0 && n < len) {
            memcpy(buf, auth, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return *r->host ? r->host : NULL;
}

char **fork_request_env(char *const *base, const struct request *r, bool classic)
{
    char clen[24], host[256];
    /* Decoded only when there is an escape (checked when the head
     * arrived: a bad one is a 400). */
    char *path = NULL;
    if (strchr(r->path, '%')) {
        if (!(path = malloc(strlen(r->path) + 1)))
            return NULL;
        if (target_decode(r->path, path) < 0)
            strcpy(path, r->path);
    }
    snprintf(clen, sizeof(clen), "%lld",
             r->chunked ? -1LL : (long long)(r->content_length < 0 ? 0 : r->content_length));
    /* What each Go watchdog sets: of-watchdog passes Content-Length as the
     * client sent it (none when chunked) and no Host; the classic one sets
     * both from the parsed request, and the old Http_ContentLength too. */
    struct cgi_request cr = {
        .method = r->method,
        .path = path ? path : r->path,
        .query = r->query,
        .host = classic ? request_host(r, host, sizeof(host)) : NULL,
        .content_length = classic ? clen : (r->chunked ? NULL : req_header(r, "Content-Length")),
        .content_length_old = classic ? clen : NULL,
        .transfer_encoding = r->chunked ? "chunked" : NULL,
        .headers = r->headers,
        .nheaders = r->nheaders,
    };
    char **env = cgi_build_env(base, &cr);
    free(path);
    return env;
}

/* The fields every process of the mode shares, whether prespawned or not. */
static void common_params(const struct mode_env *env, struct job_params *p)
{
    p->base = env->base;
    p->procs = env->procs;
    p->argv = env->cfg->argv;
    p->envp = env->environ;
    p->prefix_logs = env->cfg->prefix_logs;
    p->observer = env->jobs;
    p->reserve = env->fds;
}

int fork_mode_init(const struct mode_env *env, const struct job_params *stdio, bool classic_env,
                   void **state)
{
    struct fork_mode *fm = calloc(1, sizeof(*fm));
    if (!fm) {
        log_error("out of memory");
        return -1;
    }
    fm->env = env;
    fm->classic_env = classic_env;
    proc_yield_to_children(env->procs);
    if (env->cfg->prespawn > 0) {
        struct job_params p = {.merge_stderr = stdio->merge_stderr};
        common_params(env, &p);
        /* Refilling the pool can wait for descriptors; a request cannot. */
        p.reserve = NULL;
        fm->pool = prespawn_new(&p, env->cfg->prespawn);
        if (!fm->pool) {
            log_error("prespawn: out of memory");
            free(fm);
            return -1;
        }
        log_info("Prespawn: keeping %d function process(es) started", env->cfg->prespawn);
    }
    *state = fm;
    return 0;
}

void fork_mode_stop(void *state, void (*done)(void *arg), void *arg)
{
    struct fork_mode *fm = state;
    if (fm->pool)
        prespawn_stop(fm->pool, done, arg);
    else
        done(arg);
}

void fork_mode_free(void *state)
{
    struct fork_mode *fm = state;
    prespawn_free(fm->pool);
    free(fm);
}

struct job *fork_start(const struct fork_mode *fm, struct request *r, struct job_params *p,
                       const struct job_ops *ops, void *arg)
{
    const struct mode_env *env = fm->env;
    const struct config *cfg = env->cfg;
    char **envp = NULL;
    int code = 1;

    if (fm->pool) {
        struct job *ready = prespawn_take(fm->pool, p, ops, arg);
        if (ready)
            return ready;
    }
    if (cfg->cgi_headers && !(envp = fork_request_env(env->environ, r, fm->classic_env))) {
        resp_simple(r, 500, "Out of memory\n");
        return NULL;
    }
    common_params(env, p);
    if (envp)
        p->envp = envp;
    struct job *j = job_start(p, ops, arg, &code);
    /* of-watchdog's line for every function process it starts. */
    if (j && !fm->classic_env)
        log_info("Started logging: stderr from function.");
    free(envp);
    if (!j) {
        char body[128];
        snprintf(body, sizeof(body), "Unable to start function: %s (exit status %d)\n", cfg->argv[0], code);
        resp_simple(r, 500, body);
    }
    return j;
}

void fork_set_duration(struct request *r)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%f", req_elapsed(r));
    resp_header(r, "X-Duration-Seconds", buf);
}
