#include "buffered.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>

#include "fork.h"

struct buffered {
    const struct fork_mode *fm;
    const struct mode_env *env;
    const struct buffered_mode *m;
    struct request *r;
    struct job *job;
    struct evbuffer *in;
    struct evbuffer *out;
};

static void buffered_free(struct buffered *b)
{
    job_free(b->job);
    if (b->in)
        evbuffer_free(b->in);
    if (b->out)
        evbuffer_free(b->out);
    free(b);
}

static void on_out(void *arg, struct evbuffer *data)
{
    struct buffered *b = arg;
    evbuffer_add_buffer(b->out, data);
}

static void on_done(void *arg, int result)
{
    struct buffered *b = arg;
    char why[64];
    job_result_text(b->job, result, why, sizeof(why));
    b->m->answer(b->env, b->r, result, why, b->out);
    buffered_free(b);
}

static const struct job_ops buffered_job_ops = {on_out, NULL, on_done};

static void on_body(void *arg, const char *data, size_t len)
{
    struct buffered *b = arg;
    evbuffer_add(b->in, data, len);
}

static void on_body_end(void *arg)
{
    struct buffered *b = arg;
    struct job_params p = {.timeout_ms = config_ms(b->env->cfg->exec_timeout_ns)};
    if (b->m->input && b->m->input(b->env, b->r, b->in) < 0) {
        buffered_free(b);
        return;
    }
    if (b->m->params)
        b->m->params(b->env->cfg, &p);
    b->job = fork_start(b->fm, b->r, &p, &buffered_job_ops, b);
    if (!b->job) {
        buffered_free(b);
        return;
    }
    job_write_in_buf(b->job, b->in);
    job_close_in(b->job);
}

/* The client is gone: as under the Go watchdogs, which collect the output
 * whatever happens to the client, the function runs to its end. */
static void on_abort(void *arg)
{
    struct buffered *b = arg;
    job_release(b->job, true);
    b->job = NULL;
    buffered_free(b);
}

static const struct req_handler buffered_req_ops = {on_body, on_body_end, NULL, on_abort};

int buffered_init(const struct mode_env *env, const struct buffered_mode *m, void **state)
{
    struct job_params stdio = {0};
    if (m->params)
        m->params(env->cfg, &stdio);
    return fork_mode_init(env, &stdio, m->classic_env, state);
}

void buffered_handle(void *state, struct request *r, const struct buffered_mode *m)
{
    const struct fork_mode *fm = state;
    const struct mode_env *env = fm->env;
    struct buffered *b = calloc(1, sizeof(*b));
    if (!b || !(b->in = evbuffer_new()) || !(b->out = evbuffer_new())) {
        if (b)
            buffered_free(b);
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    b->fm = fm;
    b->env = env;
    b->m = m;
    b->r = r;
    req_attach(r, &buffered_req_ops, b);
}
