/* serializing: one process per request; the whole body is read first and
 * written to stdin, the whole stdout is collected, then sent with
 * Content-Length and X-Duration-Seconds. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>

#include "fork.h"
#include "log.h"

struct serial {
    const struct mode_env *env;
    struct request *r;
    struct job *job;
    struct evbuffer *in;
    struct evbuffer *out;
};

static void serial_free(struct serial *s)
{
    job_free(s->job);
    if (s->in)
        evbuffer_free(s->in);
    if (s->out)
        evbuffer_free(s->out);
    free(s);
}

static void set_duration(struct request *r)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%f", req_elapsed(r));
    resp_header(r, "X-Duration-Seconds", buf);
}

static void on_out(void *arg, struct evbuffer *data)
{
    struct serial *s = arg;
    evbuffer_add_buffer(s->out, data);
}

static void on_done(void *arg, int result)
{
    struct serial *s = arg;
    struct request *r = s->r;
    char body[64];
    set_duration(r);
    if (result == JOB_TIMEOUT) {
        fork_log_timeout(s->env->cfg);
        resp_simple(r, 504, "Function timed out\n");
    } else if (result != 0) {
        snprintf(body, sizeof(body), "exit status %d", result);
        log_info("Function exited with: %s", body);
        resp_simple(r, 500, body);
    } else {
        const char *ct = s->env->cfg->content_type;
        resp_header(r, "Content-Type", ct ? ct : "application/octet-stream");
        resp_start(r, 200, (int64_t)evbuffer_get_length(s->out));
        resp_write_buf(r, s->out);
        resp_end(r);
    }
    serial_free(s);
}

static const struct job_ops serial_job_ops = {on_out, NULL, on_done};

static void too_large(struct serial *s)
{
    struct request *r = s->r;
    char body[96];
    snprintf(body, sizeof(body), "Request body larger than max_request_body (%lld bytes)\n",
             (long long)s->env->cfg->max_request_body);
    serial_free(s);
    resp_simple(r, 413, body);
}

static void on_body(void *arg, const char *data, size_t len)
{
    struct serial *s = arg;
    int64_t max = s->env->cfg->max_request_body;
    if (max > 0 && (int64_t)(evbuffer_get_length(s->in) + len) > max) {
        too_large(s);
        return;
    }
    evbuffer_add(s->in, data, len);
}

static void on_body_end(void *arg)
{
    struct serial *s = arg;
    struct job_params p = {.timeout_ms = s->env->cfg->exec_timeout_ms};
    s->job = fork_start(s->env, s->r, &p, &serial_job_ops, s);
    if (!s->job) {
        serial_free(s);
        return;
    }
    job_write_in_buf(s->job, s->in);
    job_close_in(s->job);
}

static void on_abort(void *arg)
{
    serial_free(arg);
}

static const struct req_handler serial_req_ops = {on_body, on_body_end, NULL, on_abort};

static int serial_init(const struct mode_env *env, void **state)
{
    *state = (void *)env;
    return 0;
}

static void serial_handle(void *state, struct request *r)
{
    const struct mode_env *env = state;
    int64_t max = env->cfg->max_request_body;
    if (max > 0 && r->content_length > max) {
        resp_simple(r, 413, "Request body larger than max_request_body\n");
        return;
    }
    struct serial *s = calloc(1, sizeof(*s));
    if (!s || !(s->in = evbuffer_new()) || !(s->out = evbuffer_new())) {
        if (s)
            serial_free(s);
        resp_simple(r, 500, "Out of memory\n");
        return;
    }
    s->env = env;
    s->r = r;
    req_attach(r, &serial_req_ops, s);
}

const struct mode mode_serializing = {
    .name = "serializing",
    .init = serial_init,
    .handle = serial_handle,
};
