/* serializing: one process per request; the whole body is read first and
 * written to stdin, the whole stdout is collected, then sent with
 * Content-Length and X-Duration-Seconds. With cgi_response the output of a
 * function that succeeded starts with a header block, which gives the
 * status and headers; a failed one is answered as without it. */
#include <event2/buffer.h>
#include <stdio.h>

#include "buffered.h"
#include "cgiout.h"
#include "fork.h"
#include "log.h"

/* Exit 0 with cgi_response: the header block, then the body. */
static void answer_block(const char *ct, struct request *r, struct evbuffer *out)
{
    struct cgiresp block;
    cgiresp_init(&block, CGIRESP_MAX);
    if (cgiout_read_all(&block, r, out) == 0) {
        fork_set_duration(r);
        int status = cgiout_apply(&block, r, ct);
        resp_start(r, status, (int64_t)evbuffer_get_length(out));
        resp_write_buf(r, out);
        resp_end(r);
    }
    cgiresp_free(&block);
}

static void serial_answer(const struct mode_env *env, struct request *r, int result, const char *why,
                          struct evbuffer *out)
{
    if (result == 0 && env->cfg->cgi_response) {
        answer_block(env->cfg->content_type, r, out);
        return;
    }
    fork_set_duration(r);
    resp_header(r, "Content-Type", env->cfg->content_type);
    if (result != 0) {
        /* Go logs the error text, and its request line says 200 with that
         * text's size; its answer is the text alone (a timeout: 504 here). */
        log_info("%s", why);
        resp_log_status(r, 200);
    }
    if (result == JOB_TIMEOUT) {
        resp_simple(r, 504, "Function timed out\n");
    } else if (result != 0) {
        resp_simple(r, 500, why);
    } else {
        resp_start(r, 200, (int64_t)evbuffer_get_length(out));
        resp_write_buf(r, out);
        resp_end(r);
    }
}

static const struct buffered_mode serial_mode = {.answer = serial_answer};

static int serial_init(const struct mode_env *env, void **state)
{
    return buffered_init(env, &serial_mode, state);
}

static void serial_handle(void *state, struct request *r)
{
    buffered_handle(state, r, &serial_mode);
}

const struct mode mode_serializing = {
    .name = "serializing",
    .init = serial_init,
    .handle = serial_handle,
    .stop = fork_mode_stop,
    .free = fork_mode_free,
};
